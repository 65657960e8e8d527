//! What a function sees: the local stack (moto with the tables, the bucket and the cursor
//! secret the functions use) and the environment Lambda gives a function.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use dev_server::LocalStack;
use dev_server::stream_resources::StreamResources;
use seclog::config::vars;
use seclog::store::{aws, dynamodb::schema};

use crate::options::Options;

pub const EVENTS_TABLE: &str = "coldstart-events";
pub const EXPORTS_TABLE: &str = "coldstart-exports";
pub const EXPORTS_BUCKET: &str = "coldstart-exports";
pub const LOG_TABLE: &str = "coldstart-log";
const CURSOR_SECRET: &str = "coldstart-cursor-key";
const STREAMS_TABLE: &str = "coldstart-streams";
const STREAM_QUEUE: &str = "coldstart-stream-runs";

/// Where the functions run: the local Runtime API, the local AWS endpoint, the cursor secret.
pub struct Stack {
    pub api_address: String,
    pub endpoint: String,
    pub cursor_secret: String,
    /// The streams table, the queue of runs and the secrets key.
    pub streams: StreamResources,
}

/// Starts moto and creates the tables, the bucket, the secret and the streams' resources the
/// functions use; returns moto (stopped when dropped), its endpoint, the secret's id and the
/// streams' resources.
pub fn start(
    runtime: &tokio::runtime::Runtime,
) -> Result<(LocalStack, String, String, StreamResources), String> {
    let stack = LocalStack::start(0).map_err(|e| format!("local stack: {e}"))?;
    let endpoint = stack.dynamodb_endpoint.clone();
    let cursor_secret = runtime.block_on(async {
        let config = aws::local(&endpoint).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        schema::create_events_table(&dynamodb, EVENTS_TABLE, true)
            .await
            .map_err(|e| format!("create {EVENTS_TABLE}: {e}"))?;
        schema::create_streamed_table(&dynamodb, EXPORTS_TABLE)
            .await
            .map_err(|e| format!("create {EXPORTS_TABLE}: {e}"))?;
        schema::create_log_table(&dynamodb, LOG_TABLE)
            .await
            .map_err(|e| format!("create {LOG_TABLE}: {e}"))?;
        let streams = dev_server::stream_resources::create(&config, STREAMS_TABLE, STREAM_QUEUE)
            .await
            .map_err(|e| format!("create the streams' resources: {e}"))?;
        dev_server::secrets::create_cursor_secret(&config, CURSOR_SECRET)
            .await
            .map(|secret| (secret, streams))
            .map_err(|e| format!("create secret {CURSOR_SECRET}: {e}"))
    })?;
    let (cursor_secret, streams) = cursor_secret;
    create_bucket(&endpoint, EXPORTS_BUCKET).map_err(|e| format!("create bucket: {e}"))?;
    Ok((stack, endpoint, cursor_secret, streams))
}

/// moto serves S3 on the same port; an unsigned path-style PUT creates a bucket.
fn create_bucket(endpoint: &str, bucket: &str) -> std::io::Result<()> {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "PUT /{bucket} answered {:?}",
            answer.lines().next().unwrap_or("")
        )))
    }
}

/// The environment Lambda gives a function named `name` (a `provided.al2023` one has
/// `_HANDLER=bootstrap`, a Python one `module.function`), plus the template's variables and
/// `--env`.
pub fn lambda_env(
    options: &Options,
    name: &str,
    handler: &str,
    task_root: &Path,
    stack: &Stack,
) -> Vec<(String, String)> {
    // Reached only to dead-letter a bad message: a name is enough to start.
    let dead_letters = format!("{}/000000000000/ingest-dead-letters", stack.endpoint);
    let mut env: Vec<(String, String)> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("_HANDLER", handler),
        ("AWS_LAMBDA_RUNTIME_API", &stack.api_address),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "coldstart"),
        ("AWS_SECRET_ACCESS_KEY", "coldstart"),
        ("AWS_SESSION_TOKEN", "coldstart"),
        ("AWS_ENDPOINT_URL", &stack.endpoint),
        ("RUST_LOG", "info"),
        // The functions' own settings, by the names `seclog::config` reads.
        (vars::EVENTS_TABLE, EVENTS_TABLE),
        (vars::EXPORTS_TABLE, EXPORTS_TABLE),
        (vars::EXPORTS_BUCKET, EXPORTS_BUCKET),
        (vars::CURSOR_KEY_SECRET_ID, &stack.cursor_secret),
        (vars::ACCOUNT_CLAIM, "account_id"),
        (vars::RETENTION_DAYS, "365"),
        (vars::EXPORT_EXPIRY_DAYS, "7"),
        (vars::DOWNLOAD_URL_TTL_SECONDS, "900"),
        (vars::LOG_TABLE, LOG_TABLE),
        // moto has no Ed25519 KMS keys: functions reach the key on first use only, so start-up
        // is measured as in the cloud; an invocation that signs would fail here.
        (vars::LOG_SIGNING_KEY_ID, "alias/security-logs-coldstart"),
        (vars::STREAMS_TABLE, &stack.streams.table),
        (vars::STREAM_QUEUE_URL, &stack.streams.queue_url),
        (vars::STREAM_SECRETS_KEY_ID, &stack.streams.secrets_key_id),
        (vars::INGEST_DEAD_LETTERS_URL, &dead_letters),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push((
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
        options.memory.to_string(),
    ));
    env.push((
        "AWS_LAMBDA_LOG_GROUP_NAME".into(),
        format!("/aws/lambda/{name}"),
    ));
    env.push(("LAMBDA_TASK_ROOT".into(), task_root.display().to_string()));
    for (key, value) in &options.env {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    env
}
