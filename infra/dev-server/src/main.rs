//! `make dev`: the local stack and every function behind one loopback endpoint.
//!
//! Environment: `PORT` (3000), `MOTO_PORT` (free), `S3_PORT` (free), `S3_DIR` (.local/s3),
//! `DEMO_DATA` (`0` records no demo events), `WEB_DIR` (the page's files, `web/`), and
//! the functions' own settings (`seclog::config::vars`: `ACCOUNT_CLAIM`, `RETENTION_DAYS`,
//! `LOG_KEY_FROM`, `LOG_RETIRED_KEYS`, ...).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dev_server::streams::StreamTrigger;
use dev_server::worker_process::{self, WorkerProcess};
use dev_server::{App, LocalS3, LocalStack, Tables, router};
use seclog::config::{Settings, Stack, vars};
use seclog::store::{aws, dynamodb::schema};

const BUCKET: &str = "security-logs-exports";
const CURSOR_SECRET: &str = "security-logs-cursor-key";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    seclog::telemetry::init_pretty();
    let port = env_port("PORT", 3000);

    // Bind first: a busy port should fail before anything is started.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let moto = LocalStack::start(env_port("MOTO_PORT", 0))?;
    tracing::info!(endpoint = %moto.dynamodb_endpoint, "local DynamoDB (moto) started");
    let s3_dir = std::env::var("S3_DIR").unwrap_or_else(|_| ".local/s3".into());
    let s3 = LocalS3::start(&s3_dir, env_port("S3_PORT", 0)).await?;
    s3.create_bucket(BUCKET)?;
    tracing::info!(endpoint = %s3.endpoint, dir = %s3_dir, "local S3 (s3s-fs) started");

    let dynamodb_config = aws::local(&moto.dynamodb_endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&dynamodb_config);
    let tables = Tables {
        events: "security-logs-events".into(),
        exports: "security-logs-exports".into(),
        log: "security-logs-log".into(),
    };
    schema::create_events_table(&dynamodb, &tables.events, true).await?;
    schema::create_streamed_table(&dynamodb, &tables.exports).await?;
    schema::create_log_table(&dynamodb, &tables.log).await?;

    // The checkpoint key: generated on first start, kept under the local state directory.
    let key_file =
        std::env::var("LOG_KEY_FILE").unwrap_or_else(|_| ".local/log-signing-key".into());
    let log_key = dev_server::log_key::load_or_create(std::path::Path::new(&key_file))?;
    tracing::info!(
        file = %key_file,
        verifier_key = %dev_server::log_key::verifier_key_template(&log_key),
        "checkpoint key (an account's verifier key names the account: GET /v1/integrity/key)"
    );
    for account in dev_server::demo::ACCOUNTS {
        let key = dev_server::log_key::verifier_key(&log_key, account)?;
        tracing::info!(account, verifier_key = %key, "verifier key of the walk-through's demo account");
    }

    // A fresh secret per run, in the local Secrets Manager: cursors from an earlier run are
    // refused, as after a key rotation.
    let secret = dev_server::secrets::create_cursor_secret(&dynamodb_config, CURSOR_SECRET).await?;
    // The functions' settings as in the cloud (ACCOUNT_CLAIM, RETENTION_DAYS, ... from the
    // environment), with the local stack's resources.
    let streams = dev_server::stream_resources::create(
        &dynamodb_config,
        "security-logs-streams",
        "security-logs-stream-runs",
    )
    .await?;
    let ingest_queue =
        dev_server::ingest_resources::create(&dynamodb_config, "security-logs-ingest").await?;
    let mut settings = Settings::from_env()?
        .with_resources(&tables.events, &tables.exports, BUCKET, &secret)
        .with_log_table(&tables.log)
        .with_streams(&streams.table, &streams.queue_url, &streams.secrets_key_id)
        .with_ingest_dead_letters(&ingest_queue.dead_letters_url);
    // What `GET /v1/integrity/public-keys` serves without a token: an auditor's trust anchor.
    let published = settings
        .key_history
        .publish(dev_server::log_key::public_key(&log_key))?;
    for key in &published.keys {
        tracing::info!(
            key = %STANDARD.encode(key.key),
            fingerprint = %key.fingerprint(),
            from = %key.from,
            until = %key.until.map_or_else(|| "-".to_owned(), |t| t.to_string()),
            "published signing key (GET /v1/integrity/public-keys, no token)"
        );
    }
    // Local receivers (`http://127.0.0.1:...`) are the point of streams in `make dev`: allowed
    // unless STREAMS_ALLOW_LOOPBACK_HTTP=0. The template never sets it.
    if std::env::var_os(vars::STREAMS_ALLOW_LOOPBACK_HTTP).is_none() {
        settings.streams_loopback = seclog::streams::address::LoopbackHttp::Allowed;
    }
    if std::env::var_os(seclog::config::vars::RETENTION_DAYS).is_none() {
        settings.retention_days = dev_server::LOCAL_RETENTION_DAYS;
    }
    let stack = Stack {
        s3: aws::local(&s3.endpoint).await,
        aws: dynamodb_config.clone(),
        settings,
        local_log_key: Some(log_key),
    };
    let app = Arc::new(App::new(&stack)?);

    let trigger = StreamTrigger {
        streams: aws_sdk_dynamodbstreams::Client::new(&dynamodb_config),
        dynamodb: dynamodb.clone(),
        table: tables.exports.clone(),
        consumer: app.worker(),
        timeout: Duration::from_secs(900),
    };
    // `EXPORT_WORKER=process`: each invocation in a process of its own (`make faults` kills it).
    let trigger = if std::env::var("EXPORT_WORKER").as_deref() == Ok("process") {
        let env = [
            (vars::EVENTS_TABLE, tables.events.clone()),
            (vars::EXPORTS_TABLE, tables.exports.clone()),
            (vars::EXPORTS_BUCKET, BUCKET.to_owned()),
            (vars::CURSOR_KEY_SECRET_ID, secret.clone()),
            (vars::LOG_TABLE, tables.log.clone()),
            (
                worker_process::DYNAMODB_ENDPOINT,
                moto.dynamodb_endpoint.clone(),
            ),
            (worker_process::S3_ENDPOINT, s3.endpoint.clone()),
            (worker_process::LOG_KEY_FILE, key_file.clone()),
        ];
        let env = env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        tracing::info!("the export worker runs in a process per invocation");
        tokio::spawn(trigger.with_consumer(WorkerProcess::new(env)?).run())
    } else {
        tokio::spawn(trigger.run())
    };
    let sequencing = StreamTrigger {
        streams: aws_sdk_dynamodbstreams::Client::new(&dynamodb_config),
        dynamodb,
        table: tables.events,
        consumer: app.sequencer(),
        timeout: Duration::from_secs(60),
    };
    let sequencing = tokio::spawn(sequencing.run());
    dev_server::queue::spawn_stream_delivery(
        &app,
        &dynamodb_config,
        &tables.log,
        &streams.queue_url,
    );
    dev_server::queue::spawn_ingest_queue(&app, &dynamodb_config, &ingest_queue.queue_url);
    tokio::spawn(dev_server::schedule::sweep_every(
        dev_server::schedule::LOCAL_SWEEP_EVERY,
        app.sequencer(),
    ));

    if std::env::var("DEMO_DATA").as_deref() != Ok("0") {
        let recorded = dev_server::demo::seed(&app).await?;
        tracing::info!(
            recorded,
            accounts = ?dev_server::demo::ACCOUNTS,
            "the walk-through's demo events (events/demo/) recorded (DEMO_DATA=0 skips them)"
        );
    }
    tracing::info!(
        "Security Logs page on http://127.0.0.1:{port}/ (pick a demo account, or #token=<JWT>)"
    );
    tracing::info!(
        "security logs API on http://127.0.0.1:{port} (Ctrl-C stops it and the local stack)"
    );
    tracing::info!(
        queue = %ingest_queue.queue_url,
        dead_letters = %ingest_queue.dead_letters_url,
        "ingest queue (one event per message, event_id required; SQS on the local stack, any credentials; docs/producers.md)"
    );
    tracing::info!(
        "watch a stream: POST /v1/streams {{\"kind\": \"webhook\", \"url\": \"http://127.0.0.1:9000/\", \"format\": \"ocsf\"}} \
         with a dashboard token, then STREAM_SECRET=<its secret> cargo run -p stream-receiver -- 9000 \
         prints what arrives, signatures checked (docs/design/streams.md)"
    );
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    trigger.abort();
    sequencing.abort();
    drop(s3);
    drop(moto);
    tracing::info!("stopped");
    Ok(())
}

fn env_port(name: &str, default: u16) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match terminate.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
    }
}
