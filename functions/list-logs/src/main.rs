use std::convert::Infallible;

use lambda_http::{Error, service_fn};
use list_logs::ListLogs;
use seclog::http::AccountClaim;
use seclog::store::cursor_keys::CursorKeys;
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
    let list = ListLogs::new(
        events,
        AccountClaim::from_env(),
        CursorKeys::from_env(&aws)?,
    );
    let list = &list;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(list.handle(request).await)
    }))
    .await
}
