use integration_tests::{Options, account, event, spawn_app, spawn_app_with, token};
use serde_json::{Value, json};

fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_account_comes_only_from_the_token() {
    let app = spawn_app().await;
    let (alice, bob) = (account(), account());
    let alice_ids = app.ingest(vec![event(&alice, "login", 1)]).await;
    let bob_ids = app.ingest(vec![event(&bob, "login", 2)]).await;

    let (_, page) = app.list(&alice, "").await;
    assert_eq!(ids_of(&page), alice_ids);
    let (_, page) = app.list(&bob, "").await;
    assert_eq!(ids_of(&page), bob_ids);

    let (status, problem) = app.list(&alice, &format!("account_id={bob}")).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "account_id");
}

#[tokio::test]
async fn missing_malformed_or_claimless_tokens_get_401() {
    let app = spawn_app().await;
    let no_claim = dev_server::jwt::unsigned_token(&json!({"sub": "u_1"}));
    let bad_claim = dev_server::jwt::unsigned_token(&json!({"account_id": "acct#1"}));
    for token in [
        None,
        Some("garbage"),
        Some("a.b.c"),
        Some(no_claim.as_str()),
        Some(bad_claim.as_str()),
    ] {
        let (status, problem) = app.get_with_token("/v1/logs", token).await;
        assert_eq!(status, 401, "{token:?}: {problem}");
        assert_eq!(problem["status"], 401);
    }
}

#[tokio::test]
async fn the_account_claim_name_is_configurable() {
    let app = spawn_app_with(Options {
        claim: "merchant",
        ..Options::default()
    })
    .await;
    let acct = account();
    app.ingest(vec![event(&acct, "login", 1)]).await;
    let (status, _) = app.list(&acct, "").await;
    assert_eq!(
        status, 401,
        "the default claim is not read when another is configured"
    );
    let custom = dev_server::jwt::unsigned_token(&json!({"merchant": acct}));
    let (status, page) = app.get_with_token("/v1/logs", Some(&custom)).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn newest_first_with_time_window_and_local_time() {
    let app = spawn_app().await;
    let acct = account();
    let ids = app
        .ingest((0..5).map(|i| event(&acct, "login", i * 60)).collect())
        .await;
    // Hours 1..=3 after 06:00Z, inclusive on both ends.
    let (status, page) = app
        .list(
            &acct,
            "from=2024-04-22T07:00:00Z&to=2024-04-22T17:00:00%2B08:00&tz=Asia/Manila",
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ids_of(&page),
        [ids[3].clone(), ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(page["data"][0]["occurred_at"], "2024-04-22T09:00:00Z");
    assert_eq!(
        page["data"][0]["occurred_at_local"],
        "2024-04-22T17:00:00+08:00"
    );
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn type_filters_repeat_or_comma_separate() {
    let app = spawn_app().await;
    let acct = account();
    let ids = app
        .ingest(vec![
            event(&acct, "login", 1),
            event(&acct, "password.changed", 2),
            event(&acct, "login.failed", 3),
            event(&acct, "login", 4),
            event(&acct, "api_key.viewed", 5),
        ])
        .await;
    let expected = [ids[3].clone(), ids[2].clone(), ids[0].clone()];
    let (_, repeated) = app.list(&acct, "type=login&type=login.failed").await;
    assert_eq!(ids_of(&repeated), expected);
    let (_, comma) = app.list(&acct, "type=login,login.failed").await;
    assert_eq!(ids_of(&comma), expected);
    let (_, single) = app.list(&acct, "type=api_key.viewed").await;
    assert_eq!(ids_of(&single), [ids[4].clone()]);
    let (status, problem) = app.list(&acct, "type=logout").await;
    assert_eq!(status, 400);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("password.changed")
    );
}

#[tokio::test]
async fn actor_filter_fills_pages_even_when_matches_are_sparse() {
    let app = spawn_app().await;
    let acct = account();
    let mut events = Vec::new();
    for i in 0..60 {
        let mut e = event(&acct, "login", i);
        e["actor"] = json!({"id": if i % 12 == 0 { "target" } else { "someone_else" }});
        events.push(e);
    }
    app.ingest(events).await;
    let (_, page) = app.list(&acct, "actor=target&limit=3").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3, "{page}");
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"]["id"] == "target")
    );
    let all = app.list_all(&acct, "actor=target&limit=3").await;
    assert_eq!(all.len(), 5);
}

#[tokio::test]
async fn a_very_sparse_filter_still_pages_to_every_match_exactly_once() {
    let app = spawn_app().await;
    let acct = account();
    // Far more non-matching entries than one page may read, with the only match the oldest.
    for batch in 0..3 {
        let events = (0..100)
            .map(|i| {
                let mut e = event(&acct, "login", 10 + batch * 100 + i);
                e["actor"] = json!({"id": "noise"});
                e
            })
            .collect();
        app.ingest(events).await;
    }
    let mut needle = event(&acct, "login", 0);
    needle["actor"] = json!({"id": "needle"});
    let needle_id = app.ingest(vec![needle]).await;
    let found = app.list_all(&acct, "actor=needle&limit=1").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], needle_id[0].as_str());
}

