//! `POST /v1/exports`: a merchant asks for a CSV of its logs. The job write (with its audit
//! entry, in one transaction) is all this does; the job's stream record starts the worker.

use jiff::Timestamp;
use lambda_http::{Body, Request, Response};
use seclog::ApiError;
use seclog::config::{ConfigError, Stack};
use seclog::domain::export::{ExportFilters, ExportJob};
use seclog::domain::query::parse_no_params;
use seclog::domain::{EventType, NewEvent};
use seclog::http::{AccountClaim, Endpoint, json_with_location, query_params};
use seclog::store::events::EventStore;
use seclog::store::exports::ExportStore;
use serde_json::json;

pub struct CreateExport {
    jobs: ExportStore,
    events: EventStore,
    claim: AccountClaim,
    /// Exports `pending` or `running` per account at most.
    max_in_flight: usize,
}

/// What a caller over the limit is told to wait: about one small export's run.
const RETRY_AFTER_SECONDS: u64 = 30;

impl CreateExport {
    pub fn new(
        jobs: ExportStore,
        events: EventStore,
        claim: AccountClaim,
        max_in_flight: usize,
    ) -> Self {
        Self {
            jobs,
            events,
            claim,
            max_in_flight,
        }
    }

    /// The composition root of the create-export function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self::new(
            stack.export_store()?,
            stack.event_store()?,
            stack.settings.claim.clone(),
            stack.settings.max_exports_in_flight,
        ))
    }
}

impl Endpoint for CreateExport {
    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let (account, requester) = self.claim.caller(&request)?;
        parse_no_params(query_params(&request))?;
        let filters = ExportFilters::parse(request.body().as_ref())?;
        let now = Timestamp::now();
        let mut job = ExportJob::new(filters, requester.id.clone(), now);
        let details = json!({"export_id": job.id, "format": "csv", "filters": job.filters.view()});
        let audit = NewEvent::internal(
            account.clone(),
            EventType::SecurityLogsExported,
            requester,
            None,
            details.into(),
            now,
        );
        // The export covers the log up to its own request's entry (the worker waits for it).
        job.audit_key = Some(audit.entry.sort_key());
        let created = self
            .jobs
            .create(
                &account,
                &job,
                &audit,
                &self.events,
                self.max_in_flight,
                now,
            )
            .await?;
        if !created {
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "this account already has {} exports pending or running; retry when one has finished",
                    self.max_in_flight
                ),
                retry_after: RETRY_AFTER_SECONDS,
            });
        }
        tracing::info!(export = job.id.as_str(), "export requested");
        let location = format!("/v1/exports/{}", job.id.as_str());
        Ok(json_with_location(
            202,
            &location,
            &job.view(None, None, now),
        ))
    }
}
