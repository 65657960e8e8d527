//! `make load`: the service under load on the local stack, bounded, then checked.
//!
//! Against the dev server at `API_URL` (`infra/with-dev-server.sh` starts one on loopback):
//! `PRODUCERS` (20) signed producers send `EVENTS` (20,000) events over `ACCOUNTS` (50)
//! accounts, in batches of 1 to 25 (a quarter of the requests single events), every event with
//! an `event_id`, and re-send one request in ten unchanged; `DASHBOARDS` (20) clients page through
//! accounts' logs, at most a page a second each; once the producers are done, `EXPORTS` (10)
//! accounts request an export, and the run waits for them (15 minutes in all at most). Then it
//! checks: every event stored exactly once (each account's listing holds exactly the distinct
//! events sent to it), every export succeeded with exactly its account's entries as rows, no
//! 5xx, no response slower than 30 s. It prints requests, statuses and p50/p95/p99 latency per
//! route, and exits 1 if a check fails.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use load::sequencing::Sequencing;
use load::streams;
use load::{Api, event, setting};
use serde_json::Value;

const SLOW: Duration = Duration::from_secs(30);
const LIMIT: Duration = Duration::from_secs(15 * 60);

struct Load {
    api: Api,
    /// Per account: the distinct event ids sent and stored (201).
    sent: Mutex<HashMap<String, HashSet<String>>>,
    /// When ingest first answered 201 for each event id (the streams' lag from stored).
    stored_at: Mutex<HashMap<String, Instant>>,
}

fn account(n: usize) -> String {
    format!("acct_load{n:02}")
}

/// Producer `p`'s `k`-th event.
fn producer_event(p: usize, k: usize, accounts: usize) -> Value {
    let account = account((p * 7919 + k * 31) % accounts);
    let ago = ((p * 1000 + k) % 86_400) as i64;
    event(&account, &format!("load-{p}-{k}"), p + k, ago)
}

