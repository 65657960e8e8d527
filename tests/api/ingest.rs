use futures::future::join_all;
use integration_tests::{account, event, spawn_app, with_event_id};
use seclog::http::Endpoint;
use serde_json::{Value, json};

/// A 400 problem+json response's body.
async fn bad_request(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 400);
    problem
}

/// The fields a problem's `errors` name, in order.
fn field_names(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_single_event_is_stored_with_device_and_summary() {
    let app = spawn_app().await;
    let acct = account();
    let mut body = event(&acct, "login", 0);
    body["details"] = json!({"method": "password"});
    let response = app.post_events(&body).await;
    assert_eq!(response.status(), 201);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let created: Value = response.json().await.unwrap();
    let id = created["events"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["events"][0]["duplicate"], false);

    let (status, page) = app.list(&acct, "").await;
    assert_eq!(status, 200);
    let entry = &page["data"][0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["type"], "login");
    assert_eq!(entry["type_label"], "Login");
    assert_eq!(entry["device"], "Safari on macOS");
    assert_eq!(entry["summary"], "Login from Safari on macOS");
    assert_eq!(entry["ip"], "203.0.113.45");
    assert_eq!(entry["actor"]["name"], "Alice Merchant");
    assert_eq!(entry["occurred_at"], "2024-04-22T06:00:00Z");
}

#[tokio::test]
async fn a_batch_answers_in_request_order() {
    let app = spawn_app().await;
    let acct = account();
    let ids = app
        .ingest(vec![
            event(&acct, "login", 1),
            event(&acct, "password.changed", 2),
            event(&acct, "login.failed", 3),
        ])
        .await;
    assert_eq!(ids.len(), 3);
    let (_, page) = app.list(&acct, "").await;
    let listed: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    // Newest first: the reverse of request order here.
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
}

#[tokio::test]
async fn one_bad_event_rejects_the_batch_and_writes_nothing() {
    let app = spawn_app().await;
    let acct = account();
    let mut bad = event(&acct, "login", 2);
    bad["ip"] = json!("not-an-ip");
    let mut unknown = event(&acct, "logout", 3);
    unknown["actor"] = json!({});
    let response = app
        .post_events(&json!({"events": [event(&acct, "login", 1), bad, unknown]}))
        .await;
    let problem = bad_request(response).await;
    assert_eq!(
        field_names(&problem),
        ["events[1].ip", "events[2].type", "events[2].actor.id"]
    );
    let type_message = problem["errors"][1]["message"].as_str().unwrap();
    assert!(
        type_message.contains("kyc_document.changed"),
        "valid types listed: {type_message}"
    );

    let (_, page) = app.list(&acct, "").await;
    assert_eq!(page["data"], json!([]), "nothing written");
}

#[tokio::test]
async fn re_sending_an_event_id_returns_the_first_id_as_duplicate() {
    let app = spawn_app().await;
    let acct = account();
    let mut body = event(&acct, "api_key.viewed", 0);
    body["event_id"] = json!("evt-123");
    let first: Value = app.post_events(&body).await.json().await.unwrap();
    // The same content with other key order and spacing, and the same instant in another
    // offset, is the same event.
    let mut reordered = serde_json::Map::new();
    for (key, value) in body.as_object().unwrap().iter().rev() {
        reordered.insert(key.clone(), value.clone());
    }
    reordered.insert("occurred_at".into(), json!("2024-04-22T14:00:00+08:00"));
    let text = serde_json::to_string_pretty(&reordered).unwrap();
    let again = app.post_raw(text.into_bytes()).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["events"][0]["id"], first["events"][0]["id"]);
    assert_eq!(again["events"][0]["duplicate"], true);
    assert_eq!(first["events"][0]["duplicate"], false);
    assert_eq!(app.list_all(&acct, "limit=100").await.len(), 1);

    // The key is scoped to the account: another account's same event_id is new.
    let other = account();
    let mut theirs = event(&other, "api_key.viewed", 0);
    theirs["event_id"] = json!("evt-123");
    let theirs: Value = app.post_events(&theirs).await.json().await.unwrap();
    assert_eq!(theirs["events"][0]["duplicate"], false);
    assert_ne!(theirs["events"][0]["id"], first["events"][0]["id"]);
}

