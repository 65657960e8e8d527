//! `make load`: the service under load on the local stack, bounded, then checked.
//!
//! Against the dev server at `API_URL` (`infra/with-dev-server.sh` starts one on loopback):
//! `PRODUCERS` (20) signed producers send `EVENTS` (20,000) events over `ACCOUNTS` (50)
//! accounts, in batches of 1 to 25 (a quarter of the requests single events), every event with
//! an `event_id`, and re-send one request in ten unchanged; `DASHBOARDS` (20) clients page through
//! accounts' logs, at most a page a second each; once the producers are done, `EXPORTS` (10)
//! accounts request an export, and the run waits for them (15 minutes in all at most). Then it
//! checks: every event stored exactly once (each account's listing holds exactly the distinct
//! events sent to it), every export succeeded with exactly its account's events as rows, no
//! 5xx, no response slower than 30 s. It prints requests, statuses and p50/p95/p99 latency per
//! route, and exits 1 if a check fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dev_server::sigv4::Signer;
use serde_json::{Value, json};

const TYPES: [&str; 5] = [
    "login",
    "login.failed",
    "api_key.viewed",
    "account_settings.changed",
    "payout_account.updated",
];
const SLOW: Duration = Duration::from_secs(30);
const LIMIT: Duration = Duration::from_secs(15 * 60);

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every response's route, status and latency.
#[derive(Default)]
struct Stats {
    samples: Mutex<Vec<(&'static str, u16, Duration)>>,
}

impl Stats {
    fn record(&self, route: &'static str, status: u16, took: Duration) {
        self.samples.lock().unwrap().push((route, status, took));
    }
}

struct Load {
    api: String,
    http: reqwest::Client,
    stats: Stats,
    /// Per account: the distinct event ids sent and stored (201).
    sent: Mutex<HashMap<String, HashSet<String>>>,
}

impl Load {
    async fn send(
        &self,
        route: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Option<(u16, String)> {
        let started = Instant::now();
        match request.timeout(Duration::from_secs(60)).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                self.stats.record(route, status, started.elapsed());
                Some((status, body))
            }
            Err(error) => {
                eprintln!("{route}: {error}");
                self.stats.record(route, 0, started.elapsed());
                None
            }
        }
    }

    async fn ingest(&self, events: &[Value]) -> bool {
        let body = serde_json::to_vec(&json!({ "events": events })).expect("json");
        let url = format!("{}/v1/events", self.api);
        let signed =
            Signer::local().sign("POST", &url, &[("content-type", "application/json")], &body);
        let mut request = self
            .http
            .post(&url)
            .header("content-type", "application/json");
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let Some((status, _)) = self.send("POST /v1/events", request.body(body)).await else {
            return false;
        };
        if status == 201 {
            let mut sent = self.sent.lock().unwrap();
            for event in events {
                sent.entry(event["account_id"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(event["event_id"].as_str().unwrap().to_owned());
            }
        }
        status == 201
    }

    async fn get(&self, route: &'static str, path: &str, account: &str) -> Option<(u16, String)> {
        let request = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token(account));
        self.send(route, request).await
    }
}

fn token(account: &str) -> String {
    dev_server::jwt::unsigned_token(
        &json!({"account_id": account, "sub": "u_load", "name": "Load Tester"}),
    )
}

fn account(n: usize) -> String {
    format!("acct_load{n:02}")
}

/// Producer `p`'s `k`-th event.
fn event(p: usize, k: usize, accounts: usize) -> Value {
    let account = account((p * 7919 + k * 31) % accounts);
    let at =
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(((p * 1000 + k) % 86_400) as i64);
    json!({
        "account_id": account,
        "type": TYPES[(p + k) % TYPES.len()],
        "event_id": format!("load-{p}-{k}"),
        "occurred_at": at.to_string(),
        "actor": {"id": format!("u_{}", k % 9), "name": "Load Tester"},
        "ip": format!("198.51.100.{}", k % 250),
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "location": {"country": "PH"},
        "details": {"n": k}
    })
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
        let events: Vec<Value> = (k..k + size).map(|i| event(p, i, accounts)).collect();
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
            let page = load.get("GET /v1/logs", &path, &acct).await;
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

/// Every entry of the account, following cursors.
async fn listing(load: &Load, acct: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/logs?limit=100&cursor={c}"),
            None => "/v1/logs?limit=100".to_owned(),
        };
        let Some((200, body)) = load.get("GET /v1/logs (check)", &path, acct).await else {
            panic!("listing {acct} failed");
        };
        let page: Value = serde_json::from_str(&body).expect("json");
        entries.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return entries,
        }
    }
}

