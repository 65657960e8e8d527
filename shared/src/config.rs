//! Settings read from the Lambda environment once, at start-up: one typed [`Settings`], every
//! environment name written once ([`vars`]). Each function asks for what it needs; a missing
//! or invalid variable fails start-up with its name, never a request.

mod account_claim;

pub use account_claim::AccountClaim;

use std::time::Duration;

use aws_config::SdkConfig;
use thiserror::Error;

use crate::domain::time::parse_rfc3339;
use crate::export::worker::WorkerSettings;
use crate::integrity::keys::{KeyHistory, parse_retired_keys};
use crate::integrity::note::LocalSigner;
use crate::store::dynamodb::coverage::DynamoCoverage;
use crate::store::dynamodb::events::EventStore;
use crate::store::dynamodb::exports::ExportStore;
use crate::store::dynamodb::log::LogStore;
use crate::store::dynamodb::streams::StreamStore;
use crate::store::kms::log_keys::LogKeys;
use crate::store::kms::stream_secrets::StreamSecretsKey;
use crate::store::s3::exports_bucket::ExportsBucket;
use crate::store::s3::stream_objects::StreamObjects;
use crate::store::secrets::cursor_keys::CursorKeys;
use crate::store::sqs::delivery_queue::SqsDeliveryQueue;
use crate::store::sqs::ingest_dead_letters::SqsIngestDeadLetters;
use crate::store::stream_destinations::StreamDestinations;
use crate::store::stream_log::StreamLogReader;
use crate::streams::address::LoopbackHttp;
use crate::streams::webhook_client::{SystemResolver, WebhookClient};

