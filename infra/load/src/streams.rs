//! Streams under load: `STREAMS` (5) accounts of the run each get a webhook stream (through
//! `POST /v1/streams`, as a merchant adds one) to a receiver in this process on 127.0.0.1, which
//! checks every signature and records each record's arrival. At the end: every entry of those
//! accounts arrived, in log order with repeats only, and the delivery lag (from the entry's
//! `received_at`, stamped by ingest, to its arrival here; and from the producer's 201, when
//! ingest answered that it stored the event) and records per second per stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use seclog::streams::signature::{SigningSecret, verify};
use serde_json::{Value, json};

use crate::{Api, token};

/// One record's arrival.
pub struct Arrival {
    pub index: u64,
    /// From the entry's `received_at`, in ms.
    pub lag_ms: f64,
    pub event_id: Option<String>,
    pub at: Instant,
}

impl Arrival {
    /// From the producer's 201 for its event (`stored`, by event id), in ms; `None` for a
    /// record without an event id (the service's own entries).
    fn lag_from_201_ms(&self, stored: &HashMap<String, Instant>) -> Option<f64> {
        let answered = stored.get(self.event_id.as_deref()?)?;
        Some(self.at.saturating_duration_since(*answered).as_secs_f64() * 1000.0)
    }
}

/// One stream's arrivals in arrival order, and the first and last arrival.
#[derive(Default)]
pub struct Arrivals {
    pub records: Vec<Arrival>,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    pub bad_signatures: usize,
}

/// The receiver and the streams it serves, by stream id.
#[derive(Clone, Default)]
pub struct Receiver {
    streams: Arc<Mutex<HashMap<String, (SigningSecret, Arrivals)>>>,
    pub url: String,
}

