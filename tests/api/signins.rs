//! Unfamiliar sign-ins through the API (API.md, "Unfamiliar sign-ins"): flagged at ingest, shown
//! and filtered in the list, exported in the CSV, learned without lost updates, in few round trips.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use integration_tests::{TestApp, account, spawn_app};
use seclog::domain::{AccountId, IngestBatch, IngestContext, Producer};
use seclog::signins::SignIns;
use seclog::store::dynamodb::events::EventStore;
use serde_json::{Value, json};

const CHROME_124_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const CHROME_125_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.60 Safari/537.36";
const SAFARI_MACOS: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";

/// A sign-in of `user` at minute `minute` after 2024-04-22T06:00Z.
fn sign_in(acct: &str, user: &str, minute: i64, ua: &str, ip: &str, country: &str) -> Value {
    let at = jiff::Timestamp::from_second(1_713_765_600 + minute * 60).unwrap();
    json!({
        "account_id": acct, "type": "login", "occurred_at": at.to_string(),
        "actor": {"id": user, "name": "Alice Merchant"},
        "ip": ip, "user_agent": ua, "location": {"country": country}, "details": {}
    })
}

/// A sign-in from the user's usual laptop (Chrome on Windows) and office network, in PH.
fn usual_sign_in(acct: &str, user: &str, minute: i64) -> Value {
    sign_in(acct, user, minute, CHROME_124_WINDOWS, "203.0.113.45", "PH")
}

/// The `unfamiliar` of each of the account's entries, oldest first.
async fn flags(app: &TestApp, acct: &str) -> Vec<Value> {
    let mut entries = app.list_all(acct, "limit=100").await;
    entries.reverse();
    entries
        .into_iter()
        .map(|e| e["unfamiliar"].clone())
        .collect()
}

fn flagged(reasons: &[&str]) -> Value {
    json!({ "reasons": reasons })
}

#[tokio::test]
async fn sign_ins_are_judged_against_the_users_recent_ones() {
    let app = spawn_app().await;
    let acct = account();
    let usual = |m| usual_sign_in(&acct, "u_1", m);
    // One at a time, as they happen: each is judged against the ones before it.
    for event in [
        usual(0),                                                           // first: not flagged
        usual(1),                                                           // the usual
        sign_in(&acct, "u_1", 2, CHROME_124_WINDOWS, "198.51.100.7", "SG"), // same device, new network
        sign_in(&acct, "u_1", 3, SAFARI_MACOS, "203.0.113.99", "PH"), // new device, usual network
        sign_in(&acct, "u_1", 4, CHROME_125_WINDOWS, "192.0.2.1", "JP"), // a browser update
        sign_in(
            &acct,
            "u_1",
            5,
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "100.64.0.1",
            "PH",
        ), // new device and network
        sign_in(
            &acct,
            "u_1",
            6,
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "203.0.113.7",
            "RU",
        ), // new device and country
    ] {
        app.ingest(vec![event]).await;
    }
    assert_eq!(
        flags(&app, &acct).await,
        [
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            flagged(&["new_device", "new_network"]),
            flagged(&["new_device", "new_country"]),
        ]
    );
    let entries = app.list_all(&acct, "limit=1").await;
    assert_eq!(
        entries[1]["summary"],
        "Login from Firefox on Linux, unfamiliar: new device, new network"
    );
}

#[tokio::test]
async fn failed_logins_are_never_flagged_and_never_learned() {
    let app = spawn_app().await;
    let acct = account();
    app.ingest(vec![usual_sign_in(&acct, "u_1", 0)]).await;
    let mut failed = sign_in(&acct, "u_1", 1, SAFARI_MACOS, "198.51.100.7", "US");
    failed["type"] = json!("login.failed");
    app.ingest(vec![failed]).await;
    // The same device and network as the failed attempt: still new, so flagged.
    app.ingest(vec![sign_in(
        &acct,
        "u_1",
        2,
        SAFARI_MACOS,
        "198.51.100.7",
        "US",
    )])
    .await;
    assert_eq!(
        flags(&app, &acct).await,
        [
            Value::Null,
            Value::Null,
            flagged(&["new_device", "new_network", "new_country"])
        ]
    );
}

#[tokio::test]
async fn a_batch_is_judged_in_time_order_and_users_apart() {
    let app = spawn_app().await;
    let acct = account();
    // In one batch, out of order: u_1's odd sign-in (minute 2) comes after its usual ones.
    app.ingest(vec![
        sign_in(&acct, "u_1", 2, SAFARI_MACOS, "198.51.100.7", "US"),
        usual_sign_in(&acct, "u_1", 0),
        sign_in(&acct, "u_2", 1, SAFARI_MACOS, "198.51.100.7", "US"),
        usual_sign_in(&acct, "u_1", 1),
    ])
    .await;
    let entries = app.list_all(&acct, "limit=100").await;
    let of = |user: &str, minute: &str| {
        entries
            .iter()
            .find(|e| {
                e["actor"]["id"] == user && e["occurred_at"].as_str().unwrap().contains(minute)
            })
            .unwrap()["unfamiliar"]
            .clone()
    };
    assert_eq!(
        of("u_1", "06:02"),
        flagged(&["new_device", "new_network", "new_country"])
    );
    assert_eq!(of("u_1", "06:00"), Value::Null);
    assert_eq!(of("u_2", "06:01"), Value::Null, "u_2's first sign-in");
}

