//! A receiver of webhook streams for local development and demonstrations: what a merchant's
//! endpoint must do, done with the sender's own code. Each POST's `Security-Logs-Signature` is
//! checked (`seclog::streams::signature`, a stale `t` refused with 401), each record printed on
//! one line (stdout), and repeats and gaps by `log_index` reported (stderr), since delivery is
//! at least once and in log order.
//!
//! The body is `seclog::streams::delivery::Delivery`, the sender's own type; `log_index` is
//! `metadata.sequence` (OCSF) or `log_index` (native).

pub mod sequence;

use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use seclog::streams::delivery::Delivery;
use seclog::streams::signature::{
    DELIVERY_HEADER, SIGNATURE_HEADER, SignatureRefused, SigningSecret, verify,
};
use thiserror::Error;

use sequence::{Seen, Sequences};

/// How far a signature's `t` may be from this machine's clock.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// What a delivery produced: records for stdout, reports for stderr.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    pub records: Vec<String>,
    pub reports: Vec<String>,
}

/// Why a delivery is refused, and with which status.
#[derive(Debug, Error)]
pub enum Refusal {
    #[error("no {SIGNATURE_HEADER} header")]
    Unsigned,
    #[error("{0}")]
    BadSignature(#[from] SignatureRefused),
    #[error("the body is not a delivery: {0}")]
    Malformed(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unsigned | Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }
}

pub struct Receiver {
    secret: SigningSecret,
    tolerance: u64,
    sequences: Mutex<Sequences>,
}

impl Receiver {
    pub fn new(secret: SigningSecret, tolerance: u64) -> Self {
        Self {
            secret,
            tolerance,
            sequences: Mutex::new(Sequences::default()),
        }
    }

    /// Checks one POST at time `now` (Unix seconds) and says what to print.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Printed, Refusal> {
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::Unsigned)?;
        verify(signature, &self.secret, body, now, self.tolerance)?;
        let delivery: Delivery<'_> =
            serde_json::from_slice(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let mut printed = Printed::default();
        let header_id = headers.get(DELIVERY_HEADER).and_then(|v| v.to_str().ok());
        if header_id != Some(delivery.delivery_id.as_str()) {
            printed.reports.push(format!(
                "delivery {}: its {DELIVERY_HEADER} header is {header_id:?}",
                delivery.delivery_id
            ));
        }
        let mut indexes = Vec::with_capacity(delivery.records.len());
        for (i, record) in delivery.records.iter().enumerate() {
            let value: serde_json::Value = serde_json::from_str(record.get())
                .map_err(|e| Refusal::Malformed(format!("records[{i}]: {e}")))?;
            let index = delivery.format.log_index_of(&value).ok_or_else(|| {
                Refusal::Malformed(format!(
                    "records[{i}] has no log_index ({} format)",
                    delivery.format.as_str()
                ))
            })?;
            indexes.push(index);
        }
        printed.reports.push(format!(
            "delivery {} of stream {}: {} {} records, checkpoint size {}",
            delivery.delivery_id,
            delivery.stream_id,
            delivery.records.len(),
            delivery.format.as_str(),
            delivery.checkpoint.lines().nth(1).unwrap_or("?"),
        ));
        let mut sequences = self
            .sequences
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (record, index) in delivery.records.iter().zip(indexes) {
            let stream = &delivery.stream_id;
            match sequences.record(stream, index) {
                Seen::InOrder => {}
                Seen::Repeat => printed
                    .reports
                    .push(format!("repeat: stream {stream} log_index {index}")),
                Seen::Gap { missing } => printed.reports.push(format!(
                    "gap: stream {stream} log_index {}..{} missing before {index}",
                    missing.start,
                    missing.end - 1
                )),
                Seen::FillsGap => printed.reports.push(format!(
                    "late: stream {stream} log_index {index} fills a gap"
                )),
            }
            // Newlines outside strings are only whitespace (JSON escapes them inside strings).
            printed
                .records
                .push(record.get().replace(['\n', '\r'], " "));
        }
        Ok(printed)
    }
}

/// The receiver's routes: POST on any path.
pub fn router(receiver: Receiver) -> Router {
    Router::new()
        .route("/", post(deliver))
        .route("/{*path}", post(deliver))
        .with_state(std::sync::Arc::new(receiver))
}

async fn deliver(
    State(receiver): State<std::sync::Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let now = jiff::Timestamp::now().as_second();
    match receiver.receive(&headers, &body, now) {
        Ok(printed) => {
            for report in printed.reports {
                eprintln!("{report}");
            }
            for record in printed.records {
                println!("{record}");
            }
            (StatusCode::NO_CONTENT, String::new())
        }
        Err(refusal) => {
            eprintln!("refused ({}): {refusal}", refusal.status().as_u16());
            (refusal.status(), refusal.to_string())
        }
    }
}

#[cfg(test)]
mod tests;
