//! The delivery run over in-memory fakes of its ports, which keep the semantics of the real ones:
//! a lease with a token, conditional saves, a log that may not show an index yet, and a
//! destination scripted to answer each send.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use serde_json::value::RawValue;

use super::*;
use crate::domain::EventType;
use crate::streams::delivery::{MAX_BODY_BYTES, MAX_RECORDS};

const T0: i64 = 1_800_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(T0 + seconds).unwrap()
}

fn account() -> AccountId {
    AccountId::parse("acct_1").unwrap()
}

fn stream() -> StreamId {
    StreamId::parse("st_01HW3Z9V7Q4M8K2N5P6R7S8T9V").unwrap()
}

fn entry(index: u64) -> LogEntry {
    LogEntry {
        log_index: Some(index),
        ..LogEntry::bare(
            format!("01HW3Z9V7Q4M8K2N5P{index:08}"),
            EventType::Login,
            format!("u_{index}"),
            at(0),
        )
    }
}

/// The record: the index, and padding to make records of a chosen size.
fn render(entry: &LogEntry, _format: StreamFormat) -> Result<Box<RawValue>, RecordError> {
    let pad = entry.actor.id.strip_prefix("big_").map_or(0, |_| 400_000);
    let record = format!("[{},\"{}\"]", entry.log_index.unwrap(), "x".repeat(pad));
    Ok(RawValue::from_string(record).unwrap())
}

struct Stored {
    state: DeliveryState,
    lease: Option<(String, Timestamp)>,
    /// Another run's note: read again before letting go.
    asked: bool,
    stopped_saves: usize,
}

struct FakeStreams {
    stored: Mutex<Option<Stored>>,
    /// Takes the lease away (a replay) at the n-th save.
    replay_at_save: Mutex<Option<usize>>,
    saves: Mutex<usize>,
}

impl FakeStreams {
    fn new(state: DeliveryState) -> Self {
        Self {
            stored: Mutex::new(Some(Stored {
                state,
                lease: None,
                asked: false,
                stopped_saves: 0,
            })),
            replay_at_save: Mutex::new(None),
            saves: Mutex::new(0),
        }
    }

    fn state(&self) -> DeliveryState {
        self.stored.lock().unwrap().as_ref().unwrap().state.clone()
    }

    fn leased(&self) -> bool {
        self.stored
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .lease
            .is_some()
    }
}

impl StreamLeases for FakeStreams {
    type Target = ();

