//! A recorded log entry: what storage keeps and what the API and CSV show.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::json::Json;
use super::{Actor, EventType, Location, OccurredAt, Unfamiliar, ViewerZone};

/// The service-assigned id of an entry: a ULID, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::generate().to_string())
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The outcome of storing one event: its id, and whether it had been stored before. The events
/// store answers it; the sign-ins use case learns only from the events that were not duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: EntryId,
    pub duplicate: bool,
}

/// The stored form of an entry (everything but the account, which is its partition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub id: EntryId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: Timestamp,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub details: Json,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub received_at: Timestamp,
    /// Who recorded the entry: the producer's IAM principal (`userArn`), or
    /// [`SERVICE_PRODUCER`] for entries the service records itself. Stored, not shown to
    /// merchants (an internal ARN names the platform's AWS account and roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    /// On `login` entries judged unusual for their user; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfamiliar: Option<Unfamiliar>,
    /// The entry's position in its account's Merkle log, stamped by the sequencer after the
    /// entry is stored (its own attribute, not part of the stored JSON nor of the canonical
    /// entry, which the log's leaf commits to); `None` until then.
    #[serde(skip)]
    pub log_index: Option<u64>,
}

/// The producer of entries the service records itself (`security_logs.exported`).
pub const SERVICE_PRODUCER: &str = "security-logs";

/// An entry as the dashboard sees it (`GET /v1/logs`), in the viewer's zone.
#[derive(Debug, Serialize)]
pub struct LogEntryView<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub type_label: &'static str,
    pub occurred_at: String,
    pub occurred_at_local: String,
    pub actor: &'a Actor,
    pub ip: Option<IpAddr>,
    pub device: Option<&'a str>,
    pub location: Option<&'a Location>,
    pub details: &'a Json,
    pub summary: &'a str,
    pub user_agent: Option<&'a str>,
    pub event_id: Option<&'a str>,
    /// When the service stored the entry (UTC): a backdated `occurred_at` shows against it.
    pub received_at: String,
    /// The entry's position in the account's tamper-evident log; null until it is sequenced.
    pub log_index: Option<u64>,
    /// On sign-ins judged unusual for their user: `{"reasons": [...]}`; null otherwise.
    pub unfamiliar: Option<&'a Unfamiliar>,
}

/// Tests' entries: the fields every entry has, nothing optional; a test sets what it needs
/// over one (`LogEntry { producer: ..., ..LogEntry::bare(...) }`).
#[cfg(test)]
impl LogEntry {
    pub(crate) fn bare(id: String, event_type: EventType, actor: String, at: Timestamp) -> Self {
        Self {
            id: EntryId::from_stored(id),
            event_type,
            occurred_at: at,
            actor: Actor {
                id: actor,
                name: None,
                email: None,
            },
            ip: None,
            user_agent: None,
            device: None,
            location: None,
            details: serde_json::json!({}).into(),
            summary: String::new(),
            event_id: None,
            received_at: at,
            producer: None,
            unfamiliar: None,
            log_index: None,
        }
    }
}

impl LogEntry {
    pub fn occurred(&self) -> OccurredAt {
        OccurredAt::from_timestamp(self.occurred_at)
    }

    /// Sort key within the account: time first, the id makes it unique.
    pub fn sort_key(&self) -> String {
        format!("{}#{}", self.occurred().sort_key_prefix(), self.id.as_str())
    }

    pub fn view<'a>(&'a self, zone: &ViewerZone) -> LogEntryView<'a> {
        LogEntryView {
            id: self.id.as_str(),
            event_type: self.event_type,
            type_label: self.event_type.label(),
            occurred_at: self.occurred_at.to_string(),
            occurred_at_local: zone.rfc3339(self.occurred_at),
            actor: &self.actor,
            ip: self.ip,
            device: self.device.as_deref(),
            location: self.location.as_ref(),
            details: &self.details,
            summary: &self.summary,
            user_agent: self.user_agent.as_deref(),
            event_id: self.event_id.as_deref(),
            received_at: self.received_at.to_string(),
            log_index: self.log_index,
            unfamiliar: self.unfamiliar.as_ref(),
        }
    }
}
