//! The README walk-through's events, recorded when `make dev` starts, so the demo page has
//! entries to show: the `acct_demo` batch, `acct_other`'s failed login, and Carol's three
//! sign-ins, of which the third is flagged unfamiliar. They go through the real ingest path
//! (signed with the local SigV4 credentials, checked, parsed, masked, judged) as a service
//! would send them, and carry `event_id`s, so recording them again changes nothing.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use serde_json::{Value, json};

use crate::App;
use crate::sigv4::Signer;

/// The demo accounts (the README's `ALICE` and `BOB`).
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
    for batch in batches() {
        recorded += batch.len();
        ingest(app, &json!({ "events": batch })).await?;
    }
    Ok(recorded)
}

async fn ingest(app: &App, body: &Value) -> Result<(), SeedError> {
    const URL: &str = "http://127.0.0.1/v1/events";
    let body = body.to_string().into_bytes();
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

const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

/// One request per batch, in the README's order: sign-ins are judged in the order recorded.
fn batches() -> Vec<Vec<Value>> {
    let carol_signs_in = |n: u32, at: &str, user_agent: &str, ip: &str| {
        json!({"account_id": "acct_demo", "type": "login", "occurred_at": at,
               "event_id": format!("demo-carol-{n}"),
               "actor": {"id": "u_2", "name": "Carol Admin"},
               "user_agent": user_agent, "ip": ip, "location": {"country": "PH"}})
    };
    vec![
        vec![
            json!({"account_id": "acct_demo", "type": "login", "occurred_at": "2024-04-22T06:32:15Z",
                   "event_id": "evt-1",
                   "actor": {"id": "u_1", "name": "Alice Merchant", "email": "alice@example.com"},
                   "ip": "203.0.113.45", "user_agent": SAFARI_MAC,
                   "location": {"country": "PH", "region": "Metro Manila", "city": "Makati"},
                   "details": {"method": "password"}}),
            json!({"account_id": "acct_demo", "type": "account_settings.changed",
                   "occurred_at": "2024-04-22T06:40:00Z", "event_id": "demo-settings-1",
                   "actor": {"id": "u_1", "name": "Alice Merchant"},
                   "details": {"changes": [{"field": "email", "from": "a@x.com", "to": "b@x.com"}]}}),
            json!({"account_id": "acct_demo", "type": "api_key.viewed",
                   "occurred_at": "2024-04-22T06:45:00Z", "event_id": "demo-key-1",
                   "actor": {"id": "u_1"},
                   "details": {"key": "secret", "key_id": "sk_live_51HxAbCdEfGhIjKlMnOp4242"}}),
            json!({"account_id": "acct_demo", "type": "payout_account.updated",
                   "occurred_at": "2024-04-22T07:05:00Z", "event_id": "demo-payout-1",
                   "actor": {"id": "u_2", "name": "Carol Finance"},
                   "details": {"bank": "BDO", "account_last4": "6789"}}),
        ],
        vec![json!({"account_id": "acct_other", "type": "login.failed",
                   "occurred_at": "2024-04-22T08:00:00Z", "event_id": "demo-other-1",
                   "actor": {"id": "u_7"}, "ip": "198.51.100.7",
                   "details": {"reason": "bad_password"}})],
        vec![carol_signs_in(
            1,
            "2024-04-23T08:00:00Z",
            CHROME_WINDOWS,
            "203.0.113.45",
        )],
        vec![carol_signs_in(
            2,
            "2024-04-24T08:00:00Z",
            CHROME_WINDOWS,
            "203.0.113.45",
        )],
        vec![carol_signs_in(
            3,
            "2024-04-25T08:00:00Z",
            FIREFOX_LINUX,
            "198.51.100.7",
        )],
    ]
}
