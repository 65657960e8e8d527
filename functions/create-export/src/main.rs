use std::convert::Infallible;

use create_export::CreateExport;
use lambda_http::{Error, service_fn};
use seclog::http::AccountClaim;
use seclog::store::events::EventStore;
use seclog::store::exports::ExportStore;
use seclog::{config, store, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_json();
    let aws = store::aws::from_env().await;
    let jobs = ExportStore::from_config(
        &aws,
        config::required("EXPORTS_TABLE")?,
        config::export_expiry_days()?,
    );
    let events = EventStore::from_config(
        &aws,
        config::required("EVENTS_TABLE")?,
        config::retention_days()?,
    );
    let create = CreateExport::new(jobs, events, AccountClaim::from_env());
    let create = &create;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(create.handle(request).await)
    }))
    .await
}
