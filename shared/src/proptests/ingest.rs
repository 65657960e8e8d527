//! `POST /v1/events` bodies: any bytes, any JSON, and near-valid events (a valid event with fields
//! swapped for hostile values) give events or a 4xx, never a panic or a 5xx; and what is
//! accepted keeps the contract: details at most 8 KiB, every text field passes the text rule,
//! no planted secret is stored or exported.

use std::collections::BTreeMap;

use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;

use super::strategies::{
    Secret, any_json, any_number, api_key, api_key_text, nested, secret_document, tricky_text,
};
use super::{assert_client_error, config};
use crate::ApiError;
use crate::csv::{CsvEncoder, CsvStart};
use crate::domain::fields::{TextKind, check_text};
use crate::domain::new_event::{MAX_DETAILS_BYTES, MAX_EVENTS};
use crate::domain::secrets::mask_secrets;
use crate::domain::{EntryId, EventType, IngestBatch, IngestContext, Json, Producer, ViewerZone};

const PRODUCER: &str = "arn:aws:iam::000000000000:user/local";

fn parse(body: &[u8]) -> Result<IngestBatch, ApiError> {
    let producer = Producer::parse(PRODUCER).expect("a producer");
    let now: Timestamp = "2024-04-22T07:00:00Z".parse().expect("a timestamp");
    IngestBatch::parse(
        body,
        &IngestContext {
            now,
            producer: &producer,
        },
    )
}

fn text(value: &str) -> Json {
    Json::String(value.to_owned())
}

fn object<'a>(entries: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
    Json::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";

fn valid_event() -> Json {
    object([
        ("account_id", text("acct_1")),
        ("type", text("login")),
        ("occurred_at", text("2024-04-22T06:32:15Z")),
        (
            "actor",
            object([("id", text("u_1")), ("name", text("Alice Merchant"))]),
        ),
        ("event_id", text("evt-1")),
        ("ip", text("203.0.113.45")),
        ("user_agent", text(SAFARI)),
        (
            "location",
            object([("country", text("PH")), ("city", text("Makati"))]),
        ),
        ("details", object([("method", text("password"))])),
    ])
}

/// A field as sent when a case changes it: absent, null, or a replacement.
fn changed(replacement: impl Strategy<Value = Json> + 'static) -> BoxedStrategy<Option<Json>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Json::Null)),
        4 => replacement.prop_map(Some),
    ]
    .boxed()
}

/// A field of an event (or of its actor or location): kept valid, or changed.
fn field(
    valid: Json,
    replacement: impl Strategy<Value = Json> + 'static,
) -> BoxedStrategy<Option<Json>> {
    prop_oneof![
        3 => Just(Some(valid)),
        1 => changed(replacement),
    ]
    .boxed()
}

/// Hostile text, or any JSON at all in place of a string.
fn text_or_any() -> BoxedStrategy<Json> {
    prop_oneof![
        3 => tricky_text().prop_map(Json::String),
        1 => any_json(3),
    ]
    .boxed()
}

