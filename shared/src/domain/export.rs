//! Export jobs: what a merchant asked for, where it stands, and what the API shows of it.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::actor::parse_actor_id;
use super::cursor::{self, CursorKey, Scope};
use super::evidence_progress::EvidenceState;
use super::fields::Fields;
use super::query::{DEFAULT_LIMIT, parse_limit};
use super::time::parse_rfc3339;
use super::{AccountId, EventType, LogFilter, ViewerZone};
use crate::error::{ApiError, Errors, FieldError};

/// The same body limit as every route (413 above it).
pub const MAX_REQUEST_BYTES: usize = super::new_event::MAX_BODY_BYTES;
/// A running job that made no progress for this long is reported as failed, so none is shown
/// as running forever (a worker that crashed past its retries leaves exactly that behind).
pub const STALE_AFTER: SignedDuration = SignedDuration::from_mins(30);
/// A pending job may wait behind its own account's earlier exports (the jobs stream runs one
/// account's jobs in order); it is given up only when its stream record could be gone (the
/// stream keeps records 24 hours).
pub const PENDING_STALE_AFTER: SignedDuration = SignedDuration::from_hours(24);

/// A job id: a ULID, so an account's jobs sort newest first by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExportId(String);

impl ExportId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::generate().to_string())
    }

    /// Anything that is not a job id is an error; the API answers 404 for it, as for a
    /// missing job, so ids cannot be probed.
    pub fn parse(value: &str) -> Result<Self, String> {
        ulid::Ulid::from_string(value)
            .map(|id| Self(id.to_string()))
            .map_err(|_| "is not an export id".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Pending,
    Running,
    /// Checkpointed; the next worker invocation continues it. Shown as `running`.
    Resuming,
    Succeeded,
    Failed,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Resuming => "resuming",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// An export reaches back to entries that occurred at most this long before the end of the
/// retention window: an entry is kept `retention_days` after it was received, and received at
/// most 5 minutes before it occurred (the ingest skew), so every entry within reach is kept for
/// almost a day after the request, long enough for the export to read it (docs/design/integrity.md).
pub const REACH_MARGIN: SignedDuration = SignedDuration::from_hours(24);

/// The earliest `occurred_at` an export requested at `requested_at` holds, under a retention of
/// `retention_days`: entries that occurred before it count as expired before the request.
/// The verifier applies the same rule to the export's signed entry, so both agree to the
/// nanosecond.
pub fn reach_start(requested_at: Timestamp, retention_days: u32) -> Timestamp {
    let window = SignedDuration::from_hours(i64::from(retention_days) * 24);
    requested_at
        .checked_sub(window)
        .and_then(|t| t.checked_add(REACH_MARGIN))
        .unwrap_or(Timestamp::MIN)
}

/// An export's request as its own `security_logs.exported` entry records it: the entry is in
/// the account's log, so the log's signature covers the export's id, requester, filters and
/// the retention in force. A verifier reads the request from this entry alone.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub id: ExportId,
    pub filters: ExportFilters,
    pub retention_days: u32,
    /// The entry's `occurred_at`: when the export was requested.
    pub requested_at: Timestamp,
    /// The entry's actor: who requested it.
    pub requested_by: super::Actor,
}

/// The largest retention an export's entry may state (a bound for parsing, far above any use).
const MAX_RETENTION_DAYS: u64 = 100 * 366;

impl ExportRequest {
    /// The `details` of the export's entry for `job`, under a retention of `retention_days`.
    pub fn details(job: &ExportJob, retention_days: u32) -> Value {
        serde_json::json!({
            "export_id": job.id,
            "format": "csv",
            "filters": job.filters.view(),
            "retention_days": retention_days,
        })
    }

    /// Reads the request from a stored `security_logs.exported` entry that the service
    /// recorded; anything else is an error saying why.
    pub fn from_entry(entry: &super::LogEntry) -> Result<Self, String> {
        if entry.event_type != EventType::SecurityLogsExported {
            return Err(format!(
                "is a {} entry, not security_logs.exported",
                entry.event_type.as_str()
            ));
        }
        if entry.producer.as_deref() != Some(super::entry::SERVICE_PRODUCER) {
            return Err("was not recorded by the service".to_owned());
        }
        let details = serde_json::to_value(&entry.details)
            .map_err(|e| format!("has unreadable details: {e}"))?;
        let id = details
            .get("export_id")
            .and_then(Value::as_str)
            .ok_or("has no export_id")
            .and_then(|id| ExportId::parse(id).map_err(|_| "has no valid export_id"))?;
        let retention_days = details
            .get("retention_days")
            .and_then(Value::as_u64)
            .filter(|days| (1..=MAX_RETENTION_DAYS).contains(days))
            .ok_or("has no valid retention_days")?;
        let filters = details.get("filters").ok_or("has no filters")?;
        let body = serde_json::to_vec(filters).map_err(|e| e.to_string())?;
        let filters = ExportFilters::parse(&body).map_err(|e| match e {
            ApiError::Validation(list) => {
                let fields: Vec<String> = list
                    .iter()
                    .map(|f| format!("{} {}", f.field, f.message))
                    .collect();
                format!("has bad filters: {}", fields.join("; "))
            }
            other => format!("has bad filters: {other}"),
        })?;
        Ok(Self {
            id,
            filters,
            retention_days: u32::try_from(retention_days).map_err(|e| e.to_string())?,
            requested_at: entry.occurred_at,
            requested_by: entry.actor.clone(),
        })
    }

    /// The earliest `occurred_at` this export holds ([`reach_start`]).
    pub fn reach_start(&self) -> Timestamp {
        reach_start(self.requested_at, self.retention_days)
    }
}

/// What to export: the list filters plus the zone of the `Timestamp` column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportFilters {
    #[serde(flatten)]
    pub filter: LogFilter,
    /// Parsed when the job was created; a stored name that no longer parses is an error on
    /// read, never a silent UTC.
    pub tz: ViewerZone,
}

