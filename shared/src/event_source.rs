//! Serving an event-source function (a stream or a schedule invokes it, not API Gateway): the
//! same `main` as [`crate::http::serve()`] gives the API functions, for `lambda_runtime`
//! handlers, so every function's `main` is one call and starts the same way.

use std::future::Future;

use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{ConfigError, Stack};

/// An event-source function: an event in, a JSON answer or an error (Lambda retries) out.
pub trait EventFunction: Send + Sync {
    type Event: DeserializeOwned + Send;
    type Answer: Serialize + Send;

    /// Tuning of the process itself, run first, while `main` is still its only thread.
    fn prepare_process() {}

    fn invoke(
        &self,
        event: LambdaEvent<Self::Event>,
    ) -> impl Future<Output = Result<Self::Answer, Error>> + Send;
}

/// A Lambda `main` for an event-source function: JSON logs, the stack read from the
/// environment once, the function built once (outside the handler), then served on one thread
/// (a sandbox handles one event at a time and the handlers wait on I/O).
pub fn serve<F: EventFunction>(
    build: impl FnOnce(&Stack) -> Result<F, ConfigError>,
) -> Result<(), Error> {
    F::prepare_process();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            crate::telemetry::init_json();
            let function = build(&Stack::from_env().await?)?;
            let function = &function;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<F::Event>| async move {
                function.invoke(event).await
            }))
            .await
        })
}
