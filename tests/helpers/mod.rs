//! Test harness: one local stack (moto) per test binary, fresh tables per test, and the dev
//! server's router on a free loopback port, reached over real HTTP.

pub mod browser;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dev_server::streams::StreamTrigger;
use dev_server::{App, LocalS3, LocalStack, Tables, jwt, router};
use export_worker::{StreamEvent, Worker};
use lambda_runtime::{Context, LambdaEvent};
use reqwest::Response;
use seclog::config::{AccountClaim, LocalLogKey, Settings, Stack};
use seclog::export::worker::WorkerSettings;
use seclog::integrity::keys::KeyHistory;
use seclog::store::s3::exports_bucket::ExportsBucket;
use seclog::store::{aws, dynamodb::schema};
use seclog::streams::address::{LoopbackHttp, Resolve};
use serde_json::{Value, json};
use streams::HostResolver;

static STACK: OnceLock<LocalStack> = OnceLock::new();

/// The shared moto server; it dies with the test process (see `LocalStack`). On a fresh clone
/// it makes the stack's Python environment first, as `make` does.
pub fn stack() -> &'static LocalStack {
    STACK.get_or_init(|| LocalStack::start(0).expect("local stack starts (run `make venv` first)"))
}

pub const BUCKET: &str = "exports";

/// A file of the repository (`path` from its root), as text: the documents, samples and
/// templates the tests hold the code to.
pub fn repository_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The tests' checkpoint key (never a real one).
pub const TEST_LOG_SEED: [u8; 32] = [9; 32];

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub aws: aws_config::SdkConfig,
    pub tables: Tables,
    /// The streams table, the queue of delivery runs and the secrets key.
    pub streams: dev_server::stream_resources::StreamResources,
    /// The ingest queue and its dead-letter queue.
    pub ingest_queue: dev_server::ingest_resources::IngestQueueResources,
    pub s3: LocalS3,
    pub bucket: ExportsBucket,
    pub worker: Arc<Worker>,
    /// Every handler, to call one in process (the demo data is recorded through it).
    pub app: Arc<App>,
    _s3_dir: tempfile::TempDir,
}

