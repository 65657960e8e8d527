//! One invocation of the export worker, in its own process (see `dev_server::worker_process`):
//! the stream event and deadline as JSON on stdin; exit 0 when the handler returned, 1 when it
//! failed (the dev server's trigger then retries the record, as Lambda does).

use std::io::Read;
use std::process::ExitCode;

use dev_server::worker_process::{Invocation, stack_from_env};
use export_worker::Worker;
use lambda_runtime::{Context, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    seclog::telemetry::init_pretty();
    let mut input = Vec::new();
    let invocation: Invocation = match std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice(&input).map_err(|e| e.to_string()))
    {
        Ok(invocation) => invocation,
        Err(error) => {
            tracing::error!(%error, "no invocation on stdin");
            return ExitCode::FAILURE;
        }
    };
    let worker = match stack_from_env()
        .await
        .and_then(|stack| Worker::build(&stack).map_err(|e| e.to_string()))
    {
        Ok(worker) => worker,
        Err(error) => {
            tracing::error!(%error, "the export worker could not be built");
            return ExitCode::FAILURE;
        }
    };
    let mut context = Context::default();
    context.request_id = ulid::Ulid::generate().to_string();
    context.deadline = invocation.deadline;
    match worker
        .handle(LambdaEvent::new(invocation.event, context))
        .await
    {
        Ok(outcomes) => {
            tracing::info!(?outcomes, "export worker invoked");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "export worker failed");
            ExitCode::FAILURE
        }
    }
}