impl Load {
    async fn ingest(&self, events: &[Value]) -> bool {
        let stored = self.api.ingest(events).await == Some(201);
        if stored {
            let now = Instant::now();
            let mut stored_at = self.stored_at.lock().unwrap();
            for event in events {
                let id = event["event_id"].as_str().unwrap().to_owned();
                stored_at.entry(id).or_insert(now);
            }
            let mut sent = self.sent.lock().unwrap();
            for event in events {
                sent.entry(event["account_id"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(event["event_id"].as_str().unwrap().to_owned());
            }
        }
        stored
    }
}

async fn producer(load: Arc<Load>, p: usize, share: usize, accounts: usize) {
    let mut k = 0;
    let mut batch_no = 0;
    while k < share {
        // A quarter of the requests carry one event; the rest 2 to 25.
        let size = if batch_no % 4 == 0 {
            1
        } else {
            2 + (p + batch_no) % 24
        };
        let size = size.min(share - k);
        let events: Vec<Value> = (k..k + size)
            .map(|i| producer_event(p, i, accounts))
            .collect();
        let mut stored = load.ingest(&events).await;
        // One request in ten is sent again, unchanged, as a producer that timed out would.
        if batch_no % 10 == 3 {
            stored &= load.ingest(&events).await;
        }
        for _ in 0..5 {
            if stored {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            stored = load.ingest(&events).await;
        }
        k += size;
        batch_no += 1;
    }
}

async fn dashboard(load: Arc<Load>, d: usize, accounts: usize, done: Arc<tokio::sync::Notify>) {
    let mut n = d;
    loop {
        let acct = account(n % accounts);
        let mut cursor: Option<String> = None;
        for _ in 0..5 {
            let tick = tokio::time::sleep(Duration::from_secs(1));
            let path = match &cursor {
                Some(c) => format!("/v1/logs?limit=100&cursor={c}"),
                None => "/v1/logs?limit=100".to_owned(),
            };
            let page = load.api.get("GET /v1/logs", &path, &acct).await;
            cursor = page
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
                .and_then(|v| v["next_cursor"].as_str().map(str::to_owned));
            tokio::select! {
                _ = tick => {}
                _ = done.notified() => return,
            }
            if cursor.is_none() {
                break;
            }
        }
        n += 7;
    }
}

/// Requests an export of everything and checks its rows: exactly the account's entries
/// listed before the request (the export is a snapshot taken at its request).
async fn export(load: &Load, acct: &str, deadline: Instant) -> Result<usize, String> {
    let before: HashSet<String> = entry_ids(&load.api.listing(acct).await?);
    let id = load.api.request_export(acct).await?;
    let job = load
        .api
        .wait_export(
            acct,
            &id,
            deadline.saturating_duration_since(Instant::now()),
        )
        .await;
    match job["status"].as_str() {
        Some("succeeded") => {}
        Some("failed") => return Err(format!("{acct}: export failed: {}", job["error"])),
        other => return Err(format!("{acct}: export still {other:?} at the time limit")),
    }
    let rows = load
        .api
        .download(&job)
        .await
        .map_err(|e| format!("{acct}: {e}"))?;
    let distinct: HashSet<String> = rows.iter().cloned().collect();
    if distinct.len() != rows.len() || distinct != before {
        return Err(format!(
            "{acct}: export has {} rows ({} distinct), {} entries listed before it",
            rows.len(),
            distinct.len(),
            before.len()
        ));
    }
    Ok(rows.len())
}

fn entry_ids(entries: &[Value]) -> HashSet<String> {
    entries
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::main]
async fn main() {
    let (producers, events, accounts) = (
        setting("PRODUCERS", 20),
        setting("EVENTS", 20_000),
        setting("ACCOUNTS", 50),
    );
    let (dashboards, exports) = (setting("DASHBOARDS", 20), setting("EXPORTS", 10));
    let load = Arc::new(Load {
        api: Api::from_env(),
        sent: Mutex::new(HashMap::new()),
        stored_at: Mutex::new(HashMap::new()),
    });
    let started = Instant::now();
    let deadline = started + LIMIT;
    println!(
        "load: {producers} producers, {events} events over {accounts} accounts, {dashboards} dashboards, then {exports} exports"
    );

    // Streams of the first accounts, to a receiver here, before anything is written.
    let receiver = streams::Receiver::start().await;
    let mut streamed: Vec<(String, String)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for n in 0..setting("STREAMS", 5).min(accounts) {
        match receiver.add_stream(&load.api, &account(n)).await {
            Ok(id) => streamed.push((account(n), id)),
            Err(e) => failures.push(e),
        }
    }

    let done = Arc::new(tokio::sync::Notify::new());
    let readers: Vec<_> = (0..dashboards)
        .map(|d| tokio::spawn(dashboard(load.clone(), d, accounts, done.clone())))
        .collect();
    // Producers of the ingest queue beside them (`QUEUE_PRODUCERS`, off by default).
    let acknowledged = {
        let load = load.clone();
        move || load.sent.lock().unwrap().values().map(HashSet::len).sum()
    };
    let queue = load::queue::QueueRun::start(producers, events / producers, acknowledged).await;
    let writers: Vec<_> = (0..producers)
        .map(|p| tokio::spawn(producer(load.clone(), p, events / producers, accounts)))
        .collect();
    let progress = {
        let load = load.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let stored: usize = load.sent.lock().unwrap().values().map(HashSet::len).sum();
                eprintln!(
                    "load: {stored} events stored, {} requests, {:.0?}",
                    load.api.stats.count(),
                    started.elapsed()
                );
            }
        })
    };
    let ingest = tokio::time::timeout(LIMIT, futures::future::join_all(writers)).await;
    let ingest_took = started.elapsed();
    let producing_until_ms = jiff::Timestamp::now().as_millisecond();
    if ingest.is_err() {
        failures.push("the producers did not finish within 15 minutes".into());
    }
    eprintln!("load: producers done in {ingest_took:.0?}; exports next");