    async fn lease(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Lease<()>, StoreError> {
        let mut stored = self.stored.lock().unwrap();
        let Some(stored) = stored.as_mut() else {
            return Ok(Lease::Gone);
        };
        if let Some((_, held_until)) = &stored.lease
            && *held_until > now
        {
            return Ok(Lease::Busy);
        }
        if let Some(failing) = &stored.state.failing {
            match failing.retry_at {
                None => return Ok(Lease::Stopped),
                Some(at) if at > now => return Ok(Lease::NotDue(at)),
                Some(_) => {}
            }
        }
        let token = ulid::Ulid::generate().to_string();
        stored.lease = Some((token.clone(), until));
        stored.asked = false;
        Ok(Lease::Held(LeasedStream {
            account: account.clone(),
            id: id.clone(),
            format: StreamFormat::Native,
            target: (),
            state: stored.state.clone(),
            lease: token,
        }))
    }

    async fn ask_to_read_again(
        &self,
        _account: &AccountId,
        _id: &StreamId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut stored = self.stored.lock().unwrap();
        let Some(stored) = stored.as_mut() else {
            return Ok(false);
        };
        let live = stored.lease.as_ref().is_some_and(|(_, until)| *until > now);
        stored.asked |= live;
        Ok(live)
    }

    async fn save(
        &self,
        stream: &LeasedStream<()>,
        state: &DeliveryState,
    ) -> Result<bool, StoreError> {
        Ok(self.write(stream, state, None) != Released::Lost)
    }

    async fn release(
        &self,
        stream: &LeasedStream<()>,
        state: &DeliveryState,
        how: Release,
    ) -> Result<Released, StoreError> {
        Ok(self.write(stream, state, Some(how)))
    }
}

impl FakeStreams {
    /// A conditional write of the run's state, counted; `how`: a release.
    fn write(
        &self,
        stream: &LeasedStream<()>,
        state: &DeliveryState,
        how: Option<Release>,
    ) -> Released {
        let mut saves = self.saves.lock().unwrap();
        *saves += 1;
        let mut stored = self.stored.lock().unwrap();
        let stored = stored.as_mut().unwrap();
        if *self.replay_at_save.lock().unwrap() == Some(*saves) {
            stored.lease = None;
            stored.state.delivered_through = None;
        }
        if stored.lease.as_ref().map(|(token, _)| token) != Some(&stream.lease) {
            stored.stopped_saves += 1;
            return Released::Lost;
        }
        stored.state = state.clone();
        match how {
            None => {}
            Some(Release::UnlessAsked) if stored.asked => {
                stored.asked = false;
                return Released::AskedToReadAgain;
            }
            Some(_) => {
                stored.lease = None;
                stored.asked = false;
            }
        }
        Released::Released
    }
}

struct FakeLog {
    entries: Mutex<Vec<LogEntry>>,
    hidden: Mutex<Vec<u64>>,
    checkpoints: Mutex<Vec<u64>>,
}

impl FakeLog {
    fn with(count: u64) -> Self {
        Self {
            entries: Mutex::new((0..count).map(entry).collect()),
            hidden: Mutex::new(Vec::new()),
            checkpoints: Mutex::new(Vec::new()),
        }
    }
}

impl StreamLog for FakeLog {
    async fn entries(
        &self,
        _account: &AccountId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let hidden = self.hidden.lock().unwrap().clone();
        Ok(self
            .entries
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.log_index.unwrap() >= from && !hidden.contains(&e.log_index.unwrap()))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn checkpoint(&self, _account: &AccountId, size: u64) -> Result<String, CheckpointError> {
        self.checkpoints.lock().unwrap().push(size);
        Ok(format!("checkpoint {size}"))
    }
}

/// Answers each send from a script (then `Ok`), and keeps what it was sent.
struct FakeDestination {
    script: Mutex<VecDeque<Result<(), SendError>>>,
    received: Mutex<Vec<(String, Vec<String>, String)>>,
}

impl FakeDestination {
    fn answering(script: Vec<Result<(), SendError>>) -> Self {
        Self {
            script: Mutex::new(script.into()),
            received: Mutex::new(Vec::new()),
        }
    }

    fn indices(&self) -> Vec<u64> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, records, _)| records.iter().map(|r| index_of(r)))
            .collect()
    }
}

impl Destination<()> for FakeDestination {
    async fn send(&self, _stream: &LeasedStream<()>, batch: &Batch<'_>) -> Result<(), SendError> {
        let answer = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
        self.received.lock().unwrap().push((
            batch.id.clone(),
            batch.records.iter().map(|r| r.get().to_owned()).collect(),
            batch.checkpoint.to_owned(),
        ));
        answer
    }
}

/// The index a test record (`[index, padding]`) carries.
fn index_of(record: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(record).unwrap();
    value[0].as_u64().unwrap()
}

struct Harness {
    streams: FakeStreams,
    log: FakeLog,
    destination: FakeDestination,
}

impl Harness {
    fn new(count: u64, script: Vec<Result<(), SendError>>) -> Self {
        Self {
            streams: FakeStreams::new(DeliveryState::default()),
            log: FakeLog::with(count),
            destination: FakeDestination::answering(script),
        }
    }

    async fn run_at(&self, now: Timestamp) -> Ran {
        self.run_with(|| now, now + SignedDuration::from_secs(60))
            .await
    }

    /// A run on the clock `now`, until `deadline`.
    async fn run_with(&self, now: impl Fn() -> Timestamp, deadline: Timestamp) -> Ran {
        DeliveryRun {
            streams: &self.streams,
            log: &self.log,
            destination: &self.destination,
            render,
            acknowledged: &|_, _| {},
        }
        .run(&account(), &stream(), now, deadline, || 0)
        .await
        .unwrap()
    }