/// The filters as the API shows them.
#[derive(Debug, Serialize)]
pub struct FiltersView<'a> {
    from: Option<String>,
    to: Option<String>,
    types: Vec<&'static str>,
    actor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unfamiliar: Option<bool>,
    tz: &'a str,
}

impl ExportFilters {
    pub fn zone(&self) -> ViewerZone {
        self.tz.clone()
    }

    /// Parses a `POST /v1/exports` body; every field is optional, an empty body means all.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_REQUEST_BYTES,
            });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self {
                filter: LogFilter::default(),
                tz: ViewerZone::utc(),
            });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
        let mut errors = Errors::default();
        let mut parsed = None;
        if let Some(mut fields) = Fields::object(&value, "", &mut errors) {
            fields.deny_unknown(&["from", "to", "types", "actor", "unfamiliar", "tz"]);
            let from = fields.optional_parsed("from", parse_rfc3339);
            let to = fields.optional_parsed("to", parse_rfc3339);
            let actor = fields.optional_parsed("actor", parse_actor_id);
            let zone = fields.optional_parsed("tz", ViewerZone::parse);
            let types = parse_types(&mut fields);
            let unfamiliar = match fields.get("unfamiliar") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(flag)) => Some(*flag),
                Some(_) => {
                    fields.error("unfamiliar", "must be true or false");
                    None
                }
            };
            parsed = Some((from, to, actor, zone, types, unfamiliar));
        }
        errors.into_result()?;
        let (from, to, actor, zone, types, unfamiliar) = parsed.expect("an object was parsed");
        let filter = LogFilter::new(from, to, types, actor, "to")
            .map(|f| LogFilter { unfamiliar, ..f })
            .map_err(|e| ApiError::Validation(vec![e]))?;
        Ok(Self {
            filter,
            tz: zone.unwrap_or_else(ViewerZone::utc),
        })
    }

    pub fn view(&self) -> FiltersView<'_> {
        FiltersView {
            from: self.filter.from.map(|t| t.to_string()),
            to: self.filter.to.map(|t| t.to_string()),
            types: self.filter.types.iter().map(|t| t.as_str()).collect(),
            actor: self.filter.actor.as_deref(),
            unfamiliar: self.filter.unfamiliar,
            tz: self.tz.name(),
        }
    }
}