pub struct Options {
    pub claim: &'static str,
    pub worker: WorkerSettings,
    /// Each worker invocation's time budget (the Lambda timeout).
    pub worker_timeout: Duration,
    /// Whether the stream trigger runs (off to drive the worker by hand).
    pub trigger: bool,
    /// Whether the events stream feeds the sequencer (off to drive it by hand).
    pub sequencer: bool,
    /// Whether streams are delivered (the log table's stream into the fan-out, the queue of runs
    /// into the delivery function); off unless a test needs it.
    pub stream_delivery: bool,
    /// Whether the ingest queue is consumed (off unless a test needs it).
    pub ingest_queue: bool,
    /// Points the exports bucket at a closed port, as an unreachable S3.
    pub broken_s3: bool,
    pub link_ttl: Duration,
    /// The signing keys published besides the current one (`LOG_KEY_FROM`, `LOG_RETIRED_KEYS`).
    pub key_history: KeyHistory,
    /// The events' retention (an export reaches back this many days less one).
    pub retention_days: i64,
    /// How old a checkpoint gets before an append signs anew: zero (every append) unless a
    /// test drives the pending set's sweep itself.
    pub checkpoint_every: Duration,
    /// Whether webhook streams may target loopback (`STREAMS_ALLOW_LOOPBACK_HTTP`): on, as in
    /// `make dev`, so a test's receiver can be `http://127.0.0.1:<port>/`; off as in the stack.
    pub streams_loopback: LoopbackHttp,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            claim: AccountClaim::DEFAULT,
            worker: WorkerSettings::default(),
            worker_timeout: Duration::from_secs(900),
            trigger: true,
            sequencer: true,
            stream_delivery: false,
            ingest_queue: false,
            broken_s3: false,
            link_ttl: Duration::from_secs(900),
            key_history: KeyHistory::default(),
            retention_days: dev_server::LOCAL_RETENTION_DAYS,
            checkpoint_every: Duration::ZERO,
            streams_loopback: LoopbackHttp::Allowed,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    // `TEST_LOG=1 cargo test ...` shows the functions' logs (`RUST_LOG` filters them).
    if std::env::var_os("TEST_LOG").is_some() {
        seclog::telemetry::init_pretty();
    }
    let aws = aws::local(&stack().dynamodb_endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let suffix = ulid::Ulid::generate();
    let tables = Tables {
        events: format!("events-{suffix}"),
        exports: format!("exports-{suffix}"),
        log: format!("log-{suffix}"),
    };
    schema::create_events_table(&dynamodb, &tables.events, true)
        .await
        .expect("events table");
    schema::create_log_table(&dynamodb, &tables.log)
        .await
        .expect("log table");
    schema::create_streamed_table(&dynamodb, &tables.exports)
        .await
        .expect("exports table");

    // The cursor key comes from the local Secrets Manager, as in the cloud.
    let cursor_secret =
        dev_server::secrets::create_cursor_secret(&aws, &format!("cursor-{suffix}"))
            .await
            .expect("cursor secret");

    let s3_dir = tempfile::tempdir().expect("temp dir");
    let s3 = LocalS3::start(s3_dir.path(), 0).await.expect("local S3");
    s3.create_bucket(BUCKET).expect("bucket");
    let s3_endpoint = if options.broken_s3 {
        format!(
            "http://127.0.0.1:{}",
            dev_server::stack::free_port().expect("port")
        )
    } else {
        s3.endpoint.clone()
    };
    let s3_config = aws::local(&s3_endpoint).await;
    let bucket = ExportsBucket::from_config(&s3_config, BUCKET);
    let streams = dev_server::stream_resources::create(
        &aws,
        &format!("streams-{suffix}"),
        &format!("stream-runs-{suffix}"),
    )
    .await
    .expect("streams resources");
    let ingest_queue = dev_server::ingest_resources::create(&aws, &format!("ingest-{suffix}"))
        .await
        .expect("ingest queue");
    let mut settings = Settings::default()
        .with_resources(&tables.events, &tables.exports, BUCKET, &cursor_secret)
        .with_log_table(&tables.log)
        .with_streams(&streams.table, &streams.queue_url, &streams.secrets_key_id)
        .with_ingest_dead_letters(&ingest_queue.dead_letters_url);
    settings.claim = AccountClaim::new(options.claim);
    settings.link_ttl = options.link_ttl;
    settings.worker = options.worker;
    settings.key_history = options.key_history;
    settings.retention_days = options.retention_days;
    settings.checkpoint_every = options.checkpoint_every;
    settings.streams_loopback = options.streams_loopback;
    let stack = Stack {
        aws: aws.clone(),
        s3: s3_config,
        settings,
        local_log_key: Some(LocalLogKey(TEST_LOG_SEED)),
    };
    let app = Arc::new(
        App::new(&stack)
            .and_then(|app| app.with_stream_resolver(&stack, HostResolver::new(TestResolver)))
            .expect("every function builds"),
    );
    let worker = app.worker();
    if options.trigger {
        let trigger = StreamTrigger {
            streams: aws_sdk_dynamodbstreams::Client::new(&aws),
            dynamodb: dynamodb.clone(),
            table: tables.exports.clone(),
            consumer: app.worker(),
            timeout: options.worker_timeout,
        };
        tokio::spawn(trigger.run());
    }
    if options.sequencer {
        let sequencing = StreamTrigger {
            streams: aws_sdk_dynamodbstreams::Client::new(&aws),
            dynamodb: dynamodb.clone(),
            table: tables.events.clone(),
            consumer: app.sequencer(),
            timeout: Duration::from_secs(60),
        };
        tokio::spawn(sequencing.run());
    }
    if options.stream_delivery {
        dev_server::queue::spawn_stream_delivery(&app, &aws, &tables.log, &streams.queue_url);
    }
    if options.ingest_queue {
        dev_server::queue::spawn_ingest_queue(&app, &aws, &ingest_queue.queue_url);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = app.clone();
    tokio::spawn(async move {
        axum::serve(listener, router(served)).await.expect("serve");
    });
    TestApp {
        base,
        http: reqwest::Client::new(),
        dynamodb,
        aws,
        tables,
        streams,
        ingest_queue,
        s3,
        bucket,
        worker,
        app,
        _s3_dir: s3_dir,
    }
}

/// The names the tests' webhook hosts resolve to, so no test sends a DNS query: one name that
/// leads inside the network (refused at creation), every other name unknown.
pub struct TestResolver;

/// A name the test resolver answers with a private address.
pub const PRIVATE_NAME: &str = "siem.internal.test";

impl Resolve for TestResolver {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl std::future::Future<Output = std::io::Result<Vec<std::net::SocketAddr>>> + Send {
        let answer = if host == PRIVATE_NAME {
            Ok(vec![std::net::SocketAddr::from(([10, 0, 0, 7], port))])
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the tests resolve no other name",
            ))
        };
        std::future::ready(answer)
    }
}

