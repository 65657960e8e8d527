//! `POST /v1/events`: the body turned into events ready to store, or every reason it is not.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::fields::{Fields, TextKind, check_text};
use super::json::{Json, nesting_depth};
use super::raw_members::{self, RawMembers};
use super::{
    AccountId, Actor, EntryId, EventType, Location, LogEntry, OccurredAt, device, secrets, summary,
};
use crate::error::{ApiError, Errors};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_EVENTS: usize = 100;
pub const MAX_DETAILS_BYTES: usize = 8 * 1024;
/// Nesting levels of `details` (`{}` is 1): deeper documents are refused, which also bounds the
/// cost of reading their numbers exactly.
pub const MAX_DETAILS_DEPTH: usize = 32;
pub const MAX_USER_AGENT_CHARS: usize = 1024;
/// The longest IAM principal ARN kept as an entry's producer.
const MAX_PRODUCER_CHARS: usize = 2048;

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

/// The IAM principal that signed an ingest request (`authorizer.iam.userArn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer(String);

impl Producer {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.is_empty() || value.chars().count() > MAX_PRODUCER_CHARS {
            return Err(format!("must be 1-{MAX_PRODUCER_CHARS} characters"));
        }
        check_text(value, TextKind::Line)?;
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

/// What two sends of one `event_id` must agree on: everything the producer sent, after masking
/// (so the fingerprint can never be used to guess a masked account number).
#[derive(Serialize)]
struct Content<'a> {
    account_id: &'a str,
    event_id: Option<&'a str>,
    #[serde(rename = "type")]
    event_type: EventType,
    occurred_at: Timestamp,
    actor: &'a Actor,
    ip: Option<IpAddr>,
    user_agent: Option<&'a str>,
    location: Option<&'a Location>,
    details: &'a Json,
}

impl NewEvent {
    /// Builds an event the service records itself (e.g. `security_logs.exported`).
    pub fn internal(
        account: AccountId,
        event_type: EventType,
        actor: Actor,
        event_id: Option<EventId>,
        details: Json,
        now: Timestamp,
    ) -> Self {
        let mut event = Self {
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
                summary: String::new(),
                event_id: event_id.as_ref().map(|e| e.as_str().to_owned()),
                received_at: now,
                producer: Some(super::entry::SERVICE_PRODUCER.to_owned()),
                unfamiliar: None,
                log_index: None,
            },
            event_id,
        };
        // The service's own details (an export's filters) hold what a merchant typed.
        mask_and_derive(&mut event.entry);
        event
    }

    /// One event object on its own, as a message of the ingest queue carries it: the rules of
    /// one event of `POST /v1/events` (errors name the field alone, `ip`), with the body's own
    /// (size, UTF-8, JSON, an object). An `events` wrapper is an unknown field here.
    pub fn parse_one(body: &[u8], context: &IngestContext<'_>) -> Result<Self, ApiError> {
        let object = read_object(body, "is required: one event")?;
        let mut errors = Errors::default();
        let event = Self::parse(&object, "", context, &mut errors);
        errors.into_result()?;
        event.ok_or_else(|| ApiError::field("body", "is not an event"))
    }

    /// SHA-256 (hex) of the event's content as stored, keys sorted: equal for re-sends that
    /// differ only in key order, spacing or equivalent spellings (`ph` / `PH`, time offsets).
    pub fn fingerprint(&self) -> String {
        let entry = &self.entry;
        let content = Content {
            account_id: self.account.as_str(),
            event_id: self.event_id.as_ref().map(EventId::as_str),
            event_type: entry.event_type,
            occurred_at: entry.occurred_at,
            actor: &entry.actor,
            ip: entry.ip,
            user_agent: entry.user_agent.as_deref(),
            location: entry.location.as_ref(),
            details: &entry.details,
        };
        let text = serde_json::to_vec(&content).expect("event content serializes");
        Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn parse(
        object: &RawMembers<'_>,
        path: &str,
        context: &IngestContext<'_>,
        errors: &mut Errors,
    ) -> Option<Self> {
        let mut fields = Fields::object(&object.members, path, errors)?;
        fields.deny_unknown(&EVENT_FIELDS);
        let account = fields.required_parsed("account_id", AccountId::parse);
        let event_type = fields.required_parsed("type", EventType::parse_producible);
        let occurred = fields.required_parsed("occurred_at", |v| OccurredAt::parse(v, context.now));
        let actor = match fields.required("actor") {
            Some(value) => {
                let actor_path = fields.path("actor");
                Actor::parse(value, &actor_path, fields.errors())
            }
            None => None,
        };
        let event_id = fields.optional_parsed("event_id", |v| {
            secrets::refuse_api_key_in_identifier(v)?;
            EventId::parse(v)
        });
        let ip = fields.optional_parsed("ip", parse_ip);
        let user_agent = fields.optional_parsed("user_agent", parse_user_agent);
        let location = match fields.get("location") {
            Some(value) => {
                let location_path = fields.path("location");
                Location::parse(value, &location_path, fields.errors())
            }
            None => None,
        };
        let details = match raw_members::present(object.details) {
            Some(raw) => {
                let details_path = fields.path("details");
                parse_details(raw, &details_path, fields.errors())
            }
            None => Some(Json::object()),
        };

        let (account, event_type, occurred, actor, details) =
            (account?, event_type?, occurred?, actor?, details?);
        let mut entry = LogEntry {
            id: EntryId::generate(),
            event_type,
            occurred_at: occurred.timestamp(),
            actor,
            ip,
            user_agent,
            device: None,
            location,
            details,
            summary: String::new(),
            event_id: event_id.as_ref().map(|e| e.as_str().to_owned()),
            received_at: context.now,
            producer: Some(context.producer.as_str().to_owned()),
            unfamiliar: None,
            log_index: None,
        };
        mask_and_derive(&mut entry);
        Some(Self {
            account,
            entry,
            event_id,
        })
    }
}