    /// Another run takes the lease at 0 for 120 s (and never gives it back).
    async fn lease_taken_by_another_run(&self) {
        let lease = self
            .streams
            .lease(&account(), &stream(), at(0), at(120))
            .await
            .unwrap();
        assert!(matches!(lease, Lease::Held(_)), "the first lease is taken");
    }
}

fn retry(reason: &str) -> Result<(), SendError> {
    Err(SendError::retry(reason))
}

#[tokio::test]
async fn a_new_stream_delivers_the_whole_log_from_index_0_in_order_in_batches_of_100() {
    let h = Harness::new(1234, vec![]);
    assert_eq!(h.run_at(at(0)).await, Ran::CaughtUp { delivered: 1234 });
    assert_eq!(h.destination.indices(), (0..1234).collect::<Vec<_>>());
    let received = h.destination.received.lock().unwrap();
    assert!(
        received
            .iter()
            .all(|(_, records, _)| records.len() <= MAX_RECORDS)
    );
    assert_eq!(received.len(), 13);
    assert_eq!(h.streams.state().delivered_through, Some(1233));
    assert!(!h.streams.leased(), "the lease is given back");
    // Each batch's checkpoint covers its records: one per read of the log.
    assert_eq!(*h.log.checkpoints.lock().unwrap(), vec![500, 1000, 1234]);
    assert_eq!(received[12].2, "checkpoint 1234");
}

#[tokio::test]
async fn a_batch_holds_at_most_a_mebibyte_of_records() {
    let h = Harness::new(0, vec![]);
    {
        let mut entries = h.log.entries.lock().unwrap();
        for index in 0..10 {
            let mut big = entry(index);
            big.actor.id = format!("big_{index}");
            entries.push(big);
        }
    }
    h.run_at(at(0)).await;
    let received = h.destination.received.lock().unwrap();
    assert!(
        received.iter().all(
            |(_, records, _)| records.iter().map(String::len).sum::<usize>() <= MAX_BODY_BYTES
        )
    );
    assert_eq!(received.len(), 5, "2 records of 400 kB fit, not 3");
}

#[tokio::test]
async fn a_failing_destination_keeps_the_cursor_and_gets_the_same_batch_again() {
    let h = Harness::new(250, vec![Ok(()), retry("HTTP 503")]);
    let ran = h.run_at(at(0)).await;
    assert_eq!(ran, Ran::RetryAt(at(0) + SignedDuration::from_millis(500)));
    let state = h.streams.state();
    assert_eq!(state.delivered_through, Some(99));
    let failing = state.failing.clone().unwrap();
    assert_eq!(
        (failing.attempts, failing.last_error.as_str()),
        (1, "HTTP 503")
    );
    assert_eq!(failing.since, at(0));

    // Not due yet: nothing is sent.
    assert_eq!(
        h.run_at(at(0)).await,
        Ran::RetryAt(failing.retry_at.unwrap())
    );
    assert_eq!(h.destination.received.lock().unwrap().len(), 2);

    // Due: the failed batch again, with the same delivery id, then the rest.
    assert_eq!(h.run_at(at(1)).await, Ran::CaughtUp { delivered: 150 });
    {
        let received = h.destination.received.lock().unwrap();
        assert_eq!(
            received[1].0, received[2].0,
            "a repeat has the same delivery id"
        );
    }
    let indices = h.destination.indices();
    assert_eq!(
        indices[100..200],
        indices[200..300],
        "repeats only, in order"
    );
    assert_eq!(h.streams.state().failing, None);
    assert_eq!(h.streams.state().delivered_through, Some(249));
}

