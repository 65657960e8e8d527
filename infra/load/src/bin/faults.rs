//! `make faults`: storage outages and a killed export worker while producers ingest and exports
//! run, then checks that nothing was lost, duplicated, stuck or half-downloadable.
//!
//! Against a dev server started by `infra/with-dev-server.sh` with `EXPORT_WORKER=process` (each
//! export worker invocation in a process of its own) and a short `LOCAL_STORAGE_TIMEOUT_SECS`
//! (so that calls during an outage fail, as they would against an unreachable DynamoDB, rather
//! than wait): `DEV_SERVER_PID` names it, and its children are the local DynamoDB (moto) and the
//! worker processes.
//!
//! 1. Seeds `EXPORTS` (4) accounts with `SEED` (300) events each; nobody else writes to them, so
//!    their exports' rows are known exactly.
//! 2. `PRODUCERS` (6) producers ingest batches (1 to 25 events, all with `event_id`) into
//!    `ACCOUNTS` (6) other accounts until the end of the outage, re-sending a batch unchanged
//!    after a 5xx or no answer until it is stored (201).
//! 3. Requests half of the exports; kills (`SIGKILL`) each one's worker process once the job is
//!    `running`: the stream mapping's retry must take the job over. Waits for them to end.
//! 4. Requests the other half, then stops moto (`SIGSTOP`) for `OUTAGE_SECS` (30) and resumes
//!    it (`SIGCONT`): its state survives, as DynamoDB's does when it is unreachable from us.
//!    Workers caught by the outage fail their invocation and the mapping's retries take over.
//! 5. Checks: every batch answered 201 is stored exactly once, and so is every batch re-sent
//!    after a 503; every export ends `succeeded` with exactly its account's events, or `failed`
//!    with a reason, within 10 minutes (never `running`); no export ever shows a download link
//!    before it succeeded. Prints what it did, what it found, and the responses per route.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use load::{Api, event, setting};
use serde_json::Value;

const EXPORT_LIMIT: Duration = Duration::from_secs(600);