/// The environment variables of the functions (`template.yaml` sets them).
pub mod vars {
    pub const EVENTS_TABLE: &str = "EVENTS_TABLE";
    pub const EXPORTS_TABLE: &str = "EXPORTS_TABLE";
    pub const EXPORTS_BUCKET: &str = "EXPORTS_BUCKET";
    pub const ACCOUNT_CLAIM: &str = "ACCOUNT_CLAIM";
    pub const CURSOR_KEY_SECRET_ID: &str = "CURSOR_KEY_SECRET_ID";
    pub const RETENTION_DAYS: &str = "RETENTION_DAYS";
    pub const EXPORT_EXPIRY_DAYS: &str = "EXPORT_EXPIRY_DAYS";
    pub const DOWNLOAD_URL_TTL_SECONDS: &str = "DOWNLOAD_URL_TTL_SECONDS";
    pub const CHECKPOINT_RESERVE_SECONDS: &str = "CHECKPOINT_RESERVE_SECONDS";
    /// How old an account's latest log checkpoint may get before the sequencer signs a new one
    /// with an append (default 30); other growth waits for the minute's sweep.
    pub const CHECKPOINT_EVERY_SECONDS: &str = "CHECKPOINT_EVERY_SECONDS";
    pub const LOG_TABLE: &str = "LOG_TABLE";
    /// Exports `pending` or `running` per account at most (default 3).
    pub const MAX_EXPORTS_IN_FLIGHT: &str = "MAX_EXPORTS_IN_FLIGHT";
    /// The KMS key (id, ARN or alias) that signs checkpoints: `ECC_NIST_EDWARDS25519`.
    pub const LOG_SIGNING_KEY_ID: &str = "LOG_SIGNING_KEY_ID";
    /// Since when the current signing key signs (RFC 3339; default the Unix epoch, "since the
    /// log began"); required once `LOG_RETIRED_KEYS` lists a key. Empty counts as unset.
    pub const LOG_KEY_FROM: &str = "LOG_KEY_FROM";
    /// Keys that signed before the current one: a JSON array of published keys
    /// (`{"key", "fingerprint", "from", "until"}`), each with its `until`. Empty counts as unset.
    pub const LOG_RETIRED_KEYS: &str = "LOG_RETIRED_KEYS";
    /// The streams table (targets, sealed secrets, delivery state).
    pub const STREAMS_TABLE: &str = "STREAMS_TABLE";
    /// The SQS queue of stream delivery runs.
    pub const STREAM_QUEUE_URL: &str = "STREAM_QUEUE_URL";
    /// The KMS key that seals streams' secrets (webhook signing secrets, auth header values).
    pub const STREAM_SECRETS_KEY_ID: &str = "STREAM_SECRETS_KEY_ID";
    /// `1` lets webhooks be `http://` to loopback addresses: for `make dev`'s local receivers
    /// only; the template never sets it.
    pub const STREAMS_ALLOW_LOOPBACK_HTTP: &str = "STREAMS_ALLOW_LOOPBACK_HTTP";
    /// The ingest queue's dead-letter queue (SQS URL): where its consumer sends the messages that
    /// can never be stored, with their reason.
    pub const INGEST_DEAD_LETTERS_URL: &str = "INGEST_DEAD_LETTERS_URL";
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// Everything the functions read from their environment.
#[derive(Debug, Clone)]
pub struct Settings {
    events_table: Option<String>,
    exports_table: Option<String>,
    exports_bucket: Option<String>,
    cursor_key_secret_id: Option<String>,
    log_table: Option<String>,
    log_signing_key_id: Option<String>,
    streams_table: Option<String>,
    stream_queue_url: Option<String>,
    stream_secrets_key_id: Option<String>,
    ingest_dead_letters_url: Option<String>,
    /// The token claim holding the account (`ACCOUNT_CLAIM`, default `account_id`).
    pub claim: AccountClaim,
    /// Days an entry is kept before DynamoDB's TTL removes it (default 365).
    pub retention_days: i64,
    /// Days an export (file and job) is kept (default 7).
    pub export_expiry_days: i64,
    /// Exports `pending` or `running` per account at most (default 3).
    pub max_exports_in_flight: usize,
    /// How long a download link lives (default and maximum 900 s).
    pub link_ttl: Duration,
    /// The export worker's bounds; its checkpoint reserve comes from
    /// `CHECKPOINT_RESERVE_SECONDS` (default 60 s), the rest are fixed.
    pub worker: WorkerSettings,
    /// The signing keys published besides the current key's public half
    /// (`LOG_KEY_FROM`, `LOG_RETIRED_KEYS`; `GET /v1/integrity/public-keys`).
    pub key_history: KeyHistory,
    /// How old a log checkpoint may get before an append signs anew (default 30 s).
    pub checkpoint_every: Duration,
    /// Whether webhooks may be `http://` to loopback (`STREAMS_ALLOW_LOOPBACK_HTTP=1`; the dev
    /// server and the tests only).
    pub streams_loopback: LoopbackHttp,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            events_table: None,
            exports_table: None,
            exports_bucket: None,
            cursor_key_secret_id: None,
            log_table: None,
            log_signing_key_id: None,
            streams_table: None,
            stream_queue_url: None,
            stream_secrets_key_id: None,
            ingest_dead_letters_url: None,
            claim: AccountClaim::default_claim(),
            retention_days: 365,
            export_expiry_days: 7,
            max_exports_in_flight: 3,
            link_ttl: Duration::from_secs(900),
            worker: WorkerSettings::default(),
            key_history: KeyHistory::default(),
            checkpoint_every: Duration::from_secs(30),
            streams_loopback: LoopbackHttp::Refused,
        }
    }
}