/// A dashboard token for `account` (claims as API Gateway's JWT authorizer passes them).
pub fn token(account: &str) -> String {
    jwt::unsigned_token(&json!({"account_id": account, "sub": "u_1"}))
}

pub use dev_server::sigv4::Signer;

impl TestApp {
    pub fn events_url(&self) -> String {
        format!("{}/v1/events", self.base)
    }

    /// `POST /v1/events` with a JSON `body`, signed by `signer` (its content-type signed too),
    /// ready to send. Every ingest request of the tests is built here.
    pub fn ingest_request(&self, body: Vec<u8>, signer: &Signer) -> reqwest::RequestBuilder {
        let url = self.events_url();
        let content_type = ("content-type", "application/json");
        let mut request = self.http.post(&url).header(content_type.0, content_type.1);
        for (name, value) in signer.sign("POST", &url, &[content_type], &body) {
            request = request.header(name, value);
        }
        request.body(body)
    }

    pub async fn post_events(&self, body: &Value) -> Response {
        self.post_raw(body.to_string().into_bytes()).await
    }

    /// Signed with the local credentials, as a service posts.
    pub async fn post_raw(&self, body: Vec<u8>) -> Response {
        self.ingest_request(body, &Signer::local())
            .send()
            .await
            .expect("request")
    }

