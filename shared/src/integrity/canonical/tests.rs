use std::collections::BTreeMap;

use super::*;
use crate::domain::{Actor, EntryId, EventType, Location};

fn canonical(text: &str) -> String {
    canonical_json(&Json::parse(text).unwrap())
}

/// RFC 8785's own test data (github.com/cyberphone/json-canonicalization `testdata/`, by the
/// RFC's authors; copied unchanged into `testdata/rfc8785/`). Files without numbers other than
/// integers must come out byte for byte as published.
#[test]
fn rfc8785_vectors_without_number_rewriting_match_byte_for_byte() {
    let cases = [
        (
            include_str!("../testdata/rfc8785/input/arrays.json"),
            include_str!("../testdata/rfc8785/output/arrays.json"),
        ),
        (
            include_str!("../testdata/rfc8785/input/french.json"),
            include_str!("../testdata/rfc8785/output/french.json"),
        ),
        (
            include_str!("../testdata/rfc8785/input/unicode.json"),
            include_str!("../testdata/rfc8785/output/unicode.json"),
        ),
        (
            include_str!("../testdata/rfc8785/input/weird.json"),
            include_str!("../testdata/rfc8785/output/weird.json"),
        ),
    ];
    for (input, output) in cases {
        assert_eq!(canonical(input), output);
    }
}