    // Exports while the dashboards keep reading.
    let exported: Vec<String> = (0..exports)
        .map(|n| account(n * accounts / exports.max(1)))
        .collect();
    let results =
        futures::future::join_all(exported.iter().map(|a| export(&load, a, deadline))).await;
    let exports_took = started.elapsed() - ingest_took;
    done.notify_waiters();
    progress.abort();
    for reader in readers {
        reader.abort();
    }

    // Every entry of the streamed accounts delivered (their logs hold their events, the
    // stream's own entry and any export's), within two minutes of the exports' end.
    let mut expected = HashMap::new();
    for (acct, id) in &streamed {
        match load.api.listing(acct).await {
            Ok(entries) => {
                expected.insert(id.clone(), entries.len());
            }
            Err(e) => failures.push(e),
        }
    }
    let streams_wait = Instant::now();
    while streams_wait.elapsed() < Duration::from_secs(120)
        && expected
            .iter()
            .any(|(id, want)| receiver.distinct(id) < *want)
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (streams_report, streams_failures) =
        receiver.report(&expected, &load.stored_at.lock().unwrap());
    failures.extend(streams_failures);
    // Catching up: a new stream of the first account, created after its whole log was written,
    // delivers that log from index 0; how fast.
    let catch_up = match streamed.first() {
        Some((acct, _)) => match load.api.listing(acct).await.map(|e| e.len()) {
            Err(e) => {
                failures.push(e);
                String::new()
            }
            Ok(want) => match receiver.add_stream(&load.api, acct).await {
                Ok(id) => {
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_secs(120)
                        && receiver.distinct(&id) < want
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let got = receiver.distinct(&id);
                    if got < want {
                        failures.push(format!(
                            "the catching-up stream got {got} of {want} entries"
                        ));
                    }
                    format!(
                        "streams: a new stream caught up with a log of {want} entries in {:.1?} ({:.0} records/s)",
                        started.elapsed(),
                        got as f64 / started.elapsed().as_secs_f64()
                    )
                }
                Err(e) => {
                    failures.push(e);
                    String::new()
                }
            },
        },
        None => String::new(),
    };

    let queue_report = match &queue {
        Some(queue) => {
            let (report, queue_failures) = queue.finish().await;
            failures.extend(queue_failures);
            report
        }
        None => String::new(),
    };
    // Every event exactly once.
    let sent = load.sent.lock().unwrap().clone();
    failures.extend(load.api.check_exactly_once(&sent).await);
    let stored_total: usize = sent.values().map(HashSet::len).sum();
    let mut rows_total = 0;
    for result in results {
        match result {
            Ok(rows) => rows_total += rows,
            Err(e) => failures.push(e),
        }
    }
    failures.extend(
        load.api
            .stats
            .find(|_, status, took| status >= 500 || status == 0 || took > SLOW),
    );

    let ingest_rate = stored_total as f64 / ingest_took.as_secs_f64();
    println!("\n{}", load.api.stats.table());
    println!(
        "load: {} requests in {:.0?}; {stored_total} events stored exactly once ({:.0} events/s while producing, {:.0?}); {} exports succeeded with {rows_total} rows, exactly their accounts' entries ({:.0?}); {} failures",
        load.api.stats.count(),
        started.elapsed(),
        ingest_rate,
        ingest_took,
        exported.len(),
        exports_took,
        failures.len()
    );
    println!("{streams_report}");
    if !catch_up.is_empty() {
        println!("{catch_up}");
    }
    if !queue_report.is_empty() {
        println!("{queue_report}");
    }
    // Sequencing lag and throughput, from the sequencer's own metric lines in the server's log.
    match std::env::var("DEV_SERVER_LOG").map(std::fs::read_to_string) {
        Ok(Ok(log)) => {
            let sequencing = Sequencing::from_log(&log, producing_until_ms);
            if sequencing.is_empty() {
                println!("sequencing: no SequencingLag metric in the server's log");
            } else {
                println!("{}", sequencing.report(ingest_rate, exports_took));
            }
            println!("{}", load::hops::report(&log));
        }
        _ => {
            println!("sequencing: DEV_SERVER_LOG unreadable (run through infra/with-dev-server.sh)")
        }
    }
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            println!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
