use std::convert::Infallible;

use get_export::GetExport;
use lambda_http::{Error, service_fn};
use seclog::http::AccountClaim;
use seclog::store::cursor_keys::CursorKeys;
use seclog::store::exports::ExportStore;
use seclog::store::exports_bucket::ExportsBucket;
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
    let bucket = ExportsBucket::from_config(&aws, config::required("EXPORTS_BUCKET")?);
    let get = GetExport::new(
        jobs,
        bucket,
        AccountClaim::from_env(),
        CursorKeys::from_env(&aws)?,
        config::download_url_ttl()?,
    );
    let get = &get;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(get.handle(request).await)
    }))
    .await
}
