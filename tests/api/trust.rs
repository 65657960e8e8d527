//! What an audit trail must guarantee of its write path (API.md "Ingest", "Errors"): who wrote
//! each entry and when, no forged service events, no silent overwrite of an `event_id`, no
//! secret in any shape, text that displays as what it is, numbers kept exactly.

use futures::future::join_all;
use integration_tests::{TestApp, account, event, spawn_app, with_event_id};
use serde_json::{Value, json};

use crate::problems::{expect_problem, fields};

const LOCAL_PRODUCER: &str = "arn:aws:iam::000000000000:user/local";

/// Every stored item of the events table, as text, to prove what is (not) stored.
async fn raw_table(app: &TestApp) -> String {
    format!("{:?}", app.raw_items().await)
}

/// Exports everything of `account` and returns the CSV text.
async fn export_csv(app: &TestApp, account: &str) -> String {
    let id = app.request_export(account, &json!({})).await;
    let export = app.wait_for_export(account, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    let url = export["download_url"].as_str().unwrap();
    app.http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_producer_and_reception_time_are_recorded() {
    let app = spawn_app().await;
    let acct = account();
    let before = jiff::Timestamp::now();
    app.ingest(vec![event(&acct, "login", 0)]).await;

    let (_, page) = app.list(&acct, "").await;
    let received = page["data"][0]["received_at"].as_str().unwrap();
    assert!(received.ends_with('Z'), "{received}");
    let received: jiff::Timestamp = received.parse().unwrap();
    assert!(received >= before && received <= jiff::Timestamp::now());
    // Backdated: occurred in 2024, received now.
    assert_eq!(page["data"][0]["occurred_at"], "2024-04-22T06:00:00Z");

    let raw = raw_table(&app).await;
    assert!(
        raw.contains(&format!("\\\"producer\\\":\\\"{LOCAL_PRODUCER}\\\"")),
        "{raw}"
    );
}

#[tokio::test]
async fn service_recorded_types_are_refused_from_ingest() {
    let app = spawn_app().await;
    let acct = account();
    let forged = event(&acct, "security_logs.exported", 0);
    let response = app
        .post_events(&json!({"events": [event(&acct, "login", 0), forged]}))
        .await;
    let problem = expect_problem(response, 400).await;
    assert_eq!(fields(&problem), ["events[1].type"]);
    assert!(app.list_all(&acct, "limit=100").await.is_empty());
}

#[tokio::test]
async fn re_using_an_event_id_for_other_content_is_409_and_writes_nothing() {
    let app = spawn_app().await;
    let acct = account();
    let mut original = event(&acct, "login", 0);
    original["event_id"] = json!("evt-1");
    let first = app.ingest(vec![original.clone()]).await;

    let mut fresh = event(&acct, "password.changed", 1);
    fresh["event_id"] = json!("evt-2");
    let mut changed = original.clone();
    changed["details"] = json!({"method": "sso"});
    let plain = event(&acct, "login.failed", 2);
    let response = app
        .post_events(&json!({"events": [fresh.clone(), changed, plain]}))
        .await;
    let problem = expect_problem(response, 409).await;
    assert_eq!(fields(&problem), ["events[1].event_id"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&first[0]),
        "{problem}"
    );

    let stored = app.list_all(&acct, "limit=100").await;
    assert_eq!(stored.len(), 1, "nothing of the 409 request was stored");
    assert_eq!(stored[0]["id"], first[0].as_str());
    // evt-2's marker was never written: it is new now.
    let response: Value = app.post_events(&fresh).await.json().await.unwrap();
    assert_eq!(response["events"][0]["duplicate"], false);

    // A single-event body names the field without an index.
    let mut single = original;
    single["ip"] = json!("198.51.100.1");
    let problem = expect_problem(app.post_events(&single).await, 409).await;
    assert_eq!(fields(&problem), ["event_id"]);

    // Within one request, a repeat with other content conflicts too.
    let mut a = event(&acct, "login", 5);
    a["event_id"] = json!("evt-3");
    let mut b = a.clone();
    b["actor"]["id"] = json!("u_2");
    let problem = expect_problem(app.post_events(&json!({"events": [a, b]})).await, 409).await;
    assert_eq!(fields(&problem), ["events[1].event_id"]);
    assert_eq!(app.list_all(&acct, "limit=100").await.len(), 2);
}

/// The same 409 on both of ingest's write paths: a batch whose markers and entries share one
/// transaction (up to 50 idempotent events), and a larger one that claims first, alone. Either
/// way the conflict writes nothing, not even the batch's other new events.
#[tokio::test]
async fn a_conflict_writes_nothing_in_small_and_large_batches() {
    let app = spawn_app().await;
    let acct = account();
    let original = with_event_id(event(&acct, "login", 0), "evt-taken");
    app.ingest(vec![original.clone()]).await;
    let mut changed = original;
    changed["details"] = json!({"method": "sso"});

    for size in [10, 60] {
        let mut events: Vec<Value> = (1..size)
            .map(|i| {
                with_event_id(
                    event(&acct, "api_key.viewed", i),
                    &format!("evt-{size}-{i}"),
                )
            })
            .collect();
        events.push(changed.clone());
        let response = app.post_events(&json!({ "events": events })).await;
        let problem = expect_problem(response, 409).await;
        assert_eq!(
            fields(&problem),
            [format!("events[{}].event_id", size - 1)],
            "{size} events"
        );
        assert_eq!(
            app.list_all(&acct, "limit=100").await.len(),
            1,
            "nothing of the {size}-event request was stored"
        );
    }
}

#[tokio::test]
async fn racing_re_sends_with_different_content_store_exactly_one() {
    let app = spawn_app().await;
    let acct = account();
    let bodies: Vec<Value> = (0..8)
        .map(|i| {
            let mut body = event(&acct, "login", 0);
            body["event_id"] = json!("race");
            body["details"] = json!({ "attempt": i });
            body
        })
        .collect();
    let responses = join_all(bodies.iter().map(|b| app.post_events(b))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        7,
        "{statuses:?}"
    );
    let winner = statuses.iter().position(|&s| s == 201).unwrap();
    let stored = app.list_all(&acct, "limit=100").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["details"]["attempt"], winner);
}

#[tokio::test]
async fn racing_batches_sharing_an_event_id_never_half_write() {
    let app = spawn_app().await;
    let acct = account();
    let batch = |side: &str| {
        let mut shared = event(&acct, "login", 0);
        shared["event_id"] = json!("shared");
        shared["details"] = json!({ "side": side });
        let events: Vec<Value> = std::iter::once(shared)
            .chain((1..=3).map(|n| {
                let mut e = event(&acct, "password.changed", n);
                e["event_id"] = json!(format!("{side}-{n}"));
                e["details"] = json!({ "side": side });
                e
            }))
            .collect();
        json!({ "events": events })
    };
    for round in 0..3 {
        let acct_round = format!("{acct}_{round}");
        let (a, b) = (batch("a"), batch("b"));
        let retarget = |mut body: Value| {
            for e in body["events"].as_array_mut().unwrap() {
                e["account_id"] = json!(acct_round);
            }
            body
        };
        let (a, b) = (retarget(a), retarget(b));
        let (ra, rb) = futures::join!(app.post_events(&a), app.post_events(&b));
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}");
        let stored = app.list_all(&acct_round, "limit=100").await;
        assert_eq!(stored.len(), 4, "round {round}: {stored:?}");
        let sides: std::collections::HashSet<&Value> =
            stored.iter().map(|e| &e["details"]["side"]).collect();
        assert_eq!(
            sides.len(),
            1,
            "one batch whole, none of the other: {stored:?}"
        );
    }
}

