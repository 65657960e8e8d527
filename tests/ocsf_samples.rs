//! `make check-ocsf`'s input: one OCSF stream record per event type of the catalogue, and per
//! sign-in variant (success, failure, unfamiliar), as NDJSON on stdout, for
//! `tools/ocsf-check/validate.py` to validate against the OCSF models.
//!
//! The entries are the demo's (events/demo/, parsed as ingest parses them), and for the types
//! the demo has none of, events with the contract's typical `details`; the service's own types
//! are built as the service builds them ([`NewEvent::internal`]).

use std::collections::BTreeSet;
use std::error::Error;
use std::io::Write;

use integration_tests::repository_file;
use jiff::Timestamp;
use seclog::domain::json::Json;
use seclog::domain::stream::StreamFormat;
use seclog::domain::{
    AccountId, Actor, EventType, IngestBatch, IngestContext, LogEntry, NewEvent, Producer,
    Unfamiliar, UnfamiliarReason,
};
use seclog::streams::record::render;

const DEMO_FILES: [&str; 5] = [
    "1-acct_demo-batch.json",
    "2-acct_other-failed-login.json",
    "3-carol-signs-in.json",
    "4-carol-signs-in-again.json",
    "5-carol-new-device-and-network.json",
];

/// Producer types the demo does not record, with API.md's typical details.
const MORE_EVENTS: &str = r#"{"events": [
  {"account_id": "acct_demo", "type": "password.changed", "occurred_at": "2024-04-23T09:00:00Z",
   "actor": {"id": "u_1", "name": "Alice Merchant", "email": "alice@example.com"},
   "ip": "203.0.113.45", "details": {}},
  {"account_id": "acct_demo", "type": "api_key.regenerated", "occurred_at": "2024-04-23T09:05:00Z",
   "actor": {"id": "u_1"}, "details": {"key": "secret", "key_id": "sk_live_...4242"}},
  {"account_id": "acct_demo", "type": "kyc_document.changed", "occurred_at": "2024-04-23T09:10:00Z",
   "actor": {"id": "u_ops", "name": "Compliance Bot"},
   "details": {"document": "business_permit", "status_from": "pending", "status_to": "verified"}}
]}"#;

fn main() -> Result<(), Box<dyn Error>> {
    // After the demo's last event.
    let now: Timestamp = "2024-04-26T00:00:00Z".parse()?;
    let producer = Producer::parse("arn:aws:iam::000000000000:user/local")?;
    let context = IngestContext {
        now,
        producer: &producer,
    };
    let mut bodies: Vec<String> = DEMO_FILES
        .iter()
        .map(|name| repository_file(&format!("events/demo/{name}")))
        .collect();
    bodies.push(MORE_EVENTS.to_owned());
    let mut entries = Vec::new();
    for body in &bodies {
        let batch = IngestBatch::parse(body.as_bytes(), &context)?;
        entries.extend(batch.events.into_iter().map(|event| event.entry));
    }
    entries.extend(service_entries(now)?);

    let mut samples = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in &entries {
        if seen.insert(entry.event_type) {
            samples.push(entry.clone());
        }
    }
    // The third sign-in variant: the demo's Carol on a new device and network is flagged.
    let unfamiliar = entries
        .iter()
        .rfind(|e| e.event_type == EventType::Login)
        .ok_or("the demo has no sign-in")?;
    samples.push(LogEntry {
        unfamiliar: Some(Unfamiliar {
            reasons: vec![UnfamiliarReason::NewDevice, UnfamiliarReason::NewNetwork],
        }),
        ..unfamiliar.clone()
    });
    let missing: Vec<_> = EventType::ALL
        .into_iter()
        .filter(|t| !seen.contains(t))
        .collect();
    if !missing.is_empty() {
        return Err(format!("no sample entry for {missing:?}").into());
    }

    let mut out = std::io::stdout().lock();
    for (log_index, mut entry) in samples.into_iter().enumerate() {
        entry.log_index = Some(u64::try_from(log_index)?);
        writeln!(out, "{}", render(&entry, StreamFormat::Ocsf)?.get())?;
    }
    Ok(())
}

/// The service's own entries, with the details the service writes.
fn service_entries(now: Timestamp) -> Result<Vec<LogEntry>, Box<dyn Error>> {
    let account = AccountId::parse("acct_demo")?;
    let admin = Actor {
        id: "u_1".into(),
        name: Some("Alice Merchant".into()),
        email: Some("alice@example.com".into()),
    };
    let stream =
        r#"{"stream_id": "st_01HW3Z9V7Q4M8K2N5P6R7E0013", "kind": "webhook", "format": "ocsf"}"#;
    let cases = [
        (
            EventType::SecurityLogsExported,
            r#"{"export_id": "01HW3Z9V7Q4M8K2N5P6R7E0012", "format": "csv", "retention_days": 365,
                "filters": {"from": null, "to": null, "types": [], "actor": null, "unfamiliar": null, "tz": "Asia/Manila"}}"#,
        ),
        (EventType::SecurityLogsStreamCreated, stream),
        (
            EventType::SecurityLogsStreamReplayed,
            r#"{"stream_id": "st_01HW3Z9V7Q4M8K2N5P6R7E0013", "from_index": 0}"#,
        ),
        (EventType::SecurityLogsStreamDeleted, stream),
    ];
    cases
        .into_iter()
        .map(|(event_type, details)| {
            let event = NewEvent::internal(
                account.clone(),
                event_type,
                admin.clone(),
                None,
                Json::parse(details)?,
                now,
            );
            Ok(event.entry)
        })
        .collect()
}
