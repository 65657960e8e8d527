//! Unfamiliar sign-ins at ingest: each successful `login` of a batch is judged against its
//! user's profile (`domain::signin`) before the batch is stored, so the flag is stored with the
//! entry (and covered by the tamper-evident log); the sign-ins that were stored then teach the
//! profiles.
//!
//! Storage round trips for a batch, whatever its size up to 100: one BatchGetItem of the
//! profiles, one TransactWriteItems of them (conditional on the versions read); a concurrent
//! sign-in of one of the users adds a re-read and a rewrite per clash. A sign-in is judged
//! against what was known when it was recorded (plus the batch's earlier sign-ins of the same
//! user, in time order); one that arrives late is not re-judged, and does not re-judge others.
//!
//! A use case folder like `sequencer/`: the judging rules are the domain's
//! (`domain::signin`); this is the orchestration, over its port ([`ProfileStore`], in
//! `ports.rs`), unit-tested in memory (`tests.rs`).

mod ports;

pub use ports::{ProfileStore, StoredProfile, User};

use std::collections::HashMap;

use jiff::Timestamp;

use crate::domain::signin::{Profile, Signals, flagged_summary};
use crate::domain::{NewEvent, Recorded};
use crate::storage::StoreError;
use crate::storage::retry::{MAX_ATTEMPTS, backoff};

/// One sign-in of the batch: the event's index, its user, signals and time.
#[derive(Debug, Clone)]
struct SignIn {
    index: usize,
    user: User,
    signals: Signals,
    at: Timestamp,
}

/// What [`SignIns::flag`] read, and the sign-ins to learn once the batch is stored.
#[derive(Debug, Default)]
pub struct Learning {
    read: HashMap<User, StoredProfile>,
    sign_ins: Vec<SignIn>,
}

/// The use case over its port (the events store in the cloud).
#[derive(Clone)]
pub struct SignIns<S> {
    store: S,
}

impl<S: ProfileStore> SignIns<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Sets `unfamiliar` (and the summary's note) on the batch's unfamiliar sign-ins.
    pub async fn flag(&self, events: &mut [NewEvent]) -> Result<Learning, StoreError> {
        let sign_ins: Vec<SignIn> = events
            .iter()
            .enumerate()
            .filter_map(|(index, event)| {
                Signals::of(&event.entry).map(|signals| SignIn {
                    index,
                    user: (event.account.clone(), event.entry.actor.id.clone()),
                    signals,
                    at: event.entry.occurred_at,
                })
            })
            .collect();
        if sign_ins.is_empty() {
            return Ok(Learning::default());
        }
        let mut users: Vec<User> = sign_ins.iter().map(|s| s.user.clone()).collect();
        users.sort();
        users.dedup();
        let read = self.store.profiles(&users).await?;

        let mut known: HashMap<&User, Profile> = read
            .iter()
            .map(|(user, stored)| (user, stored.profile.clone()))
            .collect();
        let mut in_time_order: Vec<&SignIn> = sign_ins.iter().collect();
        in_time_order.sort_by_key(|s| (s.at, s.index));
        for sign_in in in_time_order {
            let profile = known.entry(&sign_in.user).or_default();
            if let Some(flag) = profile.judge(&sign_in.signals, sign_in.at) {
                let entry = &mut events[sign_in.index].entry;
                entry.summary = flagged_summary(&entry.summary, &flag);
                entry.unfamiliar = Some(flag);
            }
            profile.learn(sign_in.signals.clone(), sign_in.at);
        }
        Ok(Learning { read, sign_ins })
    }

    /// Teaches the profiles the sign-ins this request stored (not the duplicates), each write
    /// conditional on the version read; a clash re-reads that profile and learns again.
    pub async fn learn(&self, learning: Learning, recorded: &[Recorded]) -> Result<(), StoreError> {
        let fresh: Vec<&SignIn> = learning
            .sign_ins
            .iter()
            .filter(|s| recorded.get(s.index).is_some_and(|r| !r.duplicate))
            .collect();
        let mut pending: Vec<User> = fresh.iter().map(|s| s.user.clone()).collect();
        pending.sort();
        pending.dedup();
        let mut current = learning.read;
        for attempt in 0..MAX_ATTEMPTS {
            if pending.is_empty() {
                return Ok(());
            }
            let updates: Vec<(User, u64, Profile)> = pending
                .iter()
                .map(|user| {
                    let stored = current.get(user).cloned().unwrap_or_default();
                    let mut profile = stored.profile;
                    for sign_in in fresh.iter().filter(|s| &s.user == user) {
                        profile.learn(sign_in.signals.clone(), sign_in.at);
                    }
                    (user.clone(), stored.version, profile)
                })
                .collect();
            pending = self.store.write_profiles(&updates).await?;
            if !pending.is_empty() {
                backoff(attempt).await;
                current.extend(self.store.profiles(&pending).await?);
            }
        }
        Err(StoreError::Contention("sign-in profiles kept changing"))
    }
}

#[cfg(test)]
mod tests;