    /// Ingests and asserts success; returns the ids in request order.
    pub async fn ingest(&self, events: Vec<Value>) -> Vec<String> {
        let response = self.post_events(&json!({ "events": events })).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "{body}");
        body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// Every item of the events table as stored (one Scan page: tests hold few items), to
    /// prove what is, and is not, written.
    pub async fn raw_items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.dynamodb
            .scan()
            .table_name(&self.tables.events)
            .send()
            .await
            .expect("scan")
            .items
            .unwrap_or_default()
    }

    pub async fn list(&self, account: &str, query: &str) -> (u16, Value) {
        self.get_with_token(&format!("/v1/logs?{query}"), Some(&token(account)))
            .await
    }

    pub async fn post_with_token(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// Requests an export and returns its id (asserting 202 and `Location`).
    pub async fn request_export(&self, account: &str, filters: &Value) -> String {
        let response = self
            .post_with_token("/v1/exports", filters, Some(&token(account)))
            .await;
        assert_eq!(response.status(), 202);
        let location = response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            location,
            format!("/v1/exports/{}", body["id"].as_str().expect("id"))
        );
        body["id"].as_str().expect("id").to_owned()
    }

    /// Polls an export until it is finished (bounded), returning the final export object.
    pub async fn wait_for_export(&self, account: &str, id: &str) -> Value {
        for _ in 0..1200 {
            let (status, export) = self
                .get_with_token(&format!("/v1/exports/{id}"), Some(&token(account)))
                .await;
            assert_eq!(status, 200, "{export}");
            if export["status"] == "succeeded" || export["status"] == "failed" {
                return export;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("export {id} did not finish");
    }

    /// A dashboard route's status and body as text (`text/plain` answers, JSON kept verbatim).
    pub async fn get_text(&self, account: &str, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token(account))
            .send()
            .await
            .expect("request");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// The file behind a presigned link of an export object (`download_url`, `evidence_url`).
    pub async fn fetch(&self, link: &Value) -> String {
        let url = link.as_str().expect("a link");
        let response = self.http.get(url).send().await.expect("request");
        assert_eq!(response.status(), 200, "{url}");
        response.text().await.expect("body")
    }

    pub async fn get_with_token(&self, path_and_query: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Every entry of every page, following `next_cursor`; also checks no page is empty
    /// while a cursor pointed at it.
    pub async fn list_all(&self, account: &str, query: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let q = match &cursor {
                Some(c) => format!("{query}&cursor={c}"),
                None => query.to_owned(),
            };
            let (status, body) = self.list(account, &q).await;
            assert_eq!(status, 200, "{body}");
            entries.extend(body["data"].as_array().expect("data").iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return entries,
            }
        }
        panic!("pagination did not end");
    }
}

/// `event` with its producer's `event_id` (what makes a re-send a duplicate).
pub fn with_event_id(mut event: Value, event_id: &str) -> Value {
    event["event_id"] = json!(event_id);
    event
}

/// A valid event for `account`, `minutes` after 2024-04-22T06:00:00Z.
pub fn event(account: &str, event_type: &str, minutes: i64) -> Value {
    let at = jiff::Timestamp::from_second(1_713_765_600 + minutes * 60).expect("time");
    json!({
        "account_id": account,
        "type": event_type,
        "occurred_at": at.to_string(),
        "actor": {"id": "u_1", "name": "Alice Merchant", "email": "alice@example.com"},
        "ip": "203.0.113.45",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
        "details": {}
    })
}

/// A unique account id per test, so tests never see each other's data.
pub fn account() -> String {
    format!("acct_{}", ulid::Ulid::generate())
}

/// The app's export worker handler, to invoke it as Lambda would.
pub fn worker(app: &TestApp) -> Arc<Worker> {
    app.worker.clone()
}

/// `events/export-stream-insert.json` (a real DynamoDB stream event) for this job, with a
/// 15-minute deadline.
pub fn stream_event(account: &str, export_id: &str) -> LambdaEvent<StreamEvent> {
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/export-stream-insert.json"
    ))
    .expect("sample stream event");
    let mut event: Value = serde_json::from_str(&sample).expect("json");
    let change = &mut event["Records"][0]["dynamodb"];
    for image in ["Keys", "NewImage"] {
        change[image]["pk"] = json!({"S": account});
        change[image]["sk"] = json!({"S": export_id});
    }
    let payload: StreamEvent = serde_json::from_value(event).expect("a Lambda DynamoDB event");
    let mut context = Context::default();
    context.deadline = (jiff::Timestamp::now().as_millisecond() + 900_000) as u64;
    LambdaEvent::new(payload, context)
}

/// Counts the requests a DynamoDB client sends (each is one storage round trip).
#[derive(Debug, Clone)]
struct RequestCounter(Arc<std::sync::atomic::AtomicUsize>);

impl aws_sdk_dynamodb::config::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// The app's events table through a client that counts its requests.
pub fn counting_store(
    app: &TestApp,
) -> (
    seclog::store::dynamodb::events::EventStore,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let (client, count) = counting_client(app);
    let store = seclog::store::dynamodb::events::EventStore::new(client, &app.tables.events, 365);
    (store, count)
}

/// A DynamoDB client of the local stack that counts the requests it sends (round trips).
pub fn counting_client(
    app: &TestApp,
) -> (
    aws_sdk_dynamodb::Client,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let config = aws_sdk_dynamodb::config::Builder::from(&app.aws)
        .interceptor(RequestCounter(count.clone()))
        .build();
    (aws_sdk_dynamodb::Client::from_conf(config), count)
}
