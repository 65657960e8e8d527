use export_worker::{StreamEvent, Worker};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use seclog::config::Stack;

/// One export at a time per sandbox: a single-threaded runtime and a flat allocator.
fn main() -> Result<(), Error> {
    seclog::export::memory::keep_large_buffers_off_the_heap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            seclog::telemetry::init_json();
            let worker = Worker::build(&Stack::from_env().await?)?;
            let worker = &worker;
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<StreamEvent>| async move {
                    let outcomes = worker.handle(event).await?;
                    Ok::<_, Error>(
                        outcomes
                            .iter()
                            .map(|o| format!("{o:?}"))
                            .collect::<Vec<_>>(),
                    )
                },
            ))
            .await
        })
}