async fn export(load: &Load, acct: &str) -> Result<u64, String> {
    let request = load
        .http
        .post(format!("{}/v1/exports", load.api))
        .bearer_auth(token(acct))
        .json(&json!({}));
    let Some((202, body)) = load.send("POST /v1/exports", request).await else {
        return Err(format!("{acct}: export not accepted"));
    };
    let id = serde_json::from_str::<Value>(&body).map_err(|e| e.to_string())?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some((200, body)) = load
            .get("GET /v1/exports/{id}", &format!("/v1/exports/{id}"), acct)
            .await
        else {
            continue;
        };
        let job: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        match job["status"].as_str() {
            Some("succeeded") => {
                let url = job["download_url"].as_str().unwrap_or_default().to_owned();
                let Some((200, csv)) = load.send("GET download", load.http.get(url)).await else {
                    return Err(format!("{acct}: download failed"));
                };
                let rows = csv::Reader::from_reader(csv.as_bytes()).records().count() as u64;
                if Some(rows) != job["row_count"].as_u64() {
                    return Err(format!(
                        "{acct}: {rows} CSV rows, row_count {}",
                        job["row_count"]
                    ));
                }
                return Ok(rows);
            }
            Some("failed") => return Err(format!("{acct}: export failed: {}", job["error"])),
            _ if started.elapsed() > LIMIT => return Err(format!("{acct}: export did not finish")),
            _ => {}
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let api = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let (producers, events, accounts) = (
        setting("PRODUCERS", 20),
        setting("EVENTS", 20_000),
        setting("ACCOUNTS", 50),
    );
    let (dashboards, exports) = (setting("DASHBOARDS", 20), setting("EXPORTS", 10));
    let load = Arc::new(Load {
        api,
        http: reqwest::Client::new(),
        stats: Stats::default(),
        sent: Mutex::new(HashMap::new()),
    });
    let started = Instant::now();
    println!(
        "load: {producers} producers, {events} events over {accounts} accounts, {dashboards} dashboards, then {exports} exports"
    );

    let done = Arc::new(tokio::sync::Notify::new());
    let readers: Vec<_> = (0..dashboards)
        .map(|d| tokio::spawn(dashboard(load.clone(), d, accounts, done.clone())))
        .collect();
    let writers: Vec<_> = (0..producers)
        .map(|p| tokio::spawn(producer(load.clone(), p, events / producers, accounts)))
        .collect();
    let progress = {
        let load = load.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let stored: usize = load.sent.lock().unwrap().values().map(HashSet::len).sum();
                let requests = load.stats.samples.lock().unwrap().len();
                eprintln!(
                    "load: {stored} events stored, {requests} requests, {:.0?}",
                    started.elapsed()
                );
            }
        })
    };
    let ingest = tokio::time::timeout(LIMIT, futures::future::join_all(writers)).await;
    let ingest_took = started.elapsed();
    let mut failures: Vec<String> = Vec::new();
    if ingest.is_err() {
        failures.push("the producers did not finish within 15 minutes".into());
    }

    // Exports while the dashboards keep reading.
    let exported: Vec<String> = (0..exports)
        .map(|n| account(n * accounts / exports.max(1)))
        .collect();
    let results = futures::future::join_all(exported.iter().map(|a| export(&load, a))).await;
    done.notify_waiters();
    progress.abort();
    for reader in readers {
        reader.abort();
    }

    // Every event exactly once; every export exactly its account's events.
    let sent = load.sent.lock().unwrap().clone();
    let mut stored_total = 0;
    for (acct, ids) in &sent {
        let entries = listing(&load, acct).await;
        let events: Vec<&str> = entries
            .iter()
            .filter(|e| e["type"] != "security_logs.exported")
            .filter_map(|e| e["event_id"].as_str())
            .collect();
        let distinct: HashSet<&str> = events.iter().copied().collect();
        if distinct.len() != events.len() {
            failures.push(format!(
                "{acct}: {} events stored twice",
                events.len() - distinct.len()
            ));
        }
        if distinct != ids.iter().map(String::as_str).collect() {
            failures.push(format!(
                "{acct}: {} events stored, {} sent",
                distinct.len(),
                ids.len()
            ));
        }
        stored_total += distinct.len();
    }
    for (acct, result) in exported.iter().zip(results) {
        match result {
            Ok(rows) if rows as usize == sent.get(acct).map_or(0, HashSet::len) => {}
            Ok(rows) => failures.push(format!(
                "{acct}: export has {rows} rows, {} events sent",
                sent.get(acct).map_or(0, HashSet::len)
            )),
            Err(e) => failures.push(e),
        }
    }

    // The figures.
    let samples = load.stats.samples.lock().unwrap().clone();
    let mut routes: BTreeMap<&str, (BTreeMap<u16, usize>, Vec<Duration>)> = BTreeMap::new();
    for (route, status, took) in &samples {
        let entry = routes.entry(route).or_default();
        *entry.0.entry(*status).or_default() += 1;
        entry.1.push(*took);
        if *status >= 500 || *status == 0 {
            failures.push(format!("{route}: status {status}"));
        }
        if *took > SLOW {
            failures.push(format!("{route}: answered in {took:?}"));
        }
    }
    println!("\n| route | requests | statuses | p50 | p95 | p99 |");
    println!("|---|---:|---|---:|---:|---:|");
    for (route, (statuses, mut times)) in routes {
        times.sort();
        let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {route} | {} | {} | {} | {} | {} |",
            times.len(),
            statuses.join(", "),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(percentile(&times, 0.99))
        );
    }
    println!(
        "\nload: {} requests in {:.0?}; {stored_total} events stored exactly once ({:.0} events/s while producing, {:.0?}); {} exports checked; {} failures",
        samples.len(),
        started.elapsed(),
        stored_total as f64 / ingest_took.as_secs_f64(),
        ingest_took,
        exported.len(),
        failures.len()
    );
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            println!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
