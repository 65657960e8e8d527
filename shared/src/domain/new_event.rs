//! `POST /v1/events`: the body turned into events ready to store, or every reason it is not.

use std::net::IpAddr;

use jiff::Timestamp;
use serde_json::Value;

use super::fields::Fields;
use super::{
    AccountId, Actor, EntryId, EventType, Location, LogEntry, OccurredAt, device, secrets, summary,
};
use crate::error::{ApiError, Errors};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_EVENTS: usize = 100;
pub const MAX_DETAILS_BYTES: usize = 8 * 1024;
pub const MAX_USER_AGENT_CHARS: usize = 1024;

const EVENT_FIELDS: [&str; 9] = [
    "account_id",
    "type",
    "occurred_at",
    "actor",
    "event_id",
    "ip",
    "user_agent",
    "location",
    "details",
];

/// The caller's idempotency key, unique within an account: 1-128 of `A-Za-z0-9_.:-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: &str) -> Result<Self, String> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(format!("must be 1-{} characters", Self::MAX_LEN));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
        {
            return Err("may contain only letters, digits, '_', '.', ':' and '-'".into());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One valid event, with everything the service derives from it (id, device, summary).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub account: AccountId,
    pub event_id: Option<EventId>,
    pub entry: LogEntry,
}

impl NewEvent {
    /// Builds an event the service records itself (e.g. `security_logs.exported`).
    pub fn internal(
        account: AccountId,
        event_type: EventType,
        actor: Actor,
        event_id: Option<EventId>,
        details: Value,
        now: Timestamp,
    ) -> Self {
        let summary = summary::summarize(event_type, &details, None, None);
        Self {
            account,
            entry: LogEntry {
                id: EntryId::generate(),
                event_type,
                occurred_at: now,
                actor,
                ip: None,
                user_agent: None,
                device: None,
                location: None,
                details,
                summary,
                event_id: event_id.as_ref().map(|e| e.as_str().to_owned()),
                received_at: now,
            },
            event_id,
        }
    }

    fn parse(value: &Value, path: &str, now: Timestamp, errors: &mut Errors) -> Option<Self> {
        let mut fields = Fields::object(value, path, errors)?;
        fields.deny_unknown(&EVENT_FIELDS);
        let account = fields.required_parsed("account_id", AccountId::parse);
        let event_type = fields.required_parsed("type", EventType::parse);
        let occurred = fields.required_parsed("occurred_at", |v| OccurredAt::parse(v, now));
        let actor = match fields.required("actor") {
            Some(value) => {
                let actor_path = fields.path("actor");
                Actor::parse(value, &actor_path, fields.errors())
            }
            None => None,
        };
        let event_id = fields.optional_parsed("event_id", EventId::parse);
        let ip = fields.optional_parsed("ip", parse_ip);
        let user_agent = fields.optional_parsed("user_agent", parse_user_agent);
        let location = match fields.get("location") {
            Some(value) => {
                let location_path = fields.path("location");
                Location::parse(value, &location_path, fields.errors())
            }
            None => None,
        };
        let details = match fields.get("details") {
            Some(value) => match parse_details(value) {
                Ok(details) => Some(details),
                Err(message) => {
                    fields.error("details", message);
                    None
                }
            },
            None => Some(Value::Object(Default::default())),
        };

        let (account, event_type, occurred, actor, mut details) =
            (account?, event_type?, occurred?, actor?, details?);
        secrets::mask_secrets(&mut details);
        let device = user_agent.as_deref().and_then(device::describe);
        let ip_text = ip.map(|ip| ip.to_string());
        let summary =
            summary::summarize(event_type, &details, device.as_deref(), ip_text.as_deref());
        Some(Self {
            account,
            entry: LogEntry {
                id: EntryId::generate(),
                event_type,
                occurred_at: occurred.timestamp(),
                actor,
                ip,
                user_agent,
                device,
                location,
                details,
                summary,
                event_id: event_id.as_ref().map(|e| e.as_str().to_owned()),
                received_at: now,
            },
            event_id,
        })
    }
}

/// The events of one ingest request, in request order.
#[derive(Debug)]
pub struct IngestBatch {
    pub events: Vec<NewEvent>,
}

impl IngestBatch {
    /// Parses the whole body; any invalid event rejects the batch with every error found.
    pub fn parse(body: &[u8], now: Timestamp) -> Result<Self, ApiError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::field(
                "body",
                "is required: one event or {\"events\": [...]}",
            ));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;

        let mut errors = Errors::default();
        let events = match value.get("events") {
            Some(list) => {
                let mut wrapper = Fields::object(&value, "", &mut errors)
                    .expect("a value with a key is an object");
                wrapper.deny_unknown(&["events"]);
                Self::parse_list(list, now, &mut errors)
            }
            None => NewEvent::parse(&value, "", now, &mut errors)
                .into_iter()
                .collect(),
        };
        errors.into_result()?;
        Ok(Self { events })
    }

    fn parse_list(list: &Value, now: Timestamp, errors: &mut Errors) -> Vec<NewEvent> {
        let Some(items) = list.as_array() else {
            errors.push("events", "must be an array of events");
            return Vec::new();
        };
        if items.is_empty() || items.len() > MAX_EVENTS {
            errors.push(
                "events",
                format!("must hold 1 to {MAX_EVENTS} events, got {}", items.len()),
            );
            return Vec::new();
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| NewEvent::parse(item, &format!("events[{i}]"), now, errors))
            .collect()
    }
}

fn parse_ip(value: &str) -> Result<IpAddr, String> {
    value
        .parse()
        .map_err(|_| "must be an IPv4 or IPv6 address".to_owned())
}