#[tokio::test]
async fn retries_back_off_exponentially_with_jitter_up_to_a_cap_and_never_give_up() {
    assert_eq!(retry_delay(1, 0), Duration::from_millis(500));
    assert_eq!(
        retry_delay(1, u64::MAX),
        Duration::from_millis(500 + u64::MAX % 501)
    );
    assert_eq!(retry_delay(2, 0), Duration::from_secs(1));
    assert_eq!(retry_delay(10, 0), Duration::from_secs(256));
    assert_eq!(retry_delay(11, 0), MAX_RETRY_DELAY / 2);
    for attempts in 11..200 {
        let delay = retry_delay(attempts, 12345);
        assert!(delay <= MAX_RETRY_DELAY && delay >= MAX_RETRY_DELAY / 2);
    }
    // At the cap, 24 hours hold about a hundred attempts and more: retries go on for days.
    let h = Harness::new(3, (0..400).map(|_| retry("timeout")).collect());
    let mut now = at(0);
    let mut attempts = 0;
    while now < at(24 * 3600) {
        match h.run_at(now).await {
            Ran::RetryAt(next) => now = next,
            other => panic!("a retryable failure ended as {other:?}"),
        }
        attempts += 1;
    }
    assert!(attempts > 90, "{attempts}");
    assert_eq!(h.streams.state().failing.unwrap().since, at(0));
}

#[tokio::test]
async fn a_retry_after_longer_than_the_backoff_is_honoured() {
    let h = Harness::new(
        3,
        vec![Err(SendError::Retry {
            reason: "HTTP 429".into(),
            retry_after: Some(Duration::from_secs(90)),
        })],
    );
    assert_eq!(
        h.run_at(at(0)).await,
        Ran::RetryAt(at(0) + SignedDuration::from_secs(90))
    );
}

#[tokio::test]
async fn a_refusal_stops_the_stream_until_a_replay() {
    let h = Harness::new(150, vec![Ok(()), Err(SendError::stop("HTTP 400"))]);
    assert_eq!(h.run_at(at(0)).await, Ran::Done);
    let failing = h.streams.state().failing.unwrap();
    assert!(failing.is_stopped());
    assert_eq!(failing.last_error, "HTTP 400");
    assert_eq!(h.run_at(at(3600)).await, Ran::Done);
    assert_eq!(h.destination.received.lock().unwrap().len(), 2);
    assert_eq!(h.streams.state().delivered_through, Some(99));
}