impl Receiver {
    /// Listens on 127.0.0.1 (a free port).
    pub async fn start() -> Self {
        let mut receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        receiver.url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// Adds a native webhook stream of `account` to this receiver; its id.
    pub async fn add_stream(&self, api: &Api, account: &str) -> Result<String, String> {
        let request = api
            .http
            .post(format!("{}/v1/streams", api.base))
            .bearer_auth(token(account))
            .json(&json!({"kind": "webhook", "url": self.url, "format": "native"}));
        let (status, body) = api
            .send("POST /v1/streams", request)
            .await
            .ok_or_else(|| format!("{account}: stream creation unanswered"))?;
        if status != 201 {
            return Err(format!(
                "{account}: POST /v1/streams answered {status}: {body}"
            ));
        }
        let stream: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let id = stream["id"].as_str().unwrap_or_default().to_owned();
        let secret = SigningSecret::parse(stream["secret"].as_str().unwrap_or_default())
            .map_err(|e| format!("{account}: the stream's secret: {e}"))?;
        self.streams
            .lock()
            .expect("lock")
            .insert(id.clone(), (secret, Arrivals::default()));
        Ok(id)
    }

    /// Distinct indices the stream got so far.
    pub fn distinct(&self, id: &str) -> usize {
        let streams = self.streams.lock().expect("lock");
        let Some((_, arrivals)) = streams.get(id) else {
            return 0;
        };
        let mut indices: Vec<u64> = arrivals.records.iter().map(|a| a.index).collect();
        indices.sort_unstable();
        indices.dedup();
        indices.len()
    }

    /// The report, and what failed: each stream must hold exactly `0..expected[id]` in order
    /// (repeats allowed), with every signature valid. `stored`: when ingest answered 201 for
    /// each event id.
    pub fn report(
        &self,
        expected: &HashMap<String, usize>,
        stored: &HashMap<String, Instant>,
    ) -> (String, Vec<String>) {
        let streams = self.streams.lock().expect("lock");
        let mut failures = Vec::new();
        let mut lags: Vec<f64> = Vec::new();
        let mut from_stored: Vec<f64> = Vec::new();
        let mut rates = Vec::new();
        for (id, (_, arrivals)) in streams.iter() {
            let mut in_order: Vec<u64> = arrivals.records.iter().map(|a| a.index).collect();
            in_order.dedup();
            let want = expected.get(id).copied().unwrap_or_default() as u64;
            if in_order != (0..want).collect::<Vec<_>>() {
                failures.push(format!(
                    "stream {id}: {} distinct records of {want}, or out of order",
                    in_order.len()
                ));
            }
            if arrivals.bad_signatures > 0 {
                failures.push(format!(
                    "stream {id}: {} bad signatures",
                    arrivals.bad_signatures
                ));
            }
            lags.extend(arrivals.records.iter().map(|a| a.lag_ms));
            from_stored.extend(
                arrivals
                    .records
                    .iter()
                    .filter_map(|a| a.lag_from_201_ms(stored)),
            );
            if let (Some(first), Some(last)) = (arrivals.first, arrivals.last) {
                let span = last.duration_since(first).as_secs_f64();
                if span > 0.0 {
                    rates.push(arrivals.records.len() as f64 / span);
                }
            }
        }
        if let Ok(path) = std::env::var("LAG_DUMP") {
            write_lags(&path, &streams, stored);
        }
        lags.sort_by(f64::total_cmp);
        from_stored.sort_by(f64::total_cmp);
        let quantile = |values: &[f64], q: f64| {
            values
                .get(((values.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |ms| ms / 1000.0)
        };
        let at = |q: f64| quantile(&lags, q);
        let rate = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
        let report = format!(
            "streams: {} streams, {} records received; delivery lag from ingest's received_at p50 {:.1} s, p99 {:.1} s (goal p99 < 5 s: {}); from the producer's 201 p50 {:.1} s, p99 {:.1} s ({} records); {:.0} records/s per stream while its account was written",
            streams.len(),
            lags.len(),
            at(0.5),
            at(0.99),
            if at(0.99) < 5.0 { "met" } else { "missed" },
            quantile(&from_stored, 0.5),
            quantile(&from_stored, 0.99),
            from_stored.len(),
            rate,
        );
        (report, failures)
    }
}

/// With `LAG_DUMP=<file>` (a diagnostic): one line per record received, tab-separated: stream,
/// `log_index`, lag from `received_at` and from the producer's 201 (ms), and its arrival (Unix
/// ms, to line up with the dev server's log). Records that arrive late together point at a
/// stall of the whole pipeline; one stream's alone, at that stream.
fn write_lags(
    path: &str,
    streams: &HashMap<String, (SigningSecret, Arrivals)>,
    stored: &HashMap<String, Instant>,
) {
    let (now, now_ms) = (Instant::now(), Timestamp::now().as_millisecond() as f64);
    let mut out = String::new();
    for (id, (_, arrivals)) in streams {
        for a in &arrivals.records {
            let from_201 = a.lag_from_201_ms(stored).unwrap_or(f64::NAN);
            let arrived = now_ms - now.saturating_duration_since(a.at).as_secs_f64() * 1000.0;
            out.push_str(&format!(
                "{id}\t{}\t{:.0}\t{:.0}\t{arrived:.0}\n",
                a.index, a.lag_ms, from_201
            ));
        }
    }
    if let Err(error) = std::fs::write(path, out) {
        eprintln!("load: LAG_DUMP {path}: {error}");
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let arrived = Timestamp::now();
    let Ok(delivery) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = delivery["stream_id"].as_str().unwrap_or_default();
    let mut streams = receiver.streams.lock().expect("lock");
    let Some((secret, arrivals)) = streams.get_mut(id) else {
        return StatusCode::NOT_FOUND;
    };
    let signature = headers
        .get("security-logs-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if verify(signature, secret, &body, arrived.as_second(), 300).is_err() {
        arrivals.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let now = Instant::now();
    arrivals.first.get_or_insert(now);
    arrivals.last = Some(now);
    for record in delivery["records"].as_array().into_iter().flatten() {
        let index = record["log_index"].as_u64().unwrap_or(u64::MAX);
        let lag = record["received_at"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or(f64::NAN, |t| arrived.duration_since(t).as_millis_f64());
        arrivals.records.push(Arrival {
            index,
            lag_ms: lag,
            event_id: record["event_id"].as_str().map(str::to_owned),
            at: now,
        });
    }
    StatusCode::NO_CONTENT
}
