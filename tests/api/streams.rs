//! `/v1/streams` end to end: creation and its field errors, the limit, isolation between
//! accounts, deletion, replay, the service's entries of each change, and that no secret is
//! shown again or stored in plain text.
//!
//! No test sends a DNS query or connects off the machine: webhook hosts are IP literals, or
//! names only the harness's stub resolver knows, and the only target created is
//! `http://127.0.0.1:<closed port>/` (the loopback setting is on in the harness).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{
    Options, PRIVATE_NAME, TestApp, account, event, spawn_app, spawn_app_with, token,
};
use seclog::streams::address::LoopbackHttp;
use serde_json::{Value, json};

use crate::problems::{expect_problem, fields};

const AUTH_VALUE: &str = "Splunk 5f3a9c2e-never-shown-again";

/// A webhook to a closed loopback port: any delivery attempt is refused on the machine.
fn webhook() -> Value {
    let port = dev_server::stack::free_port().expect("a free port");
    json!({
        "kind": "webhook",
        "url": format!("http://127.0.0.1:{port}/hook"),
        "format": "ocsf",
        "auth_header": {"name": "Authorization", "value": AUTH_VALUE},
    })
}

fn s3() -> Value {
    json!({
        "kind": "s3",
        "bucket": "merchant-siem-logs",
        "prefix": "security-logs/",
        "role_arn": "arn:aws:iam::123456789012:role/SecurityLogsWriter",
        "region": "eu-west-1",
    })
}

async fn create(app: &TestApp, acct: &str, body: &Value) -> reqwest::Response {
    app.post_with_token("/v1/streams", body, Some(&token(acct)))
        .await
}

/// Creates a stream and returns its answer (asserting 201 and `Location`).
async fn created(app: &TestApp, acct: &str, body: &Value) -> Value {
    let response = create(app, acct, body).await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let stream: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{stream}");
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/streams/{}", stream["id"].as_str().unwrap()).as_str())
    );
    stream
}