impl Settings {
    /// Reads every variable (defaults where the contract has one); names are checked when a
    /// function asks for them.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings from any name -> value lookup (the environment, or a test's map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number =
            |name: &'static str, default: i64| -> Result<i64, ConfigError> {
                match get(name) {
                    Some(value) => value.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ConfigError::Invalid(name, "must be a positive integer".into())
                    }),
                    None => Ok(default),
                }
            };
        let link_ttl = number(
            vars::DOWNLOAD_URL_TTL_SECONDS,
            defaults.link_ttl.as_secs() as i64,
        )?;
        if link_ttl > 900 {
            return Err(ConfigError::Invalid(
                vars::DOWNLOAD_URL_TTL_SECONDS,
                "must be at most 900".into(),
            ));
        }
        Ok(Self {
            events_table: get(vars::EVENTS_TABLE),
            exports_table: get(vars::EXPORTS_TABLE),
            exports_bucket: get(vars::EXPORTS_BUCKET),
            cursor_key_secret_id: get(vars::CURSOR_KEY_SECRET_ID),
            log_table: get(vars::LOG_TABLE),
            log_signing_key_id: get(vars::LOG_SIGNING_KEY_ID),
            streams_table: get(vars::STREAMS_TABLE),
            stream_queue_url: get(vars::STREAM_QUEUE_URL),
            stream_secrets_key_id: get(vars::STREAM_SECRETS_KEY_ID),
            ingest_dead_letters_url: get(vars::INGEST_DEAD_LETTERS_URL),
            claim: get(vars::ACCOUNT_CLAIM)
                .map(AccountClaim::new)
                .unwrap_or(defaults.claim),
            retention_days: number(vars::RETENTION_DAYS, defaults.retention_days)?,
            export_expiry_days: number(vars::EXPORT_EXPIRY_DAYS, defaults.export_expiry_days)?,
            max_exports_in_flight: number(
                vars::MAX_EXPORTS_IN_FLIGHT,
                defaults.max_exports_in_flight as i64,
            )? as usize,
            link_ttl: Duration::from_secs(link_ttl as u64),
            worker: WorkerSettings {
                reserve: Duration::from_secs(number(
                    vars::CHECKPOINT_RESERVE_SECONDS,
                    defaults.worker.reserve.as_secs() as i64,
                )? as u64),
                ..defaults.worker
            },
            key_history: key_history(&get)?,
            checkpoint_every: Duration::from_secs(number(
                vars::CHECKPOINT_EVERY_SECONDS,
                defaults.checkpoint_every.as_secs() as i64,
            )? as u64),
            streams_loopback: match get(vars::STREAMS_ALLOW_LOOPBACK_HTTP).as_deref() {
                None | Some("" | "0") => LoopbackHttp::Refused,
                Some("1") => LoopbackHttp::Allowed,
                Some(_) => {
                    return Err(ConfigError::Invalid(
                        vars::STREAMS_ALLOW_LOOPBACK_HTTP,
                        "must be 0 or 1".into(),
                    ));
                }
            },
        })
    }

    pub fn events_table(&self) -> Result<&str, ConfigError> {
        required(&self.events_table, vars::EVENTS_TABLE)
    }

    pub fn exports_table(&self) -> Result<&str, ConfigError> {
        required(&self.exports_table, vars::EXPORTS_TABLE)
    }

    pub fn exports_bucket(&self) -> Result<&str, ConfigError> {
        required(&self.exports_bucket, vars::EXPORTS_BUCKET)
    }

    pub fn cursor_key_secret_id(&self) -> Result<&str, ConfigError> {
        required(&self.cursor_key_secret_id, vars::CURSOR_KEY_SECRET_ID)
    }

    pub fn log_table(&self) -> Result<&str, ConfigError> {
        required(&self.log_table, vars::LOG_TABLE)
    }

    pub fn log_signing_key_id(&self) -> Result<&str, ConfigError> {
        required(&self.log_signing_key_id, vars::LOG_SIGNING_KEY_ID)
    }

    pub fn streams_table(&self) -> Result<&str, ConfigError> {
        required(&self.streams_table, vars::STREAMS_TABLE)
    }

    pub fn stream_queue_url(&self) -> Result<&str, ConfigError> {
        required(&self.stream_queue_url, vars::STREAM_QUEUE_URL)
    }

    pub fn stream_secrets_key_id(&self) -> Result<&str, ConfigError> {
        required(&self.stream_secrets_key_id, vars::STREAM_SECRETS_KEY_ID)
    }

    pub fn ingest_dead_letters_url(&self) -> Result<&str, ConfigError> {
        required(&self.ingest_dead_letters_url, vars::INGEST_DEAD_LETTERS_URL)
    }

    /// The same settings with a local stack's ingest dead-letter queue.
    pub fn with_ingest_dead_letters(mut self, url: &str) -> Self {
        self.ingest_dead_letters_url = Some(url.to_owned());
        self
    }

    /// The same settings with a local stack's streams resources.
    pub fn with_streams(mut self, table: &str, queue_url: &str, secrets_key_id: &str) -> Self {
        self.streams_table = Some(table.to_owned());
        self.stream_queue_url = Some(queue_url.to_owned());
        self.stream_secrets_key_id = Some(secrets_key_id.to_owned());
        self
    }

    /// The same settings with a local stack's log table.
    pub fn with_log_table(mut self, log_table: &str) -> Self {
        self.log_table = Some(log_table.to_owned());
        self
    }

    /// The same settings with the resource names of a local stack.
    pub fn with_resources(
        mut self,
        events_table: &str,
        exports_table: &str,
        exports_bucket: &str,
        cursor_key_secret_id: &str,
    ) -> Self {
        self.events_table = Some(events_table.to_owned());
        self.exports_table = Some(exports_table.to_owned());
        self.exports_bucket = Some(exports_bucket.to_owned());
        self.cursor_key_secret_id = Some(cursor_key_secret_id.to_owned());
        self
    }
}

