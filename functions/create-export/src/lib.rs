//! `POST /v1/exports`: a merchant asks for a CSV of its logs. The job write (with its audit
//! entry, in one transaction) is all this does; the job's stream record starts the worker.

use jiff::Timestamp;
use lambda_http::{Body, Request, Response};
use seclog::ApiError;
use seclog::config::{AccountClaim, ConfigError, Stack};
use seclog::domain::export::{ExportFilters, ExportJob, ExportRequest};
use seclog::domain::query::parse_no_params;
use seclog::domain::{EventType, NewEvent};
use seclog::http::{Endpoint, json_with_location, query_params};
use seclog::store::dynamodb::events::EventStore;
use seclog::store::dynamodb::exports::ExportStore;

pub struct CreateExport {
    jobs: ExportStore,
    events: EventStore,
    claim: AccountClaim,
    /// Exports `pending` or `running` per account at most.
    max_in_flight: usize,
    /// The events' retention, recorded in each export's entry (it decides which entries an
    /// export still holds, and a verifier reads it from there).
    retention_days: u32,
}

/// What a caller over the limit is told to wait: about one small export's run.
const RETRY_AFTER_SECONDS: u64 = 30;

impl CreateExport {
    pub fn new(
        jobs: ExportStore,
        events: EventStore,
        claim: AccountClaim,
        max_in_flight: usize,
        retention_days: u32,
    ) -> Self {
        Self {
            jobs,
            events,
            claim,
            max_in_flight,
            retention_days,
        }
    }

    /// The composition root of the create-export function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self::new(
            stack.export_store()?,
            stack.event_store()?,
            stack.settings.claim.clone(),
            stack.settings.max_exports_in_flight,
            u32::try_from(stack.settings.retention_days)
                .map_err(|_| ConfigError::Invalid("RETENTION_DAYS", "is too large".into()))?,
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
        job.retention_days = Some(self.retention_days);
        let details = ExportRequest::details(&job, self.retention_days);
        let audit = NewEvent::internal(
            account.clone(),
            EventType::SecurityLogsExported,
            requester,
            None,
            details.into(),
            now,
        );
        // The export covers the log up to its own request's entry (the worker waits for it, and
        // its checkpoint includes it: the entry binds the export's filters to the log).
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