async fn delete(app: &TestApp, acct: &str, id: &str) -> u16 {
    app.http
        .delete(format!("{}/v1/streams/{id}", app.base))
        .bearer_auth(token(acct))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn replay(app: &TestApp, acct: &str, id: &str, body: &Value) -> (u16, Value) {
    let response = app
        .post_with_token(
            &format!("/v1/streams/{id}/replay"),
            body,
            Some(&token(acct)),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits (bounded) until the stream's lag says the log holds at least `size` entries, none
/// delivered.
async fn wait_for_log_size(app: &TestApp, acct: &str, id: &str, size: u64) {
    for _ in 0..200 {
        let (_, read) = app
            .get_with_token(&format!("/v1/streams/{id}"), Some(&token(acct)))
            .await;
        if read["lag"].as_u64().unwrap() >= size {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the log of {acct} never reached {size} entries");
}

async fn list(app: &TestApp, acct: &str) -> Vec<Value> {
    let (status, body) = app.get_with_token("/v1/streams", Some(&token(acct))).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// Every attribute of every item of `table`, as text (binary attributes byte for byte).
async fn raw_table_text(app: &TestApp, table: &str) -> Vec<u8> {
    let items = app
        .dynamodb
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let mut text = Vec::new();
    for item in items {
        for (name, value) in item {
            text.extend_from_slice(name.as_bytes());
            match value {
                AttributeValue::B(blob) => text.extend_from_slice(blob.as_ref()),
                other => text.extend_from_slice(format!("{other:?}").as_bytes()),
            }
        }
    }
    text
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn a_webhook_stream_is_created_with_its_signing_secret_shown_only_once() {
    let app = spawn_app().await;
    let acct = account();
    let body = webhook();
    let stream = created(&app, &acct, &body).await;
    let id = stream["id"].as_str().unwrap();
    assert!(id.starts_with("st_"), "{stream}");
    let secret = stream["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(stream["kind"], "webhook");
    assert_eq!(stream["url"], body["url"]);
    assert_eq!(stream["auth_header"], json!({"name": "Authorization"}));
    assert_eq!(stream["format"], "ocsf");
    assert_eq!(stream["status"], "active");
    assert_eq!(stream["stopped"], false);
    assert_eq!(stream["last_error"], Value::Null);
    assert_eq!(stream["delivered_through"], Value::Null);
    assert!(stream["lag"].is_u64(), "{stream}");
    assert!(!stream.to_string().contains(AUTH_VALUE));

    let (status, read) = app
        .get_with_token(&format!("/v1/streams/{id}"), Some(&token(&acct)))
        .await;
    assert_eq!(status, 200, "{read}");
    assert!(read.get("secret").is_none(), "{read}");
    let mut without_secret = stream.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    // Everything but the lag (the log may have grown by the creation's entry) is as created.
    for member in [
        "id",
        "kind",
        "url",
        "auth_header",
        "format",
        "status",
        "created_at",
    ] {
        assert_eq!(read[member], without_secret[member], "{member}");
    }
    let listed = list(&app, &acct).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);
    for shown in [read.to_string(), Value::Array(listed).to_string()] {
        assert!(
            !shown.contains(secret) && !shown.contains(AUTH_VALUE),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn an_s3_stream_shows_its_external_id_on_every_read_and_defaults_to_native() {
    let app = spawn_app().await;
    let acct = account();
    let stream = created(&app, &acct, &s3()).await;
    assert!(stream.get("secret").is_none(), "{stream}");
    assert_eq!(stream["kind"], "s3");
    assert_eq!(stream["format"], "native");
    assert_eq!(stream["prefix"], "security-logs/");
    let external_id = stream["external_id"].as_str().unwrap();
    assert!(external_id.starts_with("ext_"), "{stream}");
    let (_, read) = app
        .get_with_token(
            &format!("/v1/streams/{}", stream["id"].as_str().unwrap()),
            Some(&token(&acct)),
        )
        .await;
    assert_eq!(read["external_id"], external_id);
    assert_eq!(read["role_arn"], s3()["role_arn"]);
    // A second stream to the same role gets its own external id.
    let other = created(&app, &acct, &s3()).await;
    assert_ne!(other["external_id"], external_id);
}

#[tokio::test]
async fn each_bad_input_is_a_400_naming_its_field_and_creates_nothing() {
    // As in the stack: loopback is refused like any other non-public address.
    let app = spawn_app_with(Options {
        streams_loopback: LoopbackHttp::Refused,
        ..Options::default()
    })
    .await;
    let acct = account();
    let with = |base: Value, member: &str, value: Value| {
        let mut body = base;
        body[member] = value;
        body
    };
    let without = |base: Value, member: &str| {
        let mut body = base;
        body.as_object_mut().unwrap().remove(member);
        body
    };
    // A valid body but for the one member each case changes; its host is a public address
    // written as such (never resolved), and no case creates a stream to it.
    let webhook = || {
        let mut body = webhook();
        body["url"] = json!("https://93.184.215.14/hook");
        body
    };
    let url = |text: &str| with(webhook(), "url", json!(text));
    let cases = [
        (url("http://93.184.215.14/hook"), "url"),
        (url("http://siem.example.com/hook"), "url"),
        (url("https://127.0.0.1/"), "url"),
        (url("http://127.0.0.1:9/hook"), "url"),
        (url("https://[::1]/"), "url"),
        (url("https://169.254.169.254/latest/meta-data/"), "url"),
        (url("https://2130706433/"), "url"),
        (url("https://10.0.0.1/"), "url"),
        (url("https://[::ffff:a9fe:a9fe]/"), "url"),
        (url("https://siem.example.com@127.0.0.1/"), "url"),
        // Names only the harness's stub resolver knows: no DNS query is sent.
        (url(&format!("https://{PRIVATE_NAME}/hook")), "url"),
        (url("https://unknown.siem.test/hook"), "url"),
        (without(webhook(), "url"), "url"),
        (with(webhook(), "secret", json!("mine")), "secret"),
        (
            with(
                webhook(),
                "auth_header",
                json!({"name": "Host", "value": "x"}),
            ),
            "auth_header.name",
        ),
        (
            with(
                webhook(),
                "auth_header",
                json!({"name": "Authorization", "value": "a\r\nX-Injected: 1"}),
            ),
            "auth_header.value",
        ),
        (with(webhook(), "format", json!("csv")), "format"),
        (
            with(s3(), "role_arn", json!("arn:aws:iam::1234:role/x")),
            "role_arn",
        ),
        (with(s3(), "bucket", json!("Not_A_Bucket")), "bucket"),
        (with(s3(), "region", json!("Europe")), "region"),
        (with(s3(), "prefix", json!("/leading")), "prefix"),
        (without(s3(), "role_arn"), "role_arn"),
        (with(s3(), "kind", json!("syslog")), "kind"),
    ];
    for (body, field) in cases {
        let problem = expect_problem(create(&app, &acct, &body).await, 400).await;
        assert_eq!(
            problem["type"], "urn:security-logs:problem:validation-error",
            "{body}"
        );
        assert_eq!(fields(&problem), [field], "{body}: {problem}");
    }
    assert!(list(&app, &acct).await.is_empty());
    assert!(app.list_all(&acct, "limit=100").await.is_empty());
}

#[tokio::test]
async fn the_sixth_stream_of_an_account_is_a_409_that_writes_nothing() {
    let app = spawn_app().await;
    let acct = account();
    for _ in 0..5 {
        created(&app, &acct, &s3()).await;
    }
    let problem = expect_problem(create(&app, &acct, &s3()).await, 409).await;
    assert_eq!(problem["type"], "urn:security-logs:problem:limit-reached");
    assert_eq!(list(&app, &acct).await.len(), 5);
    let (_, entries) = app
        .list(&acct, "type=security_logs.stream_created&limit=100")
        .await;
    assert_eq!(entries["data"].as_array().unwrap().len(), 5);
    // Another account has its own five.
    created(&app, &account(), &s3()).await;
}

#[tokio::test]
async fn another_account_gets_404_for_a_stream_and_does_not_list_it() {
    let app = spawn_app().await;
    let (owner, other) = (account(), account());
    let stream = created(&app, &owner, &s3()).await;
    let id = stream["id"].as_str().unwrap();
    let path = format!("/v1/streams/{id}");
    let (status, _) = app.get_with_token(&path, Some(&token(&other))).await;
    assert_eq!(status, 404);
    assert_eq!(delete(&app, &other, id).await, 404);
    let (status, _) = replay(&app, &other, id, &json!({"from_index": 0})).await;
    assert_eq!(status, 404);
    assert!(list(&app, &other).await.is_empty());
    // Malformed and unknown ids look the same as another account's.
    for unknown in ["nope", "st_01HW3Z9V7Q4M8K2N5P6R7S8T9V"] {
        let (status, problem) = app
            .get_with_token(&format!("/v1/streams/{unknown}"), Some(&token(&owner)))
            .await;
        assert_eq!(status, 404, "{unknown}");
        assert_eq!(problem["type"], "urn:security-logs:problem:not-found");
    }
    // The owner's stream is untouched.
    let (status, read) = app.get_with_token(&path, Some(&token(&owner))).await;
    assert_eq!(status, 200);
    assert_eq!(read["id"], id);
}

#[tokio::test]
async fn a_deleted_stream_is_gone() {
    let app = spawn_app().await;
    let acct = account();
    let id = created(&app, &acct, &webhook()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(delete(&app, &acct, &id).await, 204);
    let (status, _) = app
        .get_with_token(&format!("/v1/streams/{id}"), Some(&token(&acct)))
        .await;
    assert_eq!(status, 404);
    assert_eq!(delete(&app, &acct, &id).await, 404);
    assert!(list(&app, &acct).await.is_empty());
    // Its place is free again.
    for _ in 0..5 {
        created(&app, &acct, &s3()).await;
    }
}

#[tokio::test]
async fn a_replay_is_202_with_the_stream_and_a_bad_from_index_is_400() {
    let app = spawn_app().await;
    let acct = account();
    let id = created(&app, &acct, &s3()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, stream) = replay(&app, &acct, &id, &json!({"from_index": 0})).await;
    assert_eq!(status, 202, "{stream}");
    assert_eq!(stream["id"], id.as_str());
    assert_eq!(stream["delivered_through"], Value::Null);
    assert_eq!(stream["status"], "active");
    // Once the log holds the creation's and the replay's entries, a replay from 2 (its size)
    // marks both delivered, and a read shows what the answer did.
    wait_for_log_size(&app, &acct, &id, 2).await;
    let (status, stream) = replay(&app, &acct, &id, &json!({"from_index": 2})).await;
    assert_eq!(status, 202, "{stream}");
    assert_eq!(stream["delivered_through"], 1);
    let (_, read) = app
        .get_with_token(&format!("/v1/streams/{id}"), Some(&token(&acct)))
        .await;
    assert_eq!(read["delivered_through"], 1);
    assert_eq!(read["status"], "active");
    for bad in [
        json!({"from_index": -1}),
        json!({"from_index": 1.5}),
        json!({"from_index": "0"}),
        json!({}),
        // The log holds two entries at most by now (the creation's and the replay's).
        json!({"from_index": 1000}),
    ] {
        let (status, problem) = replay(&app, &acct, &id, &bad).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert_eq!(fields(&problem), ["from_index"], "{bad}");
    }
    let (status, problem) = replay(&app, &acct, &id, &json!({"from_index": 0, "to": 1})).await;
    assert_eq!(status, 400);
    assert_eq!(fields(&problem), ["to"]);
}

#[tokio::test]
async fn each_change_is_a_service_entry_and_no_secret_is_stored_in_plain_text() {
    let app = spawn_app().await;
    let acct = account();
    let stream = created(&app, &acct, &webhook()).await;
    let id = stream["id"].as_str().unwrap().to_owned();
    let secret = stream["secret"].as_str().unwrap().to_owned();

    // The stream lags by the log's entries until something is delivered (nothing is: its
    // receiver's port is closed): at least its own creation's, once sequenced.
    wait_for_log_size(&app, &acct, &id, 1).await;

    let (status, _) = replay(&app, &acct, &id, &json!({"from_index": 0})).await;
    assert_eq!(status, 202);
    assert_eq!(delete(&app, &acct, &id).await, 204);

    let entries = app.list_all(&acct, "limit=100").await;
    let of_type = |kind: &str| -> Value {
        entries
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} entry in {entries:?}"))
            .clone()
    };
    let expected = [
        (
            "security_logs.stream_created",
            json!({"stream_id": id, "kind": "webhook", "format": "ocsf"}),
        ),
        (
            "security_logs.stream_replayed",
            json!({"stream_id": id, "from_index": 0}),
        ),
        (
            "security_logs.stream_deleted",
            json!({"stream_id": id, "kind": "webhook", "format": "ocsf"}),
        ),
    ];
    assert_eq!(entries.len(), expected.len(), "{entries:?}");
    for (kind, details) in expected {
        let entry = of_type(kind);
        assert_eq!(entry["details"], details, "{kind}");
        assert_eq!(entry["actor"]["id"], "u_1", "{kind}");
    }
    let shown = Value::Array(entries).to_string();
    assert!(!shown.contains(&secret) && !shown.contains(AUTH_VALUE));

    // The stored items, the sealed secrets included, hold neither in plain text.
    let other = created(&app, &acct, &webhook()).await;
    let other_secret = other["secret"].as_str().unwrap();
    let streams = raw_table_text(&app, &app.streams.table).await;
    let events = raw_table_text(&app, &app.tables.events).await;
    assert!(
        contains(&streams, other["id"].as_str().unwrap()),
        "the scan sees the stream"
    );
    for stored in [&streams, &events] {
        for plain in [secret.as_str(), other_secret, AUTH_VALUE] {
            assert!(!contains(stored, plain), "{plain} is stored in plain text");
        }
    }
}

#[tokio::test]
async fn producers_cannot_send_the_stream_entry_types() {
    let app = spawn_app().await;
    let acct = account();
    for kind in [
        "security_logs.stream_created",
        "security_logs.stream_deleted",
        "security_logs.stream_replayed",
    ] {
        let response = app
            .post_events(&json!({"events": [event(&acct, kind, 0)]}))
            .await;
        let problem = expect_problem(response, 400).await;
        assert_eq!(fields(&problem), ["events[0].type"], "{kind}");
    }
    assert!(app.list_all(&acct, "limit=100").await.is_empty());
}

#[tokio::test]
async fn the_routes_need_a_dashboard_token() {
    let app = spawn_app().await;
    let (status, _) = app.get_with_token("/v1/streams", None).await;
    assert_eq!(status, 401);
    let response = app.post_with_token("/v1/streams", &s3(), None).await;
    assert_eq!(response.status(), 401);
}

/// What a test receiver on 127.0.0.1 got: each delivery's auth header, whether its signature
/// verified with the secret, and its body.
type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, bool, Value)>>>;

/// A receiver on 127.0.0.1 that records every POST and acknowledges it; it verifies with the
/// secret the test learns only from the creation's answer, so it holds an empty slot until then.
async fn recording_receiver(
    secret: std::sync::Arc<std::sync::OnceLock<String>>,
) -> (String, Deliveries) {
    use axum::extract::State;
    use seclog::streams::signature::{SigningSecret, verify};
    let deliveries: Deliveries = Default::default();
    let recorded = deliveries.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |State(secret): State<std::sync::Arc<std::sync::OnceLock<String>>>,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let verified = secret
                    .get()
                    .and_then(|text| SigningSecret::parse(text).ok())
                    .is_some_and(|secret| {
                        let signature = header("security-logs-signature").unwrap_or_default();
                        let now = jiff::Timestamp::now().as_second();
                        verify(&signature, &secret, &body, now, 300).is_ok()
                    });
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                recorded
                    .lock()
                    .unwrap()
                    .push((header("authorization"), verified, json));
                axum::http::StatusCode::NO_CONTENT
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router.with_state(secret))
            .await
            .unwrap()
    });
    (url, deliveries)
}

#[tokio::test]
async fn a_created_webhook_delivers_the_log_signed_with_the_secret_it_was_shown() {
    let app = spawn_app_with(Options {
        stream_delivery: true,
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    let secret = std::sync::Arc::new(std::sync::OnceLock::new());
    let (url, deliveries) = recording_receiver(secret.clone()).await;
    let mut body = webhook();
    body["url"] = json!(url);
    let stream = created(&app, &acct, &body).await;
    secret
        .set(stream["secret"].as_str().unwrap().to_owned())
        .unwrap();

    // The login (index 0) and the creation's own entry (index 1), both delivered.
    let mut received = Vec::new();
    let mut indices = Vec::new();
    for _ in 0..300 {
        received = deliveries.lock().unwrap().clone();
        indices = received
            .iter()
            .filter(|(_, verified, _)| *verified)
            .flat_map(|(_, _, body)| body["records"].as_array().cloned().unwrap_or_default())
            .filter_map(|record| record["metadata"]["sequence"].as_u64())
            .collect();
        if indices.contains(&0) && indices.contains(&1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        indices.contains(&0) && indices.contains(&1),
        "{indices:?} of {received:?}"
    );
    let verified: Vec<_> = received.iter().filter(|(_, ok, _)| *ok).collect();
    assert!(!verified.is_empty(), "no delivery verified: {received:?}");
    for (auth, _, body) in verified {
        assert_eq!(auth.as_deref(), Some(AUTH_VALUE));
        assert_eq!(body["stream_id"], stream["id"]);
        assert_eq!(body["format"], "ocsf");
    }
}