/// `LOG_KEY_FROM` and `LOG_RETIRED_KEYS`. A template parameter left empty arrives as an empty
/// value, which means unset.
fn key_history(get: &impl Fn(&str) -> Option<String>) -> Result<KeyHistory, ConfigError> {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let retired = match set(vars::LOG_RETIRED_KEYS) {
        Some(text) => parse_retired_keys(&text)
            .map_err(|e| ConfigError::Invalid(vars::LOG_RETIRED_KEYS, e.to_string()))?,
        None => Vec::new(),
    };
    let current_from = match set(vars::LOG_KEY_FROM) {
        Some(text) => {
            parse_rfc3339(text.trim()).map_err(|e| ConfigError::Invalid(vars::LOG_KEY_FROM, e))?
        }
        // The epoch would claim the current key signed while the retired ones did.
        None if !retired.is_empty() => {
            return Err(ConfigError::Invalid(
                vars::LOG_KEY_FROM,
                format!(
                    "must be set (the rotation time) when {} lists keys",
                    vars::LOG_RETIRED_KEYS
                ),
            ));
        }
        None => KeyHistory::default().current_from,
    };
    Ok(KeyHistory {
        current_from,
        retired,
    })
}

fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, ConfigError> {
    value.as_deref().ok_or(ConfigError::Missing(name))
}

/// What a function is built from: the AWS configuration (S3's apart, since a local stack may
/// serve S3 elsewhere) and the settings. Built once per process.
#[derive(Debug, Clone)]
pub struct Stack {
    pub aws: SdkConfig,
    pub s3: SdkConfig,
    pub settings: Settings,
    /// The checkpoint key of a local stack (`make dev`, tests), in place of the KMS key that
    /// signs in the cloud (`LOG_SIGNING_KEY_ID`).
    pub local_log_key: Option<LocalLogKey>,
}

/// A local Ed25519 seed; its `Debug` never shows it.
#[derive(Clone)]
pub struct LocalLogKey(pub [u8; 32]);

impl std::fmt::Debug for LocalLogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalLogKey(..)")
    }
}

impl Stack {
    /// The events table, with the retention its entries get.
    pub fn event_store(&self) -> Result<EventStore, ConfigError> {
        let settings = &self.settings;
        Ok(EventStore::from_config(
            &self.aws,
            settings.events_table()?,
            settings.retention_days,
        ))
    }

    /// The export jobs table.
    pub fn export_store(&self) -> Result<ExportStore, ConfigError> {
        let settings = &self.settings;
        Ok(ExportStore::from_config(
            &self.aws,
            settings.exports_table()?,
            settings.export_expiry_days,
        ))
    }

    /// The exports bucket (through the S3 configuration).
    pub fn exports_bucket(&self) -> Result<ExportsBucket, ConfigError> {
        Ok(ExportsBucket::from_config(
            &self.s3,
            self.settings.exports_bucket()?,
        ))
    }

    /// The cursor signing key, read from Secrets Manager by the first request that needs it.
    pub fn cursor_keys(&self) -> Result<CursorKeys, ConfigError> {
        Ok(CursorKeys::secrets_manager(
            &self.aws,
            self.settings.cursor_key_secret_id()?,
        ))
    }

