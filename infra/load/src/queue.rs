//! The ingest queue under `make load`: with `QUEUE_PRODUCERS=n` (default 0: off), n producers
//! send through the dev server's ingest queue (moto's SQS, consumed by the dev server's
//! stand-in for Lambda's SQS mapping) while the signed producers load the API. Each sends as
//! much as one signed producer (`EVENTS` / `PRODUCERS` events) at the pace one signed producer
//! has kept so far (events acknowledged by the API per second, over `PRODUCERS`), in
//! SendMessageBatch calls of 10 (SQS's most), one batch in ten sent twice (as a producer that
//! timed out would), to an account of its own (`acct_queueNN`). A watcher per account reads its
//! newest page every 200 ms.
//!
//! At the end: every queued event listed exactly once, and the lag from each event's send (the
//! SendMessageBatch call's start) to its entry's `received_at` (stamped when the consumer took
//! its batch, before the write, as ingest stamps it) and to its listing (first seen by the
//! watcher: late by up to 200 ms plus the page's own time). The queue's URL is `INGEST_QUEUE_URL`, or the one the dev server logs at start-up.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde_json::Value;

use crate::{Api, event, percentile, setting};

const WATCH_EVERY: Duration = Duration::from_millis(200);
/// How long the end waits for queued events still unlisted.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);
/// The pace before the API has acknowledged anything (events/s per producer).
const STARTING_PACE: f64 = 5.0;

/// One queued event: its account, and when its batch was sent.
struct Sent {
    account: String,
    at: Instant,
    at_ms: i64,
}

/// The queue producers' run.
pub struct QueueRun {
    /// Its own client of the API (the watchers' reads stay out of the run's route table).
    api: Api,
    sqs: aws_sdk_sqs::Client,
    url: String,
    producers: usize,
    sent: Mutex<HashMap<String, Sent>>,
    /// By event id: (first seen listed, lag in ms from the send to its `received_at`).
    listed: Mutex<HashMap<String, (Instant, f64)>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    send_failures: Mutex<Vec<String>>,
}

fn account(q: usize) -> String {
    format!("acct_queue{q:02}")
}

