//! The queue's consumer over in-memory ports with the real store's semantics (all or nothing,
//! one entry per (account, `event_id`), a conflict writes nothing): what each message becomes.
//! The DynamoDB and SQS adapters are tested against the local stack (tests/api/ingest_queue.rs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::ports::{DeadLetter, DeadLetterError, DeadLetters, EventRecords, RecordError};
use super::queue::{Consumed, QueueIngest, QueuedMessage, read, reasons};
use crate::domain::new_event::{Repeats, plan_repeats};
use crate::domain::{EntryId, NewEvent, Recorded};
use crate::ingest::ports::Conflict;
use crate::signins::{ProfileStore, StoredProfile, User};
use crate::storage::StoreError;

const SENDER: &str = "AROAEXAMPLEID:payouts";

fn now() -> Timestamp {
    "2024-04-22T07:00:00Z".parse().unwrap()
}

/// (account, event_id) -> (fingerprint, entry id).
type Entries = HashMap<(String, String), (String, EntryId)>;

/// The events store in memory.
#[derive(Clone, Default)]
struct Memory {
    entries: Arc<Mutex<Entries>>,
    down: Arc<AtomicBool>,
}

impl EventRecords for Memory {
    async fn record_events(
        &self,
        events: &[NewEvent],
        _now: Timestamp,
    ) -> Result<Vec<Recorded>, RecordError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Contention("storage is down (test)").into());
        }
        let key = |e: &NewEvent| {
            let id = e.event_id.as_ref().expect("the queue's events have one");
            (e.account.as_str().to_owned(), id.as_str().to_owned())
        };
        let fingerprints: Vec<Option<String>> =
            events.iter().map(|e| Some(e.fingerprint())).collect();
        let conflict = |index: usize, first: usize| Conflict {
            index,
            recorded_id: events[first].entry.id.clone(),
        };
        let Repeats { firsts, repeats } = plan_repeats(events, &fingerprints).map_err(|c| {
            RecordError::Conflict(c.into_iter().map(|(i, f)| conflict(i, f)).collect())
        })?;
        let mut entries = self.entries.lock().unwrap();
        let conflicts: Vec<Conflict> = firsts
            .iter()
            .filter_map(|&i| match entries.get(&key(&events[i])) {
                Some((fingerprint, id)) if Some(fingerprint) != fingerprints[i].as_ref() => {
                    Some(Conflict {
                        index: i,
                        recorded_id: id.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(RecordError::Conflict(conflicts));
        }
        let mut results: Vec<Option<Recorded>> = vec![None; events.len()];
        for i in firsts {
            let recorded = match entries.get(&key(&events[i])) {
                Some((_, id)) => Recorded {
                    id: id.clone(),
                    duplicate: true,
                },
                None => {
                    let id = events[i].entry.id.clone();
                    let fingerprint = fingerprints[i].clone().unwrap();
                    entries.insert(key(&events[i]), (fingerprint, id.clone()));
                    Recorded {
                        id,
                        duplicate: false,
                    }
                }
            };
            results[i] = Some(recorded);
        }
        for (i, first) in repeats {
            let id = results[first].clone().unwrap().id;
            results[i] = Some(Recorded {
                id,
                duplicate: true,
            });
        }
        Ok(results.into_iter().map(Option::unwrap).collect())
    }
}

/// No profiles are kept: sign-ins are judged as first ones (the judging has tests of its own).
impl ProfileStore for Memory {
    async fn profiles(&self, users: &[User]) -> Result<HashMap<User, StoredProfile>, StoreError> {
        Ok(users
            .iter()
            .map(|u| (u.clone(), Default::default()))
            .collect())
    }

    async fn write_profiles(
        &self,
        _updates: &[(User, u64, crate::domain::signin::Profile)],
    ) -> Result<Vec<User>, StoreError> {
        Ok(Vec::new())
    }
}

#[derive(Default)]
struct Letters {
    sent: Mutex<Vec<DeadLetter>>,
    refuse: AtomicBool,
}

impl DeadLetters for Arc<Letters> {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(DeadLetterError {
                message_ids: letters.iter().map(|l| l.message_id.clone()).collect(),
                reason: "the dead-letter queue is down (test)".into(),
            });
        }
        self.sent.lock().unwrap().extend_from_slice(letters);
        Ok(())
    }
}

fn event(event_id: &str) -> Value {
    json!({
        "account_id": "acct_1",
        "type": "payout_account.updated",
        "occurred_at": "2024-04-22T06:32:15Z",
        "actor": {"id": "u_1"},
        "event_id": event_id,
        "details": {"bank": "BDO", "account_last4": "6789"}
    })
}

fn message(id: &str, body: &Value) -> QueuedMessage {
    QueuedMessage {
        id: id.to_owned(),
        body: body.to_string(),
        sender: Some(SENDER.to_owned()),
    }
}