    /// The log table (tree tiles, edges, checkpoints), stamping entries of the events table.
    pub fn log_store(&self) -> Result<LogStore, ConfigError> {
        Ok(LogStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            self.settings.log_table()?,
            self.settings.events_table()?,
        ))
    }

    /// Producer coverage, kept in the log table (the sequencer writes it, operators read it).
    pub fn coverage_store(&self) -> Result<DynamoCoverage, ConfigError> {
        Ok(DynamoCoverage::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            self.settings.log_table()?,
        ))
    }

    /// The key that signs checkpoints: the local one if the stack has it, else the KMS key,
    /// reached on first use.
    pub fn log_keys(&self) -> Result<LogKeys, ConfigError> {
        Ok(match &self.local_log_key {
            Some(LocalLogKey(seed)) => LogKeys::local(LocalSigner::from_seed(seed)),
            None => LogKeys::kms(&self.aws, self.settings.log_signing_key_id()?),
        })
    }

    /// The streams table.
    pub fn stream_store(&self) -> Result<StreamStore, ConfigError> {
        Ok(StreamStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            self.settings.streams_table()?,
            self.event_store()?,
        ))
    }

    /// The KMS key that seals streams' secrets.
    pub fn stream_secrets_key(&self) -> Result<StreamSecretsKey, ConfigError> {
        Ok(StreamSecretsKey::new(
            aws_sdk_kms::Client::new(&self.aws),
            self.settings.stream_secrets_key_id()?,
        ))
    }

    /// Where streams' batches go: the webhook client (the address policy at every connection,
    /// through the system's resolver), merchants' buckets, and the secrets key.
    pub fn stream_destinations(&self) -> Result<StreamDestinations<SystemResolver>, ConfigError> {
        let loopback = self.settings.streams_loopback;
        let webhooks = WebhookClient::new(SystemResolver, loopback)
            .map_err(|e| ConfigError::Invalid("webhook client", e.to_string()))?;
        Ok(StreamDestinations::new(
            webhooks,
            // Merchants' buckets: the stack's AWS configuration (the local stack's S3 and STS
            // in `make dev` and the tests).
            StreamObjects::new(&self.aws),
            loopback,
            self.stream_secrets_key()?,
        ))
    }

    /// The queue of stream delivery runs.
    pub fn delivery_queue(&self) -> Result<SqsDeliveryQueue, ConfigError> {
        Ok(SqsDeliveryQueue::new(
            aws_sdk_sqs::Client::new(&self.aws),
            self.settings.stream_queue_url()?,
        ))
    }

    /// The ingest queue's dead-letter queue.
    pub fn ingest_dead_letters(&self) -> Result<SqsIngestDeadLetters, ConfigError> {
        Ok(SqsIngestDeadLetters::new(
            aws_sdk_sqs::Client::new(&self.aws),
            self.settings.ingest_dead_letters_url()?,
        ))
    }

    /// The log as streams read it: entries by index, checkpoints, the checkpoint key.
    pub fn stream_log(&self) -> Result<StreamLogReader, ConfigError> {
        Ok(StreamLogReader {
            events: self.event_store()?,
            log: self.log_store()?,
            keys: std::sync::Arc::new(self.log_keys()?),
        })
    }

    /// The Lambda environment: role credentials, region, settings.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = crate::store::aws::from_env().await;
        Ok(Self {
            s3: crate::store::aws::for_s3(&aws),
            aws,
            settings,
            local_log_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_and_missing_names_are_reported_when_asked_for() {
        let s = settings(&[(vars::EVENTS_TABLE, "events")]).unwrap();
        assert_eq!(s.events_table().unwrap(), "events");
        assert_eq!(s.retention_days, 365);
        assert_eq!(s.link_ttl, Duration::from_secs(900));
        assert_eq!(s.claim, AccountClaim::default_claim());
        assert!(matches!(
            s.exports_bucket(),
            Err(ConfigError::Missing("EXPORTS_BUCKET"))
        ));
    }

    #[test]
    fn numbers_must_be_positive_and_links_short() {
        assert!(settings(&[(vars::RETENTION_DAYS, "0")]).is_err());
        assert!(settings(&[(vars::RETENTION_DAYS, "x")]).is_err());
        assert!(settings(&[(vars::DOWNLOAD_URL_TTL_SECONDS, "901")]).is_err());
        let s = settings(&[
            (vars::DOWNLOAD_URL_TTL_SECONDS, "60"),
            (vars::ACCOUNT_CLAIM, "merchant"),
            (vars::CHECKPOINT_RESERVE_SECONDS, "5"),
            (vars::CHECKPOINT_EVERY_SECONDS, "45"),
        ])
        .unwrap();
        assert_eq!(s.checkpoint_every, Duration::from_secs(45));
        assert_eq!(s.link_ttl, Duration::from_secs(60));
        assert_eq!(s.claim, AccountClaim::new("merchant"));
        assert_eq!(s.worker.reserve, Duration::from_secs(5));
    }

    #[test]
    fn loopback_http_for_streams_is_refused_unless_set_to_1() {
        let get = |value: &str| settings(&[(vars::STREAMS_ALLOW_LOOPBACK_HTTP, value)]);
        assert_eq!(
            settings(&[]).unwrap().streams_loopback,
            LoopbackHttp::Refused
        );
        assert_eq!(get("0").unwrap().streams_loopback, LoopbackHttp::Refused);
        assert_eq!(get("1").unwrap().streams_loopback, LoopbackHttp::Allowed);
        for bad in ["yes", "true", "2"] {
            assert!(
                matches!(
                    get(bad),
                    Err(ConfigError::Invalid(vars::STREAMS_ALLOW_LOOPBACK_HTTP, _))
                ),
                "{bad}"
            );
        }
    }

    /// A retired key's JSON, as an operator writes `LOG_RETIRED_KEYS`.
    fn retired(seed: u8, from: &str, until: Option<&str>) -> serde_json::Value {
        use crate::integrity::keys::{PublishedKey, fingerprint};
        use crate::integrity::note::Signer as _;
        let key = LocalSigner::from_seed(&[seed; 32]).public_key();
        let mut json = serde_json::to_value(PublishedKey {
            key,
            from: from.parse().unwrap(),
            until: None,
        })
        .unwrap();
        json["until"] = until.into();
        assert_eq!(json["fingerprint"], fingerprint(&key));
        json
    }

    fn invalid(pairs: &[(&str, &str)]) -> (&'static str, String) {
        match settings(pairs) {
            Err(ConfigError::Invalid(name, reason)) => (name, reason),
            other => panic!("expected an invalid variable, got {other:?}"),
        }
    }

    #[test]
    fn the_key_history_defaults_to_one_key_since_the_epoch() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.key_history, KeyHistory::default());
        assert_eq!(s.key_history.current_from, jiff::Timestamp::UNIX_EPOCH);
        // Template parameters left empty arrive as empty values.
        let s = settings(&[(vars::LOG_KEY_FROM, ""), (vars::LOG_RETIRED_KEYS, " ")]).unwrap();
        assert_eq!(s.key_history, KeyHistory::default());
    }

    #[test]
    fn the_key_history_is_read_at_start_up() {
        let old = retired(1, "2023-01-01T00:00:00Z", Some("2024-06-01T00:00:00Z"));
        let s = settings(&[
            (vars::LOG_KEY_FROM, "2024-06-01T00:00:00Z"),
            (
                vars::LOG_RETIRED_KEYS,
                &serde_json::json!([old]).to_string(),
            ),
        ])
        .unwrap();
        let history = s.key_history;
        assert_eq!(
            history.current_from,
            "2024-06-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert_eq!(history.retired.len(), 1);
        assert_eq!(
            history.retired[0].until,
            Some("2024-06-01T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn a_bad_key_history_fails_start_up_naming_the_variable() {
        let (name, _) = invalid(&[(vars::LOG_KEY_FROM, "2024-06-01")]);
        assert_eq!(name, vars::LOG_KEY_FROM);
        let (name, _) = invalid(&[(vars::LOG_KEY_FROM, "2024-06-01 00:00:00Z")]);
        assert_eq!(name, vars::LOG_KEY_FROM);

        let from = (vars::LOG_KEY_FROM, "2024-06-01T00:00:00Z");
        for (text, mentions) in [
            ("not json".to_owned(), "JSON"),
            ("{}".to_owned(), "JSON"),
            (
                serde_json::json!([retired(1, "2023-01-01T00:00:00Z", None)]).to_string(),
                "has no until",
            ),
            (
                serde_json::json!([retired(
                    1,
                    "2023-01-01T00:00:00Z",
                    Some("2022-01-01T00:00:00Z")
                )])
                .to_string(),
                "is not after",
            ),
            (
                {
                    let mut key = retired(1, "2023-01-01T00:00:00Z", Some("2024-01-01T00:00:00Z"));
                    key["fingerprint"] = "00".repeat(32).into();
                    serde_json::json!([key]).to_string()
                },
                "is not the SHA-256",
            ),
        ] {
            let (name, reason) = invalid(&[from, (vars::LOG_RETIRED_KEYS, &text)]);
            assert_eq!(name, vars::LOG_RETIRED_KEYS, "{text}");
            assert!(reason.contains(mentions), "{text}: {reason}");
        }

        // Retired keys without the rotation time: the epoch default would overlap them.
        let old = retired(1, "2023-01-01T00:00:00Z", Some("2024-06-01T00:00:00Z"));
        let (name, _) = invalid(&[(
            vars::LOG_RETIRED_KEYS,
            &serde_json::json!([old]).to_string(),
        )]);
        assert_eq!(name, vars::LOG_KEY_FROM);
    }
}
