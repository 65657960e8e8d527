//! `make dev`: the local stack and every function behind one loopback endpoint.

use std::sync::Arc;

use dev_server::{App, LocalStack, Tables, router};
use seclog::domain::cursor::CursorKey;
use seclog::http::AccountClaim;
use seclog::store::{aws, schema};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    seclog::telemetry::init_pretty();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let moto_port: u16 = std::env::var("MOTO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);

    // Bind first: a busy port should fail before anything is started.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let stack = LocalStack::start(moto_port)?;
    tracing::info!(endpoint = %stack.dynamodb_endpoint, "local DynamoDB (moto) started");

    let aws = aws::local(&stack.dynamodb_endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let tables = Tables {
        events: "security-logs-events".into(),
    };
    schema::create_events_table(&dynamodb, &tables.events).await?;

    let cursor_key = match std::env::var("CURSOR_SIGNING_KEY") {
        Ok(secret) => CursorKey::new(secret.as_bytes())?,
        Err(_) => CursorKey::new(random_secret().as_bytes())?,
    };
    let claim = AccountClaim::from_env();
    let app = Arc::new(App::new(
        &aws,
        &tables,
        claim,
        cursor_key,
        seclog::config::retention_days()?,
    ));

    tracing::info!(
        "security logs API on http://127.0.0.1:{port} (Ctrl-C stops it and the local stack)"
    );
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(stack);
    tracing::info!("stopped");
    Ok(())
}

/// A per-run cursor key: cursors from an earlier run are refused, as after a key rotation.
fn random_secret() -> String {
    (0..4).map(|_| ulid::Ulid::generate().to_string()).collect()
}
