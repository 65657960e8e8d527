use std::convert::Infallible;

use ingest::Ingest;
use lambda_http::{Error, service_fn};
use seclog::{config, store, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_json();
    let aws = store::aws::from_env().await;
    let events = store::events::EventStore::from_config(
        &aws,
        config::required("EVENTS_TABLE")?,
        config::retention_days()?,
    );
    let ingest = Ingest::new(events);
    let ingest = &ingest;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(ingest.handle(request).await)
    }))
    .await
}