fn parse_types(fields: &mut Fields<'_>) -> Vec<EventType> {
    let Some(value) = fields.get("types") else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        fields.error("types", "must be an array of event types");
        return Vec::new();
    };
    let mut types = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().map(EventType::parse) {
            Some(Ok(t)) => types.push(t),
            Some(Err(message)) => fields.error(&format!("types[{i}]"), message),
            None => fields.error(&format!("types[{i}]"), "must be a string"),
        }
    }
    types
}

/// `GET /v1/exports` parameters: `limit` (1-100, default 50) and `cursor`.
#[derive(Debug)]
pub struct ExportListQuery {
    pub limit: usize,
    /// The job id to continue after, from a verified cursor.
    pub after: Option<String>,
}

impl ExportListQuery {
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        account: &AccountId,
        key: &CursorKey,
    ) -> Result<Self, ApiError> {
        let mut errors = Errors::default();
        let (mut limit, mut cursor) = (None, None);
        for (name, value) in params {
            let slot = match name {
                "limit" => &mut limit,
                "cursor" => &mut cursor,
                other => {
                    errors.push(other, "unknown parameter; allowed: limit, cursor");
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                errors.push(name, "must be given at most once");
            }
        }
        let limit = match limit {
            Some(v) => errors.take(parse_limit(v).map_err(|m| FieldError::new("limit", m))),
            None => Some(DEFAULT_LIMIT),
        };
        errors.into_result()?;
        let after = cursor
            .map(|c| {
                cursor::decode(key, Self::scope(account), c)
                    .map_err(|m| ApiError::field("cursor", m))
            })
            .transpose()?;
        Ok(Self {
            limit: limit.expect("no errors means a limit"),
            after,
        })
    }

    /// Export cursors are bound to the account (and can never pass for a log cursor).
    pub fn scope(account: &AccountId) -> Scope {
        Scope::of(&["exports", account.as_str()])
    }
}

/// One uploaded part of the CSV's multipart upload, as checkpoints keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    pub part_number: i32,
    pub etag: String,
}

/// Where an export stands between worker invocations: everything up to and including the
/// entry at `after` is in `parts`; nothing older has been written yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub upload_id: String,
    pub parts: Vec<UploadedPart>,
    pub after: Option<String>,
    pub rows: u64,
    pub bytes: u64,
    /// In the evidence phase: where the evidence writer stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceState>,
    /// Bytes written but not yet in a part (base64), when the invocation's time ran out before
    /// a part filled (a selective export): the next invocation's first part starts with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry: Option<String>,
}

/// What a worker is writing: the CSV, then its evidence file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportPhase {
    #[default]
    Rows,
    Evidence,
}

/// The log checkpoint an export is taken at: every entry recorded before its request, and the
/// request's own entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedLog {
    /// The log index of the export's own entry: entries with `log_index < index` were recorded
    /// before the request.
    pub index: u64,
    /// The tree size of the checkpoint (`index + 1`).
    pub size: u64,
    /// The signed checkpoint note of that size.
    pub note: String,
}

/// The result of a finished export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportResult {
    pub object_key: String,
    pub row_count: u64,
    pub size_bytes: u64,
    /// The evidence file (exports of jobs with an audit entry, that is every job the API
    /// creates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_key: Option<String>,
}