fn parse_user_agent(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_USER_AGENT_CHARS {
        return Err(format!("must be at most {MAX_USER_AGENT_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

fn parse_details(value: &Value) -> Result<Value, String> {
    if !value.is_object() {
        return Err("must be a JSON object".into());
    }
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_DETAILS_BYTES {
        return Err(format!(
            "must be at most {MAX_DETAILS_BYTES} bytes serialized, got {size}"
        ));
    }
    Ok(value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldError;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-04-22T07:00:00Z".parse().unwrap()
    }

    fn valid() -> Value {
        json!({
            "account_id": "acct_1",
            "type": "login",
            "occurred_at": "2024-04-22T06:32:15Z",
            "actor": {"id": "u_1", "name": "Alice Merchant"},
            "ip": "203.0.113.45",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            "details": {"method": "password"}
        })
    }

    fn errors_of(body: Value) -> Vec<FieldError> {
        match IngestBatch::parse(body.to_string().as_bytes(), now()) {
            Err(ApiError::Validation(list)) => list,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    fn fields_of(body: Value) -> Vec<String> {
        errors_of(body).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_single_event_derives_device_and_summary() {
        let batch = IngestBatch::parse(valid().to_string().as_bytes(), now()).unwrap();
        let event = &batch.events[0];
        assert_eq!(event.account.as_str(), "acct_1");
        assert_eq!(event.entry.device.as_deref(), Some("Safari on macOS"));
        assert_eq!(event.entry.summary, "Login from Safari on macOS");
        assert_eq!(event.entry.received_at, now());
    }

    #[test]
    fn batch_errors_name_the_index_and_field() {
        let mut bad = valid();
        bad["ip"] = json!("999.1.1.1");
        let mut worse = valid();
        worse["type"] = json!("logout");
        worse["actor"] = json!({});
        let body = json!({"events": [valid(), bad, valid(), worse]});
        assert_eq!(
            fields_of(body),
            ["events[1].ip", "events[3].type", "events[3].actor.id"]
        );
    }

    #[test]
    fn every_required_field_is_reported_when_missing() {
        assert_eq!(
            fields_of(json!({})),
            ["account_id", "type", "occurred_at", "actor"]
        );
    }

    #[test]
    fn batch_size_is_1_to_100() {
        assert_eq!(fields_of(json!({"events": []})), ["events"]);
        let many: Vec<Value> = (0..101).map(|_| valid()).collect();
        assert_eq!(fields_of(json!({"events": many})), ["events"]);
        let hundred: Vec<Value> = (0..100).map(|_| valid()).collect();
        let batch =
            IngestBatch::parse(json!({"events": hundred}).to_string().as_bytes(), now()).unwrap();
        assert_eq!(batch.events.len(), 100);
    }

    #[test]
    fn field_rules() {
        let cases: [(&str, Value); 12] = [
            ("account_id", json!("acct 1")),
            ("account_id", json!("a".repeat(65))),
            ("occurred_at", json!("2024-04-22 06:32")),
            ("occurred_at", json!("2024-04-22T07:05:01Z")),
            ("event_id", json!("evt/1")),
            ("event_id", json!("e".repeat(129))),
            ("ip", json!("localhost")),
            ("user_agent", json!("u".repeat(1025))),
            ("details", json!([1, 2])),
            ("details", json!({"blob": "x".repeat(8200)})),
            ("location", json!({"country": "ZZ"})),
            ("actor", json!("u_1")),
        ];
        for (field, bad) in cases {
            let mut body = valid();
            body[field] = bad.clone();
            let errors = fields_of(body);
            assert!(
                errors.iter().all(|e| e.starts_with(field)) && !errors.is_empty(),
                "{field}={bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn optional_fields_accept_valid_values() {
        let mut body = valid();
        body["event_id"] = json!("evt_1.a:b-c");
        body["ip"] = json!("2001:db8::1");
        body["location"] = json!({"country": "ph", "city": "Makati"});
        body["user_agent"] = json!("u".repeat(1024));
        let batch = IngestBatch::parse(body.to_string().as_bytes(), now()).unwrap();
        let entry = &batch.events[0].entry;
        assert_eq!(
            entry.location.as_ref().unwrap().country.as_deref(),
            Some("PH")
        );
        assert_eq!(
            batch.events[0].event_id.as_ref().unwrap().as_str(),
            "evt_1.a:b-c"
        );
    }

    #[test]
    fn unknown_fields_and_wrapper_keys_are_rejected() {
        let mut body = valid();
        body["device"] = json!("spoofed");
        assert_eq!(fields_of(body), ["device"]);
        assert_eq!(
            fields_of(json!({"events": [valid()], "extra": 1})),
            ["extra"]
        );
    }

    #[test]
    fn not_json_empty_and_oversized_bodies() {
        assert!(
            matches!(IngestBatch::parse(b"{nope", now()), Err(ApiError::Validation(e)) if e[0].field == "body")
        );
        assert!(
            matches!(IngestBatch::parse(b"  ", now()), Err(ApiError::Validation(e)) if e[0].field == "body")
        );
        assert!(
            matches!(IngestBatch::parse(b"[1]", now()), Err(ApiError::Validation(e)) if e[0].field == "body")
        );
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            IngestBatch::parse(&big, now()),
            Err(ApiError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn secrets_are_masked_before_storage() {
        let mut body = valid();
        body["type"] = json!("api_key.viewed");
        body["details"] = json!({"key": "secret", "key_id": "sk_live_51HxAbCdEfGhIjKlMn4242"});
        let batch = IngestBatch::parse(body.to_string().as_bytes(), now()).unwrap();
        let entry = &batch.events[0].entry;
        assert_eq!(entry.details["key_id"], "sk_live_...4242");
        assert!(!entry.summary.contains("AbCdEf"));
    }
}
