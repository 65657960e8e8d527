//! `POST /v1/events`: internal services record security events (AWS IAM auth in the cloud).

use jiff::Timestamp;
use lambda_http::{Body, Request, Response};
use seclog::ApiError;
use seclog::domain::IngestBatch;
use seclog::http::{json, problem};
use seclog::store::events::EventStore;
use serde_json::json;

pub struct Ingest {
    store: EventStore,
}

impl Ingest {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.run(request)
            .await
            .unwrap_or_else(|error| problem(&error))
    }

    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let now = Timestamp::now();
        let batch = IngestBatch::parse(request.body().as_ref(), now)?;
        let count = batch.events.len();
        let recorded = self.store.record(batch.events, now).await?;
        let duplicates = recorded.iter().filter(|r| r.duplicate).count();
        tracing::info!(count, duplicates, "events recorded");
        let events: Vec<_> = recorded
            .iter()
            .map(|r| json!({"id": r.id.as_str(), "duplicate": r.duplicate}))
            .collect();
        Ok(json(201, &json!({ "events": events })))
    }
}
