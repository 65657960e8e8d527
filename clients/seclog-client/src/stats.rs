//! What the client has done so far, for metrics and tests.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the client's counters, from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events accepted by `record()`.
    pub recorded: u64,
    /// Events the service stored anew.
    pub stored: u64,
    /// Events the service already had (`"duplicate": true`): a retry of a request whose answer
    /// was lost, or an `event_id` the producer sent before.
    pub duplicates: u64,
    /// Events handed to the rejection handler.
    pub rejected: u64,
    /// Requests sent again after a retryable failure.
    pub retries: u64,
    /// Events held now (recorded, not yet stored or rejected).
    pub buffered: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    recorded: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    pub fn recorded(&self) {
        self.recorded.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stored(&self, new: u64, duplicates: u64) {
        self.stored.fetch_add(new, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
    }

    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, buffered: usize) -> Stats {
        Stats {
            recorded: self.recorded.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            buffered,
        }
    }
}