#[tokio::test]
async fn racing_re_sends_store_one_event() {
    let app = spawn_app().await;
    let acct = account();
    let mut body = event(&acct, "login", 0);
    body["event_id"] = json!("race-1");
    let responses = join_all((0..8).map(|_| app.post_events(&body))).await;
    let mut bodies = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        bodies.push(response.json::<Value>().await.unwrap());
    }
    let first_id = &bodies[0]["events"][0]["id"];
    assert!(
        bodies.iter().all(|b| &b["events"][0]["id"] == first_id),
        "{bodies:?}"
    );
    let fresh = bodies
        .iter()
        .filter(|b| b["events"][0]["duplicate"] == false)
        .count();
    assert_eq!(fresh, 1, "{bodies:?}");
    assert_eq!(app.list_all(&acct, "limit=100").await.len(), 1);
}

#[tokio::test]
async fn the_same_event_id_twice_in_one_batch_is_stored_once() {
    let app = spawn_app().await;
    let acct = account();
    let mut body = event(&acct, "login", 0);
    body["event_id"] = json!("twice");
    let response: Value = app
        .post_events(&json!({"events": [body.clone(), body]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(response["events"][0]["id"], response["events"][1]["id"]);
    assert_eq!(response["events"][0]["duplicate"], false);
    assert_eq!(response["events"][1]["duplicate"], true);
    assert_eq!(app.list_all(&acct, "limit=100").await.len(), 1);
}

#[tokio::test]
async fn a_hundred_events_are_written_in_bounded_batches() {
    let app = spawn_app().await;
    let acct = account();
    let mut events: Vec<Value> = (0..100).map(|i| event(&acct, "login", i)).collect();
    for (i, e) in events.iter_mut().enumerate().filter(|(i, _)| i % 10 == 0) {
        e["event_id"] = json!(format!("keyed-{i}"));
    }
    let ids = app.ingest(events).await;
    assert_eq!(ids.len(), 100);
    let stored = app.list_all(&acct, "limit=100").await;
    assert_eq!(stored.len(), 100);
    let mut stored_ids: Vec<&str> = stored.iter().map(|e| e["id"].as_str().unwrap()).collect();
    stored_ids.sort();
    let mut sent: Vec<&str> = ids.iter().map(String::as_str).collect();
    sent.sort();
    assert_eq!(stored_ids, sent);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app().await;
    let mut body = vec![b' '; 1024 * 1024];
    body.extend_from_slice(b"{}");
    let response = app.post_raw(body).await;
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 413);
}

#[tokio::test]
async fn no_input_makes_the_service_fail() {
    let app = spawn_app().await;
    let acct = account();
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"x\"".to_vec(),
        b"{\"events\": {}}".to_vec(),
        b"{\"events\": [null]}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
        "[".repeat(100_000).into_bytes(),
        json!({"account_id": acct, "type": "login", "occurred_at": "2024-04-22T06:00:00Z", "actor": {"id": "u"}, "details": {"a": [[[[[[[[[[[[1]]]]]]]]]]]]}}).to_string().into_bytes(),
        json!({"account_id": 7, "type": ["login"], "occurred_at": 1, "actor": {"id": 5}, "ip": {}, "location": "PH"}).to_string().into_bytes(),
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let response = app.post_raw(body).await;
        let status = response.status().as_u16();
        assert!(status == 400 || status == 201, "{shown}: {status}");
        if status == 400 {
            let problem: Value = response.json().await.unwrap();
            assert!(
                !problem["errors"].as_array().unwrap().is_empty(),
                "{shown}: {problem}"
            );
        }
    }
}

#[tokio::test]
async fn events_too_far_in_the_future_are_rejected() {
    let app = spawn_app().await;
    let acct = account();
    let mut body = event(&acct, "login", 0);
    body["occurred_at"] =
        json!((jiff::Timestamp::now() + jiff::SignedDuration::from_secs(6 * 60)).to_string());
    let response = app.post_events(&body).await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "occurred_at");
}

#[tokio::test]
async fn api_key_values_and_account_numbers_are_never_stored() {
    let app = spawn_app().await;
    let acct = account();
    let mut key_event = event(&acct, "api_key.regenerated", 1);
    key_event["details"] = json!({"key": "secret", "key_id": "sk_live_51HxAbCdEfGhIjKlMnOp4242"});
    let mut bank_event = event(&acct, "payout_account.updated", 2);
    bank_event["details"] =
        json!({"bank": "BDO", "account_number": "001234566789", "account_last4": "6789"});
    app.ingest(vec![key_event, bank_event]).await;

    let dump = format!("{:?}", app.raw_items().await);
    assert!(!dump.contains("51HxAbCdEfGhIjKlMnOp4242"), "API key stored");
    assert!(!dump.contains("001234566789"), "account number stored");

    let (_, page) = app.list(&acct, "").await;
    assert_eq!(page["data"][0]["details"]["account_number"], "****6789");
    assert_eq!(
        page["data"][0]["summary"],
        "Payout account changed to BDO ****6789"
    );
    assert_eq!(page["data"][1]["details"]["key_id"], "sk_live_...4242");
}

