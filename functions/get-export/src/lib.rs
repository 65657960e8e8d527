//! `GET /v1/exports/{id}` and `GET /v1/exports`: the caller's export jobs. A finished export
//! gets a freshly presigned download link on every read.

use std::time::Duration;

use jiff::Timestamp;
use lambda_http::{Body, Request, RequestExt, Response};
use seclog::ApiError;
use seclog::config::{AccountClaim, ConfigError, Stack};
use seclog::domain::AccountId;
use seclog::domain::cursor;
use seclog::domain::export::{ExportId, ExportListQuery, ExportStatus, ExportView};
use seclog::domain::query::parse_no_params;
use seclog::export::ports::StoredJob;
use seclog::http::{Endpoint, json, query_params};
use seclog::store::dynamodb::exports::ExportStore;
use seclog::store::s3::exports_bucket::ExportsBucket;
use seclog::store::secrets::cursor_keys::CursorKeys;
use serde::Serialize;

/// `GET /v1/exports`'s body.
#[derive(Serialize)]
struct ExportPage<'a> {
    data: Vec<ExportView<'a>>,
    next_cursor: Option<String>,
}

pub struct GetExport {
    jobs: ExportStore,
    bucket: ExportsBucket,
    claim: AccountClaim,
    cursor_keys: CursorKeys,
    link_ttl: Duration,
}

impl GetExport {
    pub fn new(
        jobs: ExportStore,
        bucket: ExportsBucket,
        claim: AccountClaim,
        cursor_keys: CursorKeys,
        link_ttl: Duration,
    ) -> Self {
        Self {
            jobs,
            bucket,
            claim,
            cursor_keys,
            link_ttl,
        }
    }

    /// The composition root of the get-export function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self::new(
            stack.export_store()?,
            stack.exports_bucket()?,
            stack.settings.claim.clone(),
            stack.cursor_keys()?,
            stack.settings.link_ttl,
        ))
    }
}

impl Endpoint for GetExport {
    const NO_STORE: bool = true;

    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let account = self.claim.account(&request)?;
        let id = request
            .path_parameters_ref()
            .and_then(|p| p.first("id"))
            .map(str::to_owned);
        match id {
            Some(id) => {
                parse_no_params(query_params(&request))?;
                self.one(&account, &id).await
            }
            None => self.list(&account, &request).await,
        }
    }
}

impl GetExport {
    async fn one(&self, account: &AccountId, id: &str) -> Result<Response<Body>, ApiError> {
        // A malformed id, a missing job and another account's job all look the same.
        let not_found = || ApiError::NotFound(format!("no export {id:?} for this account"));
        let id = ExportId::parse(id).map_err(|_| not_found())?;
        let stored = self.jobs.get(account, &id).await?.ok_or_else(not_found)?;
        Ok(json(200, &self.view(&stored, Timestamp::now()).await?))
    }

    async fn list(
        &self,
        account: &AccountId,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let key = self.cursor_keys.get().await?;
        let query = ExportListQuery::parse(query_params(request), account, key)?;
        let (jobs, next) = self
            .jobs
            .list(account, query.after.as_deref(), query.limit)
            .await?;
        let now = Timestamp::now();
        let mut data = Vec::with_capacity(jobs.len());
        for job in &jobs {
            data.push(self.view(job, now).await?);
        }
        let next_cursor =
            next.map(|position| cursor::encode(key, ExportListQuery::scope(account), &position));
        Ok(json(200, &ExportPage { data, next_cursor }))
    }

    async fn view<'a>(
        &self,
        stored: &'a StoredJob,
        now: Timestamp,
    ) -> Result<ExportView<'a>, ApiError> {
        let job = &stored.job;
        let link = match (&job.status, &job.result) {
            (ExportStatus::Succeeded, Some(result)) => Some(
                self.bucket
                    .presign_download(
                        &result.object_key,
                        &job.file_name(&stored.account),
                        self.link_ttl,
                    )
                    .await?,
            ),
            _ => None,
        };
        let evidence = match (&job.status, &job.result) {
            (ExportStatus::Succeeded, Some(result)) => match &result.evidence_key {
                Some(key) => Some(
                    self.bucket
                        .presign_download(
                            key,
                            &job.evidence_file_name(&stored.account),
                            self.link_ttl,
                        )
                        .await?,
                ),
                None => None,
            },
            _ => None,
        };
        Ok(job.view(link, evidence, now))
    }
}
