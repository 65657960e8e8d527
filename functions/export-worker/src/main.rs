use std::time::Duration;

use export_worker::{StreamEvent, Worker};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use seclog::export::worker::{ExportWorker, WorkerSettings};
use seclog::store::events::EventStore;
use seclog::store::exports::ExportStore;
use seclog::store::exports_bucket::ExportsBucket;
use seclog::{config, store, telemetry};

/// One export at a time per sandbox: a single-threaded runtime and a flat allocator.
fn main() -> Result<(), Error> {
    seclog::export::memory::keep_large_buffers_off_the_heap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Error> {
    telemetry::init_json();
    let aws = store::aws::from_env().await;
    let worker = ExportWorker::new(
        ExportStore::from_config(
            &aws,
            config::required("EXPORTS_TABLE")?,
            config::export_expiry_days()?,
        ),
        EventStore::from_config(
            &aws,
            config::required("EVENTS_TABLE")?,
            config::retention_days()?,
        ),
        ExportsBucket::from_config(&aws, config::required("EXPORTS_BUCKET")?),
        WorkerSettings {
            reserve: Duration::from_secs(
                config::number_or("CHECKPOINT_RESERVE_SECONDS", 60)? as u64
            ),
            ..WorkerSettings::default()
        },
    );
    let worker = Worker::new(worker);
    let worker = &worker;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            worker.handle(event).await.map(|outcomes| {
                outcomes
                    .iter()
                    .map(|o| format!("{o:?}"))
                    .collect::<Vec<_>>()
            })
        },
    ))
    .await
}
