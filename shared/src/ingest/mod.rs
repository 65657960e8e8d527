//! Recording producers' events, whichever way they arrive: `POST /v1/events` (the ingest
//! function) and the ingest queue ([`queue`]). Both parse with the domain's rules
//! (`domain::new_event`) and write through [`Recorder`], so the two paths cannot differ in what
//! they accept or in what they store: unfamiliar sign-ins flagged before the write (the flag is
//! stored with the entry), the write itself exactly once per (account, `event_id`), then the
//! sign-in profiles taught what was stored.
//!
//! A use case folder like `signins/`: the orchestration over its ports (`ports.rs`: the events
//! store's write, the queue's dead letters), unit-tested in memory (`tests.rs`).

pub mod ports;
pub mod queue;

use jiff::Timestamp;

use crate::domain::{NewEvent, Recorded};
use crate::signins::{ProfileStore, SignIns};
use ports::{EventRecords, RecordError};

/// The one write path of producers' events, over the events store (`S` serves both ports).
#[derive(Clone)]
pub struct Recorder<S> {
    store: S,
    signins: SignIns<S>,
}

impl<S: EventRecords + ProfileStore + Clone> Recorder<S> {
    pub fn new(store: S) -> Self {
        Self {
            signins: SignIns::new(store.clone()),
            store,
        }
    }

    /// Flags the unfamiliar sign-ins of `events` (so the flag is stored with the entry), stores
    /// the events (all or nothing), then teaches the profiles; the result is in `events`' order.
    pub async fn record(
        &self,
        events: &mut [NewEvent],
        now: Timestamp,
    ) -> Result<Vec<Recorded>, RecordError> {
        let learning = self.signins.flag(events).await?;
        let recorded = self.store.record_events(events, now).await?;
        // The entries are stored: a profile that cannot be updated now is logged, not turned
        // into an error a producer (or the queue) would answer by sending the batch again.
        if let Err(error) = self.signins.learn(learning, &recorded).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "sign-in profiles not updated"
            );
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests;