#[tokio::test]
async fn an_index_not_visible_yet_is_waited_for_never_skipped() {
    let h = Harness::new(10, vec![]);
    h.log.hidden.lock().unwrap().push(4);
    assert_eq!(
        h.run_at(at(0)).await,
        Ran::RetryAt(at(0) + SignedDuration::from_secs(1))
    );
    assert_eq!(h.destination.indices(), vec![0, 1, 2, 3]);
    h.log.hidden.lock().unwrap().clear();
    assert_eq!(h.run_at(at(1)).await, Ran::CaughtUp { delivered: 6 });
    assert_eq!(h.destination.indices(), (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_second_run_while_one_holds_the_lease_sends_nothing() {
    let h = Harness::new(10, vec![]);
    h.lease_taken_by_another_run().await;
    assert_eq!(h.run_at(at(1)).await, Ran::Done);
    assert!(h.destination.received.lock().unwrap().is_empty());
    assert!(
        h.streams.stored.lock().unwrap().as_ref().unwrap().asked,
        "the holder is asked to read again"
    );
}

#[tokio::test]
async fn a_run_that_finds_the_lease_expired_takes_it_instead_of_asking() {
    let h = Harness::new(10, vec![]);
    h.lease_taken_by_another_run().await;
    // The first run died with the lease; at its end the next run delivers.
    assert_eq!(h.run_at(at(120)).await, Ran::CaughtUp { delivered: 10 });
    assert_eq!(h.destination.indices(), (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_replay_during_a_run_takes_the_stream_over() {
    let h = Harness::new(300, vec![]);
    // The save after the read's three batches finds the lease taken by a replay.
    *h.streams.replay_at_save.lock().unwrap() = Some(1);
    assert_eq!(h.run_at(at(0)).await, Ran::Done);
    assert_eq!(h.destination.received.lock().unwrap().len(), 3);
    assert_eq!(
        h.streams.state().delivered_through,
        None,
        "the replay's cursor stands"
    );
    assert_eq!(
        h.streams
            .stored
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .stopped_saves,
        1
    );
}

#[tokio::test]
async fn a_run_stops_at_its_deadline_and_asks_to_go_on() {
    let h = Harness::new(300, vec![]);
    let clock = Mutex::new(at(0));
    let ran = h
        .run_with(
            || {
                let mut now = clock.lock().unwrap();
                *now += SignedDuration::from_secs(1);
                *now
            },
            at(4),
        )
        .await;
    assert!(matches!(ran, Ran::More { delivered } if delivered < 300 && delivered > 0));
    assert!(!h.streams.leased());
    let through = h.streams.state().delivered_through.unwrap();
    assert_eq!(h.destination.indices(), (0..=through).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_deleted_stream_delivers_nothing() {
    let h = Harness::new(10, vec![]);
    *h.streams.stored.lock().unwrap() = None;
    assert_eq!(h.run_at(at(0)).await, Ran::Done);
    assert!(h.destination.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_cursor_is_stored_once_per_read_not_per_batch() {
    let h = Harness::new(1000, vec![]);
    assert_eq!(h.run_at(at(0)).await, Ran::CaughtUp { delivered: 1000 });
    assert_eq!(h.destination.received.lock().unwrap().len(), 10);
    // Two full reads stored, then the empty read's release.
    assert_eq!(*h.streams.saves.lock().unwrap(), 3);
    assert_eq!(h.streams.state().delivered_through, Some(999));
}

#[tokio::test]
async fn entries_appended_while_a_run_sends_are_sent_by_the_same_run_when_asked() {
    let h = Harness::new(150, vec![]);
    // While the run sends, 50 more entries are appended, and the run queued for them finds the
    // lease taken and leaves its note.
    let (log, streams) = (&h.log, &h.streams);
    let grow = || {
        let mut entries = log.entries.lock().unwrap();
        if entries.len() == 150 {
            entries.extend((150..200).map(entry));
            streams.stored.lock().unwrap().as_mut().unwrap().asked = true;
        }
    };
    let ran = h
        .run_with(
            || {
                grow();
                at(0)
            },
            at(60),
        )
        .await;
    assert_eq!(ran, Ran::CaughtUp { delivered: 200 });
    assert_eq!(h.destination.indices(), (0..200).collect::<Vec<_>>());
    assert_eq!(h.streams.state().delivered_through, Some(199));
    assert!(!h.streams.leased(), "let go once the note was served");
}

#[tokio::test]
async fn a_run_not_asked_lets_go_at_the_tip_without_reading_again() {
    let h = Harness::new(150, vec![]);
    assert_eq!(h.run_at(at(0)).await, Ran::CaughtUp { delivered: 150 });
    // One read, and the release: the log's growth queues runs of its own.
    assert_eq!(*h.streams.saves.lock().unwrap(), 1);
    assert!(!h.streams.leased());
}

#[tokio::test(start_paused = true)]
async fn a_next_index_that_never_shows_fails_the_stream_with_backoff_not_a_busy_loop() {
    let h = Harness::new(10, vec![]);
    h.log.hidden.lock().unwrap().push(0);
    let ran = h.run_at(at(0)).await;
    assert_eq!(ran, Ran::RetryAt(at(0) + SignedDuration::from_millis(500)));
    let failing = h.streams.state().failing.unwrap();
    assert!(
        failing.last_error.contains("entry #0"),
        "{}",
        failing.last_error
    );
    assert!(
        h.destination.received.lock().unwrap().is_empty(),
        "nothing after it is sent"
    );
    // Once it shows (the GSI caught up), the stream delivers from it and recovers.
    h.log.hidden.lock().unwrap().clear();
    assert_eq!(h.run_at(at(1)).await, Ran::CaughtUp { delivered: 10 });
    assert_eq!(h.streams.state().failing, None);
}

#[tokio::test(start_paused = true)]
async fn a_next_index_that_shows_a_moment_later_is_delivered_in_the_same_run() {
    let h = Harness::new(10, vec![]);
    h.log.hidden.lock().unwrap().push(0);
    let log = &h.log;
    let run = async { h.run_at(at(0)).await };
    let reveal = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        log.hidden.lock().unwrap().clear();
    };
    let (ran, ()) = tokio::join!(run, reveal);
    assert_eq!(ran, Ran::CaughtUp { delivered: 10 });
    assert_eq!(h.streams.state().failing, None);
}