/// An export job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: ExportId,
    pub status: ExportStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    pub filters: ExportFilters,
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExportResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Worker invocations that claimed the job (more than one: it was checkpointed).
    #[serde(default)]
    pub invocations: u32,
    /// The sort key of the job's `security_logs.exported` entry: the export covers the log up
    /// to it. Jobs without one (seeded by tools) export without evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
    /// The checkpoint the export is taken at, once the worker sealed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<SealedLog>,
    /// The retention in force when the export was requested, as its entry records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    #[serde(default)]
    pub phase: ExportPhase,
}

/// A fresh download link for a finished export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    pub url: String,
    /// When the signature stops being accepted. An upper bound: a link signed with temporary
    /// credentials (a Lambda role's) also dies when that session ends.
    pub expires_at: Timestamp,
}

impl ExportJob {
    pub fn new(filters: ExportFilters, requested_by: String, now: Timestamp) -> Self {
        Self {
            id: ExportId::generate(),
            status: ExportStatus::Pending,
            created_at: now,
            updated_at: now,
            completed_at: None,
            filters,
            requested_by,
            checkpoint: None,
            result: None,
            error: None,
            invocations: 0,
            audit_key: None,
            log: None,
            retention_days: None,
            phase: ExportPhase::Rows,
        }
    }

    /// `security-logs-<account>-<date>.csv`, the date the export was requested in its zone.
    pub fn file_name(&self, account: &AccountId) -> String {
        format!(
            "security-logs-{account}-{}.csv",
            self.filters.zone().date(self.created_at)
        )
    }

    /// The evidence file's name: the CSV's, `.evidence.json` for `.csv`.
    pub fn evidence_file_name(&self, account: &AccountId) -> String {
        format!(
            "security-logs-{account}-{}.evidence.json",
            self.filters.zone().date(self.created_at)
        )
    }

    /// Whether the job stopped making progress: running without a write for [`STALE_AFTER`],
    /// or pending for [`PENDING_STALE_AFTER`] (waiting in its account's queue is no failure).
    pub fn is_stale(&self, now: Timestamp) -> bool {
        let idle = now.duration_since(self.updated_at);
        match self.status {
            ExportStatus::Succeeded | ExportStatus::Failed => false,
            ExportStatus::Pending => idle > PENDING_STALE_AFTER,
            ExportStatus::Running | ExportStatus::Resuming => idle > STALE_AFTER,
        }
    }

    /// What callers see: `resuming` shows as `running`; a job stuck without progress shows
    /// as failed with a reason.
    pub fn view(
        &self,
        link: Option<DownloadLink>,
        evidence: Option<DownloadLink>,
        now: Timestamp,
    ) -> ExportView<'_> {
        let stale = self.is_stale(now);
        let (status, error) = match self.status {
            _ if stale => (
                ShownStatus::Failed,
                Some("the export stopped making progress; please request it again".to_owned()),
            ),
            ExportStatus::Pending => (ShownStatus::Pending, None),
            ExportStatus::Running | ExportStatus::Resuming => (ShownStatus::Running, None),
            ExportStatus::Succeeded => (ShownStatus::Succeeded, None),
            ExportStatus::Failed => (ShownStatus::Failed, self.error.clone()),
        };
        let link = link.filter(|_| status == ShownStatus::Succeeded);
        let evidence = evidence.filter(|_| status == ShownStatus::Succeeded);
        ExportView {
            id: &self.id,
            status,
            created_at: self.created_at.to_string(),
            completed_at: self.completed_at.map(|t| t.to_string()),
            filters: self.filters.view(),
            row_count: self
                .result
                .as_ref()
                .map(|r| r.row_count)
                .or_else(|| self.checkpoint.as_ref().map(|c| c.rows)),
            size_bytes: self.result.as_ref().map(|r| r.size_bytes),
            download_expires_at: link.as_ref().map(|l| l.expires_at.to_string()),
            download_url: link.map(|l| l.url),
            evidence_url: evidence.map(|l| l.url),
            error,
        }
    }
}