fn consumer() -> (QueueIngest<Memory, Arc<Letters>>, Memory, Arc<Letters>) {
    let (store, letters) = (Memory::default(), Arc::new(Letters::default()));
    (
        QueueIngest::new(store.clone(), letters.clone()),
        store,
        letters,
    )
}

/// Each dead letter's message id, reason and first field.
fn letters_of(letters: &Letters) -> Vec<(String, &'static str, String)> {
    letters
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|l| (l.message_id.clone(), l.reason, l.errors[0].field.clone()))
        .collect()
}

#[test]
fn a_valid_message_is_an_event_produced_by_its_sender() {
    let event = read(&message("m1", &event("e1")), now()).unwrap();
    assert_eq!(event.entry.producer.as_deref(), Some(SENDER));
    assert_eq!(event.event_id.unwrap().as_str(), "e1");
    assert_eq!(event.entry.received_at, now());
}

#[test]
fn a_message_that_can_never_be_stored_names_its_reason_and_field() {
    let mut bad_ip = event("e1");
    bad_ip["ip"] = json!("999.1.1.1");
    let mut service_type = event("e2");
    service_type["type"] = json!("security_logs.exported");
    let mut no_event_id = event("e3");
    no_event_id.as_object_mut().unwrap().remove("event_id");
    let mut unsigned = message("m5", &event("e5"));
    unsigned.sender = None;
    let cases = [
        (message("m1", &bad_ip), reasons::INVALID, "ip"),
        (message("m2", &service_type), reasons::INVALID, "type"),
        (message("m3", &no_event_id), reasons::INVALID, "event_id"),
        (message("m4", &json!([1])), reasons::INVALID, "body"),
        (unsigned, reasons::UNATTRIBUTED, "SenderId"),
    ];
    for (message, reason, field) in cases {
        let letter = read(&message, now()).unwrap_err();
        assert_eq!(
            (letter.reason, letter.errors[0].field.as_str()),
            (reason, field),
            "{}",
            message.body
        );
        assert_eq!(letter.body, message.body, "the body goes unchanged");
        assert_eq!(letter.message_id, message.id);
    }
}

#[tokio::test]
async fn a_batch_stores_each_event_once_and_dead_letters_the_bad_ones() {
    let (consumer, store, letters) = consumer();
    let mut bad = event("e9");
    bad["occurred_at"] = json!("yesterday");
    let batch = [
        message("m1", &event("e1")),
        // The same event again: SQS delivered it twice, or the producer sent it twice.
        message("m2", &event("e1")),
        message("m3", &bad),
        message("m4", &event("e2")),
    ];
    let consumed = consumer.consume(&batch, now()).await;
    assert_eq!(
        consumed,
        Consumed {
            retry: vec![],
            stored: 2,
            duplicates: 1,
            dead_lettered: 1
        }
    );
    assert_eq!(store.entries.lock().unwrap().len(), 2);
    assert_eq!(
        letters_of(&letters),
        [("m3".to_owned(), reasons::INVALID, "occurred_at".to_owned())]
    );

    // A later redelivery of the whole batch stores nothing new.
    let again = consumer.consume(&batch[..2], now()).await;
    assert_eq!((again.stored, again.duplicates), (0, 2));
    assert_eq!(store.entries.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_reused_event_id_is_dead_lettered_and_the_rest_of_its_batch_stored() {
    let (consumer, store, letters) = consumer();
    consumer
        .consume(&[message("m1", &event("e1"))], now())
        .await;
    let mut changed = event("e1");
    changed["details"] = json!({"bank": "BPI", "account_last4": "1111"});
    let consumed = consumer
        .consume(
            &[message("m2", &changed), message("m3", &event("e2"))],
            now(),
        )
        .await;
    assert_eq!((consumed.stored, consumed.dead_lettered), (1, 1));
    assert!(consumed.retry.is_empty());
    assert_eq!(
        letters_of(&letters),
        [("m2".to_owned(), reasons::CONFLICT, "event_id".to_owned())]
    );
    assert_eq!(store.entries.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn storage_faults_are_retried_and_bad_input_is_not() {
    let (consumer, store, letters) = consumer();
    store.down.store(true, Ordering::SeqCst);
    let consumed = consumer
        .consume(
            &[message("m1", &event("e1")), message("m2", &json!({}))],
            now(),
        )
        .await;
    assert_eq!(consumed.retry, ["m1"]);
    assert_eq!((consumed.stored, consumed.dead_lettered), (0, 1));
    assert_eq!(letters_of(&letters)[0].0, "m2");

    // A dead letter that cannot be sent keeps its message in the queue too.
    store.down.store(false, Ordering::SeqCst);
    letters.refuse.store(true, Ordering::SeqCst);
    let consumed = consumer
        .consume(
            &[message("m1", &event("e1")), message("m2", &json!({}))],
            now(),
        )
        .await;
    assert_eq!(consumed.retry, ["m2"]);
    assert_eq!((consumed.stored, consumed.dead_lettered), (1, 0));
}