#[tokio::test]
async fn concurrent_sign_ins_of_one_user_lose_no_update() {
    let app = Arc::new(spawn_app().await);
    let acct = account();
    app.ingest(vec![usual_sign_in(&acct, "u_1", 0)]).await;
    let sends = (1..=8).map(|m| {
        let (app, acct) = (app.clone(), acct.clone());
        tokio::spawn(async move {
            let ip = format!("198.51.100.{m}");
            app.ingest(vec![sign_in(
                &acct,
                "u_1",
                m,
                CHROME_124_WINDOWS,
                &ip,
                "PH",
            )])
            .await;
        })
    });
    for send in futures::future::join_all(sends).await {
        send.unwrap();
    }
    let store = EventStore::new(app.dynamodb.clone(), &app.tables.events, 365);
    let user = (AccountId::parse(&acct).unwrap(), "u_1".to_owned());
    let profiles = store.profiles(std::slice::from_ref(&user)).await.unwrap();
    assert_eq!(
        profiles[&user].profile.sign_ins.len(),
        9,
        "every concurrent sign-in was learned"
    );
}

#[tokio::test]
async fn the_unfamiliar_filter_pages_and_the_csv_has_the_column() {
    let app = spawn_app().await;
    let acct = account();
    // Per user: the usual sign-in, then an odd one (flagged); 6 users.
    let mut events = Vec::new();
    for u in 0..6 {
        let user = format!("u_{u}");
        events.push(usual_sign_in(&acct, &user, u * 2));
        events.push(sign_in(
            &acct,
            &user,
            u * 2 + 1,
            SAFARI_MACOS,
            "198.51.100.7",
            "PH",
        ));
    }
    app.ingest(events).await;
    let unfamiliar = app.list_all(&acct, "unfamiliar=true&limit=2").await;
    assert_eq!(unfamiliar.len(), 6);
    assert!(
        unfamiliar
            .iter()
            .all(|e| e["unfamiliar"] == flagged(&["new_device", "new_network"]))
    );
    let familiar = app.list_all(&acct, "unfamiliar=false&limit=4").await;
    assert_eq!(familiar.len(), 6);
    assert!(familiar.iter().all(|e| e["unfamiliar"].is_null()));
    let (status, problem) = app.list(&acct, "unfamiliar=yes").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (400, Some("unfamiliar"))
    );

    let id = app
        .request_export(&acct, &json!({"unfamiliar": true}))
        .await;
    let export = app.wait_for_export(&acct, &id).await;
    assert_eq!(export["row_count"], 6, "{export}");
    assert_eq!(export["filters"]["unfamiliar"], true);
    let csv = app.fetch(&export["download_url"]).await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(header.get(10), Some("Unfamiliar"));
    let cells: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[10].to_owned())
        .collect();
    assert_eq!(cells, vec!["New device, new network"; 6]);
}

#[tokio::test]
async fn a_batch_of_100_sign_ins_costs_two_extra_round_trips() {
    let app = spawn_app().await;
    let (store, counter) = integration_tests::counting_store(&app);
    let signins = SignIns::new(store.clone());
    let producer = Producer::parse("arn:aws:iam::123456789012:role/auth").unwrap();
    // 100 sign-ins of 40 users, from a few networks.
    let batch = |acct: &str, first: i64| {
        let events: Vec<Value> = (0..100)
            .map(|i| {
                let ip = format!("198.51.{}.1", i % 7);
                sign_in(
                    acct,
                    &format!("u_{}", i % 40),
                    first + i,
                    SAFARI_MACOS,
                    &ip,
                    "PH",
                )
            })
            .collect();
        let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
        let context = IngestContext {
            now: jiff::Timestamp::now(),
            producer: &producer,
        };
        IngestBatch::parse(&body, &context).unwrap()
    };
    let round_trips = || counter.load(Ordering::SeqCst);

    // The batch alone, as ingest stored it before sign-ins were judged.
    let baseline = batch(&account(), 0);
    let start = round_trips();
    store
        .record(&baseline.events, jiff::Timestamp::now())
        .await
        .unwrap();
    let alone = round_trips() - start;

    // The same batch with its sign-ins judged and learned: new users, then known ones.
    let acct = account();
    for first in [0, 1000] {
        let mut batch = batch(&acct, first);
        let start = round_trips();
        let learning = signins.flag(&mut batch.events).await.unwrap();
        let recorded = store
            .record(&batch.events, jiff::Timestamp::now())
            .await
            .unwrap();
        signins.learn(learning, &recorded).await.unwrap();
        let with = round_trips() - start;
        assert_eq!(
            with - alone,
            2,
            "one read and one write of the profiles ({with} vs {alone})"
        );
    }
    let user = (AccountId::parse(&acct).unwrap(), "u_0".to_owned());
    let profiles = store.profiles(std::slice::from_ref(&user)).await.unwrap();
    assert_eq!(
        profiles[&user].profile.sign_ins.len(),
        6,
        "3 sign-ins per batch learned"
    );
}
