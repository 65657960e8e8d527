//! A log entry as an OCSF event (Open Cybersecurity Schema Framework), the form SIEMs ingest
//! without a custom parser.
//!
//! One version is written, [`OCSF_VERSION`], named in every event's `metadata.version`; the
//! mapping of each event type to its class and activity, and why, is the table in
//! docs/design/streams.md ("OCSF mapping"), which [`mapping`] implements. The match on the
//! catalogue is exhaustive, so a new event type does not compile until it is mapped.
//! `tools/ocsf-check` validates one event of each type against the OCSF models of that version.
//!
//! Every event carries the entry's id (`metadata.uid`) and log position (`metadata.sequence`);
//! what OCSF has a place for goes there (the actor, the source address, location and user
//! agent, the summary as `message`); the rest, the entry's `details` first, goes to `unmapped`
//! as it is, numbers kept exactly.

use std::net::IpAddr;

use serde::Serialize;

use crate::domain::json::Json;
use crate::domain::{Actor, EventType, Location, LogEntry, Unfamiliar};

/// The OCSF schema version of every event.
pub const OCSF_VERSION: &str = "1.3.0";
/// `metadata.product`: the service that recorded the entry.
pub const PRODUCT_NAME: &str = "Security Logs";
pub const VENDOR_NAME: &str = "Security Logs";

/// The Identity & Access Management category, the one of every class used here.
const IAM: (u32, &str) = (3, "Identity & Access Management");

/// The OCSF classes the catalogue maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    AccountChange,
    Authentication,
    EntityManagement,
}

impl Class {
    pub fn uid(self) -> u32 {
        match self {
            Self::AccountChange => 3001,
            Self::Authentication => 3002,
            Self::EntityManagement => 3004,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AccountChange => "Account Change",
            Self::Authentication => "Authentication",
            Self::EntityManagement => "Entity Management",
        }
    }
}

/// An activity of a class: its id and its OCSF caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity(pub u32, pub &'static str);

const LOGON: Activity = Activity(1, "Logon");
const PASSWORD_CHANGE: Activity = Activity(3, "Password Change");
const CREATE: Activity = Activity(1, "Create");
const READ: Activity = Activity(2, "Read");
const UPDATE: Activity = Activity(3, "Update");
const DELETE: Activity = Activity(4, "Delete");

/// OCSF `severity_id` values used, with their captions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Informational = 1,
    Low = 2,
    Medium = 3,
}

impl Severity {
    fn caption(self) -> &'static str {
        match self {
            Self::Informational => "Informational",
            Self::Low => "Low",
            Self::Medium => "Medium",
        }
    }
}

/// Which `details` member identifies an Entity Management event's entity, and as what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKey {
    /// An id (`key_id`, `export_id`, `stream_id`): the entity's `uid`.
    Uid(&'static str),
    /// A name (`bank`, `document`): the entity's `name`.
    Name(&'static str),
    /// The account's settings: one per account, nothing to name.
    Implied,
}

/// What an entry becomes in OCSF: class, activity, outcome, severity and, for Entity
/// Management, the kind of thing acted on and how `details` identifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub class: Class,
    pub activity: Activity,
    pub succeeded: bool,
    pub severity: Severity,
    pub entity: Option<(&'static str, EntityKey)>,
}

/// The mapping table of docs/design/streams.md.
pub fn mapping(entry: &LogEntry) -> Mapping {
    use Severity::{Informational, Low, Medium};
    let base = |class, activity, severity, entity| Mapping {
        class,
        activity,
        succeeded: true,
        severity,
        entity,
    };
    let managed = |activity, severity, kind, key| {
        base(
            Class::EntityManagement,
            activity,
            severity,
            Some((kind, key)),
        )
    };
    use EntityKey::{Implied, Name, Uid};
    let stream = |activity| {
        managed(
            activity,
            Informational,
            "Security Log Stream",
            Uid("stream_id"),
        )
    };
    match entry.event_type {
        EventType::Login if entry.unfamiliar.is_some() => {
            base(Class::Authentication, LOGON, Medium, None)
        }
        EventType::Login => base(Class::Authentication, LOGON, Informational, None),
        EventType::LoginFailed => Mapping {
            succeeded: false,
            ..base(Class::Authentication, LOGON, Low, None)
        },
        EventType::PasswordChanged => {
            base(Class::AccountChange, PASSWORD_CHANGE, Informational, None)
        }
        EventType::ApiKeyViewed => managed(READ, Informational, "API Key", Uid("key_id")),
        EventType::ApiKeyRegenerated => managed(UPDATE, Informational, "API Key", Uid("key_id")),
        EventType::AccountSettingsChanged => {
            managed(UPDATE, Informational, "Account Settings", Implied)
        }
        EventType::PayoutAccountUpdated => {
            managed(UPDATE, Medium, "Payout Bank Account", Name("bank"))
        }
        EventType::KycDocumentChanged => {
            managed(UPDATE, Informational, "KYC/KYB Document", Name("document"))
        }
        EventType::SecurityLogsExported => managed(
            READ,
            Informational,
            "Security Logs Export",
            Uid("export_id"),
        ),
        EventType::SecurityLogsStreamCreated => stream(CREATE),
        EventType::SecurityLogsStreamDeleted => stream(DELETE),
        EventType::SecurityLogsStreamReplayed => stream(UPDATE),
    }
}

/// An OCSF event of one of the three classes; members a class does not have are absent.
#[derive(Debug, Serialize)]
pub struct OcsfEvent<'a> {
    metadata: Metadata<'a>,
    time: i64,
    category_uid: u32,
    category_name: &'static str,
    class_uid: u32,
    class_name: &'static str,
    activity_id: u32,
    activity_name: &'static str,
    type_uid: u32,
    type_name: String,
    severity_id: u8,
    severity: &'static str,
    status_id: u8,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_detail: Option<String>,
    message: &'a str,
    actor: OcsfActor<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_new_logon: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<Entity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_endpoint: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_request: Option<HttpRequest<'a>>,
    unmapped: Unmapped<'a>,
}