/// How one request's repeated `event_id`s are written: the first of each (account,
/// event_id) is stored, later ones answer its id.
#[derive(Debug, PartialEq, Eq)]
pub struct Repeats {
    /// Events to store (first occurrences, and every event without `event_id`), in order.
    pub firsts: Vec<usize>,
    /// `(index, first)`: a repeat and the first occurrence it answers.
    pub repeats: Vec<(usize, usize)>,
}

/// Groups a request's events by (account, event_id). A repeat whose fingerprint differs from
/// its first occurrence is a conflict: `Err` lists `(index, first)` for each.
pub fn plan_repeats(
    events: &[NewEvent],
    fingerprints: &[Option<String>],
) -> Result<Repeats, Vec<(usize, usize)>> {
    let mut first_of: std::collections::HashMap<(&str, &str), usize> = Default::default();
    let mut plan = Repeats {
        firsts: Vec::new(),
        repeats: Vec::new(),
    };
    let mut conflicts = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let Some(event_id) = &event.event_id else {
            plan.firsts.push(index);
            continue;
        };
        match first_of.entry((event.account.as_str(), event_id.as_str())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
                plan.firsts.push(index);
            }
            std::collections::hash_map::Entry::Occupied(first) => {
                let first = *first.get();
                if fingerprints[index] == fingerprints[first] {
                    plan.repeats.push((index, first));
                } else {
                    conflicts.push((index, first));
                }
            }
        }
    }
    if conflicts.is_empty() {
        Ok(plan)
    } else {
        Err(conflicts)
    }
}

/// What the service knows about an ingest request besides its body.
pub struct IngestContext<'a> {
    pub now: Timestamp,
    pub producer: &'a Producer,
}

/// The events of one ingest request, in request order.
#[derive(Debug)]
pub struct IngestBatch {
    pub events: Vec<NewEvent>,
    /// Whether the body was `{"events": [...]}` (fields are then named `events[i].field`).
    pub wrapped: bool,
}

impl IngestBatch {
    /// Parses the whole body; any invalid event rejects the batch with every error found.
    pub fn parse(body: &[u8], context: &IngestContext<'_>) -> Result<Self, ApiError> {
        let body = read_object(body, "is required: one event or {\"events\": [...]}")?;
        let mut errors = Errors::default();
        let wrapped = body.events.is_some();
        let events = match body.events {
            Some(list) => {
                let mut wrapper =
                    Fields::object(&body.members, "", &mut errors).expect("members are an object");
                wrapper.deny_unknown(&["events"]);
                Self::parse_list(list, context, &mut errors)
            }
            None => NewEvent::parse(&body, "", context, &mut errors)
                .into_iter()
                .collect(),
        };
        errors.into_result()?;
        Ok(Self { events, wrapped })
    }

    /// The path of a field of event `index`, as validation errors name it.
    pub fn field_path(&self, index: usize, field: &str) -> String {
        if self.wrapped {
            format!("events[{index}].{field}")
        } else {
            field.to_owned()
        }
    }

