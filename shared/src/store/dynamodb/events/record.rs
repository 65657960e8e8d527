//! The write path of the events table: all or nothing, exactly once, never an overwrite.
//!
//! 1. **Claim.** Every event with an `event_id` claims its idempotency marker (`pk` =
//!    `account#idem`, `sk` = event_id) in one `TransactWriteItems`, each put conditional on the
//!    marker's absence. The marker keeps the event's fingerprint and a copy of its entry. If the
//!    transaction is cancelled, its cancellation reasons say which markers exist: those are read
//!    (strongly consistent); a different fingerprint is a conflict (409, and nothing of the
//!    request was written, since a cancelled transaction writes nothing), the same one a
//!    duplicate; the claim is retried for the rest.
//! 2. **Write.** The entries of the newly claimed events and of events without `event_id` are
//!    put in transactions of up to 100, each put conditional on the entry's absence.
//! 3. **Complete.** A duplicate whose entry is missing (its first request died between claim and
//!    write) gets its entry written from the marker's copy, so a retry never loses an event.
//!
//! When the markers and the entries fit in one transaction (up to 50 events with `event_id`,
//! 100 without), the claim carries the entries too: one round trip instead of two, and no
//! marker is ever stored without its entry. A cancelled attempt still writes nothing, so the
//! claim's answers (conflict, duplicate) are the same. A larger batch claims first, alone, so
//! that a conflict anywhere in it still writes nothing.
//!
//! A batch of up to 50 new events costs 1 round trip, of 100 new events 2; a re-sent one 1 or
//! 2 more.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use jiff::Timestamp;

use super::EventStore;
use crate::domain::new_event::{Repeats, plan_repeats};
use crate::domain::{AccountId, EntryId, LogEntry, NewEvent, Recorded};
use crate::ingest::ports::EventRecords;
use crate::storage::StoreError;
use crate::storage::TRANSACTION_MAX;
use crate::storage::retry::{MAX_ATTEMPTS, backoff};
use crate::store::dynamodb::item::{attr_s, text};
use crate::store::dynamodb::schema::{EXPIRES_AT, PK, SK};
use crate::store::dynamodb::transact::{Outcome, absent_put, transact};

const MARKER_ID: &str = "id";
const MARKER_SK: &str = "entry_sk";
const MARKER_FINGERPRINT: &str = "fingerprint";
const MARKER_ENTRY: &str = "entry";

pub use crate::ingest::ports::{Conflict, RecordError};

/// A marker found in storage.
struct Marker {
    id: EntryId,
    fingerprint: Option<String>,
    entry_sk: String,
    /// The entry's item, kept so a duplicate can complete a write that never happened.
    entry: Option<LogEntry>,
    expires_at: i64,
}

