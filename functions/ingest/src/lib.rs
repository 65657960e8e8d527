//! `POST /v1/events`: internal services record security events (AWS IAM auth in the cloud).

mod metrics;

use jiff::Timestamp;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use seclog::config::{ConfigError, Stack};
use seclog::domain::query::parse_no_params;
use seclog::domain::{IngestBatch, IngestContext, Producer};
use seclog::http::{Endpoint, json, query_params};
use seclog::ingest::Recorder;
use seclog::ingest::ports::RecordError;
use seclog::store::dynamodb::events::EventStore;
use seclog::{ApiError, FieldError};
use serde_json::json;

pub struct Ingest {
    recorder: Recorder<EventStore>,
}

impl Ingest {
    pub fn new(store: EventStore) -> Self {
        Self {
            recorder: Recorder::new(store),
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
        let recorded = match self.recorder.record(&mut batch.events, now).await {
            Ok(recorded) => recorded,
            Err(RecordError::Conflict(conflicts)) => {
                return Err(ApiError::Conflict(
                    conflicts
                        .iter()
                        .map(|c| {
                            FieldError::new(
                                batch.field_path(c.index, "event_id"),
                                format!("{}; nothing of this request was stored", c.message()),
                            )
                        })
                        .collect(),
                ));
            }
            Err(RecordError::Store(err)) => return Err(err.into()),
        };
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
