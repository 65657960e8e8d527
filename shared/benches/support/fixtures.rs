//! Realistic stored entries for the micro-benchmarks (`make bench-micro`), built the way
//! production builds them: ingest bodies parsed by `IngestBatch::parse`, so ids, devices,
//! summaries and masking are the service's own. Shared by `seclog`'s and `list-logs`'s benches
//! (included by path: a bench cannot depend on another crate's bench code).

use jiff::{SignedDuration, Timestamp};
use seclog::domain::{IngestBatch, IngestContext, LogEntry, Producer};
use serde_json::{Value, json};

const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
     (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

/// `n` entries, newest first, `spacing` apart and ending at `now`, each received a second after
/// it happened: logins with user agent, IP and location, failed logins over IPv6, settings
/// changes with `changes[]`, API key and payout events; one actor in 50 is named like a
/// formula, as an attacker would.
pub fn entries(n: usize, now: Timestamp, spacing: SignedDuration) -> Vec<LogEntry> {
    let producer = Producer::parse("arn:aws:iam::123456789012:role/payments-producer").unwrap();
    (0..n)
        .map(|i| {
            let occurred_at = now - spacing * i32::try_from(i).unwrap();
            let context = IngestContext {
                now: occurred_at + SignedDuration::from_secs(1),
                producer: &producer,
            };
            let body = serde_json::to_vec(&event(i, occurred_at)).unwrap();
            let mut batch = IngestBatch::parse(&body, &context).unwrap();
            batch.events.remove(0).entry
        })
        .collect()
}

fn event(i: usize, occurred_at: Timestamp) -> Value {
    let name = if i % 50 == 7 {
        "=HYPERLINK(\"http://evil.example\",\"Alice\")".to_owned()
    } else {
        format!("Merchant User {}", i % 37)
    };
    let actor = json!({
        "id": format!("u_{}", i % 37),
        "name": name,
        "email": format!("user{}@example.com", i % 37),
    });
    let occurred_at = occurred_at.to_string();
    match i % 5 {
        0 => json!({
            "account_id": "acct_bench", "type": "login", "occurred_at": occurred_at,
            "actor": actor, "ip": "203.0.113.45", "user_agent": SAFARI_MAC,
            "location": {"country": "PH", "region": "Metro Manila", "city": "Makati"},
            "details": {"method": "password", "mfa": true},
        }),
        1 => json!({
            "account_id": "acct_bench", "type": "login.failed", "occurred_at": occurred_at,
            "actor": actor, "ip": "2001:db8::7", "user_agent": CHROME_WINDOWS,
            "location": {"country": "SG"},
            "details": {"reason": "bad_password", "attempt": 3},
        }),
        2 => json!({
            "account_id": "acct_bench", "type": "account_settings.changed",
            "event_id": format!("evt-{i}"), "occurred_at": occurred_at,
            "actor": actor, "ip": "198.51.100.23", "user_agent": SAFARI_IPHONE,
            "location": {"country": "PH", "region": "Cebu", "city": "Cebu City"},
            "details": {"changes": [
                {"field": "email", "from": "old@example.com", "to": "new@example.com"},
                {"field": "business_name", "from": "Acme", "to": "Acme, Inc."},
            ]},
        }),
        3 => json!({
            "account_id": "acct_bench", "type": "api_key.regenerated", "occurred_at": occurred_at,
            "actor": actor, "ip": "203.0.113.9", "user_agent": CHROME_WINDOWS,
            "details": {"key": "secret_key", "key_id": format!("key_{i:04}")},
        }),
        _ => json!({
            "account_id": "acct_bench", "type": "payout_account.updated",
            "occurred_at": occurred_at, "actor": {"id": format!("u_{}", i % 37)},
            "details": {"bank": "BDO Unibank", "account_last4": "6789"},
        }),
    }
}