#[tokio::test]
async fn pages_cover_everything_once_with_no_empty_last_page() {
    let app = spawn_app().await;
    let acct = account();
    let ids = app
        .ingest((0..4).map(|i| event(&acct, "login", i)).collect())
        .await;

    let (_, first) = app.list(&acct, "limit=2").await;
    assert_eq!(ids_of(&first), [ids[3].clone(), ids[2].clone()]);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page exists")
        .to_owned();
    let (_, second) = app.list(&acct, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(ids_of(&second), [ids[1].clone(), ids[0].clone()]);
    assert_eq!(second["next_cursor"], Value::Null, "no empty last page");

    let everything = app.list_all(&acct, "limit=3").await;
    assert_eq!(everything.len(), 4);
}

#[tokio::test]
async fn the_default_limit_is_50() {
    let app = spawn_app().await;
    let acct = account();
    app.ingest((0..60).map(|i| event(&acct, "login", i)).collect())
        .await;
    let (_, page) = app.list(&acct, "").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn tampered_foreign_or_garbage_cursors_get_400() {
    let app = spawn_app().await;
    let (alice, bob) = (account(), account());
    app.ingest((0..3).map(|i| event(&alice, "login", i)).collect())
        .await;
    app.ingest((0..3).map(|i| event(&bob, "login", i)).collect())
        .await;
    let (_, page) = app.list(&alice, "limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();

    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases = [
        (bob.as_str(), format!("limit=1&cursor={cursor}")),
        (alice.as_str(), format!("limit=1&cursor={tampered}")),
        (alice.as_str(), "limit=1&cursor=garbage".to_owned()),
        (
            alice.as_str(),
            format!("limit=1&type=login&cursor={cursor}"),
        ),
    ];
    for (who, query) in cases {
        let (status, problem) = app.list(who, &query).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "cursor");
        assert!(problem.get("data").is_none());
    }
    // The genuine cursor still works for its own account and filters.
    let (status, _) = app.list(&alice, &format!("limit=1&cursor={cursor}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_parameters_get_400_with_their_names() {
    let app = spawn_app().await;
    let acct = account();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("tz=Mars/Olympus", "tz"),
        ("from=yesterday", "from"),
        ("from=2024-05-01T00:00:00Z&to=2024-04-01T00:00:00Z", "to"),
        ("colour=blue", "colour"),
        ("from=2024-04-22%2006:32:15Z", "from"),
        ("from=2024-04-22T06:32:15%2B0800", "from"),
        ("to=2024-04-22T12:00:60Z", "to"),
    ] {
        let (status, problem) = app.list(&acct, query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let (status, _) = app.list(&acct, "limit=100").await;
    assert_eq!(status, 200);
    let (status, page) = app
        .list(&acct, "to=9999-12-31T23:59:59Z&tz=asia/manila")
        .await;
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    let (status, problem) = app.get_with_token("/v1/nothing", Some(&token("a"))).await;
    assert_eq!(status, 404);
    assert_eq!(problem["status"], 404);
    let response = app
        .http
        .delete(format!("{}/v1/logs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

/// Each page is one Query: a page from a cursor reads the cursor's own item too, and asks for
/// it, so it never needs a second Query for the entry that item took (which doubled the
/// store's work for every page after the first).
#[tokio::test]
async fn each_page_of_a_listing_costs_one_query() {
    use seclog::domain::{AccountId, LogFilter};
    use seclog::store::dynamodb::events::EventStore;
    use std::sync::atomic::Ordering;

    let app = spawn_app().await;
    let name = account();
    let events: Vec<Value> = (0..250).map(|i| event(&name, "login", i)).collect();
    for chunk in events.chunks(100) {
        app.ingest(chunk.to_vec()).await;
    }
    let (client, round_trips) = integration_tests::counting_client(&app);
    let store = EventStore::new(client, &app.tables.events, 3650);
    let acct = AccountId::parse(&name).unwrap();
    let (mut after, mut pages, mut read) = (None::<String>, 0, 0);
    loop {
        let page = store
            .page(
                &acct,
                &LogFilter::default(),
                after.as_deref(),
                100,
                jiff::Timestamp::now(),
            )
            .await
            .unwrap();
        pages += 1;
        read += page.entries.len();
        after = page.resume_after;
        if after.is_none() {
            break;
        }
    }
    assert_eq!((pages, read), (3, 250));
    assert_eq!(round_trips.load(Ordering::SeqCst), 3, "one Query per page");
}
