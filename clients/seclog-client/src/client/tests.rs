//! The client's batching, retries, rejections, overflow, flush and shutdown over a fake
//! transport that stores by `event_id` as the service does, on Tokio's paused clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::transport::{
    BatchLimits, EncodedEvent, FieldError, Problem, Receipt, SendError, Transport,
};
use crate::{Actor, Client, ClientBuilder, Event, EventType, RecordError, Rejected, ShutdownError};

/// What the fake does with the next request, before its usual behaviour.
enum Fault {
    /// Answers this error; nothing stored.
    Fail(SendError),
    /// Stores the batch, then answers this error (the answer was lost).
    StoreThenFail(SendError),
    /// Answers event by event, as a queue does: takes the events at even positions, refuses
    /// the one at position 1 for good, and leaves the others.
    Partly,
}

#[derive(Default)]
struct Service {
    faults: VecDeque<Fault>,
    /// Every attempt: when, and the event ids it carried.
    requests: Vec<(Instant, Vec<String>)>,
    /// Stored events by `event_id`: their JSON and how many times each was written.
    stored: HashMap<String, (String, usize)>,
}

/// Stores like the ingest route: all or nothing, `event_id` idempotency (409 on other content),
/// and a 400 naming `events[i].details.invalid` for events with that detail.
#[derive(Clone, Default)]
struct FakeService(Arc<Mutex<Service>>);

impl FakeService {
    fn with_faults(faults: impl IntoIterator<Item = Fault>) -> Self {
        let fake = Self::default();
        fake.state().faults.extend(faults);
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Service> {
        self.0.lock().expect("not poisoned")
    }

    fn request_sizes(&self) -> Vec<usize> {
        self.state()
            .requests
            .iter()
            .map(|(_, ids)| ids.len())
            .collect()
    }

    /// How many times each event was written, by `event_id`.
    fn writes(&self) -> HashMap<String, usize> {
        let state = self.state();
        state
            .stored
            .iter()
            .map(|(id, (_, n))| (id.clone(), *n))
            .collect()
    }

    fn store(state: &mut Service, events: &[EncodedEvent]) -> Vec<Receipt> {
        events
            .iter()
            .map(|event| {
                let id = event
                    .event()
                    .id()
                    .expect("every sent event has an id")
                    .to_owned();
                let duplicate = state.stored.contains_key(&id);
                state
                    .stored
                    .entry(id.clone())
                    .or_insert_with(|| (event.json().to_owned(), 1));
                Receipt { id, duplicate }
            })
            .collect()
    }

    fn validate(state: &Service, events: &[EncodedEvent]) -> Result<(), SendError> {
        let mut errors = Vec::new();
        let mut status = 400;
        for (i, event) in events.iter().enumerate() {
            let json: serde_json::Value = serde_json::from_str(event.json()).expect("json");
            if json["details"]["invalid"] == true {
                errors.push(FieldError {
                    event: Some(i),
                    field: "details.invalid".into(),
                    message: "is not allowed".into(),
                });
            }
            let id = event.event().id().unwrap_or_default();
            if state
                .stored
                .get(id)
                .is_some_and(|(stored, _)| stored != event.json())
            {
                status = 409;
                errors.push(FieldError {
                    event: Some(i),
                    field: "event_id".into(),
                    message: "was used for another event".into(),
                });
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(SendError::Rejected(Problem {
            status,
            detail: format!("{} invalid fields", errors.len()),
            errors,
        }))
    }
}

impl Transport for FakeService {
    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: 100,
            max_bytes: 1024 * 1024,
            envelope_bytes: 13,
            separator_bytes: 1,
        }
    }

    async fn send(&self, events: &[EncodedEvent]) -> Result<Vec<Receipt>, SendError> {
        let mut state = self.state();
        let ids = events
            .iter()
            .map(|e| e.event().id().unwrap_or_default().to_owned())
            .collect();
        state.requests.push((Instant::now(), ids));
        match state.faults.pop_front() {
            Some(Fault::Fail(error)) => return Err(error),
            Some(Fault::StoreThenFail(error)) => {
                Self::store(&mut state, events);
                return Err(error);
            }
            Some(Fault::Partly) => {
                let mut accepted = Vec::new();
                for (i, event) in events.iter().enumerate().step_by(2) {
                    let receipt = Self::store(&mut state, std::slice::from_ref(event));
                    accepted.extend(receipt.into_iter().map(|r| (i, r)));
                }
                return Err(SendError::Partial {
                    accepted,
                    refused: vec![(1, "InvalidMessageContents".into())],
                    reason: "throttled".into(),
                });
            }
            None => {}
        }
        Self::validate(&state, events)?;
        Ok(Self::store(&mut state, events))
    }
}

fn retryable(reason: &str) -> SendError {
    SendError::Retryable {
        reason: reason.into(),
        retry_after: None,
    }
}

fn login(n: usize) -> Event {
    Event::new("acct_1", EventType::Login, Actor::new(format!("u_{n}")))
}

/// A client of `fake` whose rejections land in the returned list.
fn client_of(fake: &FakeService, builder: ClientBuilder) -> (Client, Arc<Mutex<Vec<Rejected>>>) {
    let rejected = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&rejected);
    let client = builder
        .on_rejected(move |r| sink.lock().expect("not poisoned").push(r))
        .build_with_transport(fake.clone())
        .expect("builds");
    (client, rejected)
}

