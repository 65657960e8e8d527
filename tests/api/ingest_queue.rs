//! The ingest queue end to end on the local stack: events sent to moto's SQS, consumed by the
//! dev server's stand-in for Lambda's SQS mapping (`dev_server::queue`) through the real
//! consumer, listed exactly once whatever is delivered twice; a message that can never be stored
//! in the dead-letter queue with its reason, and nothing of it stored; the producer recorded
//! from SQS's `SenderId`; and the producer client's queue transport, record to listed.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use integration_tests::{Options, TestApp, account, event, spawn_app_with, with_event_id};
use seclog::store::sqs::ingest_dead_letters::attributes;
use seclog_client::{Actor, Client, Credentials, Event, EventType};
use serde_json::{Value, json};

/// moto's `SenderId` of every message (a fixed IAM user id): AWS's would be the caller's.
const MOTO_SENDER_ID: &str = "AIDAIT2UOQQY3AUEKVGXU";

async fn queue_app() -> TestApp {
    spawn_app_with(Options {
        ingest_queue: true,
        ..Options::default()
    })
    .await
}

fn sqs(app: &TestApp) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&app.aws)
}

/// Sends `body` as one message, as a producer does; its message id.
async fn send(app: &TestApp, body: &str) -> String {
    sqs(app)
        .send_message()
        .queue_url(&app.ingest_queue.queue_url)
        .message_body(body)
        .send()
        .await
        .expect("sent")
        .message_id
        .expect("a message id")
}

/// Waits (bounded) until the ingest queue holds no message, visible or in flight: every
/// message sent was consumed and deleted.
async fn wait_drained(app: &TestApp) {
    for _ in 0..600 {
        let attributes = sqs(app)
            .get_queue_attributes()
            .queue_url(&app.ingest_queue.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let held: u64 = attributes
            .values()
            .filter_map(|n| n.parse::<u64>().ok())
            .sum();
        if held == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the ingest queue was not drained");
}

/// Waits (bounded) until the account lists `count` entries; the entries.
async fn wait_listed(app: &TestApp, account: &str, count: usize) -> Vec<Value> {
    for _ in 0..600 {
        let entries = app.list_all(account, "limit=100").await;
        if entries.len() >= count {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{account} did not list {count} entries");
}

/// Every message of the dead-letter queue (waits, bounded, until there are `count`).
async fn dead_letters(app: &TestApp, count: usize) -> Vec<Message> {
    let mut letters = Vec::new();
    for _ in 0..300 {
        let received = sqs(app)
            .receive_message()
            .queue_url(&app.ingest_queue.dead_letters_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("received");
        letters.extend(received.messages.unwrap_or_default());
        if letters.len() >= count {
            return letters;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} dead letters of {count}", letters.len());
}

fn attribute<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .message_attributes
        .as_ref()?
        .get(name)?
        .string_value()
}

#[tokio::test]
async fn queued_events_are_listed_once_whatever_is_delivered_twice() {
    let app = queue_app().await;
    let acct = account();
    let first = with_event_id(event(&acct, "login", 0), "evt-q1").to_string();
    let second = with_event_id(event(&acct, "password.changed", 1), "evt-q2").to_string();
    send(&app, &first).await;
    send(&app, &second).await;
    // The same event again: a producer's re-send, or SQS delivering one message twice.
    send(&app, &first).await;
    wait_drained(&app).await;

    let entries = wait_listed(&app, &acct, 2).await;
    let ids: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(ids, BTreeSet::from(["evt-q1", "evt-q2"]));
    let login = entries
        .iter()
        .find(|e| e["type"] == "login")
        .expect("login");
    assert_eq!(login["device"], "Safari on macOS", "derived as on the API");

    // The producer is the message's sender as SQS saw it.
    let raw = format!("{:?}", app.raw_items().await);
    assert!(raw.contains(MOTO_SENDER_ID), "{raw}");
}

#[tokio::test]
async fn a_message_that_can_never_be_stored_is_dead_lettered_with_its_reason() {
    let app = queue_app().await;
    let acct = account();
    let mut bad_ip = with_event_id(event(&acct, "login", 0), "evt-bad");
    bad_ip["ip"] = json!("999.1.1.1");
    let forged = with_event_id(event(&acct, "security_logs.exported", 0), "evt-forged");
    let no_event_id = event(&acct, "login", 2);
    let bad_ip_id = send(&app, &bad_ip.to_string()).await;
    send(&app, &forged.to_string()).await;
    send(&app, &no_event_id.to_string()).await;
    send(&app, "not json").await;
    let good = with_event_id(event(&acct, "login", 3), "evt-good");
    send(&app, &good.to_string()).await;
    wait_drained(&app).await;

    let letters = dead_letters(&app, 4).await;
    let mut reasons: Vec<(String, String)> = letters
        .iter()
        .map(|letter| {
            assert_eq!(attribute(letter, attributes::REASON), Some("invalid"));
            assert_eq!(
                attribute(letter, attributes::SENDER_ID),
                Some(MOTO_SENDER_ID)
            );
            let errors: Value =
                serde_json::from_str(attribute(letter, attributes::ERRORS).expect("errors"))
                    .expect("errors as JSON");
            (
                errors[0]["field"].as_str().expect("a field").to_owned(),
                letter.body.clone().expect("the body"),
            )
        })
        .collect();
    reasons.sort();
    let fields: Vec<&str> = reasons.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["body", "event_id", "ip", "type"]);
    let ip_letter = letters
        .iter()
        .find(|l| attribute(l, attributes::SOURCE_MESSAGE_ID) == Some(bad_ip_id.as_str()))
        .expect("the bad ip's letter names its message");
    assert_eq!(ip_letter.body.as_deref(), Some(bad_ip.to_string().as_str()));

    // Only the good event is stored.
    let entries = wait_listed(&app, &acct, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["event_id"], "evt-good");
}

#[tokio::test]
async fn an_event_id_reused_for_other_content_is_dead_lettered_as_a_conflict() {
    let app = queue_app().await;
    let acct = account();
    let original = with_event_id(event(&acct, "login", 0), "evt-c");
    send(&app, &original.to_string()).await;
    wait_listed(&app, &acct, 1).await;
    let mut changed = original.clone();
    changed["ip"] = json!("198.51.100.7");
    send(&app, &changed.to_string()).await;
    wait_drained(&app).await;

    let letters = dead_letters(&app, 1).await;
    assert_eq!(attribute(&letters[0], attributes::REASON), Some("conflict"));
    let entries = app.list_all(&acct, "limit=100").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["ip"], "203.0.113.45", "the first content stays");
}

#[tokio::test]
async fn the_clients_queue_transport_stores_what_it_records() {
    let app = queue_app().await;
    let acct = account();
    let client = Client::builder()
        .queue(&app.ingest_queue.queue_url)
        .region("us-east-1")
        .credentials(Credentials::new("local", "local", None, None, "tests"))
        .on_rejected(|rejected| panic!("nothing is rejected here: {rejected:?}"))
        .build()
        .expect("client");
    let mut recorded = BTreeSet::new();
    for n in 0..23 {
        let event = Event::new(&acct, EventType::Login, Actor::new(format!("u_{n}")))
            .ip("203.0.113.45".parse().expect("an address"));
        recorded.insert(client.record(event).expect("recorded"));
    }
    client.flush().await.expect("flushed");
    assert_eq!(client.stats().stored, 23, "the queue took every event");

    let entries = wait_listed(&app, &acct, 23).await;
    let listed: BTreeSet<String> = entries
        .iter()
        .filter_map(|e| e["event_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, recorded);
    client
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shut down");
}
