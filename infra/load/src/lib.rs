//! What `make load` and `make faults` share: a client of the local API that signs ingest as a
//! producer (the dev server's SigV4 signer), reads as a dashboard (unsigned local tokens, as in
//! the integration tests), records every response's route, status and latency, and checks
//! exports and listings the same way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dev_server::sigv4::Signer;
use serde_json::{Value, json};

pub const TYPES: [&str; 5] = [
    "login",
    "login.failed",
    "api_key.viewed",
    "account_settings.changed",
    "payout_account.updated",
];

/// A setting from the environment, or its default.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A dashboard user's token for `account` (the dev server reads, not verifies, it).
pub fn token(account: &str) -> String {
    dev_server::jwt::unsigned_token(
        &json!({"account_id": account, "sub": "u_load", "name": "Load Tester"}),
    )
}

/// An event with an `event_id` (`id`), occurred `seconds_ago` seconds ago.
pub fn event(account: &str, id: &str, n: usize, seconds_ago: i64) -> Value {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds_ago);
    json!({
        "account_id": account,
        "type": TYPES[n % TYPES.len()],
        "event_id": id,
        "occurred_at": at.to_string(),
        "actor": {"id": format!("u_{}", n % 9), "name": "Load Tester"},
        "ip": format!("198.51.100.{}", n % 250),
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "location": {"country": "PH"},
        "details": {"n": n}
    })
}

/// Every response's route, status (0: no response) and latency.
#[derive(Default)]
pub struct Stats {
    samples: Mutex<Vec<(&'static str, u16, Duration)>>,
}

impl Stats {
    pub fn record(&self, route: &'static str, status: u16, took: Duration) {
        self.samples.lock().unwrap().push((route, status, took));
    }

    pub fn count(&self) -> usize {
        self.samples.lock().unwrap().len()
    }

    /// Requests, statuses and p50/p95/p99 per route, as a Markdown table.
    pub fn table(&self) -> String {
        let samples = self.samples.lock().unwrap().clone();
        let mut routes: BTreeMap<&str, (BTreeMap<u16, usize>, Vec<Duration>)> = BTreeMap::new();
        for (route, status, took) in &samples {
            let entry = routes.entry(route).or_default();
            *entry.0.entry(*status).or_default() += 1;
            entry.1.push(*took);
        }
        let mut table = String::from(
            "| route | requests | statuses | p50 | p95 | p99 | max |\n|---|---:|---|---:|---:|---:|---:|\n",
        );
        for (route, (statuses, mut times)) in routes {
            times.sort();
            let statuses: Vec<String> = statuses
                .iter()
                .map(|(s, n)| match s {
                    0 => format!("no answer: {n}"),
                    s => format!("{s}: {n}"),
                })
                .collect();
            let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
            table.push_str(&format!(
                "| {route} | {} | {} | {} | {} | {} | {} |\n",
                times.len(),
                statuses.join(", "),
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.95)),
                ms(percentile(&times, 0.99)),
                ms(*times.last().unwrap_or(&Duration::ZERO)),
            ));
        }
        table
    }

    /// Responses matching `bad` (route, status, latency), for the checks.
    pub fn find(&self, bad: impl Fn(&str, u16, Duration) -> bool) -> Vec<String> {
        let samples = self.samples.lock().unwrap();
        samples
            .iter()
            .filter(|(route, status, took)| bad(route, *status, *took))
            .map(|(route, status, took)| format!("{route}: status {status} in {took:.1?}"))
            .collect()
    }
}

pub mod hops;
pub mod queue;
pub mod sequencing;
pub mod streams;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    match sorted.len() {
        0 => Duration::ZERO,
        n => sorted[((n - 1) as f64 * p).round() as usize],
    }
}

/// The local API, as producers and dashboards reach it.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub stats: Stats,
}

