//! Domain types. Each is parsed once at the edge; a value that exists is valid.
//!
//! The bottom of the crate: these modules (their tests too) use no other module of the crate
//! except `error`, so every other module may use them.

pub mod account;
pub mod actor;
pub mod cursor;
pub mod device;
pub mod entry;
pub mod event_type;
pub mod evidence_progress;
pub mod export;
pub mod fields;
pub mod json;
pub mod location;
pub mod new_event;
pub mod proof_query;
pub mod query;
mod raw_members;
pub mod secrets;
pub mod signin;
pub mod stream;
pub mod summary;
pub mod time;
pub mod unfamiliar;

pub use account::AccountId;
pub use actor::Actor;
pub use entry::{EntryId, LogEntry, Recorded};
pub use event_type::EventType;
pub use json::Json;
pub use location::Location;
pub use new_event::{EventId, IngestBatch, IngestContext, NewEvent, Producer};
pub use query::{LogFilter, LogQuery, Page};
pub use time::{OccurredAt, ViewerZone};
pub use unfamiliar::{Unfamiliar, UnfamiliarReason};