#[derive(Debug, Serialize)]
struct Metadata<'a> {
    version: &'static str,
    product: Product,
    uid: &'a str,
    sequence: u64,
    /// The entry's type, as the service names it.
    event_code: &'static str,
    /// When the service stored the entry (ms).
    logged_time: i64,
}

#[derive(Debug, Serialize)]
struct Product {
    name: &'static str,
    vendor_name: &'static str,
}

#[derive(Debug, Serialize)]
struct OcsfActor<'a> {
    user: User<'a>,
}

#[derive(Debug, Clone, Serialize)]
struct User<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_addr: Option<&'a str>,
}

impl<'a> User<'a> {
    fn of(actor: &'a Actor) -> Self {
        Self {
            uid: &actor.id,
            name: actor.name.as_deref(),
            email_addr: actor.email.as_deref(),
        }
    }
}

/// The thing an Entity Management event acts on (OCSF `managed_entity`; type "Other").
#[derive(Debug, Serialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: &'static str,
    type_id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Endpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a Location>,
}

#[derive(Debug, Serialize)]
struct HttpRequest<'a> {
    user_agent: &'a str,
}

/// What OCSF has no member for, kept as the entry has it.
#[derive(Debug, Serialize)]
struct Unmapped<'a> {
    type_label: &'static str,
    details: &'a Json,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unfamiliar: Option<&'a Unfamiliar>,
}

/// OCSF `managed_entity.type_id` "Other": the entities here are the service's own kinds.
const ENTITY_TYPE_OTHER: u8 = 99;

impl<'a> OcsfEvent<'a> {
    /// The event of `entry`, placed at `log_index` in its account's log.
    pub fn of(entry: &'a LogEntry, log_index: u64) -> Self {
        let map = mapping(entry);
        let (category_uid, category_name) = IAM;
        let Activity(activity_id, activity_name) = map.activity;
        let actor = User::of(&entry.actor);
        let is_authentication = map.class == Class::Authentication;
        let has_user = is_authentication || map.class == Class::AccountChange;
        let (status_id, status) = if map.succeeded {
            (1, "Success")
        } else {
            (2, "Failure")
        };
        let text = |key: &str| entry.details.get(key).and_then(Json::as_str);
        Self {
            metadata: Metadata {
                version: OCSF_VERSION,
                product: Product {
                    name: PRODUCT_NAME,
                    vendor_name: VENDOR_NAME,
                },
                uid: entry.id.as_str(),
                sequence: log_index,
                event_code: entry.event_type.as_str(),
                logged_time: entry.received_at.as_millisecond(),
            },
            time: entry.occurred_at.as_millisecond(),
            category_uid,
            category_name,
            class_uid: map.class.uid(),
            class_name: map.class.name(),
            activity_id,
            activity_name,
            type_uid: map.class.uid() * 100 + activity_id,
            type_name: format!("{}: {activity_name}", map.class.name()),
            severity_id: map.severity as u8,
            severity: map.severity.caption(),
            status_id,
            status,
            status_detail: (!map.succeeded)
                .then(|| text("reason").map(str::to_owned))
                .flatten(),
            message: &entry.summary,
            user: has_user.then(|| actor.clone()),
            actor: OcsfActor { user: actor },
            is_new_logon: is_authentication.then_some(entry.unfamiliar.is_some()),
            entity: map.entity.map(|(kind, key)| {
                let (uid, name) = match key {
                    EntityKey::Uid(member) => (text(member), None),
                    EntityKey::Name(member) => (None, text(member)),
                    EntityKey::Implied => (None, None),
                };
                Entity {
                    kind,
                    type_id: ENTITY_TYPE_OTHER,
                    uid: uid.map(str::to_owned),
                    name: name.map(str::to_owned),
                }
            }),
            src_endpoint: (entry.ip.is_some() || entry.location.is_some()).then_some(Endpoint {
                ip: entry.ip,
                location: entry.location.as_ref(),
            }),
            http_request: entry
                .user_agent
                .as_deref()
                .map(|user_agent| HttpRequest { user_agent }),
            unmapped: Unmapped {
                type_label: entry.event_type.label(),
                details: &entry.details,
                device: entry.device.as_deref(),
                event_id: entry.event_id.as_deref(),
                unfamiliar: entry.unfamiliar.as_ref(),
            },
        }
    }
}