#[tokio::test(start_paused = true)]
async fn full_batches_leave_at_once_and_the_rest_after_the_flush_interval() {
    let fake = FakeService::default();
    let (client, _) = client_of(
        &fake,
        Client::builder().flush_interval(Duration::from_secs(1)),
    );
    for n in 0..250 {
        client.record(login(n)).expect("recorded");
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(fake.request_sizes(), [100, 100]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.request_sizes(), [100, 100, 50]);
    assert_eq!(fake.writes().len(), 250);
    let stats = client.stats();
    assert_eq!(
        (stats.recorded, stats.stored, stats.buffered),
        (250, 250, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn flush_sends_the_open_batch_at_once_and_waits_until_it_is_stored() {
    let fake = FakeService::default();
    let (client, _) = client_of(
        &fake,
        Client::builder().flush_interval(Duration::from_secs(60)),
    );
    let start = Instant::now();
    for n in 0..3 {
        client.record(login(n)).expect("recorded");
    }
    client.flush().await.expect("flushed");
    assert_eq!(fake.request_sizes(), [3]);
    assert_eq!(fake.writes().len(), 3);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // A flush with nothing held answers at once.
    client.flush().await.expect("flushed");
    assert_eq!(fake.request_sizes(), [3]);
}

#[tokio::test(start_paused = true)]
async fn failures_are_retried_with_growing_jittered_delays_and_store_each_event_once() {
    let fake = FakeService::with_faults([
        Fault::Fail(retryable("503")),
        Fault::Fail(retryable("cannot connect")),
        Fault::StoreThenFail(retryable("no answer in time")),
    ]);
    let (client, rejected) = client_of(&fake, Client::builder());
    let ids: Vec<String> = (0..10)
        .map(|n| client.record(login(n)).expect("recorded"))
        .collect();
    client.flush().await.expect("flushed");

    let state = fake.state();
    assert_eq!(state.requests.len(), 4);
    for (_, sent) in &state.requests {
        assert_eq!(sent, &ids, "every attempt re-sends the same event ids");
    }
    assert!(state.stored.values().all(|(_, writes)| *writes == 1));
    assert_eq!(state.stored.len(), 10);
    // Default policy: steps of 100, 200, 400 ms, each waited between half and all of it.
    let gaps: Vec<Duration> = state
        .requests
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .collect();
    for (gap, step_ms) in gaps.iter().zip([100, 200, 400]) {
        let step = Duration::from_millis(step_ms);
        assert!(
            *gap >= step / 2 && *gap <= step,
            "{gap:?} for a step of {step:?}"
        );
    }
    drop(state);
    let stats = client.stats();
    assert_eq!((stats.retries, stats.stored, stats.duplicates), (3, 0, 10));
    assert!(rejected.lock().expect("not poisoned").is_empty());
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_out() {
    let fake = FakeService::with_faults([Fault::Fail(SendError::Retryable {
        reason: "429".into(),
        retry_after: Some(Duration::from_secs(5)),
    })]);
    let (client, _) = client_of(&fake, Client::builder());
    client.record(login(0)).expect("recorded");
    client.flush().await.expect("flushed");
    let state = fake.state();
    let gap = state.requests[1].0 - state.requests[0].0;
    assert!(gap >= Duration::from_secs(5), "{gap:?}");
}

#[tokio::test(start_paused = true)]
async fn a_400_rejects_only_the_events_it_names_and_the_others_are_stored() {
    let fake = FakeService::default();
    let (client, rejected) = client_of(&fake, Client::builder());
    let mut bad_ids = Vec::new();
    for n in 0..5 {
        let event = if n % 2 == 1 {
            login(n).detail("invalid", true)
        } else {
            login(n)
        };
        let id = client.record(event).expect("recorded");
        if n % 2 == 1 {
            bad_ids.push(id);
        }
    }
    client.flush().await.expect("flushed");
    assert_eq!(fake.request_sizes(), [5, 3]);
    assert_eq!(fake.writes().len(), 3);
    let rejected = rejected.lock().expect("not poisoned");
    let rejected_ids: Vec<&str> = rejected.iter().filter_map(|r| r.event.id()).collect();
    assert_eq!(rejected_ids, bad_ids);
    for r in rejected.iter() {
        assert_eq!(r.status, Some(400));
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].field, "details.invalid");
    }
    assert_eq!(client.stats().rejected, 2);
}

#[tokio::test(start_paused = true)]
async fn a_409_names_the_event_id_reused_for_other_content() {
    let fake = FakeService::default();
    let (client, rejected) = client_of(&fake, Client::builder());
    client.record(login(1).event_id("evt-1")).expect("recorded");
    client.flush().await.expect("flushed");
    client.record(login(2).event_id("evt-1")).expect("recorded");
    client.flush().await.expect("flushed");
    let rejected = rejected.lock().expect("not poisoned");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].status, Some(409));
    assert_eq!(rejected[0].errors[0].field, "event_id");
}

#[tokio::test(start_paused = true)]
async fn a_batch_answered_event_by_event_sends_again_only_what_was_not_taken() {
    let fake = FakeService::with_faults([Fault::Partly]);
    let (client, rejected) = client_of(&fake, Client::builder());
    let ids: Vec<String> = (0..5)
        .map(|n| client.record(login(n)).expect("recorded"))
        .collect();
    client.flush().await.expect("flushed");
    // 0, 2 and 4 taken, 1 refused, 3 sent again alone.
    assert_eq!(fake.request_sizes(), [5, 1]);
    assert_eq!(fake.state().requests[1].1, [ids[3].clone()]);
    assert!(fake.writes().values().all(|&n| n == 1));
    assert_eq!(fake.writes().len(), 4);
    let rejected = rejected.lock().expect("not poisoned");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].event.id(), Some(ids[1].as_str()));
    assert_eq!(rejected[0].status, None);
    let stats = client.stats();
    assert_eq!((stats.stored, stats.rejected, stats.retries), (4, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_413_splits_the_batch_until_it_fits() {
    let fake = FakeService::with_faults([Fault::Fail(SendError::TooLarge)]);
    let (client, _) = client_of(&fake, Client::builder());
    for n in 0..4 {
        client.record(login(n)).expect("recorded");
    }
    client.flush().await.expect("flushed");
    assert_eq!(fake.request_sizes(), [4, 2, 2]);
    assert_eq!(fake.writes().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn an_event_larger_than_any_request_is_rejected_by_the_client() {
    let fake = FakeService::default();
    let (client, rejected) = client_of(&fake, Client::builder().max_batch_bytes(2000));
    client
        .record(login(0).detail("padding", "x".repeat(5000)))
        .expect("recorded");
    client.record(login(1)).expect("recorded");
    client.flush().await.expect("flushed");
    assert_eq!(fake.request_sizes(), [1]);
    let rejected = rejected.lock().expect("not poisoned");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].status, None);
    assert_eq!(client.stats().buffered, 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_refuses_at_once_and_takes_events_again_once_they_are_stored() {
    let fake = FakeService::with_faults((0..3).map(|_| Fault::Fail(retryable("503"))));
    let (client, _) = client_of(&fake, Client::builder().buffer_capacity(3));
    for n in 0..3 {
        client.record(login(n)).expect("recorded");
    }
    let refused = client.record(login(3).event_id("evt-3"));
    let Err(RecordError::Full { event, capacity }) = refused else {
        panic!("a full buffer refuses: {refused:?}");
    };
    assert_eq!((event.id(), capacity), (Some("evt-3"), 3));
    client.flush().await.expect("flushed");
    assert_eq!(client.stats().buffered, 0);
    client.record(*event).expect("room again");
    client.flush().await.expect("flushed");
    assert_eq!(fake.writes().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_what_is_held_and_then_refuses_events() {
    let fake = FakeService::default();
    let (client, _) = client_of(
        &fake,
        Client::builder().flush_interval(Duration::from_secs(60)),
    );
    let other_handle = client.clone();
    for n in 0..5 {
        client.record(login(n)).expect("recorded");
    }
    client
        .shutdown(Duration::from_secs(10))
        .await
        .expect("everything stored");
    assert_eq!(fake.writes().len(), 5);
    assert!(matches!(
        other_handle.record(login(9)),
        Err(RecordError::Closed { .. })
    ));
    assert!(other_handle.flush().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn shutdown_returns_the_events_still_unconfirmed_when_the_grace_ends() {
    let fake = FakeService::with_faults((0..1000).map(|_| Fault::Fail(retryable("503"))));
    let (client, _) = client_of(&fake, Client::builder());
    let ids: Vec<String> = (0..3)
        .map(|n| client.record(login(n)).expect("recorded"))
        .collect();
    let outcome = client.shutdown(Duration::from_secs(2)).await;
    let Err(ShutdownError::Unconfirmed { events }) = outcome else {
        panic!("the service never answered: {outcome:?}");
    };
    let returned: Vec<&str> = events.iter().filter_map(Event::id).collect();
    assert_eq!(returned, ids);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_still_sends_what_is_held() {
    let fake = FakeService::default();
    let (client, _) = client_of(
        &fake,
        Client::builder().flush_interval(Duration::from_secs(60)),
    );
    client.record(login(0)).expect("recorded");
    drop(client);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(fake.writes().len(), 1);
}

#[tokio::test]
async fn record_returns_the_given_event_id_or_a_new_ulid() {
    let fake = FakeService::default();
    let (client, _) = client_of(&fake, Client::builder());
    assert_eq!(
        client.record(login(0).event_id("evt-9")).expect("recorded"),
        "evt-9"
    );
    let generated = client.record(login(1)).expect("recorded");
    assert!(generated.parse::<ulid::Ulid>().is_ok(), "{generated}");
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let built = Client::builder().build_with_transport(FakeService::default());
    assert!(matches!(built, Err(crate::BuildError::NoRuntime)));
}