impl EventStore {
    /// Stores validated events; the result is in request order.
    pub async fn record(
        &self,
        events: &[NewEvent],
        now: Timestamp,
    ) -> Result<Vec<Recorded>, RecordError> {
        let expires_at = self.expires_at(now);
        let fingerprints: Vec<Option<String>> = events
            .iter()
            .map(|e| e.event_id.as_ref().map(|_| e.fingerprint()))
            .collect();
        let Repeats { firsts, repeats } =
            plan_repeats(events, &fingerprints).map_err(|conflicts| {
                RecordError::Conflict(
                    conflicts
                        .into_iter()
                        .map(|(index, first)| Conflict {
                            index,
                            recorded_id: events[first].entry.id.clone(),
                        })
                        .collect(),
                )
            })?;

        let (keyed, unkeyed): (Vec<usize>, Vec<usize>) =
            firsts.iter().partition(|&&i| events[i].event_id.is_some());
        let together = 2 * keyed.len() + unkeyed.len() <= TRANSACTION_MAX;
        let with_entries = together.then_some(unkeyed.as_slice());
        let duplicates = self
            .claim(events, &fingerprints, expires_at, &keyed, with_entries)
            .await?;
        let fresh: Vec<usize> = firsts
            .iter()
            .copied()
            .filter(|i| !duplicates.contains_key(i))
            .collect();
        if !together {
            let puts: Vec<Put> = fresh
                .iter()
                .map(|&i| self.entry_put_item(&events[i].account, &events[i].entry, expires_at))
                .collect();
            self.put_all(puts).await?;
        }
        self.complete(events, &duplicates).await?;

        let mut results: Vec<Option<Recorded>> = vec![None; events.len()];
        for i in fresh {
            results[i] = Some(Recorded {
                id: events[i].entry.id.clone(),
                duplicate: false,
            });
        }
        for (i, marker) in &duplicates {
            results[*i] = Some(Recorded {
                id: marker.id.clone(),
                duplicate: true,
            });
        }
        for (i, first) in repeats {
            let first = results[first].clone().expect("first occurrence recorded");
            results[i] = Some(Recorded {
                id: first.id,
                duplicate: true,
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every event has a result"))
            .collect())
    }

    /// Claims the markers of `keyed` events, and, with `unkeyed` given, writes the entries of
    /// the claimed events and of those events without `event_id` in the same transaction.
    /// Returns the events that were already claimed with the same content (duplicates), or the
    /// conflicts.
    async fn claim(
        &self,
        events: &[NewEvent],
        fingerprints: &[Option<String>],
        expires_at: i64,
        keyed: &[usize],
        unkeyed: Option<&[usize]>,
    ) -> Result<HashMap<usize, Marker>, RecordError> {
        let mut duplicates = HashMap::new();
        let mut pending: Vec<usize> = keyed.to_vec();
        // Entries whose put failed as already there (see `put_all`): not put again.
        let mut stored: HashSet<usize> = HashSet::new();
        for attempt in 0..MAX_ATTEMPTS {
            let entries: Vec<usize> = match unkeyed {
                Some(unkeyed) => pending
                    .iter()
                    .chain(unkeyed)
                    .copied()
                    .filter(|i| !stored.contains(i))
                    .collect(),
                None => Vec::new(),
            };
            if pending.is_empty() && entries.is_empty() {
                return Ok(duplicates);
            }
            let markers = pending
                .iter()
                .map(|&i| self.marker_put(&events[i], fingerprints[i].as_deref(), expires_at));
            let entry_puts = entries
                .iter()
                .map(|&i| self.entry_put_item(&events[i].account, &events[i].entry, expires_at));
            let items: Vec<TransactWriteItem> = markers
                .chain(entry_puts)
                .map(|put| TransactWriteItem::builder().put(put).build())
                .collect();
            let failed = match self.transact(items).await? {
                Outcome::Written => return Ok(duplicates),
                Outcome::ConditionsFailed(positions) => positions,
                Outcome::Conflict => {
                    backoff(attempt).await;
                    continue;
                }
            };
            let (failed_markers, failed_entries): (Vec<usize>, Vec<usize>) =
                failed.into_iter().partition(|&p| p < pending.len());
            stored.extend(failed_entries.iter().map(|&p| entries[p - pending.len()]));
            let existing: Vec<usize> = failed_markers.iter().map(|&p| pending[p]).collect();
            let mut found = self.markers(events, &existing).await?;
            let mut conflicts = Vec::new();
            for &i in &existing {
                // A marker that expired in between is claimed again on the next attempt.
                let Some(marker) = found.remove(&i) else {
                    continue;
                };
                // Markers written before fingerprints existed cannot be compared.
                let same = marker
                    .fingerprint
                    .as_deref()
                    .is_none_or(|f| Some(f) == fingerprints[i].as_deref());
                if same {
                    duplicates.insert(i, marker);
                } else {
                    conflicts.push(Conflict {
                        index: i,
                        recorded_id: marker.id.clone(),
                    });
                }
            }
            if !conflicts.is_empty() {
                conflicts.sort_by_key(|c| c.index);
                return Err(RecordError::Conflict(conflicts));
            }
            pending.retain(|i| !duplicates.contains_key(i));
        }
        Err(StoreError::Contention("idempotency claims kept conflicting").into())
    }

    /// Puts entries that must not exist yet, in transactions of up to 100. An entry that does
    /// exist was written by a duplicate completing this very request's claim: it is the same
    /// item, so it is dropped and the rest retried.
    async fn put_all(&self, puts: Vec<Put>) -> Result<(), StoreError> {
        for chunk in puts.chunks(TRANSACTION_MAX) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt == MAX_ATTEMPTS {
                    return Err(StoreError::Contention("entry writes kept conflicting"));
                }
                let items = pending
                    .iter()
                    .map(|put| TransactWriteItem::builder().put(put.clone()).build())
                    .collect();
                match self.transact(items).await? {
                    Outcome::Written => break,
                    Outcome::ConditionsFailed(positions) => {
                        let existing: HashSet<usize> = positions.into_iter().collect();
                        pending = pending
                            .into_iter()
                            .enumerate()
                            .filter(|(p, _)| !existing.contains(p))
                            .map(|(_, put)| put)
                            .collect();
                    }
                    Outcome::Conflict => backoff(attempt).await,
                }
                attempt += 1;
            }
        }
        Ok(())
    }