    fn parse_list(
        list: &RawValue,
        context: &IngestContext<'_>,
        errors: &mut Errors,
    ) -> Vec<NewEvent> {
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(list.get()) else {
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
            .filter_map(|(i, item)| {
                let path = format!("events[{i}]");
                match RawMembers::parse(item.get()) {
                    Ok(Some(event)) => NewEvent::parse(&event, &path, context, errors),
                    Ok(None) => {
                        errors.push(path, "must be a JSON object");
                        None
                    }
                    Err(e) => {
                        errors.push(path, format!("cannot be read: {e}"));
                        None
                    }
                }
            })
            .collect()
    }
}

/// The body of one request or message as a JSON object: at most [`MAX_BODY_BYTES`], UTF-8,
/// JSON, and an object; `empty` says what an empty body lacks.
fn read_object<'a>(body: &'a [u8], empty: &str) -> Result<RawMembers<'a>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", empty));
    }
    let not_json =
        |e: serde_json::Error| ApiError::field("body", format!("is not valid JSON: {e}"));
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::field("body", format!("is not valid UTF-8: {e}")))?;
    match RawMembers::parse(text).map_err(not_json)? {
        Some(object) => Ok(object),
        None => {
            // Valid JSON or not, anything but an object is the wrong shape.
            serde_json::from_str::<&RawValue>(text).map_err(not_json)?;
            Err(ApiError::field("body", "must be a JSON object"))
        }
    }
}

/// Masks every secret of `entry` ([`secrets::mask_entry`]), then derives its `device` and
/// `summary` from the masked values, and masks what was derived too (a second pass leaves the
/// rest unchanged: masking is idempotent), so nothing derived can spell a secret either.
fn mask_and_derive(entry: &mut LogEntry) {
    secrets::mask_entry(entry);
    entry.device = entry.user_agent.as_deref().and_then(device::describe);
    let ip_text = entry.ip.map(|ip| ip.to_string());
    entry.summary = summary::summarize(
        entry.event_type,
        &entry.details,
        entry.device.as_deref(),
        ip_text.as_deref(),
    );
    secrets::mask_entry(entry);
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
    check_text(value, TextKind::Line)?;
    Ok(value.to_owned())
}

/// `details`: an object of at most 8 KiB serialized and 32 levels, every string (and key)
/// passing the text rule, its numbers kept exactly as sent (whatever their magnitude).
fn parse_details(raw: &RawValue, path: &str, errors: &mut Errors) -> Option<Json> {
    let text = raw.get();
    if !text.starts_with('{') {
        errors.push(path, "must be a JSON object");
        return None;
    }
    // Depth first, in one pass: the exact parse below costs size x depth.
    if nesting_depth(text) > MAX_DETAILS_DEPTH {
        errors.push(
            path,
            format!("must be nested at most {MAX_DETAILS_DEPTH} levels deep"),
        );
        return None;
    }
    let exact = match Json::parse(text) {
        Ok(json) => json,
        Err(e) => {
            errors.push(path, format!("cannot be read: {e}"));
            return None;
        }
    };
    let before = errors.len();
    check_details_text(&exact, path, errors);
    if errors.len() > before {
        return None;
    }
    let size = exact.to_text().len();
    if size > MAX_DETAILS_BYTES {
        errors.push(path, too_large(size));
        return None;
    }
    Some(exact)
}

fn too_large(size: usize) -> String {
    format!("must be at most {MAX_DETAILS_BYTES} bytes serialized, got {size}")
}

