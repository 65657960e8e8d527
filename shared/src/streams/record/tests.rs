//! Records of entries parsed as ingest parses them: the native form equals the list's, and the
//! OCSF form places each fact where the mapping table says.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;
use crate::domain::{IngestBatch, IngestContext, Producer, Unfamiliar, UnfamiliarReason};
use crate::streams::ocsf::OCSF_VERSION;

const BIG: &str = "BIG";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";

/// An entry as ingest stores it, placed at `log_index`.
fn entry(event: Value, log_index: u64) -> LogEntry {
    let producer = Producer::parse("arn:aws:iam::000000000000:user/local").unwrap();
    let context = IngestContext {
        now: "2024-04-23T00:00:00Z".parse().unwrap(),
        producer: &producer,
    };
    // A number beyond 64 bits, which `json!` cannot hold, written into the text.
    let body = serde_json::to_string(&event)
        .unwrap()
        .replace(r#""BIG""#, "123456789012345678901234567890");
    let mut batch = IngestBatch::parse(body.as_bytes(), &context).expect("a valid event");
    let mut entry = batch.events.remove(0).entry;
    entry.log_index = Some(log_index);
    entry
}

fn login(event_type: &str) -> Value {
    json!({
        "account_id": "acct_demo",
        "type": event_type,
        "occurred_at": "2024-04-22T14:32:15.25+08:00",
        "event_id": "evt-1",
        "actor": {"id": "u_1", "name": "Alice Merchant", "email": "alice@example.com"},
        "ip": "203.0.113.45",
        "user_agent": SAFARI,
        "location": {"country": "PH", "region": "Metro Manila", "city": "Makati"},
        "details": {"method": "password", "reason": "bad_password", "ref": BIG}
    })
}

fn ocsf(entry: &LogEntry) -> Value {
    serde_json::from_str(render(entry, StreamFormat::Ocsf).unwrap().get()).unwrap()
}

#[test]
fn native_is_the_list_view_in_utc_with_its_log_index() {
    let entry = entry(login("login"), 7);
    let record = render(&entry, StreamFormat::Native).unwrap();
    let listed = serde_json::to_string(&entry.view(&ViewerZone::utc())).unwrap();
    assert_eq!(record.get(), listed);
    let value: Value = serde_json::from_str(record.get()).unwrap();
    assert_eq!(value["occurred_at"], "2024-04-22T06:32:15.25Z");
    assert_eq!(value["occurred_at_local"], "2024-04-22T06:32:15.25+00:00");
    assert_eq!(value["log_index"], 7);
    assert_eq!(StreamFormat::Native.log_index_of(&value), Some(7));
    assert!(
        record
            .get()
            .contains("\"ref\":123456789012345678901234567890"),
        "{}",
        record.get()
    );
}

#[test]
fn an_unsequenced_entry_has_no_record() {
    let mut entry = entry(login("login"), 0);
    entry.log_index = None;
    for format in [StreamFormat::Native, StreamFormat::Ocsf] {
        assert!(matches!(
            render(&entry, format),
            Err(RecordError::Unsequenced(_))
        ));
    }
}

#[test]
fn a_login_is_an_authentication_logon_that_succeeded() {
    let entry = entry(login("login"), 41);
    let event = ocsf(&entry);
    assert_eq!(event["class_uid"], 3002);
    assert_eq!(event["category_uid"], 3);
    assert_eq!(event["activity_id"], 1);
    assert_eq!(event["type_uid"], 300201);
    assert_eq!(event["status_id"], 1);
    assert_eq!(event["is_new_logon"], false);
    assert_eq!(event["severity_id"], 1);
    assert_eq!(event["time"], 1_713_767_535_250i64);
    assert_eq!(event["metadata"]["version"], OCSF_VERSION);
    assert_eq!(event["metadata"]["uid"], entry.id.as_str());
    assert_eq!(event["metadata"]["sequence"], 41);
    assert_eq!(StreamFormat::Ocsf.log_index_of(&event), Some(41));
    assert_eq!(event["metadata"]["product"]["name"], "Security Logs");
    assert_eq!(event["metadata"]["event_code"], "login");
    assert_eq!(
        event["actor"]["user"],
        json!({"uid": "u_1", "name": "Alice Merchant", "email_addr": "alice@example.com"})
    );
    assert_eq!(event["user"], event["actor"]["user"]);
    assert_eq!(event["src_endpoint"]["ip"], "203.0.113.45");
    assert_eq!(event["src_endpoint"]["location"]["country"], "PH");
    assert_eq!(event["http_request"]["user_agent"], SAFARI);
    assert_eq!(event["unmapped"]["device"], "Safari on macOS");
    assert_eq!(event["unmapped"]["event_id"], "evt-1");
    assert_eq!(event["message"], entry.summary.as_str());
}

#[test]
fn an_unfamiliar_sign_in_is_a_new_logon() {
    let mut entry = entry(login("login"), 3);
    entry.unfamiliar = Some(Unfamiliar {
        reasons: vec![UnfamiliarReason::NewDevice, UnfamiliarReason::NewCountry],
    });
    let event = ocsf(&entry);
    assert_eq!(event["is_new_logon"], true);
    assert_eq!(event["severity_id"], 3);
    assert_eq!(
        event["unmapped"]["unfamiliar"],
        json!({"reasons": ["new_device", "new_country"]})
    );
}

#[test]
fn a_failed_login_is_a_logon_that_failed_with_its_reason() {
    let event = ocsf(&entry(login("login.failed"), 5));
    assert_eq!(event["type_uid"], 300201);
    assert_eq!(event["status_id"], 2);
    assert_eq!(event["status"], "Failure");
    assert_eq!(event["status_detail"], "bad_password");
    assert_eq!(event["is_new_logon"], false);
}

#[test]
fn a_password_change_is_an_account_change() {
    let mut event = login("password.changed");
    event["details"] = json!({});
    let event = ocsf(&entry(event, 9));
    assert_eq!(event["class_uid"], 3001);
    assert_eq!(event["activity_id"], 3);
    assert_eq!(event["type_uid"], 300103);
    assert_eq!(event["user"]["uid"], "u_1");
    assert!(event.get("is_new_logon").is_none());
}

#[test]
fn other_types_are_entity_management_of_what_they_name() {
    let mut event = login("api_key.regenerated");
    event["details"] = json!({"key": "secret", "key_id": "sk_live_...4242"});
    let event = ocsf(&entry(event, 11));
    assert_eq!(event["class_uid"], 3004);
    assert_eq!(event["type_uid"], 300403);
    assert_eq!(event["entity"]["type"], "API Key");
    assert_eq!(event["entity"]["uid"], "sk_live_...4242");
    assert!(event.get("user").is_none());
    assert_eq!(event["unmapped"]["details"]["key_id"], "sk_live_...4242");
}

#[test]
fn every_type_s_type_uid_is_its_class_times_100_plus_its_activity() {
    for event_type in crate::domain::EventType::ALL {
        let mut entry = entry(login("login"), 1);
        entry.event_type = event_type;
        let event = ocsf(&entry);
        let class = event["class_uid"].as_u64().unwrap();
        let activity = event["activity_id"].as_u64().unwrap();
        assert_eq!(
            event["type_uid"].as_u64(),
            Some(class * 100 + activity),
            "{event_type}"
        );
        assert_eq!(event["metadata"]["event_code"], event_type.as_str());
    }
}

#[test]
fn formats_parse_from_their_wire_names() {
    assert_eq!(StreamFormat::parse("ocsf"), Ok(StreamFormat::Ocsf));
    assert_eq!(StreamFormat::parse("native"), Ok(StreamFormat::Native));
    assert!(StreamFormat::parse("cef").is_err());
    let _: Timestamp = "2024-04-22T06:32:15Z".parse().unwrap();
}