/// The status the API shows: `resuming` is internal (shown as `running`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShownStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// The export object of the API.
#[derive(Debug, Serialize)]
pub struct ExportView<'a> {
    pub id: &'a ExportId,
    pub status: ShownStatus,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub filters: FiltersView<'a>,
    pub row_count: Option<u64>,
    pub size_bytes: Option<u64>,
    pub download_url: Option<String>,
    pub download_expires_at: Option<String>,
    /// The evidence file (a presigned GET like `download_url`, same lifetime).
    pub evidence_url: Option<String>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Vec<String> {
        match ExportFilters::parse(body.as_bytes()) {
            Err(ApiError::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_body_exports_everything_in_utc() {
        let filters = ExportFilters::parse(b"").unwrap();
        assert_eq!(filters.filter, LogFilter::default());
        assert_eq!(filters.tz.name(), "UTC");
        assert_eq!(ExportFilters::parse(b"{}").unwrap(), filters);
    }

    #[test]
    fn parses_every_filter() {
        let filters = ExportFilters::parse(
            br#"{"from":"2024-04-01T00:00:00Z","to":"2024-04-30T00:00:00+08:00","types":["login","login.failed"],"actor":"u_1","tz":"Asia/Manila"}"#,
        )
        .unwrap();
        assert_eq!(
            filters.filter.types,
            [EventType::Login, EventType::LoginFailed]
        );
        assert_eq!(filters.filter.actor.as_deref(), Some("u_1"));
        assert_eq!(filters.tz.name(), "Asia/Manila");
    }

    #[test]
    fn rejects_bad_filters_by_name() {
        assert_eq!(fields(r#"{"tz":"Nowhere/Land"}"#), ["tz"]);
        assert_eq!(fields(r#"{"types":["login","nope"]}"#), ["types[1]"]);
        assert_eq!(fields(r#"{"types":"login"}"#), ["types"]);
        assert_eq!(
            fields(r#"{"from":"2024-05-01T00:00:00Z","to":"2024-04-01T00:00:00Z"}"#),
            ["to"]
        );
        assert_eq!(fields(r#"{"format":"xlsx"}"#), ["format"]);
        assert_eq!(fields(r#"[1]"#), ["body"]);
        assert_eq!(fields(r#"{"#), ["body"]);
    }

    #[test]
    fn ids_must_be_ulids() {
        let id = ExportId::generate();
        assert_eq!(ExportId::parse(id.as_str()), Ok(id));
        assert!(ExportId::parse("../etc/passwd").is_err());
        assert!(ExportId::parse("").is_err());
    }

    #[test]
    fn views_hide_internal_states() {
        let now: Timestamp = "2024-04-22T07:00:00Z".parse().unwrap();
        let mut job = ExportJob::new(ExportFilters::parse(b"").unwrap(), "u_1".into(), now);
        job.status = ExportStatus::Resuming;
        assert_eq!(job.view(None, None, now).status, ShownStatus::Running);
        let later = now + SignedDuration::from_mins(31);
        let stale = job.view(None, None, later);
        assert_eq!(stale.status, ShownStatus::Failed);
        assert!(stale.error.unwrap().contains("request it again"));
        // A pending job waiting behind its account's earlier exports is not failed.
        job.status = ExportStatus::Pending;
        assert_eq!(job.view(None, None, later).status, ShownStatus::Pending);
        let next_day = now + SignedDuration::from_hours(25);
        assert_eq!(job.view(None, None, next_day).status, ShownStatus::Failed);
        job.status = ExportStatus::Resuming;
        let link = DownloadLink {
            url: "https://x".into(),
            expires_at: now,
        };
        let shown = serde_json::to_value(job.view(Some(link), None, now)).unwrap();
        assert_eq!(shown["download_url"], Value::Null);
        assert_eq!(shown["status"], "running");
        assert_eq!(shown["filters"]["tz"], "UTC");
    }
}
