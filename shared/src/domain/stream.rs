//! A stream: delivery of every entry of an account's log to one of the merchant's own
//! destinations (docs/design/streams.md). What is kept of a stream between deliveries: where it
//! sends, in which format, and how far its destination has acknowledged the log.

pub mod auth_header;
pub mod replay;
pub mod s3_target;
pub mod view;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A stream id: `st_` and a ULID, so an account's streams sort by creation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

const STREAM_ID_PREFIX: &str = "st_";

impl StreamId {
    pub fn generate() -> Self {
        Self(format!("{STREAM_ID_PREFIX}{}", ulid::Ulid::generate()))
    }

    /// Anything that is not a stream id is an error; the API answers 404 for it, as for a
    /// missing stream, so ids cannot be probed.
    pub fn parse(value: &str) -> Result<Self, String> {
        value
            .strip_prefix(STREAM_ID_PREFIX)
            .and_then(|ulid| ulid::Ulid::from_string(ulid).ok())
            .map(|ulid| Self(format!("{STREAM_ID_PREFIX}{ulid}")))
            .ok_or_else(|| "is not a stream id".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a stream renders each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// The entry as `GET /v1/logs` shows it, in UTC.
    Native,
    /// An OCSF 1.x event.
    Ocsf,
}

impl StreamFormat {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "native" => Ok(Self::Native),
            "ocsf" => Ok(Self::Ocsf),
            _ => Err("must be \"ocsf\" or \"native\"".to_owned()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Ocsf => "ocsf",
        }
    }

    /// Where a record of this format carries its `log_index`: what a receiver reads to order
    /// records and find repeats and gaps.
    pub fn log_index_of(self, record: &serde_json::Value) -> Option<u64> {
        match self {
            Self::Native => record.get("log_index")?.as_u64(),
            Self::Ocsf => record.get("metadata")?.get("sequence")?.as_u64(),
        }
    }
}

/// Where a stream sends. Its secrets (the webhook's signing secret and auth header value) are
/// not here: they are stored encrypted beside it, and read only by the delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StreamTarget {
    Webhook {
        /// Vetted at creation (https, public addresses only), and again at every connection.
        url: String,
        /// The name of the header sent with every delivery (its value is secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auth_header: Option<String>,
    },
    S3 {
        bucket: String,
        prefix: String,
        role_arn: String,
        region: String,
        /// What the merchant's role trust policy must require: the service's answer to the
        /// confused deputy (generated per stream, never chosen by the caller).
        external_id: String,
    },
}

impl StreamTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::S3 { .. } => "s3",
        }
    }
}

/// Where a stream's deliveries stand: the one mutable part of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryState {
    /// The last log index the destination acknowledged; `None` before the first delivery.
    pub delivered_through: Option<u64>,
    pub last_delivery_at: Option<Timestamp>,
    /// Set while deliveries fail; cleared by the next acknowledged one.
    pub failing: Option<Failing>,
}

impl DeliveryState {
    /// The first log index not yet delivered.
    pub fn next_index(&self) -> u64 {
        self.delivered_through.map_or(0, |index| index + 1)
    }

    /// Entries of a log of `log_size` not yet delivered.
    pub fn lag(&self, log_size: u64) -> u64 {
        log_size.saturating_sub(self.next_index())
    }
}

/// Why a stream is failing, since when, and whether it is retried on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    pub since: Timestamp,
    /// What the last attempt met, fit to show the merchant (never a header value).
    pub last_error: String,
    /// Failed attempts in a row.
    pub attempts: u32,
    /// When the next attempt is due; `None` when the destination refused the delivery as
    /// wrong (a 4xx other than 408 and 429): the stream waits for a replay.
    pub retry_at: Option<Timestamp>,
}

impl Failing {
    pub fn is_stopped(&self) -> bool {
        self.retry_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_id_round_trips_and_anything_else_is_refused() {
        let id = StreamId::generate();
        assert_eq!(StreamId::parse(id.as_str()), Ok(id.clone()));
        assert!(id.as_str().starts_with("st_"));
        for bad in [
            "",
            "st_",
            "01HW3Z9V7Q4M8K2N5P6R7S8T9V",
            "st_nope",
            "ex_01HW3Z9V7Q4M8K2N5P6R7S8T9V",
        ] {
            assert!(StreamId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_lag_counts_the_entries_after_the_last_delivered() {
        let fresh = DeliveryState::default();
        assert_eq!(fresh.next_index(), 0);
        assert_eq!(fresh.lag(7), 7);
        let state = DeliveryState {
            delivered_through: Some(4),
            ..DeliveryState::default()
        };
        assert_eq!(state.next_index(), 5);
        assert_eq!(state.lag(7), 2);
        assert_eq!(state.lag(3), 0);
    }
}