/// Issue "load and faults": a batch of 100 idempotent events in at most 4 storage round trips,
/// through the ingest handler as the Lambda runs it (sign-ins included: their profiles are two
/// of the four). Up to 50 idempotent events, markers and entries share one transaction: 1.
#[tokio::test]
async fn idempotent_batches_cost_one_round_trip_up_to_fifty_events_and_four_at_most() {
    let app = spawn_app().await;
    let (store, requests) = integration_tests::counting_store(&app);
    let ingest = ingest::Ingest::new(store);
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/ingest.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let acct = account();
    for (event_type, count, expected) in [
        ("api_key.viewed", 50, 1),
        ("api_key.regenerated", 51, 2),
        ("api_key.viewed", 100, 2),
        ("login", 100, 4),
    ] {
        let events: Vec<Value> = (0..count)
            .map(|i| {
                let mut e = with_event_id(
                    event(&acct, event_type, i),
                    &format!("{event_type}-{count}-{i}"),
                );
                e["actor"]["id"] = json!(format!("u_{}", i % 30));
                e
            })
            .collect();
        let mut request = sample.clone();
        request["body"] = json!({ "events": events }).to_string().into();
        request["headers"]["content-length"] =
            json!(request["body"].as_str().unwrap().len().to_string());
        let before = requests.load(std::sync::atomic::Ordering::SeqCst);
        let response = ingest
            .handle(lambda_http::request::from_str(&request.to_string()).unwrap())
            .await;
        assert_eq!(response.status(), 201);
        let used = requests.load(std::sync::atomic::Ordering::SeqCst) - before;
        assert_eq!(
            used, expected,
            "{event_type}: {used} round trips for {count} new idempotent events"
        );
    }
    let stored = app.list_all(&acct, "limit=100").await;
    assert_eq!(stored.len(), 50 + 51 + 100 + 100, "every event listed once");
}

/// API.md "Never stored": an identifier holding an API key is refused, naming the field, and
/// nothing of the request is written (not even its valid events).
#[tokio::test]
async fn identifiers_holding_an_api_key_are_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let acct = account();
    let mut by_event_id = event(&acct, "login", 2);
    by_event_id["event_id"] = json!("evt:sk_live_51HxAbCdEfGhIjKlMnOp4242");
    let mut by_actor = event(&acct, "login", 3);
    by_actor["actor"]["id"] = json!("svc-rk_test_abcdefghijklmnop9999");
    let response = app
        .post_events(&json!({"events": [event(&acct, "login", 1), by_event_id, by_actor]}))
        .await;
    let problem = bad_request(response).await;
    assert_eq!(
        field_names(&problem),
        ["events[1].event_id", "events[2].actor.id"]
    );
    for error in problem["errors"].as_array().unwrap() {
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("may not contain an API key"), "{message}");
    }

    let dump = format!("{:?}", app.raw_items().await);
    assert!(!dump.contains("HxAbCdEfGhIjKlMnOp"), "event_id key stored");
    assert!(!dump.contains("abcdefghijklmnop"), "actor.id key stored");
    let (_, page) = app.list(&acct, "").await;
    assert_eq!(page["data"], json!([]), "nothing written");
}

/// Keys in `actor.email` are masked; `iban` anywhere in a key's name and a name ending
/// `bankacct` hold account numbers.
#[tokio::test]
async fn emails_iban_named_and_bankacct_keys_are_masked() {
    let app = spawn_app().await;
    let acct = account();
    let mut changed = event(&acct, "payout_account.updated", 1);
    changed["actor"]["email"] = json!("ops+sk_live_51HxAbCdEfGhIjKlMnOp4242@example.com");
    changed["details"] = json!({
        "bank": "BDO",
        "payout_iban_value": "PH12 3456 7890 1234 5678",
        "old.BankAcct": "0012-3456-6789",
        "account_last4": "5678"
    });
    app.ingest(vec![changed]).await;

    let dump = format!("{:?}", app.raw_items().await);
    for secret in [
        "HxAbCdEfGhIjKlMnOp",
        "3456 7890 1234",
        "34567890",
        "0012-3456",
        "00123456",
    ] {
        assert!(!dump.contains(secret), "{secret} stored");
    }
    let (_, page) = app.list(&acct, "").await;
    let entry = &page["data"][0];
    assert_eq!(entry["actor"]["email"], "ops+sk_live_...4242@example.com");
    assert_eq!(entry["details"]["payout_iban_value"], "****5678");
    assert_eq!(entry["details"]["old.BankAcct"], "****6789");
}