    /// Writes the entries of duplicates whose first request stored the marker but died
    /// before the entry (read strongly consistent, so a completed write is always seen).
    async fn complete(
        &self,
        events: &[NewEvent],
        duplicates: &HashMap<usize, Marker>,
    ) -> Result<(), StoreError> {
        let with_copy: Vec<(&AccountId, &Marker)> = duplicates
            .iter()
            .filter(|(_, m)| m.entry.is_some())
            .map(|(&i, m)| (&events[i].account, m))
            .collect();
        if with_copy.is_empty() {
            return Ok(());
        }
        let keys: Vec<(String, String)> = with_copy
            .iter()
            .map(|(account, m)| (account.as_str().to_owned(), m.entry_sk.clone()))
            .collect();
        let stored = self.batch_get(&keys).await?;
        let missing: Vec<Put> = with_copy
            .iter()
            .filter(|(account, m)| {
                !stored.contains_key(&(account.as_str().to_owned(), m.entry_sk.clone()))
            })
            .map(|(account, m)| {
                let entry = m.entry.as_ref().expect("filtered on the copy");
                self.entry_put_item(account, entry, m.expires_at)
            })
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                count = missing.len(),
                "completing entries whose first write never happened"
            );
        }
        self.put_all(missing).await
    }

    /// The markers of `indices`, by request index.
    async fn markers(
        &self,
        events: &[NewEvent],
        indices: &[usize],
    ) -> Result<HashMap<usize, Marker>, StoreError> {
        let keys: Vec<(String, String)> = indices
            .iter()
            .map(|&i| {
                let event_id = events[i].event_id.as_ref().expect("keyed events have one");
                (
                    marker_partition(&events[i].account),
                    event_id.as_str().to_owned(),
                )
            })
            .collect();
        let items = self.batch_get(&keys).await?;
        indices
            .iter()
            .zip(keys)
            .filter_map(|(&i, key)| items.get(&key).map(|item| (i, item)))
            .map(|(i, item)| Ok((i, parse_marker(item)?)))
            .collect()
    }

    /// Strongly consistent BatchGetItem of `(pk, sk)` keys of the events table (at most 100).
    pub(super) async fn batch_get(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), HashMap<String, AttributeValue>>, StoreError> {
        crate::store::dynamodb::batch::batch_get(&self.client, &self.table, keys).await
    }

    /// One `TransactWriteItems` on the events table's client ([`transact`]).
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Outcome, StoreError> {
        transact(&self.client, items).await
    }

    fn marker_put(&self, event: &NewEvent, fingerprint: Option<&str>, expires_at: i64) -> Put {
        let event_id = event
            .event_id
            .as_ref()
            .expect("keyed events have an event_id");
        let mut item = HashMap::from([
            (PK.to_owned(), attr_s(&marker_partition(&event.account))),
            (SK.to_owned(), attr_s(event_id.as_str())),
            (MARKER_ID.to_owned(), attr_s(event.entry.id.as_str())),
            (MARKER_SK.to_owned(), attr_s(&event.entry.sort_key())),
            (
                MARKER_ENTRY.to_owned(),
                attr_s(&serde_json::to_string(&event.entry).expect("entries serialize")),
            ),
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(expires_at.to_string()),
            ),
        ]);
        if let Some(fingerprint) = fingerprint {
            item.insert(MARKER_FINGERPRINT.to_owned(), attr_s(fingerprint));
        }
        absent_put(&self.table, item)
    }

    /// A put of one entry, conditional on its absence.
    pub(super) fn entry_put_item(
        &self,
        account: &AccountId,
        entry: &LogEntry,
        expires_at: i64,
    ) -> Put {
        absent_put(&self.table, self.entry_item(account, entry, expires_at))
    }
}

fn parse_marker(item: &HashMap<String, AttributeValue>) -> Result<Marker, StoreError> {
    let entry = match item.get(MARKER_ENTRY).and_then(|v| v.as_s().ok()) {
        Some(json) => Some(
            serde_json::from_str(json)
                .map_err(|e| StoreError::Corrupt(format!("marker entry: {e}")))?,
        ),
        None => None,
    };
    Ok(Marker {
        id: EntryId::from_stored(text(item, MARKER_ID)?),
        fingerprint: item
            .get(MARKER_FINGERPRINT)
            .and_then(|v| v.as_s().ok())
            .cloned(),
        entry_sk: text(item, MARKER_SK)?,
        entry,
        expires_at: item
            .get(EXPIRES_AT)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(i64::MAX),
    })
}

pub(super) fn marker_partition(account: &AccountId) -> String {
    format!("{account}#idem")
}

impl EventRecords for EventStore {
    async fn record_events(
        &self,
        events: &[NewEvent],
        now: Timestamp,
    ) -> Result<Vec<Recorded>, RecordError> {
        self.record(events, now).await
    }
}
