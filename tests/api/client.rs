//! The producer client (`clients/seclog-client`) against the dev server's signed ingest: its
//! event types are the service's, it stores what it records, rejects with the field, and loses
//! or duplicates nothing across a server that fails and recovers.

mod flaky;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flaky::Fault;
use integration_tests::{TestApp, account, spawn_app};
use seclog_client::{Actor, Client, ClientBuilder, Credentials, Event, EventType, RetryPolicy};
use serde_json::json;

/// The tie between the client's catalogue and the service's (`seclog_client`'s crate docs
/// name this test): any type added, renamed or removed on one side only fails here.
#[test]
fn event_types_match_the_service() {
    let client: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    let service: BTreeSet<&str> = seclog::domain::EventType::ALL
        .iter()
        .filter(|t| !t.recorded_by_service())
        .map(|t| t.as_str())
        .collect();
    assert_eq!(client, service);
    assert_eq!(client.len(), EventType::ALL.len(), "no name twice");
}

/// A client of `base` signed with `make dev`'s credentials, rejections collected.
fn local_client(base: &str) -> (ClientBuilder, Arc<Mutex<Vec<seclog_client::Rejected>>>) {
    let rejected = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&rejected);
    let builder = Client::builder()
        .endpoint(base)
        .region("us-east-1")
        .credentials(Credentials::new("local", "local", None, None, "tests"))
        .on_rejected(move |r| sink.lock().expect("not poisoned").push(r));
    (builder, rejected)
}

/// One event of `event_type` with the contract's typical details.
fn typical(account: &str, event_type: EventType) -> Event {
    let details = match event_type {
        EventType::Login => json!({"method": "password"}),
        EventType::LoginFailed => json!({"reason": "bad_password"}),
        EventType::ApiKeyViewed | EventType::ApiKeyRegenerated => {
            json!({"key": "secret", "key_id": "sk_live_...4242"})
        }
        EventType::AccountSettingsChanged => {
            json!({"changes": [{"field": "email", "from": "a@x.com", "to": "b@x.com"}]})
        }
        EventType::PayoutAccountUpdated => json!({"bank": "BDO", "account_last4": "6789"}),
        EventType::KycDocumentChanged => {
            json!({"document": "business_permit", "status_from": "pending", "status_to": "verified"})
        }
        EventType::PasswordChanged => json!({}),
    };
    let serde_json::Value::Object(details) = details else {
        unreachable!("every literal above is an object")
    };
    Event::new(
        account,
        event_type,
        Actor::new("u_1").name("Alice Merchant"),
    )
    .ip("203.0.113.45".parse().expect("an address"))
    .details(details)
}

/// The `event_id` of every entry of the account's log.
async fn listed_event_ids(app: &TestApp, account: &str) -> Vec<String> {
    app.list_all(account, "limit=100")
        .await
        .iter()
        .map(|entry| entry["event_id"].as_str().expect("an event_id").to_owned())
        .collect()
}

#[tokio::test]
async fn every_event_type_is_stored_through_signed_ingest() {
    let app = spawn_app().await;
    let acct = account();
    let (builder, rejected) = local_client(&app.base);
    let client = builder.build().expect("client");
    let mut recorded = HashSet::new();
    for event_type in EventType::ALL {
        recorded.insert(client.record(typical(&acct, event_type)).expect("recorded"));
    }
    client.flush().await.expect("flushed");
    assert!(rejected.lock().expect("not poisoned").is_empty());

    let entries = app.list_all(&acct, "limit=100").await;
    let types: BTreeSet<&str> = entries.iter().filter_map(|e| e["type"].as_str()).collect();
    let expected: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(types, expected);
    let listed: HashSet<String> = listed_event_ids(&app, &acct).await.into_iter().collect();
    assert_eq!(listed, recorded);
    assert_eq!(client.stats().stored, EventType::ALL.len() as u64);
    client
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shut down");
}

#[tokio::test]
async fn an_invalid_event_is_rejected_with_its_field_and_its_batch_is_stored() {
    let app = spawn_app().await;
    let acct = account();
    let (builder, rejected) = local_client(&app.base);
    let client = builder.build().expect("client");
    let good = [
        client
            .record(typical(&acct, EventType::Login))
            .expect("recorded"),
        client
            .record(typical(&acct, EventType::PasswordChanged))
            .expect("recorded"),
    ];
    let bad_event = Event::new(
        &acct,
        EventType::Login,
        Actor::new("u_1").name("Alice\u{7}"),
    );
    let bad = client.record(bad_event).expect("recorded");
    client.flush().await.expect("flushed");

    let rejected = std::mem::take(&mut *rejected.lock().expect("not poisoned"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].event.id(), Some(bad.as_str()));
    assert_eq!(rejected[0].status, Some(400));
    let fields: Vec<&str> = rejected[0]
        .errors
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(fields, ["actor.name"]);
    let listed: HashSet<String> = listed_event_ids(&app, &acct).await.into_iter().collect();
    assert_eq!(listed, HashSet::from(good));
}

#[tokio::test]
async fn a_server_that_fails_and_recovers_loses_and_duplicates_nothing() {
    let app = spawn_app().await;
    let acct = account();
    // Nothing listens on the port at first: the first attempts cannot connect.
    let port = dev_server::stack::free_port().expect("a free port");
    let (builder, rejected) = local_client(&format!("http://127.0.0.1:{port}"));
    let client = builder
        .max_batch_events(25)
        .flush_interval(Duration::from_millis(100))
        .request_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(800),
            max_retry_after: Duration::from_secs(2),
        })
        .build()
        .expect("client");

    // 10 callers record 300 events, a third of them with their own event_id.
    let mut callers = Vec::new();
    for caller in 0..10 {
        let (client, acct) = (client.clone(), acct.clone());
        callers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..30 {
                let mut event = typical(&acct, EventType::ALL[n % EventType::ALL.len()]);
                if n % 3 == 0 {
                    event = event.event_id(format!("caller-{caller}-{n}"));
                }
                ids.push(client.record(event).expect("recorded"));
                tokio::task::yield_now().await;
            }
            ids
        }));
    }
    let mut recorded = Vec::new();
    for caller in callers {
        recorded.extend(caller.await.expect("caller"));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(client.stats().stored, 0, "nothing reached the server yet");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    flaky::serve(
        listener,
        &app.base,
        &[
            Fault::Unavailable,
            Fault::LoseAnswer,
            Fault::Throttled,
            Fault::Stall,
            Fault::Unavailable,
            Fault::LoseAnswer,
            Fault::LoseAnswer,
        ],
    );
    tokio::time::timeout(Duration::from_secs(120), client.flush())
        .await
        .expect("flushed within 2 minutes")
        .expect("flushed");

    assert!(rejected.lock().expect("not poisoned").is_empty());
    let mut listed = listed_event_ids(&app, &acct).await;
    assert_eq!(listed.len(), 300, "0 lost, 0 duplicated");
    listed.sort();
    recorded.sort();
    assert_eq!(listed, recorded);
    let stats = client.stats();
    assert_eq!(stats.stored + stats.duplicates, 300);
    // The faults were met: answers were lost after storing, and attempts failed.
    assert!(stats.duplicates >= 25, "{stats:?}");
    assert!(stats.retries >= 7, "{stats:?}");
    client
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shut down");
}