#[tokio::test]
async fn a_claim_whose_entry_was_lost_is_completed_by_the_retry() {
    let app = spawn_app().await;
    let acct = account();
    let mut body = event(&acct, "api_key.regenerated", 0);
    body["event_id"] = json!("evt-crash");
    let ids = app.ingest(vec![body.clone()]).await;

    // As if the first request died between its claim and its entry write.
    let entry_key = app
        .raw_items()
        .await
        .iter()
        .find(|item| item["pk"].as_s().unwrap() == &acct)
        .map(|item| {
            std::collections::HashMap::from([
                ("pk".to_owned(), item["pk"].clone()),
                ("sk".to_owned(), item["sk"].clone()),
            ])
        })
        .unwrap();
    app.dynamodb
        .delete_item()
        .table_name(&app.tables.events)
        .set_key(Some(entry_key))
        .send()
        .await
        .unwrap();
    assert!(app.list_all(&acct, "limit=100").await.is_empty());

    let retry: Value = app.post_events(&body).await.json().await.unwrap();
    assert_eq!(retry["events"][0]["id"], ids[0].as_str());
    assert_eq!(retry["events"][0]["duplicate"], true);
    let stored = app.list_all(&acct, "limit=100").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], ids[0].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_masked_in_every_shape_before_storage() {
    let app = spawn_app().await;
    let acct = account();
    let secrets = [
        "sk_live_51HxAbCdEfGhIjKlMnOp4242",
        "rk_test_ZyXwVuTsRqPoNm1111",
        "pk_live_KeyAsAnObjectKey9999",
        "001234566789",
        "98765432101234567890",
        "PH12 3456 7890 1234 5678",
        "111122223333",
        "444455556666",
    ];
    let mut payout = event(&acct, "payout_account.updated", 0);
    payout["details"] = json!({
        "bank": "BDO",
        "accountNumber": "001234566789",
        "bank-account-number": {"primary": "__BIG__", "history": ["PH12 3456 7890 1234 5678"]},
        "account_last4": "6789",
        "note": "rotated rk_test_ZyXwVuTsRqPoNm1111 today",
        "pk_live_KeyAsAnObjectKey9999": "as a key",
    });
    let mut settings = event(&acct, "account_settings.changed", 1);
    settings["details"] = json!({"changes": [
        {"field": "bankAccountNumber", "from": "111122223333", "to": 444455556666_u64}
    ]});
    let mut key = event(&acct, "api_key.viewed", 2);
    key["details"] = json!({"key": "secret", "key_id": "sk_live_51HxAbCdEfGhIjKlMnOp4242"});
    // A 20-digit number does not fit serde_json's Value: spliced into the text.
    let body = json!({"events": [payout, settings, key]})
        .to_string()
        .replace("\"__BIG__\"", "98765432101234567890");
    assert_eq!(app.post_raw(body.into_bytes()).await.status(), 201);

    let raw = raw_table(&app).await;
    let (_, page) = app.list(&acct, "").await;
    let listed = page.to_string();
    let csv = export_csv(&app, &acct).await;
    for secret in secrets {
        assert!(!raw.contains(secret), "{secret} stored: {raw}");
        assert!(!listed.contains(secret), "{secret} listed");
        assert!(!csv.contains(secret), "{secret} exported");
    }
    let settings = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "account_settings.changed")
        .unwrap();
    let summary = settings["summary"].as_str().unwrap();
    assert!(
        summary.ends_with("changed from ****3333 to ****6666"),
        "{summary}"
    );
    assert!(csv.contains(summary));
}

