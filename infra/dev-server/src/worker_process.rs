//! The export worker in a process of its own, one process per invocation, as Lambda runs it:
//! `make faults` kills it mid-export (`SIGKILL`) to check that the retry takes the job over.
//! `EXPORT_WORKER=process` makes the dev server invoke it instead of the in-process handler.
//!
//! The child gets the function's environment as in the cloud (`EVENTS_TABLE`, ... read by
//! `Settings::from_env`), plus where the local stack listens, and reads one invocation (the
//! stream event and its deadline) as JSON on stdin. Its command line names the export it runs,
//! so a fault injector can pick it out in `/proc`.

use std::path::PathBuf;
use std::process::Stdio;

use export_worker::StreamEvent;
use lambda_runtime::LambdaEvent;
use seclog::config::{LocalLogKey, Settings, Stack};
use seclog::store::aws;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::process::die_with_parent;
use crate::streams::{EXPORT_JOBS, Mapping, StreamConsumer};

/// Where the child finds the local stack.
pub const DYNAMODB_ENDPOINT: &str = "LOCAL_DYNAMODB_ENDPOINT";
pub const S3_ENDPOINT: &str = "LOCAL_S3_ENDPOINT";
pub const LOG_KEY_FILE: &str = "LOG_KEY_FILE";

/// The binary next to the dev server's (`cargo build --bins` builds both).
pub const PROGRAM: &str = "export-worker-process";

/// One invocation, as the child reads it on stdin.
#[derive(Serialize, Deserialize)]
pub struct Invocation {
    pub event: StreamEvent,
    /// Epoch milliseconds, as Lambda's context carries it.
    pub deadline: u64,
}

pub struct WorkerProcess {
    program: PathBuf,
    /// The function's environment and the local stack's endpoints.
    env: Vec<(String, String)>,
}

impl WorkerProcess {
    /// `env`: what the child needs beyond the dev server's own environment (which it inherits).
    pub fn new(env: Vec<(String, String)>) -> std::io::Result<Self> {
        let program = std::env::current_exe()?.with_file_name(PROGRAM);
        if !program.exists() {
            return Err(std::io::Error::other(format!(
                "{} not found: build it with `cargo build -p dev-server --bins`",
                program.display()
            )));
        }
        Ok(Self { program, env })
    }
}

impl StreamConsumer for WorkerProcess {
    const MAPPING: Mapping = EXPORT_JOBS;

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<(), String> {
        let export = event
            .payload
            .records
            .first()
            .and_then(export_worker::export_of)
            .map(|(_, id)| id.as_str().to_owned())
            .unwrap_or_default();
        let input = serde_json::to_vec(&Invocation {
            event: event.payload,
            deadline: event.context.deadline,
        })
        .map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg(&export)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .kill_on_drop(true);
        die_with_parent(command.as_std_mut());
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&input).await.map_err(|e| e.to_string())?;
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        tracing::info!(export, %status, "export worker process ended");
        match status.success() {
            true => Ok(()),
            false => Err(format!("export worker process for {export}: {status}")),
        }
    }
}

/// The child's stack: the function's settings from its environment, the local endpoints, and
/// the local checkpoint key.
pub async fn stack_from_env() -> Result<Stack, String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let key = std::fs::read(var(LOG_KEY_FILE)?).map_err(|e| e.to_string())?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| "the log key is not 32 bytes".to_owned())?;
    Ok(Stack {
        aws: aws::local(&var(DYNAMODB_ENDPOINT)?).await,
        s3: aws::local(&var(S3_ENDPOINT)?).await,
        settings,
        local_log_key: Some(LocalLogKey(key)),
    })
}
