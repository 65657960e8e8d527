//! Stream delivery end to end on the local stack: entries ingested, sequenced, fanned out from
//! the log table's stream to the queue of runs, delivered by the delivery function to receivers
//! on 127.0.0.1 (nothing leaves the machine), as in the cloud.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use integration_tests::{
    Options, TEST_LOG_SEED, TestApp, account, counting_client, event, spawn_app, spawn_app_with,
};
use jiff::Timestamp;
use lambda_runtime::LambdaEvent;
use seclog::domain::stream::{DeliveryState, StreamFormat, StreamId, StreamTarget};
use seclog::domain::{AccountId, Actor, EventType, NewEvent};
use seclog::integrity::note::{LocalSigner, Signer, VerifierKey, origin, verify_checkpoint};
use seclog::store::dynamodb::events::EventStore;
use seclog::store::dynamodb::log::LogStore;
use seclog::store::dynamodb::streams::{SealedTarget, StoredStream, StreamStore};
use seclog::store::kms::log_keys::LogKeys;
use seclog::store::kms::stream_secrets::{StreamSecrets, StreamSecretsKey};
use seclog::store::sqs::delivery_queue::SqsDeliveryQueue;
use seclog::store::stream_log::StreamLogReader;
use seclog::streams::outcome::SendError;
use seclog::streams::ports::{
    Batch, Destination, Lease, LeasedStream, Release, Released, StreamLeases,
};
use seclog::streams::ports::{DeliveryQueue, ScheduledRun};
use seclog::streams::record::render;
use seclog::streams::run::{DeliveryRun, Ran};
use seclog::streams::signature::{SigningSecret, verify};
use serde_json::Value;

/// What a receiver got: each delivery's body, as parsed, in arrival order.
#[derive(Default)]
struct Received {
    deliveries: Vec<Value>,
    /// Statuses to answer first (then 204).
    script: VecDeque<u16>,
    /// Deliveries answered with a scripted failure.
    refused: usize,
}

struct Receiver {
    url: String,
    state: Arc<Mutex<Received>>,
}

/// A webhook receiver on 127.0.0.1 that checks every signature with `secret` (a bad one fails
/// the test through a 401 the stream would stop on) and answers from `script`, then 204.
async fn receiver(secret: SigningSecret, script: &[u16]) -> Receiver {
    let state = Arc::new(Mutex::new(Received {
        script: script.iter().copied().collect(),
        ..Received::default()
    }));
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State((state, secret)): State<(Arc<Mutex<Received>>, SigningSecret)>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let signature = headers
                        .get("security-logs-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let now = Timestamp::now().as_second();
                    if verify(signature, &secret, &body, now, 300).is_err() {
                        return StatusCode::UNAUTHORIZED;
                    }
                    assert!(headers.contains_key("security-logs-delivery"));
                    let mut received = state.lock().unwrap();
                    if let Some(status) = received.script.pop_front() {
                        received.refused += 1;
                        return StatusCode::from_u16(status).unwrap();
                    }
                    received
                        .deliveries
                        .push(serde_json::from_slice(&body).unwrap());
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state((state.clone(), secret));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, state }
}

impl Receiver {
    /// The log indices received, in arrival order (repeats included).
    fn indices(&self) -> Vec<u64> {
        self.state
            .lock()
            .unwrap()
            .deliveries
            .iter()
            .flat_map(|d| d["records"].as_array().unwrap().clone())
            .map(|r| r["log_index"].as_u64().unwrap())
            .collect()
    }