/// The RFC's `values.json` (its section 3.2.2 sample) and `structures.json`: keys, strings and
/// literals as published; numbers keep their stored text where JCS would rewrite them as
/// ECMAScript doubles (`4.50` -> `4.5`, `56.0` -> `56`).
#[test]
fn rfc8785_vectors_with_numbers_keep_the_numbers_text() {
    let published = include_str!("../testdata/rfc8785/output/values.json");
    let ours = canonical(include_str!("../testdata/rfc8785/input/values.json"));
    assert_eq!(
        ours,
        published.replace(
            "[333333333.3333333,1e+30,4.5,0.002,1e-27]",
            "[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]"
        )
    );
    assert_ne!(ours, published);
    let published = include_str!("../testdata/rfc8785/output/structures.json");
    let ours = canonical(include_str!("../testdata/rfc8785/input/structures.json"));
    assert_eq!(ours, published.replace(r#""\n":56,"#, r#""\n":56.0,"#));
}

#[test]
fn keys_sort_by_utf16_code_units_not_utf8_bytes() {
    // U+FB33 is one UTF-16 unit 0xFB33; U+1F600 is the pair 0xD83D 0xDE00, so it sorts first,
    // while its UTF-8 (F0 ..) sorts after U+FB33's (EF ..), which is BTreeMap's order.
    let map: BTreeMap<String, Json> = [("\u{fb33}", "1"), ("\u{1f600}", "2"), ("z", "3")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Json::Number(v.into())))
        .collect();
    assert_eq!(map.keys().next().map(String::as_str), Some("z"));
    assert_eq!(
        canonical_json(&Json::Object(map)),
        "{\"z\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}"
    );
}

#[test]
fn strings_escape_only_quote_backslash_and_controls() {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    let text = format!("{all_controls}\"\\/\u{7f}\u{80}\u{2028}é😀</script>");
    let written = canonical_json(&Json::String(text));
    assert_eq!(
        written,
        "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\
         \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\
         \\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\u{7f}\u{80}\u{2028}é😀</script>\""
    );
    // And it is JSON that reads back to the same string.
    assert_eq!(
        Json::parse(&written).unwrap(),
        Json::parse(&written).unwrap()
    );
}

#[test]
fn nested_values_have_no_whitespace_and_numbers_verbatim() {
    assert_eq!(
        canonical(r#" { "b" : [ 1 , -0.0 , 1E+400 , 12345678901234567890123 ] , "a" : { } } "#),
        r#"{"a":{},"b":[1,-0.0,1E+400,12345678901234567890123]}"#
    );
}

/// The worked example of docs/design/integrity.md: an entry with every optional field, a non-ASCII
/// string, a big integer and a sub-second `received_at`.
fn example_entry() -> LogEntry {
    LogEntry {
        id: EntryId::from_stored("01HW3Z9V7Q4M8K2N5P6R7S8T9V".into()),
        event_type: EventType::LoginFailed,
        occurred_at: "2024-04-22T06:32:15Z".parse().unwrap(),
        actor: Actor {
            id: "u_1".into(),
            name: Some("Zoë Merchant".into()),
            email: Some("zoe@example.com".into()),
        },
        ip: Some("2001:db8::45".parse().unwrap()),
        user_agent: Some("Mozilla/5.0".into()),
        device: Some("Safari on macOS".into()),
        location: Some(Location {
            country: Some("PH".into()),
            region: None,
            city: Some("Makati".into()),
        }),
        details: Json::parse(r#"{"reason":"bad_password","ref":12345678901234567890123}"#).unwrap(),
        summary: "Failed login: bad password".into(),
        event_id: Some("evt-42".into()),
        received_at: "2024-04-22T06:32:16.250Z".parse().unwrap(),
        producer: Some("arn:aws:iam::123456789012:role/auth-service".into()),
        unfamiliar: None,
        log_index: None,
    }
}

const EXAMPLE_CANONICAL: &str = concat!(
    r#"{"actor":{"email":"zoe@example.com","id":"u_1","name":"Zoë Merchant"},"#,
    r#""details":{"reason":"bad_password","ref":12345678901234567890123},"#,
    r#""device":"Safari on macOS","event_id":"evt-42","id":"01HW3Z9V7Q4M8K2N5P6R7S8T9V","#,
    r#""ip":"2001:db8::45","location":{"city":"Makati","country":"PH"},"#,
    r#""occurred_at":"2024-04-22T06:32:15Z","#,
    r#""producer":"arn:aws:iam::123456789012:role/auth-service","#,
    r#""received_at":"2024-04-22T06:32:16.25Z","summary":"Failed login: bad password","#,
    r#""type":"login.failed","user_agent":"Mozilla/5.0"}"#,
);

#[test]
fn worked_example_of_the_doc_holds() {
    let entry = example_entry();
    let canonical = canonical_entry(&entry).unwrap();
    assert_eq!(canonical, EXAMPLE_CANONICAL);
    let leaf = LeafData::of(&entry).unwrap();
    let bytes = String::from_utf8(leaf.to_bytes()).unwrap();
    let digest = hex(&Sha256::digest(canonical.as_bytes()));
    let hash = hex(&leaf.leaf_hash());
    assert_eq!(
        bytes,
        format!(
            r#"{{"actor_id":"u_1","entry_sha256":"{digest}","occurred_at":"2024-04-22T06:32:15Z","type":"login.failed","unfamiliar":false,"v":1}}"#
        )
    );
    assert_eq!(digest, EXAMPLE_ENTRY_SHA256);
    assert_eq!(hash, EXAMPLE_LEAF_HASH);
    // The doc shows these exact texts, so it cannot drift from the code.
    let doc = include_str!("../../../../docs/design/integrity.md");
    for shown in [EXAMPLE_CANONICAL, &bytes, &digest, &hash] {
        assert!(
            doc.contains(shown),
            "docs/design/integrity.md lacks {shown}"
        );
    }
}

const EXAMPLE_ENTRY_SHA256: &str =
    "3fcbec12efb84f15ff9843ebf962fc3a25a3fa6b6605b8baedfa0174972c319e";
const EXAMPLE_LEAF_HASH: &str = "79fe00ffcf8ed7030031c0ca057f2ac82cd4b7517009b01c7bd1a32b20d5dc13";

#[test]
fn absent_optionals_are_omitted_and_whole_seconds_have_no_fraction() {
    let mut entry = example_entry();
    entry.actor.name = None;
    entry.actor.email = None;
    (entry.ip, entry.user_agent, entry.device, entry.location) = (None, None, None, None);
    (entry.event_id, entry.producer) = (None, None);
    entry.received_at = "2024-04-22T06:32:16.000000001Z".parse().unwrap();
    entry.details = Json::object();
    assert_eq!(
        canonical_entry(&entry).unwrap(),
        concat!(
            r#"{"actor":{"id":"u_1"},"details":{},"id":"01HW3Z9V7Q4M8K2N5P6R7S8T9V","#,
            r#""occurred_at":"2024-04-22T06:32:15Z","received_at":"2024-04-22T06:32:16.000000001Z","#,
            r#""summary":"Failed login: bad password","type":"login.failed"}"#
        )
    );
}

#[test]
fn leaf_data_round_trips_and_binds_the_whole_entry() {
    let entry = example_entry();
    let leaf = LeafData::of(&entry).unwrap();
    assert_eq!(LeafData::parse(&leaf.to_bytes()), Ok(leaf.clone()));
    assert!(leaf.commits_to(&entry).unwrap());
    let mut changed = entry.clone();
    changed.producer = Some("arn:aws:iam::123456789012:role/other".into());
    assert!(!leaf.commits_to(&changed).unwrap());
    changed = entry;
    changed.details =
        Json::parse(r#"{"reason":"bad_password","ref":12345678901234567890124}"#).unwrap();
    assert!(!leaf.commits_to(&changed).unwrap());
}

#[test]
fn leaf_data_parse_accepts_only_the_canonical_bytes() {
    let leaf = LeafData::of(&example_entry()).unwrap();
    let text = String::from_utf8(leaf.to_bytes()).unwrap();
    let digest = hex(&leaf.entry_sha256);
    let spaced = text.replace(",", ", ");
    let reordered = text
        .replacen(r#"{"actor_id":"u_1","#, "{", 1)
        .replace("}", r#","actor_id":"u_1"}"#);
    let duplicate = text.replace(r#""type":"#, r#""type":"logout","type":"#);
    let upper = text.replace(&digest, &digest.to_uppercase());
    let v2 = text.replace(r#""v":1"#, r#""v":2"#);
    let extra = text.replace(r#""v":1"#, r#""v":1,"x":0"#);
    for bad in [&spaced, &reordered, &duplicate, &v2, &extra] {
        assert!(LeafData::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    assert_eq!(LeafData::parse(upper.as_bytes()), Err(LeafError::Digest));
    assert_eq!(LeafData::parse(b"\xff"), Err(LeafError::NotJson));
    assert_eq!(LeafData::parse(b"[]"), Err(LeafError::NotCanonical));
    assert_eq!(
        LeafData::parse(
            text.replace(r#""type":"login.failed""#, r#""type":1"#)
                .as_bytes()
        ),
        Err(LeafError::Field("type"))
    );
}

#[test]
fn a_flagged_sign_in_shows_its_flag_in_the_leaf_and_its_reasons_in_the_entry() {
    use crate::domain::{Unfamiliar, UnfamiliarReason};
    let mut entry = example_entry();
    let plain = LeafData::of(&entry).unwrap();
    entry.unfamiliar = Some(Unfamiliar {
        reasons: vec![UnfamiliarReason::NewDevice, UnfamiliarReason::NewNetwork],
    });
    let canonical = canonical_entry(&entry).unwrap();
    assert!(
        canonical.contains(r#""unfamiliar":{"reasons":["new_device","new_network"]}"#),
        "{canonical}"
    );
    let flagged = LeafData::of(&entry).unwrap();
    assert!(flagged.unfamiliar && !plain.unfamiliar);
    assert_ne!(flagged.entry_sha256, plain.entry_sha256);
    let bytes = flagged.to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains(r#""unfamiliar":true"#));
    assert_eq!(LeafData::parse(&bytes), Ok(flagged));
}

/// The leaf text is written directly; it must be exactly the canonical JSON of its object.
#[test]
fn leaf_text_is_the_canonical_json_of_its_members() {
    for (actor, event_type, unfamiliar) in [
        ("u_1", "login", false),
        (
            "a \"quoted\" \\ name\n\t\u{1}\u{7f}",
            "api_key.viewed",
            true,
        ),
        ("Zoë \u{1F600} \u{FB33} \u{2028}", "login.failed", false),
    ] {
        let leaf = LeafData {
            event_type: event_type.into(),
            occurred_at: "2024-04-22T06:32:16.25Z".into(),
            actor_id: actor.into(),
            entry_sha256: [0xab; 32],
            unfamiliar,
        };
        let object = [
            ("actor_id", Json::String(actor.into())),
            ("entry_sha256", Json::String("ab".repeat(32))),
            (
                "occurred_at",
                Json::String("2024-04-22T06:32:16.25Z".into()),
            ),
            ("type", Json::String(event_type.into())),
            ("unfamiliar", Json::Bool(unfamiliar)),
            ("v", Json::Number("1".into())),
        ];
        let map = object.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(leaf.to_text(), canonical_json(&Json::Object(map)));
        assert_eq!(LeafData::parse(leaf.to_text().as_bytes()), Ok(leaf));
    }
}