impl Api {
    pub fn from_env() -> Self {
        Self {
            base: std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into()),
            http: reqwest::Client::new(),
            stats: Stats::default(),
        }
    }

    /// Sends, records, and returns status and body (`None`: no answer within 60 s).
    pub async fn send(
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

    /// `POST /v1/events` signed as the local producer; the status (`None`: no answer).
    pub async fn ingest(&self, events: &[Value]) -> Option<u16> {
        let body = serde_json::to_vec(&json!({ "events": events })).expect("json");
        let url = format!("{}/v1/events", self.base);
        let signed =
            Signer::local().sign("POST", &url, &[("content-type", "application/json")], &body);
        let mut request = self
            .http
            .post(&url)
            .header("content-type", "application/json");
        for (name, value) in signed {
            request = request.header(name, value);
        }
        self.send("POST /v1/events", request.body(body))
            .await
            .map(|(status, _)| status)
    }

    pub async fn get(
        &self,
        route: &'static str,
        path: &str,
        account: &str,
    ) -> Option<(u16, String)> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token(account));
        self.send(route, request).await
    }

    /// Every entry of the account, newest first, following cursors.
    pub async fn listing(&self, account: &str) -> Result<Vec<Value>, String> {
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/logs?limit=100&cursor={c}"),
                None => "/v1/logs?limit=100".to_owned(),
            };
            let Some((200, body)) = self.get("GET /v1/logs (check)", &path, account).await else {
                return Err(format!("listing {account} failed"));
            };
            let page: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            entries.extend(page["data"].as_array().into_iter().flatten().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(entries),
            }
        }
    }

    /// `POST /v1/exports` of everything; the new export's id.
    pub async fn request_export(&self, account: &str) -> Result<String, String> {
        let request = self
            .http
            .post(format!("{}/v1/exports", self.base))
            .bearer_auth(token(account))
            .json(&json!({}));
        match self.send("POST /v1/exports", request).await {
            Some((202, body)) => Ok(serde_json::from_str::<Value>(&body)
                .map_err(|e| e.to_string())?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()),
            Some((status, body)) => Err(format!("{account}: export answered {status}: {body}")),
            None => Err(format!("{account}: export request unanswered")),
        }
    }

    /// `GET /v1/exports/{id}`: the job, if the answer is a 200 with JSON.
    pub async fn export(&self, account: &str, id: &str) -> Option<Value> {
        let path = format!("/v1/exports/{id}");
        match self.get("GET /v1/exports/{id}", &path, account).await {
            Some((200, body)) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    /// Polls the export until it is finished (or `limit` passed); the job as last read.
    pub async fn wait_export(&self, account: &str, id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(job) = self.export(account, id).await {
                last = job;
                if matches!(last["status"].as_str(), Some("succeeded" | "failed")) {
                    break;
                }
            }
        }
        last
    }

    /// A succeeded export's CSV, checked against its `row_count`: its event ids, in file order.
    pub async fn download(&self, job: &Value) -> Result<Vec<String>, String> {
        let url = job["download_url"].as_str().ok_or("no download_url")?;
        let Some((200, csv)) = self.send("GET download", self.http.get(url)).await else {
            return Err("download failed".into());
        };
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().map_err(|e| e.to_string())?.clone();
        let column = headers.iter().position(|h| h == "Event ID");
        let mut ids = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| e.to_string())?;
            ids.push(
                column
                    .and_then(|c| record.get(c))
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        if Some(ids.len() as u64) != job["row_count"].as_u64() {
            return Err(format!(
                "{} CSV rows, row_count {}",
                ids.len(),
                job["row_count"]
            ));
        }
        Ok(ids)
    }

    /// Checks that each account's listing holds exactly the events (by `event_id`) acknowledged
    /// for it, each once; the failures found.
    pub async fn check_exactly_once(&self, sent: &HashMap<String, HashSet<String>>) -> Vec<String> {
        let mut failures = Vec::new();
        for (account, ids) in sent {
            let listed = match self.listing(account).await {
                Ok(listed) => listed,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            let event_ids: Vec<&str> = listed
                .iter()
                .filter(|e| e["type"] != "security_logs.exported")
                .filter_map(|e| e["event_id"].as_str())
                .collect();
            let distinct: HashSet<&str> = event_ids.iter().copied().collect();
            if distinct.len() != event_ids.len() {
                failures.push(format!(
                    "{account}: {} events stored twice",
                    event_ids.len() - distinct.len()
                ));
            }
            if distinct != ids.iter().map(String::as_str).collect() {
                failures.push(format!(
                    "{account}: {} events stored, {} acknowledged",
                    distinct.len(),
                    ids.len()
                ));
            }
        }
        failures
    }
}