impl QueueRun {
    /// Starts `QUEUE_PRODUCERS` queue producers and their watchers (`None` when 0): each sends
    /// `share` events at the pace of one of the run's `producers` signed producers, whose
    /// acknowledged events so far `acknowledged` counts.
    pub async fn start(
        producers: usize,
        share: usize,
        acknowledged: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Option<Arc<Self>> {
        let queue_producers = setting("QUEUE_PRODUCERS", 0);
        if queue_producers == 0 {
            return None;
        }
        let url = match queue_url() {
            Some(url) => url,
            None => {
                eprintln!(
                    "load: QUEUE_PRODUCERS set, but no INGEST_QUEUE_URL and none in DEV_SERVER_LOG"
                );
                std::process::exit(2);
            }
        };
        let endpoint = reqwest::Url::parse(&url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let run = Arc::new(Self {
            api: Api::from_env(),
            sqs: aws_sdk_sqs::Client::new(&seclog::store::aws::local(&endpoint).await),
            url,
            producers: queue_producers,
            sent: Mutex::new(HashMap::new()),
            listed: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            send_failures: Mutex::new(Vec::new()),
        });
        let started = Instant::now();
        let acknowledged = Arc::new(acknowledged);
        let pace = move || {
            let rate = acknowledged() as f64 / started.elapsed().as_secs_f64() / producers as f64;
            if rate.is_finite() && rate > 0.0 {
                rate
            } else {
                STARTING_PACE
            }
        };
        let pace = Arc::new(pace);
        let mut tasks = run.tasks.lock().unwrap();
        for q in 0..queue_producers {
            let (this, pace) = (run.clone(), pace.clone());
            tasks.push(tokio::spawn(
                async move { this.produce(q, share, &*pace).await },
            ));
            let this = run.clone();
            tasks.push(tokio::spawn(async move { this.watch(q).await }));
        }
        drop(tasks);
        eprintln!("load: {queue_producers} queue producers, {share} events each");
        Some(run)
    }

    /// Producer `q`: `share` events in batches of 10, paced.
    async fn produce(&self, q: usize, share: usize, pace: &(dyn Fn() -> f64 + Send + Sync)) {
        let acct = account(q);
        for (batch_no, start) in (0..share).step_by(10).enumerate() {
            let began = Instant::now();
            let events: Vec<Value> = (start..(start + 10).min(share))
                .map(|k| event(&acct, &format!("queue-{q}-{k}"), q + k, 0))
                .collect();
            self.send(&acct, &events).await;
            if batch_no % 10 == 3 {
                self.send(&acct, &events).await;
            }
            let interval = Duration::from_secs_f64(events.len() as f64 / pace());
            tokio::time::sleep(interval.saturating_sub(began.elapsed())).await;
        }
    }

    /// One SendMessageBatch; its events' send time is the call's start (a re-send keeps the
    /// first). A failed entry is sent again, as the client would.
    async fn send(&self, acct: &str, events: &[Value]) {
        let (at, at_ms) = (Instant::now(), jiff::Timestamp::now().as_millisecond());
        {
            let mut sent = self.sent.lock().unwrap();
            for event in events {
                let id = event["event_id"].as_str().unwrap_or_default().to_owned();
                sent.entry(id).or_insert(Sent {
                    account: acct.to_owned(),
                    at,
                    at_ms,
                });
            }
        }
        let mut pending: Vec<&Value> = events.iter().collect();
        for _ in 0..10 {
            let entries = pending
                .iter()
                .enumerate()
                .map(|(i, event)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(event.to_string())
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            let answer = self
                .sqs
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            match answer {
                Ok(output) => {
                    let failed: HashSet<usize> = output
                        .failed()
                        .iter()
                        .filter_map(|f| f.id().parse().ok())
                        .collect();
                    pending = pending
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| failed.contains(i))
                        .map(|(_, e)| e)
                        .collect();
                }
                Err(error) => eprintln!(
                    "load: queue send: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&error)
                ),
            }
            if pending.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.send_failures.lock().unwrap().push(format!(
            "{acct}: {} queued events never sent",
            pending.len()
        ));
    }

    /// Reads account `q`'s newest page every [`WATCH_EVERY`], noting each queued event's first
    /// sighting.
    async fn watch(&self, q: usize) {
        let acct = account(q);
        loop {
            let tick = tokio::time::sleep(WATCH_EVERY);
            let page = self
                .api
                .get("GET /v1/logs (queue watcher)", "/v1/logs?limit=100", &acct)
                .await;
            let seen = Instant::now();
            if let Some((200, body)) = page {
                let page: Value = serde_json::from_str(&body).unwrap_or_default();
                let sent = self.sent.lock().unwrap();
                let mut listed = self.listed.lock().unwrap();
                for entry in page["data"].as_array().into_iter().flatten() {
                    let Some(id) = entry["event_id"].as_str() else {
                        continue;
                    };
                    let (Some(sent), false) = (sent.get(id), listed.contains_key(id)) else {
                        continue;
                    };
                    let received_ms = entry["received_at"]
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map_or(f64::NAN, |t| (t.as_millisecond() - sent.at_ms) as f64);
                    listed.insert(id.to_owned(), (seen, received_ms));
                }
            }
            tick.await;
        }
    }

    /// Waits for the producers, then (bounded) for every queued event to be listed; checks
    /// each is listed exactly once. A report line and the failures.
    pub async fn finish(&self) -> (String, Vec<String>) {
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock().unwrap());
        let (producers, watchers): (Vec<_>, Vec<_>) =
            tasks.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        for (_, producer) in producers {
            let _ = producer.await;
        }
        let total = self.sent.lock().unwrap().len();
        let waiting = Instant::now();
        while self.listed.lock().unwrap().len() < total && waiting.elapsed() < DRAIN_LIMIT {
            tokio::time::sleep(WATCH_EVERY).await;
        }
        for (_, watcher) in watchers {
            watcher.abort();
        }
        let mut failures = std::mem::take(&mut *self.send_failures.lock().unwrap());
        let mut by_account: HashMap<String, HashSet<String>> = HashMap::new();
        for (id, sent) in self.sent.lock().unwrap().iter() {
            by_account
                .entry(sent.account.clone())
                .or_default()
                .insert(id.clone());
        }
        failures.extend(self.api.check_exactly_once(&by_account).await);
        let (report, unlisted) = self.report(total);
        if unlisted > 0 {
            failures.push(format!(
                "queue: {unlisted} of {total} queued events not listed within {DRAIN_LIMIT:?}"
            ));
        }
        (report, failures)
    }

    /// The lag figures; how many events were never seen listed.
    fn report(&self, total: usize) -> (String, usize) {
        let sent = self.sent.lock().unwrap();
        let listed = self.listed.lock().unwrap();
        let mut to_listed: Vec<Duration> = Vec::new();
        let mut to_stored: Vec<Duration> = Vec::new();
        for (id, (seen, stored_ms)) in listed.iter() {
            if let Some(sent) = sent.get(id) {
                to_listed.push(seen.duration_since(sent.at));
                if stored_ms.is_finite() {
                    to_stored.push(Duration::from_secs_f64(stored_ms.max(0.0) / 1000.0));
                }
            }
        }
        to_listed.sort();
        to_stored.sort();
        let figures = |lags: &[Duration]| {
            let ms = |d: Duration| d.as_millis();
            format!(
                "p50 {} / p90 {} / p99 {} / max {} ms",
                ms(percentile(lags, 0.5)),
                ms(percentile(lags, 0.9)),
                ms(percentile(lags, 0.99)),
                ms(lags.last().copied().unwrap_or_default())
            )
        };
        let report = format!(
            "queue: {} producers, {total} events sent, {} listed exactly once; lag from send to the consumer's received_at {}; to listed (watched every {WATCH_EVERY:?}) {}",
            self.producers,
            to_listed.len(),
            figures(&to_stored),
            figures(&to_listed),
        );
        (report, total - to_listed.len())
    }
}

/// `INGEST_QUEUE_URL`, or the queue the dev server logged at start-up.
fn queue_url() -> Option<String> {
    if let Ok(url) = std::env::var("INGEST_QUEUE_URL") {
        return Some(url);
    }
    let log = std::fs::read_to_string(std::env::var("DEV_SERVER_LOG").ok()?).ok()?;
    queue_url_in_log(&log)
}

/// The `queue=` field of the dev server's "ingest queue" line (colours stripped).
fn queue_url_in_log(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("ingest queue ("))?;
    let plain = strip_ansi(line);
    let start = plain.find(" queue=")? + " queue=".len();
    plain[start..].split_whitespace().next().map(str::to_owned)
}

fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_url_is_read_from_the_servers_log_with_or_without_colours() {
        let url = "http://127.0.0.1:4566/000000000000/security-logs-ingest";
        let plain = format!(
            "2026-12-07T12:00:00Z  INFO ingest queue (one event per message) queue={url} dead_letters={url}-dead-letters\n"
        );
        assert_eq!(queue_url_in_log(&plain).as_deref(), Some(url));
        let coloured = format!(
            "\u{1b}[32m INFO\u{1b}[0m \u{1b}[1mingest queue (one event)\u{1b}[0m \u{1b}[3mqueue\u{1b}[0m\u{1b}[2m=\u{1b}[0m{url} \u{1b}[3mdead_letters\u{1b}[0m\u{1b}[2m=\u{1b}[0mx"
        );
        assert_eq!(queue_url_in_log(&coloured).as_deref(), Some(url));
        assert_eq!(queue_url_in_log("nothing here"), None);
    }
}
