//! `make bench-client`: the producer client (`clients/seclog-client`) against the dev server at
//! `API_URL` (`infra/with-dev-server.sh` starts a fresh one on loopback).
//!
//! For each number of concurrent callers in `CALLERS` (default `1,10,100`), a fresh client and a
//! fresh account: the callers record `EVENTS` (3,000) events in all, as fast as `record()` takes
//! them (a `Full` buffer makes the caller wait 1 ms and try again), then one `flush()` waits
//! until every event is stored. It prints events per second, from the first `record()` to the
//! end of the flush, and the time each accepted `record()` took in its caller (p50, p99, max;
//! the event is built before the clock starts), with the client's defaults (batches of 100,
//! flush interval 1 s, 4 requests in flight, buffer of 10,000). It exits 1 unless every event
//! was stored exactly once by the client's count (stored + duplicates = recorded, none rejected).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use seclog_client::{Actor, Client, Credentials, Event, EventType, RecordError};

struct Run {
    callers: usize,
    events: usize,
    elapsed: Duration,
    /// Nanoseconds of every accepted `record()`, sorted.
    record_ns: Vec<u64>,
    refused_full: usize,
    stored_once: bool,
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn event(account: &str, n: usize) -> Event {
    let event_type = EventType::ALL[n % EventType::ALL.len()];
    Event::new(
        account,
        event_type,
        Actor::new(format!("u_{}", n % 50)).name("Bench User"),
    )
    .ip([203, 0, 113, (n % 250) as u8].into())
    .user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15")
}

/// One caller's share: records `count` events, each timed alone.
async fn caller(client: Client, account: String, first: usize, count: usize) -> (Vec<u64>, usize) {
    let mut timings = Vec::with_capacity(count);
    let mut refused = 0;
    for n in first..first + count {
        let mut next = event(&account, n);
        loop {
            let start = Instant::now();
            let outcome = client.record(next);
            let took = start.elapsed();
            match outcome {
                Ok(_) => {
                    timings.push(took.as_nanos() as u64);
                    break;
                }
                Err(RecordError::Full { event, .. }) => {
                    refused += 1;
                    next = *event;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(RecordError::Closed { .. }) => return (timings, refused),
            }
        }
        // Let other callers and the sender in, as a real caller does between requests.
        tokio::task::yield_now().await;
    }
    (timings, refused)
}

async fn run(endpoint: &str, callers: usize, events: usize) -> Result<Run, String> {
    let client = Client::builder()
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials(Credentials::new("local", "local", None, None, "bench"))
        .build()
        .map_err(|e| e.to_string())?;
    let account = format!("acct_bench_{}", ulid::Ulid::generate());
    let share = events / callers;
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| tokio::spawn(caller(client.clone(), account.clone(), c * share, share)))
        .collect();
    let mut record_ns = Vec::with_capacity(events);
    let mut refused_full = 0;
    for task in tasks {
        let (timings, refused) = task.await.map_err(|e| e.to_string())?;
        record_ns.extend(timings);
        refused_full += refused;
    }
    tokio::time::timeout(Duration::from_secs(600), client.flush())
        .await
        .map_err(|_| "not flushed within 10 minutes".to_owned())?
        .map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    let stats = client.stats();
    client
        .shutdown(Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    record_ns.sort_unstable();
    Ok(Run {
        callers,
        events: share * callers,
        elapsed,
        record_ns,
        refused_full,
        stored_once: stats.rejected == 0
            && stats.stored + stats.duplicates == stats.recorded
            && stats.recorded == (share * callers) as u64,
    })
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn micros(ns: u64) -> String {
    format!("{:.2} µs", ns as f64 / 1000.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let endpoint = setting("API_URL", "http://127.0.0.1:3000");
    let events: usize = setting("EVENTS", "3000").parse().unwrap_or(3000);
    let levels: Vec<usize> = setting("CALLERS", "1,10,100")
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .collect();
    println!("client-bench: {events} events per run against {endpoint}");
    println!(
        "| callers | events | seconds | events/s | record() p50 | p99 | max | Full refusals | load avg |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failed = false;
    for callers in levels {
        match run(&endpoint, callers, events).await {
            Ok(run) => {
                println!(
                    "| {} | {} | {:.1} | {:.0} | {} | {} | {} | {} | {} |",
                    run.callers,
                    run.events,
                    run.elapsed.as_secs_f64(),
                    run.events as f64 / run.elapsed.as_secs_f64(),
                    micros(percentile(&run.record_ns, 0.5)),
                    micros(percentile(&run.record_ns, 0.99)),
                    micros(run.record_ns.last().copied().unwrap_or_default()),
                    run.refused_full,
                    load_average(),
                );
                if !run.stored_once {
                    eprintln!("{callers} callers: not every event was stored exactly once");
                    failed = true;
                }
            }
            Err(error) => {
                eprintln!("{callers} callers: {error}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