#[tokio::test]
async fn text_that_would_not_display_as_itself_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let acct = account();
    let mut spoofed = event(&acct, "login", 0);
    spoofed["actor"]["name"] = json!("Alice\u{202E}ecilA");
    let mut control = event(&acct, "account_settings.changed", 1);
    control["details"] = json!({"changes": [{"field": "email", "to": "b@x.com\u{0}"}]});
    let mut terminal = event(&acct, "login", 2);
    terminal["user_agent"] = json!("Mozilla\u{1b}[2J");
    let response = app
        .post_events(&json!({"events": [spoofed, control, terminal]}))
        .await;
    let problem = expect_problem(response, 400).await;
    assert_eq!(
        fields(&problem),
        [
            "events[0].actor.name",
            "events[1].details.changes[0].to",
            "events[2].user_agent"
        ]
    );
    assert!(app.list_all(&acct, "limit=100").await.is_empty());

    // Tab and newline inside details, and joiners in names, are fine.
    let mut fine = event(&acct, "login", 3);
    fine["actor"]["name"] = json!("\u{1F469}\u{200D}\u{1F4BB} Dev");
    fine["details"] = json!({"note": "line one\n\tline two"});
    app.ingest(vec![fine]).await;
}

#[tokio::test]
async fn integers_in_details_are_kept_digit_for_digit() {
    let app = spawn_app().await;
    let acct = account();
    let body = format!(
        r#"{{"account_id": "{acct}", "type": "kyc_document.changed", "occurred_at": "2024-04-22T06:00:00Z",
            "actor": {{"id": "u_1"}}, "details": {{"reference": 12345678901234567890123, "rate": 1.10}}}}"#
    );
    let response = app.post_raw(body.into_bytes()).await;
    assert_eq!(response.status(), 201);
    // Read as text: a JSON parser into f64 would itself lose the digits.
    let text = app
        .http
        .get(format!("{}/v1/logs", app.base))
        .bearer_auth(integration_tests::token(&acct))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#""reference":12345678901234567890123"#),
        "{text}"
    );
    assert!(text.contains(r#""rate":1.10"#), "{text}");
}

#[tokio::test]
async fn method_not_allowed_names_the_allowed_methods() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/v1/exports", "GET, POST"),
        (reqwest::Method::GET, "/v1/events", "POST"),
        (reqwest::Method::POST, "/v1/logs", "GET"),
        (
            reqwest::Method::PUT,
            "/v1/exports/01HW3Z9V7Q4M8K2N5P6R7S8T9V",
            "GET",
        ),
        (reqwest::Method::PUT, "/v1/streams", "GET, POST"),
        (
            reqwest::Method::POST,
            "/v1/streams/st_01HW3Z9V7Q4M8K2N5P6R7S8T9V",
            "DELETE, GET",
        ),
        (
            reqwest::Method::GET,
            "/v1/streams/st_01HW3Z9V7Q4M8K2N5P6R7S8T9V/replay",
            "POST",
        ),
    ] {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        expect_problem(response, 405).await;
    }
}