/// Applies the text rule to every string and key inside `details`, naming the exact path.
fn check_details_text(value: &Json, path: &str, errors: &mut Errors) {
    match value {
        Json::String(text) => {
            if let Err(message) = check_text(text, TextKind::Details) {
                errors.push(path, message);
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_details_text(item, &format!("{path}[{i}]"), errors);
            }
        }
        Json::Object(map) => {
            for (key, item) in map {
                match check_text(key, TextKind::Line) {
                    Ok(()) => check_details_text(item, &format!("{path}.{key}"), errors),
                    Err(message) => errors.push(path, format!("has a key that {message}")),
                }
            }
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldError;
    use serde_json::{Value, json};

    fn now() -> Timestamp {
        "2024-04-22T07:00:00Z".parse().unwrap()
    }

    const PRODUCER: &str = "arn:aws:iam::000000000000:user/local";

    fn parse_body(body: &[u8]) -> Result<IngestBatch, ApiError> {
        let producer = Producer::parse(PRODUCER).unwrap();
        IngestBatch::parse(
            body,
            &IngestContext {
                now: now(),
                producer: &producer,
            },
        )
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
        match parse_body(body.to_string().as_bytes()) {
            Err(ApiError::Validation(list)) => list,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    fn fields_of(body: Value) -> Vec<String> {
        errors_of(body).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_single_event_derives_device_and_summary() {
        let batch = parse_body(valid().to_string().as_bytes()).unwrap();
        let event = &batch.events[0];
        assert_eq!(event.account.as_str(), "acct_1");
        assert_eq!(event.entry.device.as_deref(), Some("Safari on macOS"));
        assert_eq!(event.entry.summary, "Login from Safari on macOS");
        assert_eq!(event.entry.received_at, now());
    }

    fn fields_of_one(body: &[u8]) -> Vec<String> {
        let producer = Producer::parse(PRODUCER).unwrap();
        let context = IngestContext {
            now: now(),
            producer: &producer,
        };
        match NewEvent::parse_one(body, &context) {
            Err(ApiError::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn one_event_alone_follows_the_rules_of_an_event_of_a_request() {
        let producer = Producer::parse(PRODUCER).unwrap();
        let context = IngestContext {
            now: now(),
            producer: &producer,
        };
        let event = NewEvent::parse_one(valid().to_string().as_bytes(), &context).unwrap();
        let batch = parse_body(valid().to_string().as_bytes()).unwrap();
        assert_eq!(event.fingerprint(), batch.events[0].fingerprint());
        assert_eq!(event.entry.summary, "Login from Safari on macOS");

        let mut bad = valid();
        bad["ip"] = json!("999.1.1.1");
        bad["type"] = json!("security_logs.exported");
        assert_eq!(fields_of_one(bad.to_string().as_bytes()), ["type", "ip"]);
        let wrapped = json!({"events": [valid()]});
        assert!(fields_of_one(wrapped.to_string().as_bytes()).contains(&"events".to_owned()));
        for body in [&b"{nope"[..], b"[1]", b"  ", b"\xff"] {
            assert_eq!(fields_of_one(body), ["body"], "{body:?}");
        }
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
        let batch = parse_body(json!({"events": hundred}).to_string().as_bytes()).unwrap();
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
        let batch = parse_body(body.to_string().as_bytes()).unwrap();
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
            matches!(parse_body(b"{nope"), Err(ApiError::Validation(e)) if e[0].field == "body")
        );
        assert!(matches!(parse_body(b"  "), Err(ApiError::Validation(e)) if e[0].field == "body"));
        assert!(matches!(parse_body(b"[1]"), Err(ApiError::Validation(e)) if e[0].field == "body"));
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            parse_body(&big),
            Err(ApiError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn secrets_are_masked_before_storage() {
        let mut body = valid();
        body["type"] = json!("api_key.viewed");
        body["details"] = json!({"key": "secret", "key_id": "sk_live_51HxAbCdEfGhIjKlMn4242"});
        let batch = parse_body(body.to_string().as_bytes()).unwrap();
        let entry = &batch.events[0].entry;
        assert_eq!(
            entry.details.get("key_id").and_then(Json::as_str),
            Some("sk_live_...4242")
        );
        assert!(!entry.summary.contains("AbCdEf"));
    }

    #[test]
    fn service_recorded_types_are_refused() {
        let mut body = valid();
        body["type"] = json!("security_logs.exported");
        assert_eq!(fields_of(body), ["type"]);
    }

    #[test]
    fn text_fields_refuse_controls_and_bidi_naming_the_field() {
        let cases: [(&str, Value, &str); 8] = [
            ("actor", json!({"id": "u\u{0}1"}), "actor.id"),
            (
                "actor",
                json!({"id": "u_1", "name": "Ann\u{202E}nimda"}),
                "actor.name",
            ),
            (
                "actor",
                json!({"id": "u_1", "email": "a\u{2066}@x.com"}),
                "actor.email",
            ),
            ("location", json!({"city": "Makati\r"}), "location.city"),
            ("user_agent", json!("Mozilla\u{1b}[2J"), "user_agent"),
            ("details", json!({"note": "a\u{7}b"}), "details.note"),
            (
                "details",
                json!({"changes": [{"to": "x\u{2069}"}]}),
                "details.changes[0].to",
            ),
            ("details", json!({"bad\u{0}key": 1}), "details"),
        ];
        for (field, bad, named) in cases {
            let mut body = valid();
            body[field] = bad.clone();
            assert_eq!(fields_of(body), [named], "{field}={bad}");
        }
        let mut fine = valid();
        fine["details"] = json!({"note": "line one\n\tline two"});
        fine["actor"] =
            json!({"id": "u_1", "name": "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} Family"});
        assert!(parse_body(fine.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn details_numbers_are_kept_digit_for_digit() {
        let body = r#"{"account_id": "acct_1", "type": "kyc_document.changed",
            "occurred_at": "2024-04-22T06:32:15Z", "actor": {"id": "u_1"},
            "details": {"reference": 12345678901234567890123, "ratio": 1.10, "nested": [{"n": -98765432109876543210}]}}"#;
        let batch = parse_body(body.as_bytes()).unwrap();
        assert_eq!(
            batch.events[0].entry.details.to_text(),
            r#"{"nested":[{"n":-98765432109876543210}],"ratio":1.10,"reference":12345678901234567890123}"#
        );
        let batch_body = format!(r#"{{"events": [{body}, {body}]}}"#);
        let batch = parse_body(batch_body.as_bytes()).unwrap();
        assert!(
            batch.events[1]
                .entry
                .details
                .to_text()
                .contains("12345678901234567890123")
        );
    }

    #[test]
    fn details_numbers_beyond_any_float_are_kept_too() {
        let huge = "9".repeat(400);
        let body = format!(
            r#"{{"events": [{{"account_id": "acct_1", "type": "kyc_document.changed",
            "occurred_at": "2024-04-22T06:32:15Z", "actor": {{"id": "u_1"}},
            "details": {{"big": 1e400, "tiny": -1E-400, "huge": {huge}}}}}]}}"#
        );
        let batch = parse_body(body.as_bytes()).unwrap();
        assert_eq!(
            batch.events[0].entry.details.to_text(),
            format!(r#"{{"big":1e400,"huge":{huge},"tiny":-1E-400}}"#)
        );
    }

    #[test]
    fn out_of_range_numbers_outside_details_are_a_field_error() {
        let body = r#"{"events": [{"account_id": "acct_1", "type": "login",
            "occurred_at": "2024-04-22T06:32:15Z", "actor": {"id": "u_1"},
            "location": {"country": 1e400}}]}"#;
        match parse_body(body.as_bytes()) {
            Err(ApiError::Validation(list)) => assert_eq!(list[0].field, "events[0]"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        match parse_body(b"[1e400]") {
            Err(ApiError::Validation(list)) => assert_eq!(list[0].field, "body"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn details_depth_is_bounded() {
        let mut deep = json!({});
        for _ in 0..MAX_DETAILS_DEPTH {
            deep = json!({ "a": deep });
        }
        let mut body = valid();
        body["details"] = deep;
        assert_eq!(fields_of(body), ["details"]);
    }

    #[test]
    fn the_producer_and_reception_time_are_recorded() {
        let batch = parse_body(valid().to_string().as_bytes()).unwrap();
        let entry = &batch.events[0].entry;
        assert_eq!(entry.producer.as_deref(), Some(PRODUCER));
        assert_eq!(entry.received_at, now());
    }

    #[test]
    fn fingerprints_ignore_key_order_and_spacing_but_not_content() {
        let fingerprint = |text: &str| parse_body(text.as_bytes()).unwrap().events[0].fingerprint();
        let a = fingerprint(
            r#"{"account_id":"acct_1","event_id":"e1","type":"login","occurred_at":"2024-04-22T06:32:15Z","actor":{"id":"u_1","name":"A"},"details":{"x":1,"y":[1,2]}}"#,
        );
        let b = fingerprint(
            r#"{ "details": {"y": [1, 2], "x": 1}, "actor": {"name": "A", "id": "u_1"},
                 "occurred_at": "2024-04-22T14:32:15+08:00", "type": "login", "event_id": "e1", "account_id": "acct_1" }"#,
        );
        let c = fingerprint(
            r#"{"account_id":"acct_1","event_id":"e1","type":"login","occurred_at":"2024-04-22T06:32:15Z","actor":{"id":"u_1","name":"A"},"details":{"x":2,"y":[1,2]}}"#,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn api_keys_are_masked_in_free_text_fields_too() {
        let mut body = valid();
        body["actor"] = json!({"id": "u_1", "name": "key sk_live_51HxAbCdEfGhIjKlMn4242"});
        body["location"] = json!({"city": "sk_test_abcdefghijklmnop1111"});
        let batch = parse_body(body.to_string().as_bytes()).unwrap();
        let entry = &batch.events[0].entry;
        assert_eq!(entry.actor.name.as_deref(), Some("key sk_live_...4242"));
        assert_eq!(
            entry.location.as_ref().unwrap().city.as_deref(),
            Some("sk_test_...1111")
        );
    }

    /// The attacker hides a key in each text field the contract names: none is stored.
    #[test]
    fn api_keys_are_masked_in_every_stored_text_field() {
        let mut body = valid();
        body["actor"] = json!({"id": "u_1", "name": "Ann", "email": "ops+sk_live_51HxAbCdEfGhIjKlMn4242@example.com"});
        body["user_agent"] = json!(format!(
            "{} sk_test_abcdefghijklmnop2222",
            valid()["user_agent"].as_str().unwrap()
        ));
        body["location"] =
            json!({"country": "PH", "region": "rk_live_abcdefghijklmnop3333 region"});
        let batch = parse_body(body.to_string().as_bytes()).unwrap();
        let entry = &batch.events[0].entry;
        assert_eq!(
            entry.actor.email.as_deref(),
            Some("ops+sk_live_...4242@example.com")
        );
        assert!(
            entry
                .user_agent
                .as_deref()
                .unwrap()
                .ends_with(" sk_test_...2222")
        );
        assert_eq!(
            entry.location.as_ref().unwrap().region.as_deref(),
            Some("rk_live_...3333 region")
        );
        assert_eq!(entry.device.as_deref(), Some("Safari on macOS"));
        let stored = serde_json::to_string(entry).unwrap();
        for tail in ["AbCdEfGhIjKlMn", "abcdefghijklmnop"] {
            assert!(!stored.contains(tail), "{stored}");
        }
    }

    #[test]
    fn identifiers_holding_an_api_key_are_refused_naming_the_field() {
        let mut by_event_id = valid();
        by_event_id["event_id"] = json!("evt:sk_live_51HxAbCdEfGhIjKlMn4242");
        let mut by_actor = valid();
        by_actor["actor"] = json!({"id": "svc sk_test_abcdefghijklmnop1111", "name": "Bot"});
        let body = json!({"events": [valid(), by_event_id, by_actor]});
        let errors = errors_of(body);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["events[1].event_id", "events[2].actor.id"]);
        assert!(
            errors
                .iter()
                .all(|e| e.message.contains("may not contain an API key")),
            "{errors:?}"
        );
        // Not a key (tail too short, or already masked): an ordinary identifier.
        let mut fine = valid();
        fine["event_id"] = json!("sk_live_...4242");
        fine["actor"] = json!({"id": "sk_live_abc"});
        assert!(parse_body(fine.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn service_recorded_events_are_masked_too() {
        let actor = Actor {
            id: "u_1".into(),
            name: Some("sk_live_51HxAbCdEfGhIjKlMn4242".into()),
            email: None,
        };
        let details = Json::parse(r#"{"filters": {"q": "sk_test_abcdefghijklmnop1111"}}"#).unwrap();
        let event = NewEvent::internal(
            AccountId::parse("acct_1").unwrap(),
            EventType::SecurityLogsExported,
            actor,
            None,
            details,
            now(),
        );
        let stored = serde_json::to_string(&event.entry).unwrap();
        assert!(
            !stored.contains("AbCdEf") && !stored.contains("abcdefghijklmnop"),
            "{stored}"
        );
    }

    #[test]
    fn repeats_within_a_request_answer_the_first_or_conflict() {
        let mut a = valid();
        a["event_id"] = json!("e1");
        let mut b = valid();
        b["event_id"] = json!("e2");
        let mut changed = a.clone();
        changed["details"] = json!({"method": "sso"});
        let plain = valid();
        let body = json!({"events": [a, b, a.clone(), plain, changed]});
        let batch = parse_body(body.to_string().as_bytes()).unwrap();
        let fingerprints: Vec<Option<String>> = batch
            .events
            .iter()
            .map(|e| e.event_id.as_ref().map(|_| e.fingerprint()))
            .collect();
        assert_eq!(
            plan_repeats(&batch.events, &fingerprints),
            Err(vec![(4, 0)])
        );
        assert_eq!(
            plan_repeats(&batch.events[..4], &fingerprints[..4]),
            Ok(Repeats {
                firsts: vec![0, 1, 3],
                repeats: vec![(2, 0)]
            })
        );
        assert_eq!(batch.field_path(4, "event_id"), "events[4].event_id");
    }
}