/// A process of the dev server's: its pid.
fn child_of(server: i32, matches: impl Fn(&[String]) -> bool) -> Option<i32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`: the comm may hold spaces, so read after the last ')'.
        let ppid: i32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        if ppid != server {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        matches(&args).then_some(pid)
    })
}

fn signal(pid: i32, signal: i32) -> bool {
    // SAFETY: kill(2) with a pid found among the dev server's own children.
    unsafe { libc::kill(pid, signal) == 0 }
}

struct Faults {
    api: Api,
    started: Instant,
    /// Every event stored (201), per account.
    stored: Mutex<HashMap<String, HashSet<String>>>,
    /// Events of batches that got a 5xx or no answer before they were stored.
    retried: Mutex<HashSet<String>>,
    /// Answers other than 201, 5xx or none: a producer's batch must never be refused.
    refused: Mutex<Vec<String>>,
    outage_over: AtomicBool,
    batches: AtomicUsize,
}

impl Faults {
    fn log(&self, what: impl std::fmt::Display) {
        println!("[{:>6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// Sends `events` until they are stored, re-sending unchanged after a 5xx or no answer.
    async fn store(&self, events: &[Value]) {
        let mut failed_before = false;
        loop {
            match self.api.ingest(events).await {
                Some(201) => break,
                Some(status) if status < 500 => {
                    self.refused
                        .lock()
                        .unwrap()
                        .push(format!("ingest answered {status}"));
                    return;
                }
                _ => {
                    failed_before = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        self.batches.fetch_add(1, Ordering::Relaxed);
        let mut stored = self.stored.lock().unwrap();
        for e in events {
            let id = e["event_id"].as_str().unwrap().to_owned();
            if failed_before {
                self.retried.lock().unwrap().insert(id.clone());
            }
            stored
                .entry(e["account_id"].as_str().unwrap().to_owned())
                .or_default()
                .insert(id);
        }
    }
}

async fn producer(faults: Arc<Faults>, p: usize, accounts: usize) {
    let mut k = 0;
    let mut batch = 0;
    while !faults.outage_over.load(Ordering::Relaxed) {
        let size = if batch % 4 == 0 {
            1
        } else {
            1 + (p * 7 + batch) % 25
        };
        let events: Vec<Value> = (k..k + size)
            .map(|i| {
                let account = format!("acct_fault{:02}", (p + i) % accounts);
                event(&account, &format!("fault-{p}-{i}"), i, (i % 3600) as i64)
            })
            .collect();
        faults.store(&events).await;
        k += size;
        batch += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls an export until it ends; the job, and whether it ever showed a link before succeeding.
async fn follow(
    faults: &Faults,
    account: &str,
    id: &str,
    early_link: &Mutex<Vec<String>>,
) -> Value {
    let started = Instant::now();
    let mut last = Value::Null;
    while started.elapsed() < EXPORT_LIMIT {
        if let Some(job) = faults.api.export(account, id).await {
            last = job;
            let status = last["status"].as_str().unwrap_or_default().to_owned();
            if status != "succeeded" && !last["download_url"].is_null() {
                early_link
                    .lock()
                    .unwrap()
                    .push(format!("{account}: a link while {status}"));
            }
            if status == "succeeded" || status == "failed" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

/// The first of `exports` seen `running` within 10 s, polled as fast as the API answers.
async fn running_soon(faults: &Faults, exports: &[(String, String)]) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        for (account, id) in exports {
            if faults
                .api
                .export(account, id)
                .await
                .is_some_and(|job| job["status"] == "running")
            {
                return Some(account.clone());
            }
        }
    }
    None
}

/// Kills the worker process of export `id` once the job is claimed (`running`).
async fn kill_worker(faults: &Faults, server: i32, account: &str, id: &str) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let status = faults
            .api
            .export(account, id)
            .await
            .and_then(|job| job["status"].as_str().map(str::to_owned));
        match status.as_deref() {
            Some("succeeded" | "failed") => return None,
            Some("running") => {
                let worker = child_of(server, |args| {
                    args.first()
                        .is_some_and(|a| a.ends_with("export-worker-process"))
                        && args.get(1).map(String::as_str) == Some(id)
                });
                if let Some(pid) = worker
                    && signal(pid, libc::SIGKILL)
                {
                    return Some(format!(
                        "killed the worker of {account}'s export (pid {pid}) while running"
                    ));
                }
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::main]
async fn main() {
    let server: i32 = std::env::var("DEV_SERVER_PID")
        .ok()
        .and_then(|p| p.parse().ok())
        .expect("DEV_SERVER_PID: run through infra/with-dev-server.sh (make faults)");
    let (producers, accounts) = (setting("PRODUCERS", 6), setting("ACCOUNTS", 6));
    let (exports, seed) = (setting("EXPORTS", 4), setting("SEED", 300));
    let outage = Duration::from_secs(setting("OUTAGE_SECS", 30) as u64);
    let faults = Arc::new(Faults {
        api: Api::from_env(),
        started: Instant::now(),
        stored: Mutex::new(HashMap::new()),
        retried: Mutex::new(HashSet::new()),
        refused: Mutex::new(Vec::new()),
        outage_over: AtomicBool::new(false),
        batches: AtomicUsize::new(0),
    });
    let moto = child_of(server, |args| {
        args.iter().any(|a| a.ends_with("moto_serial.py"))
    })
    .expect("the dev server's moto process");
    let mut failures: Vec<String> = Vec::new();

    // 1. Accounts to export, written before anything else.
    let export_accounts: Vec<String> = (0..exports).map(|n| format!("acct_faultx{n}")).collect();
    for account in &export_accounts {
        for start in (0..seed).step_by(25) {
            let events: Vec<Value> = (start..(start + 25).min(seed))
                .map(|i| event(account, &format!("{account}-{i}"), i, 7200 + i as i64))
                .collect();
            faults.store(&events).await;
        }
    }
    faults.log(format!(
        "seeded {exports} accounts to export with {seed} events each"
    ));

    // 2. Producers, until the outage is over.
    let writers: Vec<_> = (0..producers)
        .map(|p| tokio::spawn(producer(faults.clone(), p, accounts)))
        .collect();
    faults.log(format!(
        "{producers} producers ingesting into {accounts} accounts"
    ));

    // 3. Exports whose worker is killed mid-export.
    let early_link = Arc::new(Mutex::new(Vec::new()));
    let mut requested: Vec<(String, String)> = Vec::new();
    let (killed, outage_exports) = export_accounts.split_at(exports.div_ceil(2));
    for account in killed {
        match faults.api.request_export(account).await {
            Ok(id) => requested.push((account.clone(), id)),
            Err(e) => failures.push(e),
        }
    }
    let mut kills = 0;
    for (account, id) in requested.clone() {
        match kill_worker(&faults, server, &account, &id).await {
            Some(what) => {
                kills += 1;
                faults.log(what);
            }
            None => faults.log(format!(
                "{account}'s export finished before its worker could be killed"
            )),
        }
    }
    if kills == 0 && !requested.is_empty() {
        failures.push("no worker was killed mid-export".into());
    }
    let mut finished = Vec::new();
    for (account, id) in requested.drain(..) {
        let job = follow(&faults, &account, &id, &early_link).await;
        faults.log(format!("{account}'s export ended {}", job["status"]));
        finished.push((account, job));
    }

    // 4. Exports running into an outage of the storage.
    for account in outage_exports {
        match faults.api.request_export(account).await {
            Ok(id) => requested.push((account.clone(), id)),
            Err(e) => failures.push(e),
        }
    }
    // Storage goes away while a worker runs (claimed, not finished), if one can be caught.
    let caught = running_soon(&faults, &requested).await;
    assert!(signal(moto, libc::SIGSTOP), "SIGSTOP moto");
    if let Some(account) = caught {
        faults.log(format!("{account}'s export was running"));
    }
    faults.log(format!(
        "storage stopped (SIGSTOP moto, pid {moto}) for {outage:?}"
    ));
    let followers: Vec<_> = requested
        .iter()
        .cloned()
        .map(|(account, id)| {
            let (faults, early_link) = (faults.clone(), early_link.clone());
            tokio::spawn(async move {
                let job = follow(&faults, &account, &id, &early_link).await;
                (account, job)
            })
        })
        .collect();
    tokio::time::sleep(outage).await;
    assert!(signal(moto, libc::SIGCONT), "SIGCONT moto");
    faults.log("storage back (SIGCONT)");
    faults.outage_over.store(true, Ordering::Relaxed);
    futures::future::join_all(writers).await;
    faults.log(format!(
        "producers stopped: {} batches stored",
        faults.batches.load(Ordering::Relaxed)
    ));

    // 5. The checks.
    let (mut succeeded, mut failed) = (0, 0);
    for follower in followers {
        finished.push(follower.await.expect("follower"));
    }
    for (account, job) in finished {
        match job["status"].as_str() {
            Some("succeeded") => match faults.api.download(&job).await {
                Ok(rows) => {
                    let listed = faults.api.listing(&account).await.unwrap_or_default();
                    let expected: HashSet<&str> = listed
                        .iter()
                        .filter(|e| e["type"] != "security_logs.exported")
                        .filter_map(|e| e["id"].as_str())
                        .collect();
                    let got: HashSet<&str> = rows.iter().map(String::as_str).collect();
                    if got.len() == rows.len() && got == expected && rows.len() == seed {
                        succeeded += 1;
                    } else {
                        failures.push(format!(
                            "{account}: export has {} rows ({} distinct), {} events seeded",
                            rows.len(),
                            got.len(),
                            seed
                        ));
                    }
                }
                Err(e) => failures.push(format!("{account}: {e}")),
            },
            Some("failed") if job["error"].as_str().is_some_and(|e| !e.is_empty()) => {
                faults.log(format!("{account}'s export failed: {}", job["error"]));
                failed += 1;
            }
            other => failures.push(format!(
                "{account}: export still {other:?} after {EXPORT_LIMIT:?}"
            )),
        }
    }
    failures.extend(early_link.lock().unwrap().iter().cloned());
    failures.extend(faults.refused.lock().unwrap().iter().cloned());

    let stored = faults.stored.lock().unwrap().clone();
    let retried = faults.retried.lock().unwrap().clone();
    failures.extend(faults.api.check_exactly_once(&stored).await);
    let events_checked: usize = stored.values().map(HashSet::len).sum();
    let retried_checked = stored
        .values()
        .flatten()
        .filter(|id| retried.contains(*id))
        .count();
    let unavailable = faults
        .api
        .stats
        .find(|route, status, _| route == "POST /v1/events" && (status >= 500 || status == 0))
        .len();
    if unavailable == 0 {
        failures.push("the outage caused no 503: the fault was not seen".into());
    }

    println!("\n{}", faults.api.stats.table());
    println!(
        "faults: {events_checked} acknowledged events stored exactly once, {retried_checked} of them re-sent after a 5xx or no answer ({unavailable} such answers); \
         {kills} worker(s) killed mid-export, {:?} outage; exports: {succeeded} succeeded with exactly their rows, {failed} failed with a reason, 0 left running; {} failures",
        outage,
        failures.len()
    );
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            println!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
