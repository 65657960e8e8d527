//! The walk-through's events (`events/demo/`, docs/walkthrough.md), recorded when `make dev`
//! starts, so the demo page has entries to show: the `acct_demo` batch, `acct_other`'s failed
//! login, and Carol's three sign-ins, of which the third is flagged unfamiliar. They go through
//! the real ingest path (signed with the local SigV4 credentials, checked, parsed, masked,
//! judged) as a service would send them, and carry `event_id`s, so recording them again changes
//! nothing.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use serde_json::Value;

use crate::App;
use crate::sigv4::Signer;

/// The demo accounts (the walk-through's `ALICE` and `BOB`).
pub const ACCOUNTS: [&str; 2] = ["acct_demo", "acct_other"];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("recording the demo events answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("building the demo request: {0}")]
    Request(#[from] http::Error),
}

/// Records every demo event through `app`'s ingest route; the number recorded (duplicates of an
/// earlier run included).
pub async fn seed(app: &App) -> Result<usize, SeedError> {
    let mut recorded = 0;
    for body in REQUESTS {
        recorded += events_in(body);
        ingest(app, body).await?;
    }
    Ok(recorded)
}

/// Events in a request body: a batch's, or one.
fn events_in(body: &str) -> usize {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    parsed["events"].as_array().map_or(1, Vec::len)
}

async fn ingest(app: &App, body: &str) -> Result<(), SeedError> {
    const URL: &str = "http://127.0.0.1/v1/events";
    let body = body.as_bytes().to_vec();
    let content_type = ("content-type", "application/json");
    let mut request = Request::post(URL)
        .header("host", "127.0.0.1")
        .header(content_type.0, content_type.1);
    for (name, value) in Signer::local().sign("POST", URL, &[content_type], &body) {
        request = request.header(name, value);
    }
    let response = app.serve(request.body(Body::from(body))?).await;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Err(SeedError::Refused {
        status: status.as_u16(),
        body,
    })
}

/// The demo's requests, in order (sign-ins are judged in the order recorded): the files of
/// `events/demo/`, which the walk-through (docs/walkthrough.md) sends with curl.
const REQUESTS: [&str; 5] = [
    include_str!("../../../events/demo/1-acct_demo-batch.json"),
    include_str!("../../../events/demo/2-acct_other-failed-login.json"),
    include_str!("../../../events/demo/3-carol-signs-in.json"),
    include_str!("../../../events/demo/4-carol-signs-in-again.json"),
    include_str!("../../../events/demo/5-carol-new-device-and-network.json"),
];
