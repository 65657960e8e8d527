//! `POST /v1/events`: internal services record security events (AWS IAM auth in the cloud).

mod metrics;

use jiff::Timestamp;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use seclog::config::{ConfigError, Stack};
use seclog::domain::query::parse_no_params;
use seclog::domain::{IngestBatch, IngestContext, Producer};
use seclog::http::{Endpoint, json, query_params};
use seclog::signins::SignIns;
use seclog::store::dynamodb::events::EventStore;
use seclog::store::dynamodb::events::record::RecordError;
use seclog::{ApiError, FieldError};
use serde_json::json;

pub struct Ingest {
    store: EventStore,
    signins: SignIns<EventStore>,
}

impl Ingest {
    pub fn new(store: EventStore) -> Self {
        Self {
            signins: SignIns::new(store.clone()),
            store,
        }
    }

    /// The composition root of the ingest function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self::new(stack.event_store()?))
    }
}

impl Endpoint for Ingest {
    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let now = Timestamp::now();
        let producer = producer(&request)?;
        parse_no_params(query_params(&request))?;
        let context = IngestContext {
            now,
            producer: &producer,
        };
        let mut batch = IngestBatch::parse(request.body().as_ref(), &context)?;
        let count = batch.events.len();
        // Unfamiliar sign-ins are decided before anything is stored, so the flag is stored
        // with the entry.
        let learning = self.signins.flag(&mut batch.events).await?;
        let recorded = match self.store.record(&batch.events, now).await {
            Ok(recorded) => recorded,
            Err(RecordError::Conflict(conflicts)) => {
                return Err(ApiError::Conflict(
                    conflicts
                        .iter()
                        .map(|c| {
                            FieldError::new(
                                batch.field_path(c.index, "event_id"),
                                format!(
                                    "was already used for an event with different content (entry {}); nothing of this request was stored",
                                    c.recorded_id.as_str()
                                ),
                            )
                        })
                        .collect(),
                ));
            }
            Err(RecordError::Store(err)) => return Err(err.into()),
        };
        // The entries are stored: a profile that cannot be updated now is logged, not turned
        // into an error a producer would answer by sending the batch again.
        if let Err(error) = self.signins.learn(learning, &recorded).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "sign-in profiles not updated"
            );
        }
        metrics::emit(&batch.events, &recorded);
        let duplicates = recorded.iter().filter(|r| r.duplicate).count();
        tracing::info!(count, duplicates, "events recorded");
        let events: Vec<_> = recorded
            .iter()
            .map(|r| json!({"id": r.id.as_str(), "duplicate": r.duplicate}))
            .collect();
        Ok(json(201, &json!({ "events": events })))
    }
}

/// The IAM principal API Gateway verified (`requestContext.authorizer.iam.userArn`). Without
/// one the request did not come through IAM auth: nothing is recorded without its producer.
fn producer(request: &Request) -> Result<Producer, ApiError> {
    let arn = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.as_deref()),
        _ => None,
    };
    let arn = arn.ok_or_else(|| {
        ApiError::Forbidden("the request carries no verified IAM principal".into())
    })?;
    Producer::parse(arn)
        .map_err(|e| ApiError::Forbidden(format!("the IAM principal is not usable: {e}")))
}
