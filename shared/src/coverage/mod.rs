//! Producer coverage: which producer sent which event types, how many, and when last, so that
//! "the payout service stopped sending `payout_account.updated` yesterday" is visible.
//!
//! Counted off ingest's path: the sequencer tallies the new entries of an invocation's batch
//! ([`Tally`]) and stores the tally with one update per producer ([`ports::CoverageStore`]),
//! beside its appends; nothing is written per ingest request. A stored entry reaches the
//! sequencer once, but a batch Lambda retries (an append that failed) is counted again, so
//! counts are a gauge that may run a little high, not an audit figure (the log is that). The
//! last-seen time is the newest `received_at` counted.

pub mod ports;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::domain::entry::SERVICE_PRODUCER;
use crate::domain::{EventType, LogEntry};

/// One producer's use of one event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub producer: String,
    pub event_type: EventType,
    pub count: u64,
    pub last_received_at: Timestamp,
}

/// The entries of one invocation, per producer and type.
#[derive(Debug, Default)]
pub struct Tally(BTreeMap<(String, EventType), (u64, Timestamp)>);

impl Tally {
    /// Counts `entry`; one without a producer was recorded by the service itself.
    pub fn count(&mut self, entry: &LogEntry) {
        let producer = entry.producer.as_deref().unwrap_or(SERVICE_PRODUCER);
        let slot = self
            .0
            .entry((producer.to_owned(), entry.event_type))
            .or_insert((0, entry.received_at));
        slot.0 += 1;
        slot.1 = slot.1.max(entry.received_at);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tally as rows, by producer then type.
    pub fn rows(&self) -> Vec<Coverage> {
        self.0
            .iter()
            .map(|((producer, event_type), (count, last))| Coverage {
                producer: producer.clone(),
                event_type: *event_type,
                count: *count,
                last_received_at: *last,
            })
            .collect()
    }
}

/// The coverage report an operator reads: one line per producer and type, oldest news first
/// marked `SILENT` when nothing came for longer than `silent_after`.
pub fn report(rows: &[Coverage], now: Timestamp, silent_after: SignedDuration) -> String {
    let mut rows: Vec<&Coverage> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (&a.producer, a.event_type.as_str()).cmp(&(&b.producer, b.event_type.as_str()))
    });
    let mut out = String::from("producer\ttype\tcount\tlast received\t\n");
    for row in rows {
        let quiet = now.duration_since(row.last_received_at);
        let flag = if quiet > silent_after {
            format!("SILENT for {:.1} h", quiet.as_secs_f64() / 3600.0)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{flag}\n",
            row.producer,
            row.event_type.as_str(),
            row.count,
            row.last_received_at,
        ));
    }
    out
}

#[cfg(test)]
mod tests;