    /// Waits until indices `0..count` all arrived.
    async fn wait_for(&self, count: u64) -> Vec<u64> {
        for _ in 0..600 {
            let indices = self.indices();
            if (0..count).all(|i| indices.contains(&i)) {
                return indices;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver got {:?}, not 0..{count}", self.indices());
    }
}

struct Streams {
    store: StreamStore,
    key: StreamSecretsKey,
    queue: SqsDeliveryQueue,
}

fn streams(app: &TestApp) -> Streams {
    Streams {
        store: StreamStore::new(
            aws_sdk_dynamodb::Client::new(&app.aws),
            &app.streams.table,
            EventStore::new(app.dynamodb.clone(), &app.tables.events, 3650),
        ),
        key: StreamSecretsKey::new(
            aws_sdk_kms::Client::new(&app.aws),
            &app.streams.secrets_key_id,
        ),
        queue: SqsDeliveryQueue::new(aws_sdk_sqs::Client::new(&app.aws), &app.streams.queue_url),
    }
}

impl Streams {
    /// A native-format webhook stream of `account` to `url`, with its creation's entry, and its
    /// first run queued (as the route does).
    async fn create(&self, account: &AccountId, url: &str, secret: &SigningSecret) -> StreamId {
        let target = StreamTarget::Webhook {
            url: url.to_owned(),
            auth_header: None,
        };
        let secrets = StreamSecrets {
            signing_secret: Some(secret.expose().to_owned()),
            auth_header_value: None,
        };
        self.create_target(account, target, secrets).await
    }

    async fn create_target(
        &self,
        account: &AccountId,
        target: StreamTarget,
        secrets: StreamSecrets,
    ) -> StreamId {
        let id = StreamId::generate();
        let now = Timestamp::now();
        let kind = target.kind();
        let stream = StoredStream {
            id: id.clone(),
            target,
            format: StreamFormat::Native,
            created_at: now,
            state: DeliveryState::default(),
        };
        let sealed = self.key.seal(account, &id, &secrets).await.unwrap();
        let audit = NewEvent::internal(
            account.clone(),
            EventType::SecurityLogsStreamCreated,
            Actor {
                id: "u_1".into(),
                name: None,
                email: None,
            },
            None,
            serde_json::json!({"stream_id": id.as_str(), "kind": kind, "format": "native"}).into(),
            now,
        );
        assert!(
            self.store
                .create(account, &stream, &sealed, &audit, 5, now)
                .await
                .unwrap()
        );
        // As the route does: a run now, and one after the fan-out's cache of stream-less
        // accounts has expired.
        self.run_now(account, &id).await;
        self.queue
            .enqueue(&[ScheduledRun {
                account: account.clone(),
                stream: id.clone(),
                delay: seclog::streams::directory_cache::TTL + Duration::from_secs(1),
            }])
            .await
            .unwrap();
        id
    }

    /// The account's only stream, once `done` holds for it (within 10 s).
    async fn settled(
        &self,
        account: &AccountId,
        done: impl Fn(&StoredStream) -> bool,
    ) -> StoredStream {
        let mut last = None;
        for _ in 0..100 {
            let stream = self.store.list(account).await.unwrap().pop().unwrap();
            if done(&stream) {
                return stream;
            }
            last = Some(stream);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the stream did not settle: {last:?}");
    }

    async fn run_now(&self, account: &AccountId, id: &StreamId) {
        self.queue
            .enqueue(&[ScheduledRun {
                account: account.clone(),
                stream: id.clone(),
                delay: Duration::ZERO,
            }])
            .await
            .unwrap();
    }
}

async fn delivering_app() -> TestApp {
    spawn_app_with(Options {
        stream_delivery: true,
        ..Options::default()
    })
    .await
}

/// Ingests `count` logins of `account`, in requests of 100.
async fn ingest(app: &TestApp, account: &str, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| event(account, "login", i as i64))
        .collect();
    for chunk in events.chunks(100) {
        app.ingest(chunk.to_vec()).await;
    }
}

#[tokio::test]
async fn every_entry_arrives_in_log_order_signed_with_a_checkpoint_covering_it() {
    let app = delivering_app().await;
    let streams = streams(&app);
    let (name, other) = (account(), account());
    let acct = AccountId::parse(&name).unwrap();
    let secret = SigningSecret::generate().unwrap();
    let receiver = receiver(secret.clone(), &[]).await;
    // Entries before the stream exists are delivered too: it starts at index 0.
    ingest(&app, &name, 120).await;
    ingest(&app, &other, 30).await;
    streams.create(&acct, &receiver.url, &secret).await;
    ingest(&app, &name, 130).await;

    // 250 logins and the stream's own entry.
    let indices = receiver.wait_for(251).await;
    let mut deduplicated = indices.clone();
    deduplicated.dedup();
    assert_eq!(
        deduplicated,
        (0..251).collect::<Vec<_>>(),
        "in order, repeats only"
    );

    let key = VerifierKey::new(
        &origin(&acct),
        &LocalSigner::from_seed(&TEST_LOG_SEED).public_key(),
    )
    .unwrap();
    let log = LogStore::new(app.dynamodb.clone(), &app.tables.log, &app.tables.events);
    let deliveries = receiver.state.lock().unwrap().deliveries.clone();
    for delivery in &deliveries {
        let records = delivery["records"].as_array().unwrap();
        assert!(records.len() <= 100);
        let checkpoint = verify_checkpoint(delivery["checkpoint"].as_str().unwrap(), &key)
            .expect("the checkpoint is signed by the log's key");
        let last = records.last().unwrap()["log_index"].as_u64().unwrap();
        assert!(checkpoint.size > last, "the checkpoint covers the batch");
        assert_eq!(
            checkpoint.root,
            log.root_at(&acct, checkpoint.size).await.unwrap(),
            "the signed root is the log's tree of that size"
        );
        // Nothing of the other account.
        assert!(records.iter().all(|r| !r.to_string().contains(&other)));
    }
    // The cursor is stored once the run gives its lease up, a moment after the last batch.
    let stored = streams
        .settled(&acct, |s| s.state.delivered_through == Some(250))
        .await;
    assert_eq!(stored.state.failing, None);
}

#[tokio::test]
async fn a_receiver_failing_for_a_while_then_recovering_gets_everything_in_order() {
    let app = delivering_app().await;
    let streams = streams(&app);
    let name = account();
    let acct = AccountId::parse(&name).unwrap();
    let secret = SigningSecret::generate().unwrap();
    let receiver = receiver(secret.clone(), &[500, 503, 500]).await;
    ingest(&app, &name, 150).await;
    streams.create(&acct, &receiver.url, &secret).await;

    let indices = receiver.wait_for(151).await;
    let mut deduplicated = indices.clone();
    deduplicated.dedup();
    assert_eq!(deduplicated, (0..151).collect::<Vec<_>>());
    assert_eq!(receiver.state.lock().unwrap().refused, 3);
    let stored = streams
        .settled(&acct, |s| s.state.delivered_through == Some(150))
        .await;
    assert_eq!(stored.state.failing, None, "recovered");
}

#[tokio::test]
async fn a_refusal_stops_the_stream_until_a_replay_from_an_index() {
    let app = delivering_app().await;
    let streams = streams(&app);
    let name = account();
    let acct = AccountId::parse(&name).unwrap();
    let secret = SigningSecret::generate().unwrap();
    let receiver = receiver(secret.clone(), &[400]).await;
    ingest(&app, &name, 40).await;
    let id = streams.create(&acct, &receiver.url, &secret).await;

    // Stopped: failing with no retry, nothing delivered, and new entries do not restart it.
    let mut stopped = None;
    for _ in 0..300 {
        let stream = streams.store.get(&acct, &id).await.unwrap().unwrap();
        if stream
            .state
            .failing
            .as_ref()
            .is_some_and(|f| f.is_stopped())
        {
            stopped = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped = stopped.expect("the 400 stops the stream");
    assert_eq!(stopped.state.delivered_through, None);
    assert!(stopped.state.failing.unwrap().last_error.contains("400"));
    ingest(&app, &name, 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.indices().is_empty());

    // A replay from index 10 delivers 10.. and nothing before it.
    let replay = NewEvent::internal(
        acct.clone(),
        EventType::SecurityLogsStreamReplayed,
        Actor {
            id: "u_1".into(),
            name: None,
            email: None,
        },
        None,
        serde_json::json!({"stream_id": id.as_str(), "from_index": 10}).into(),
        Timestamp::now(),
    );
    assert!(
        streams
            .store
            .replay(&acct, &id, 10, &replay, Timestamp::now())
            .await
            .unwrap()
    );
    streams.run_now(&acct, &id).await;
    // 40 + 1 (created) + 5 + 1 (replayed) entries.
    for _ in 0..300 {
        if receiver.indices().contains(&46) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut indices = receiver.indices();
    indices.dedup();
    assert_eq!(indices, (10..47).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_dead_stream_does_not_hold_up_another_stream_of_the_account() {
    let app = delivering_app().await;
    let streams = streams(&app);
    let name = account();
    let acct = AccountId::parse(&name).unwrap();
    let secret = SigningSecret::generate().unwrap();
    // A port nothing listens on: every connection is refused, and retried.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let live = receiver(secret.clone(), &[]).await;
    ingest(&app, &name, 60).await;
    let dead_id = streams.create(&acct, &dead, &secret).await;
    streams.create(&acct, &live.url, &secret).await;

    live.wait_for(62).await;
    let mut dead_stream = streams.store.get(&acct, &dead_id).await.unwrap().unwrap();
    for _ in 0..100 {
        if dead_stream.state.failing.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        dead_stream = streams.store.get(&acct, &dead_id).await.unwrap().unwrap();
    }
    let failing = dead_stream
        .state
        .failing
        .expect("the dead stream is failing");
    assert!(failing.retry_at.is_some(), "and retried: {failing:?}");
    assert_eq!(dead_stream.state.delivered_through, None);
}

/// Keeps what it is sent, acknowledges everything: the storage side of a run alone.
#[derive(Default)]
struct Acknowledging(Mutex<Vec<u64>>);

impl Destination<SealedTarget> for Acknowledging {
    async fn send(
        &self,
        _stream: &LeasedStream<SealedTarget>,
        batch: &Batch<'_>,
    ) -> Result<(), SendError> {
        self.0
            .lock()
            .unwrap()
            .extend(batch.first_index..=batch.last_index);
        Ok(())
    }
}

/// The lease's note on the streams table: a run that finds the lease taken asks its holder to
/// read again, and the holder's release at the tip keeps the lease once to serve it.
#[tokio::test]
async fn a_run_finding_the_lease_taken_leaves_a_note_its_holder_serves() {
    let app = spawn_app().await;
    let streams = streams(&app);
    let acct = AccountId::parse(&account()).unwrap();
    let secret = SigningSecret::generate().unwrap();
    let id = streams
        .create(&acct, "http://127.0.0.1:9/unused", &secret)
        .await;
    let store = &streams.store;
    let (now, until) = (
        Timestamp::now(),
        Timestamp::now() + jiff::SignedDuration::from_secs(120),
    );
    let Lease::Held(holder) = store.lease(&acct, &id, now, until).await.unwrap() else {
        panic!("a new stream's lease is free");
    };
    assert!(matches!(
        store.lease(&acct, &id, now, until).await.unwrap(),
        Lease::Busy
    ));
    assert!(store.ask_to_read_again(&acct, &id, now).await.unwrap());
    let state = holder.state.clone();
    assert_eq!(
        store
            .release(&holder, &state, Release::UnlessAsked)
            .await
            .unwrap(),
        Released::AskedToReadAgain
    );
    assert!(
        matches!(
            store.lease(&acct, &id, now, until).await.unwrap(),
            Lease::Busy
        ),
        "the holder keeps the lease to read again"
    );
    assert_eq!(
        store
            .release(&holder, &state, Release::UnlessAsked)
            .await
            .unwrap(),
        Released::Released,
        "the note was served"
    );
    assert!(
        !store.ask_to_read_again(&acct, &id, now).await.unwrap(),
        "no run holds the lease: the asker takes it"
    );
    let Lease::Held(next) = store.lease(&acct, &id, now, until).await.unwrap() else {
        panic!("the lease was given up");
    };
    assert!(store.ask_to_read_again(&acct, &id, now).await.unwrap());
    assert_eq!(
        store.release(&next, &state, Release::Anyway).await.unwrap(),
        Released::Released
    );
    assert_eq!(
        store.release(&next, &state, Release::Anyway).await.unwrap(),
        Released::Lost,
        "a released lease is not held"
    );
    let Lease::Held(last) = store.lease(&acct, &id, now, until).await.unwrap() else {
        panic!("the lease was given up");
    };
    assert_eq!(
        store
            .release(&last, &state, Release::UnlessAsked)
            .await
            .unwrap(),
        Released::Released,
        "a new lease starts without the old note"
    );
}

#[tokio::test]
async fn catching_up_costs_at_most_2_storage_round_trips_per_100_records() {
    let app = spawn_app().await;
    let streams = streams(&app);
    let name = account();
    let acct = AccountId::parse(&name).unwrap();
    let events: Vec<Value> = (0..1000)
        .map(|i| event(&name, "api_key.viewed", i))
        .collect();
    for chunk in events.chunks(100) {
        app.ingest(chunk.to_vec()).await;
    }
    let secret = SigningSecret::generate().unwrap();
    let id = streams
        .create(&acct, "http://127.0.0.1:9/unused", &secret)
        .await;
    let (client, round_trips) = counting_client(&app);
    let log = LogStore::new(client.clone(), &app.tables.log, &app.tables.events);
    for _ in 0..600 {
        if log.read_edge(&acct).await.unwrap().size() == 1001 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reader = StreamLogReader {
        events: EventStore::new(client.clone(), &app.tables.events, 3650),
        log,
        keys: Arc::new(LogKeys::local(LocalSigner::from_seed(&TEST_LOG_SEED))),
    };
    let store = StreamStore::new(
        client.clone(),
        &app.streams.table,
        EventStore::new(client, &app.tables.events, 3650),
    );
    let destination = Acknowledging::default();
    round_trips.store(0, Ordering::SeqCst);
    let ran = DeliveryRun {
        streams: &store,
        log: &reader,
        destination: &destination,
        render,
        acknowledged: &|_, _| {},
    }
    .run(
        &acct,
        &id,
        Timestamp::now,
        Timestamp::now() + jiff::SignedDuration::from_secs(600),
        || 0,
    )
    .await
    .unwrap();
    assert_eq!(ran, Ran::CaughtUp { delivered: 1001 });
    assert_eq!(
        *destination.0.lock().unwrap(),
        (0..1001).collect::<Vec<_>>()
    );
    let round_trips = round_trips.load(Ordering::SeqCst);
    eprintln!("delivering 1001 records took {round_trips} DynamoDB round trips");
    assert!(
        round_trips <= 20,
        "{round_trips} round trips for 1001 records"
    );
}

#[tokio::test]
async fn an_s3_stream_writes_gzipped_ndjson_objects_through_the_merchants_role() {
    let app = delivering_app().await;
    let streams = streams(&app);
    let name = account();
    let acct = AccountId::parse(&name).unwrap();
    // The merchant's bucket, on the local stack's S3 (moto, like its STS).
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&app.aws)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!(
        "merchant-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    ingest(&app, &name, 150).await;
    let target = StreamTarget::S3 {
        bucket: bucket.clone(),
        prefix: "security-logs/".into(),
        role_arn: "arn:aws:iam::123456789012:role/merchant-logs".into(),
        region: "us-east-1".into(),
        external_id: "ext_test".into(),
    };
    let secrets = StreamSecrets {
        signing_secret: None,
        auth_header_value: None,
    };
    let id = streams.create_target(&acct, target, secrets).await;

    let mut indices = Vec::new();
    for _ in 0..300 {
        let listed = s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix("security-logs/")
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        indices.clear();
        for key in &keys {
            assert!(
                key.ends_with(".ndjson.gz") && key.contains(id.as_str()),
                "{key}"
            );
            let object = s3
                .get_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            let checkpoint = object
                .metadata()
                .and_then(|m| m.get("security-logs-checkpoint"))
                .cloned();
            assert!(checkpoint.is_some(), "the object carries its checkpoint");
            let gz = object.body.collect().await.unwrap().into_bytes();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
                .unwrap();
            for line in text.lines() {
                let record: Value = serde_json::from_str(line).unwrap();
                assert!(record["type"].as_str().is_some());
                indices.push(record["log_index"].as_u64().unwrap());
            }
        }
        if indices.len() >= 151 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    indices.sort();
    indices.dedup();
    assert_eq!(indices, (0..151).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_sample_events_run_through_the_fanout_and_delivery_handlers() {
    let app = spawn_app().await;
    let streams = streams(&app);
    let demo = AccountId::parse("acct_demo").unwrap();
    let secret = SigningSecret::generate().unwrap();
    streams
        .create(&demo, "http://127.0.0.1:9/unused", &secret)
        .await;

    let fanout: StreamEvent = serde_json::from_str(&integration_tests::repository_file(
        "events/stream-fanout.json",
    ))
    .expect("a DynamoDB stream event");
    let answer = app
        .app
        .stream_fanout()
        .handle(LambdaEvent::new(fanout, lambda_runtime::Context::default()))
        .await
        .unwrap();
    assert_eq!(answer["queued"], 1, "acct_demo's one stream");

    // A run of a stream that does not exist (the sample's): done, nothing failed.
    let delivery: SqsEvent = serde_json::from_str(&integration_tests::repository_file(
        "events/stream-delivery.json",
    ))
    .expect("an SQS event");
    let answer = app
        .app
        .stream_delivery()
        .handle(LambdaEvent::new(
            delivery,
            lambda_runtime::Context::default(),
        ))
        .await
        .unwrap();
    assert!(answer.batch_item_failures.is_empty());
}