fn strings(values: &[&'static str]) -> BoxedStrategy<Json> {
    select(values.to_vec()).prop_map(text).boxed()
}

/// User agents made of the tokens woothee looks for, shuffled, with odd characters between.
fn user_agent() -> BoxedStrategy<Json> {
    let token = select(vec![
        "Mozilla/5.0",
        "(Windows NT 10.0; Win64; x64)",
        "(Macintosh; Intel Mac OS X 14_4_1)",
        "Mac OS X 10_15_7;",
        "AppleWebKit/605.1.15",
        "(KHTML, like Gecko)",
        "Version/17.4.1",
        "Safari/605.1.15",
        "Chrome/124.0.0.0",
        "CriOS/124",
        "Firefox/125.0",
        "FxiOS/",
        "Edg/124.0",
        "OPR/100",
        "Opera/9.80",
        "MSIE 10.0;",
        "Trident/7.0;",
        " rv:11.0",
        "IEMobile/10.0;",
        "Android 14",
        "Android-",
        "iPhone; CPU iPhone OS 17_4 like Mac OS X",
        "iPad;",
        "CrOS x86_64 14541.0.0)",
        "BlackBerry9700/5.0.0.351 ",
        "BB10; Touch) AppleWebKit/537.10+ (KHTML, like Gecko) Version/10.0.9.2372 ",
        "DoCoMo/2.0 P903i",
        "(c100;FOMA;",
        "KDDI-SA31",
        "SoftBank/1.0/",
        "WILLCOM;",
        "jig browser",
        "PlayStation Vita 3.61)",
        "PLAYSTATION 3 4.0)",
        "PSP (PlayStation Portable); 2.00)",
        "Googlebot/2.1",
        "bot",
        "Windows ",
        "Windows Phone OS 7.5",
        "FreeBSD ",
        "Vivaldi/",
        "YaBrowser/1.2.3.4",
        "SamsungBrowser/",
        "Sleipnir/",
        "GSA/",
        "Java/",
        "HttpClient",
        "PHP",
        "é",
        "中",
        "😀",
        "\u{202E}",
        "\0",
        ";",
        ")",
        "(",
        "/",
    ]);
    let separator = select(vec![" ", "; ", "/", "", "\t"]);
    prop::collection::vec((token, separator), 0..10)
        .prop_map(|parts| {
            let mut agent = String::new();
            for (token, separator) in parts {
                agent.push_str(token);
                agent.push_str(separator);
            }
            Json::String(agent)
        })
        .boxed()
}

fn actor() -> BoxedStrategy<Json> {
    prop_oneof![
        4 => (
            field(text("u_1"), text_or_any()),
            field(text("Alice Merchant"), text_or_any()),
            field(text("alice@example.com"), prop_oneof![
                strings(&["a@", "@x.com", "a b@x.com", "a@x.com\n", "é@中.com"]),
                text_or_any(),
            ]),
            prop::option::of((tricky_text(), any_json(1))),
        )
            .prop_map(|(id, name, email, extra)| {
                let mut map = BTreeMap::new();
                for (k, v) in [("id", id), ("name", name), ("email", email)] {
                    if let Some(v) = v {
                        map.insert(k.to_owned(), v);
                    }
                }
                if let Some((k, v)) = extra {
                    map.insert(k, v);
                }
                Json::Object(map)
            }),
        1 => text_or_any(),
    ]
    .boxed()
}

fn location() -> BoxedStrategy<Json> {
    prop_oneof![
        4 => (
            field(text("PH"), prop_oneof![strings(&["ph", "ZZ", "PHL", "", "Ph"]), text_or_any()]),
            field(text("Metro Manila"), text_or_any()),
            field(text("Makati"), text_or_any()),
        )
            .prop_map(|(country, region, city)| {
                let mut map = BTreeMap::new();
                for (k, v) in [("country", country), ("region", region), ("city", city)] {
                    if let Some(v) = v {
                        map.insert(k.to_owned(), v);
                    }
                }
                Json::Object(map)
            }),
        1 => text_or_any(),
    ]
    .boxed()
}

/// `{"iban": [12345, ...], "pad": "aaa..."}` within 64 bytes of 8 KiB as sent, either side:
/// masking turns each 5-digit number into the 10-byte `"****2345"`.
fn near_size_limit() -> BoxedStrategy<Json> {
    (0usize..1300, 0usize..128, any::<bool>())
        .prop_map(|(count, slack, as_numbers)| {
            let number = if as_numbers {
                Json::Number("12345".into())
            } else {
                text("12345")
            };
            let build = |pad: usize| {
                object([
                    ("iban", Json::Array(vec![number.clone(); count])),
                    ("pad", text(&"a".repeat(pad))),
                ])
            };
            let base = build(0).to_text().len();
            build((MAX_DETAILS_BYTES + 64 - slack).saturating_sub(base))
        })
        .boxed()
}

/// Leaves for details: hostile text (controls, bidi), huge numbers, anything.
fn details_leaf() -> BoxedStrategy<Json> {
    prop_oneof![
        2 => tricky_text().prop_map(Json::String),
        1 => any_number().prop_map(Json::Number),
        1 => any_json(2),
    ]
    .boxed()
}

fn details() -> BoxedStrategy<Json> {
    prop_oneof![
        2 => Just(object([("method", text("sso"))])),
        3 => secret_document().prop_map(|(details, _)| details),
        2 => any_json(5),
        2 => prop::collection::btree_map(tricky_text(), details_leaf(), 0..5).prop_map(Json::Object),
        2 => (1usize..=40, details_leaf(), any::<bool>()).prop_map(|(depth, leaf, arrays)| {
            object([("deep", nested(depth - 1, leaf, arrays))])
        }),
        1 => near_size_limit(),
    ]
    .boxed()
}

/// Fields the contract does not define: ones the service derives or keeps (a producer must not
/// set them) and anything else.
fn unknown_fields() -> BoxedStrategy<Vec<(String, Json)>> {
    let derived = select(vec![
        "device",
        "summary",
        "id",
        "received_at",
        "producer",
        "log_index",
        "unfamiliar",
    ]);
    prop_oneof![
        8 => Just(Vec::new()),
        1 => prop::collection::vec(
            (
                prop_oneof![derived.prop_map(str::to_owned), tricky_text()],
                any_json(2),
            ),
            1..3,
        ),
    ]
    .boxed()
}

/// A valid event with a few of its fields dropped, nulled or replaced by hostile values, and
/// details of every kind.
fn event() -> BoxedStrategy<Json> {
    let mut types: Vec<&'static str> = EventType::ALL.map(EventType::as_str).to_vec();
    types.extend(["LOGIN", "logout", "", "login "]);
    let changes = (
        changed(prop_oneof![
            "[A-Za-z0-9_-]{0,70}".prop_map(Json::String),
            text_or_any()
        ]),
        changed(prop_oneof![4 => select(types).prop_map(text), 1 => text_or_any()]),
        changed(prop_oneof![
            4 => strings(&[
                "2024-04-22T07:04:59Z", "2024-04-22T07:05:01Z", "2024-04-22T14:32:15+08:00",
                "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                "-009999-01-01T00:00:00Z", "2024-04-22 06:32:15Z", "2024-04-22T06:32:15",
                "2024-04-22T06:32:15Z[Asia/Manila]", "2024-02-30T00:00:00Z",
                "2024-04-22T06:32:15.123456789123Z", "2024-04-22T06:32:15+25:00",
            ]),
            1 => text_or_any(),
        ]),
        changed(actor()),
        changed(prop_oneof![
            "[A-Za-z0-9_.:/ -]{0,130}".prop_map(Json::String),
            text_or_any()
        ]),
        changed(prop_oneof![
            4 => strings(&[
                "2001:db8::1", "::ffff:1.2.3.4", "999.1.1.1", "fe80::1%eth0", "::", "1.2.3",
                "01.2.3.4", " 1.2.3.4",
            ]),
            1 => text_or_any(),
        ]),
        changed(prop_oneof![3 => user_agent(), 1 => text_or_any()]),
        changed(location()),
        changed(details()),
    );
    // Which fields a case changes: none in a third of the cases, mostly one or two.
    let names: Vec<&'static str> = vec![
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
    let which = prop_oneof![
        2 => Just(Vec::new()),
        3 => prop::sample::subsequence(names.clone(), 1..=2),
        1 => prop::sample::subsequence(names, 3..=9),
    ];
    (changes, which, details(), unknown_fields())
        .prop_map(|(changes, which, details, unknown)| {
            let (account, kind, occurred, actor, event_id, ip, agent, location, changed_details) =
                changes;
            let Json::Object(mut map) = valid_event() else {
                unreachable!("an object")
            };
            // Details vary in every case; a change may still drop or null them.
            map.insert("details".to_owned(), details);
            let changes = [
                ("account_id", account),
                ("type", kind),
                ("occurred_at", occurred),
                ("actor", actor),
                ("event_id", event_id),
                ("ip", ip),
                ("user_agent", agent),
                ("location", location),
                ("details", changed_details),
            ];
            for (name, value) in changes {
                if !which.contains(&name) {
                    continue;
                }
                match value {
                    Some(value) => map.insert(name.to_owned(), value),
                    None => map.remove(name),
                };
            }
            map.extend(unknown);
            Json::Object(map)
        })
        .boxed()
}

/// A request body and, when it is a single event or a list as generated (not cut or spliced),
/// the events it holds.
fn body() -> BoxedStrategy<(Vec<u8>, Option<Vec<Json>>)> {
    let shaped = prop_oneof![
        4 => event().prop_map(|e| (e.clone(), Some(vec![e]))),
        3 => prop::collection::vec(event(), 0..4).prop_map(|events| {
            (object([("events", Json::Array(events.clone()))]), Some(events))
        }),
        1 => (0usize..=MAX_EVENTS + 1, any::<prop::sample::Index>(), event()).prop_map(
            |(n, at, odd)| {
                let mut events = vec![valid_event(); n];
                if n > 0 {
                    events[at.index(n)] = odd;
                }
                (object([("events", Json::Array(events.clone()))]), Some(events))
            },
        ),
        1 => (prop::collection::vec(event(), 1..3), tricky_text(), any_json(2)).prop_map(
            |(events, key, value)| {
                let mut map = BTreeMap::from([("events".to_owned(), Json::Array(events))]);
                map.insert(key, value);
                (Json::Object(map), None)
            },
        ),
        1 => any_json(3).prop_map(|events| (object([("events", events)]), None)),
    ];
    // Now and then the text is cut, gets a stray byte, or a repeated field.
    let repeated = select(vec![
        "account_id",
        "type",
        "occurred_at",
        "actor",
        "event_id",
        "ip",
        "user_agent",
        "location",
        "details",
        "events",
    ]);
    let edit = (
        any::<prop::sample::Index>(),
        0u8..3,
        any::<u8>(),
        any_json(2),
        repeated,
    );
    let mutation = prop_oneof![12 => Just(None), 1 => edit.prop_map(Some)];
    (shaped, mutation)
        .prop_map(|((json, events), mutation)| {
            let mut bytes = json.to_text().into_bytes();
            let Some((at, kind, byte, value, name)) = mutation else {
                return (bytes, events);
            };
            match kind {
                // Cut short.
                0 => bytes.truncate(at.index(bytes.len() + 1)),
                // A stray byte anywhere (maybe not UTF-8).
                1 => bytes.insert(at.index(bytes.len() + 1), byte),
                // A repeated field: `{"details": ..., ` before the fields of some object.
                _ => {
                    let braces: Vec<usize> = bytes
                        .iter()
                        .enumerate()
                        .filter(|(_, b)| **b == b'{')
                        .map(|(i, _)| i)
                        .collect();
                    if !braces.is_empty() {
                        let brace = braces[at.index(braces.len())];
                        let field = format!("\"{name}\":{},", value.to_text());
                        bytes.splice(brace + 1..brace + 1, field.into_bytes());
                    }
                }
            }
            (bytes, None)
        })
        .boxed()
}

fn check_text_field(path: &str, value: &str, kind: TextKind) -> Result<(), TestCaseError> {
    prop_assert!(
        check_text(value, kind).is_ok(),
        "{path} was stored with {value:?}"
    );
    Ok(())
}

fn check_details_text(path: &str, value: &Json) -> Result<(), TestCaseError> {
    match value {
        Json::String(s) => check_text_field(path, s, TextKind::Details)?,
        Json::Array(items) => {
            for item in items {
                check_details_text(path, item)?;
            }
        }
        Json::Object(map) => {
            for (key, item) in map {
                check_text_field(path, key, TextKind::Line)?;
                check_details_text(&format!("{path}.{key}"), item)?;
            }
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
    Ok(())
}

/// What an accepted batch must hold: the events sent, their details exactly as sent but
/// masked, details within the size bounds, and text fields that pass the text rule.
///
/// The details *as sent* are at most 8 KiB; the stored ones may be larger: masking writes
/// `"****2345"` (10 bytes) for `12345` (5 bytes), and `{"iban": [12345, ...]}` just under 8 KiB is
/// accepted (API.md: masked, never rejected) and stored at up to ~1.8 times the limit. A
/// masked value adds at most 5 bytes (a 5-digit number), a masked key at most 7 (`"12345"` ->
/// `"****2345#zz"`); a masked API key is shorter than the key.
fn check_accepted(batch: &IngestBatch, sent: Option<&[Json]>) -> Result<(), TestCaseError> {
    prop_assert!((1..=MAX_EVENTS).contains(&batch.events.len()));
    if let Some(sent) = sent {
        prop_assert_eq!(batch.events.len(), sent.len());
        for (event, sent) in batch.events.iter().zip(sent) {
            let mut expected = match sent.get("details") {
                None | Some(Json::Null) => Json::object(),
                Some(details) => details.clone(),
            };
            let sent_size = expected.to_text().len();
            prop_assert!(sent_size <= MAX_DETAILS_BYTES, "accepted {sent_size} bytes");
            let masked = mask_secrets(&mut expected);
            prop_assert_eq!(&event.entry.details, &expected);
            let size = event.entry.details.to_text().len();
            prop_assert!(
                size <= sent_size + 7 * masked,
                "{sent_size} bytes sent with {masked} masked values, {size} stored"
            );
        }
    }
    for event in &batch.events {
        let entry = &event.entry;
        prop_assert!(matches!(entry.details, Json::Object(_)));
        let size = entry.details.to_text().len();
        prop_assert!(
            size <= 2 * MAX_DETAILS_BYTES,
            "stored details of {size} bytes: {}",
            entry.details
        );
        check_details_text("details", &entry.details)?;
        check_text_field("actor.id", &entry.actor.id, TextKind::Line)?;
        for (path, value) in [
            ("actor.name", &entry.actor.name),
            ("actor.email", &entry.actor.email),
            ("user_agent", &entry.user_agent),
        ] {
            if let Some(value) = value {
                check_text_field(path, value, TextKind::Line)?;
            }
        }
        if let Some(location) = &entry.location {
            for (path, value) in [
                ("location.country", &location.country),
                ("location.region", &location.region),
                ("location.city", &location.city),
            ] {
                if let Some(value) = value {
                    check_text_field(path, value, TextKind::Line)?;
                }
            }
        }
    }
    Ok(())
}

fn check(body: &[u8], sent: Option<&[Json]>) -> Result<(), TestCaseError> {
    match parse(body) {
        Ok(batch) => check_accepted(&batch, sent),
        Err(error) => assert_client_error(&error),
    }
}

/// Free text made fit for a one-line field (tab and newline are fine only in details).
fn one_line(text: &str) -> String {
    text.replace(['\t', '\n'], " ").trim().to_owned()
}

/// A single event carrying secrets in `details` and in every free-text field that is stored
/// (actor name and email, user agent, region, city): every one but the identifiers.
fn event_with_secrets() -> BoxedStrategy<(Json, Vec<Secret>)> {
    (
        select(
            EventType::ALL
                .into_iter()
                .filter(|t| !t.recorded_by_service())
                .collect::<Vec<_>>(),
        ),
        secret_document(),
        prop::collection::vec(api_key_text(), 4),
        ("[a-z.+]{0,8}", api_key(), "[.+][a-z]{1,8}|"),
    )
        .prop_map(
            |(kind, (details, mut secrets), texts, (before, key, after))| {
                // An email has no whitespace: the key inside its local part, ended by `.`, `+` or `@`.
                let email = format!("{before}{key}{after}@example.com");
                secrets.push(Secret::ApiKey(key));
                let mut texts: Vec<String> = texts
                    .into_iter()
                    .map(|(text, planted)| {
                        secrets.extend(planted);
                        one_line(&text)
                    })
                    .collect();
                let (city, region, agent, name) = (
                    texts.pop().unwrap_or_default(),
                    texts.pop().unwrap_or_default(),
                    texts.pop().unwrap_or_default(),
                    texts.pop().unwrap_or_default(),
                );
                let Json::Object(mut event) = valid_event() else {
                    unreachable!("an object")
                };
                event.insert("type".into(), text(kind.as_str()));
                event.insert("details".into(), details);
                event.insert(
                    "actor".into(),
                    object([
                        ("id", text("u_1")),
                        ("name", text(&name)),
                        ("email", text(&email)),
                    ]),
                );
                event.insert("user_agent".into(), text(&format!("{SAFARI} {agent}")));
                event.insert(
                    "location".into(),
                    object([
                        ("country", text("PH")),
                        ("region", text(&region)),
                        ("city", text(&city)),
                    ]),
                );
                (Json::Object(event), secrets)
            },
        )
        .boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_give_events_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&body, None)?;
    }

    #[test]
    fn any_json_gives_events_or_a_4xx(body in any_json(6)) {
        check(body.to_text().as_bytes(), None)?;
    }

    #[test]
    fn near_valid_events_give_events_or_a_4xx((body, sent) in body()) {
        check(&body, sent.as_deref())?;
    }

    /// End to end: what ingest stores (the entry as serialized) and what the export writes
    /// (the CSV row) hold no planted secret.
    #[test]
    fn ingested_entries_and_their_csv_rows_hold_no_secret((event, secrets) in event_with_secrets()) {
        let batch = match parse(event.to_text().as_bytes()) {
            Ok(batch) => batch,
            // A region or city over 128 characters is refused.
            Err(ApiError::Validation(errors)) => {
                prop_assert!(
                    errors.iter().all(|e| e.field.starts_with("location.")),
                    "{errors:?}"
                );
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let mut entry = batch.events[0].entry.clone();
        // The generated ULID is random; the secrets' texts never could be in it, but the check
        // should not depend on that.
        entry.id = EntryId::from_stored("e1".into());
        let stored = serde_json::to_string(&entry).expect("an entry serializes");
        let mut encoder = CsvEncoder::new(ViewerZone::utc(), CsvStart::Resumed);
        encoder.row(&entry);
        let row = String::from_utf8(encoder.take()).expect("UTF-8");
        for secret in &secrets {
            for needle in secret.needles() {
                prop_assert!(!stored.contains(&needle), "stored {needle:?}: {stored}");
                prop_assert!(!row.contains(&needle), "exported {needle:?}: {row}");
            }
        }
    }
}

/// An event whose `event_id` or `actor.id` holds an API key (with text before and after it, as
/// each field allows), at `index` of a batch of otherwise valid events.
fn batch_with_key_in_identifier() -> BoxedStrategy<(Json, usize, &'static str)> {
    let event_id = (
        "[A-Za-z0-9_.:-]{0,12}",
        api_key(),
        "([_.:-][A-Za-z0-9_.:-]{0,12})?",
    )
        .prop_map(|(before, key, after)| format!("{before}{key}{after}"));
    let actor_id = (filler_or_empty(), api_key(), "([ _.:@/-][a-z0-9 ]{0,12})?")
        .prop_map(|(before, key, after)| format!("{before}{key}{after}"));
    (
        1usize..=4,
        any::<prop::sample::Index>(),
        prop_oneof![
            event_id.prop_map(|id| ("event_id", id)),
            actor_id.prop_map(|id| ("actor.id", id)),
        ],
    )
        .prop_map(|(n, at, (field, value))| {
            let index = at.index(n);
            let mut events = vec![valid_event(); n];
            let Json::Object(event) = &mut events[index] else {
                unreachable!("an object")
            };
            match field {
                "event_id" => {
                    event.insert("event_id".into(), text(&value));
                }
                _ => {
                    event.insert(
                        "actor".into(),
                        object([("id", text(&value)), ("name", text("Alice"))]),
                    );
                }
            }
            (object([("events", Json::Array(events))]), index, field)
        })
        .boxed()
}

/// Text before a key in an actor id: anything one line allows, or nothing.
fn filler_or_empty() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        tricky_text().prop_map(|t| one_line(&t))
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config())]

    /// An identifier is never masked: one holding an API key is a 400 naming exactly that
    /// field of that event, so nothing of the request is written.
    #[test]
    fn identifiers_holding_an_api_key_are_refused_naming_the_field(
        (body, index, field) in batch_with_key_in_identifier()
    ) {
        match parse(body.to_text().as_bytes()) {
            Err(ApiError::Validation(errors)) => {
                let named = format!("events[{index}].{field}");
                prop_assert!(
                    errors.iter().any(|e| e.field == named && e.message.contains("API key")),
                    "{named} not refused for its API key: {errors:?}"
                );
                prop_assert!(errors.iter().all(|e| e.field == named), "{errors:?}");
            }
            other => prop_assert!(false, "accepted an identifier with an API key: {other:?}"),
        }
    }
}

/// The generator reaches the rules it is meant to probe: both accepted and refused bodies, and
/// refusals for the text rule, depth, size and batch length.
#[test]
fn near_valid_bodies_reach_every_rule() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = body();
    let (mut accepted, mut messages) = (0, Vec::new());
    for _ in 0..200 {
        let (body, _) = strategy.new_tree(&mut runner).expect("a body").current();
        match parse(&body) {
            Ok(_) => accepted += 1,
            Err(ApiError::Validation(errors)) => {
                messages.extend(errors.into_iter().map(|e| e.message))
            }
            Err(_) => {}
        }
    }
    assert!(accepted > 20, "{accepted} of 200 accepted");
    for expected in [
        "control characters",
        "bidirectional",
        "levels deep",
        "bytes serialized",
        "must hold 1 to 100 events",
        "unknown field",
        "is required",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "no body was refused for {expected:?}"
        );
    }
}
