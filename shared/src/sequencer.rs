//! The sequencer: appends newly stored entries to their account's Merkle log, after ingest has
//! answered (it runs on the events table's stream), and signs a checkpoint of the grown log.
//!
//! Per account, the new entries are appended in sort-key order (time, then id) in commits of
//! at most [`COMMIT_MAX`] leaves. Each commit moves the stored edge from the size it read to
//! the new one, conditionally, and stamps every appended entry's `log_index`, conditional on it
//! having none; all in one transaction ([`LogStorage::commit`]). So concurrent sequencers for
//! one account serialize on the edge (the log never forks), and an entry the stream delivers
//! twice is appended once: a refused commit drops the entries already stamped, re-reads the
//! edge if it moved, and tries again.
//!
//! The same transaction keeps the appended entries' leaf data ([`Commit::leaves`]) for the life
//! of the log, so no committed index lacks it: entries expire, and export evidence must still
//! account for every index of the tree by its type, time and actor.

use std::collections::HashMap;
use std::future::Future;

use thiserror::Error;

use crate::domain::{AccountId, LogEntry};
use crate::integrity::canonical::{CanonicalError, LeafData};
use crate::integrity::merkle::{Hash, leaf_hash};
use crate::integrity::note::{Checkpoint, NoteError, Signer, origin, sign_checkpoint};
use crate::integrity::tiles::{Edge, TILE_HEIGHT, TileId};
use crate::store::StoreError;
use crate::store::retry::backoff;

/// Leaves per commit: with the edge, the leaf-data item, the checkpoint and at most one
/// completed tile per level, a commit stays within DynamoDB's 100 items per transaction.
pub const COMMIT_MAX: usize = 89;

// One stamp per leaf, the edge, the leaf data, the checkpoint, and one tile per level of a tree
// of up to 2^64 leaves (fewer than 256 leaves complete at most one tile per level).
const _: () = assert!(
    COMMIT_MAX < 1 << TILE_HEIGHT
        && COMMIT_MAX + 3 + (u64::BITS / TILE_HEIGHT) as usize
            <= crate::store::record::TRANSACTION_MAX
);

/// Accounts whose edge a sequencer remembers between invocations; past it, it forgets them all.
const CACHED_EDGES: usize = 4096;

/// Commits refused because another sequencer moved the edge, before giving up (the stream
/// retries the batch).
const MAX_EDGE_RACES: u32 = 16;

/// One entry to append: where it is stored, its leaf data and the leaf hash of that data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeaf {
    pub sort_key: String,
    /// The leaf data's canonical text ([`LeafData::to_text`]), kept by the log.
    pub data: String,
    pub hash: Hash,
}

impl NewLeaf {
    pub fn of(sort_key: String, entry: &LogEntry) -> Result<Self, CanonicalError> {
        let data = LeafData::of(entry)?.to_text();
        Ok(Self {
            sort_key,
            hash: leaf_hash(data.as_bytes()),
            data,
        })
    }
}

/// An entry's position, to stamp on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub sort_key: String,
    pub index: u64,
}

/// One atomic step of the log: the edge goes from `previous_size` to `edge`, the `tiles` it
/// completed are written, each appended entry gets its index, and their leaf data is kept.
pub struct Commit<'a> {
    pub previous_size: u64,
    pub edge: &'a Edge,
    pub tiles: &'a [(TileId, Vec<Hash>)],
    pub stamps: &'a [Stamp],
    /// The appended entries' leaf data texts in index order, the first at `previous_size`.
    pub leaves: &'a [String],
    /// The signed checkpoint of the new edge, on an append's last commit: stored as the latest
    /// in the same transaction (the edge's condition orders them, so it is never older).
    pub checkpoint: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was written: the edge is no longer at `previous_size`, and/or these stamps
    /// (positions in [`Commit::stamps`]) found an index already there.
    Refused {
        edge_moved: bool,
        already_stamped: Vec<usize>,
    },
}

/// The storage the sequencer needs (the log table and the entries' stamps).
pub trait LogStorage: Send + Sync {
    fn edge(&self, account: &AccountId) -> impl Future<Output = Result<Edge, StoreError>> + Send;
    fn commit(
        &self,
        account: &AccountId,
        commit: &Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
}

#[derive(Debug, Error)]
pub enum SequenceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("other sequencers kept moving the log of {0}")]
    Contended(String),
    #[error("signing the checkpoint failed")]
    Sign(#[from] NoteError),
}

/// What one run did to an account's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Leaves this run appended (entries already in the log are not counted).
    pub appended: usize,
    /// The log's size when this run ended, as its checkpoint says.
    pub size: u64,
}

pub struct Sequencer<S> {
    storage: S,
    /// Each account's edge as this sequencer last committed it: a warm sequencer appends
    /// without reading it first. A stale one (another sequencer appended since) only costs a
    /// refused commit, after which the edge is read.
    edges: std::sync::Mutex<HashMap<AccountId, Edge>>,
}

impl<S: LogStorage> Sequencer<S> {
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            edges: std::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn edge(&self, account: &AccountId) -> Result<Edge, StoreError> {
        let cached = self.edges.lock().expect("edges lock").get(account).cloned();
        match cached {
            Some(edge) => Ok(edge),
            None => self.storage.edge(account).await,
        }
    }

    fn remember(&self, account: &AccountId, edge: &Edge) {
        let mut edges = self.edges.lock().expect("edges lock");
        if edges.len() >= CACHED_EDGES && !edges.contains_key(account) {
            edges.clear();
        }
        edges.insert(account.clone(), edge.clone());
    }

    /// Appends `leaves` (any order, repeats allowed) to the log of `account`, and stores a
    /// checkpoint of the new size signed with `signer` in the same transaction as the last
    /// commit: one transaction and one signature per account for up to [`COMMIT_MAX`] leaves.
    pub async fn append<K: Signer + Sync>(
        &self,
        signer: &K,
        account: &AccountId,
        mut leaves: Vec<NewLeaf>,
    ) -> Result<Appended, SequenceError> {
        leaves.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
        leaves.dedup_by(|a, b| a.sort_key == b.sort_key);
        let mut edge = self.edge(account).await?;
        let mut appended = 0;
        let mut races = 0;
        while !leaves.is_empty() {
            let take = leaves.len().min(COMMIT_MAX);
            let mut next = edge.clone();
            let hashes: Vec<Hash> = leaves[..take].iter().map(|l| l.hash).collect();
            let tiles = next.append(&hashes);
            let stamps: Vec<Stamp> = leaves[..take]
                .iter()
                .zip(edge.size()..)
                .map(|(leaf, index)| Stamp {
                    sort_key: leaf.sort_key.clone(),
                    index,
                })
                .collect();
            let data: Vec<String> = leaves[..take].iter().map(|l| l.data.clone()).collect();
            let note = match take == leaves.len() {
                true => Some(sign_checkpoint(&checkpoint_of(account, &next), signer).await?),
                false => None,
            };
            let commit = Commit {
                previous_size: edge.size(),
                edge: &next,
                tiles: &tiles,
                stamps: &stamps,
                leaves: &data,
                checkpoint: note.as_deref(),
            };
            match self.storage.commit(account, &commit).await? {
                CommitOutcome::Committed => {
                    leaves.drain(..take);
                    appended += take;
                    edge = next;
                    self.remember(account, &edge);
                }
                CommitOutcome::Refused {
                    edge_moved,
                    already_stamped,
                } => {
                    // Entries already in the log (a redelivered record) are done.
                    for &position in already_stamped.iter().rev() {
                        leaves.remove(position);
                    }
                    if edge_moved || already_stamped.is_empty() {
                        races += 1;
                        if races > MAX_EDGE_RACES {
                            return Err(SequenceError::Contended(account.to_string()));
                        }
                        backoff(races).await;
                        edge = self.storage.edge(account).await?;
                        self.remember(account, &edge);
                    }
                }
            }
        }
        Ok(Appended {
            appended,
            size: edge.size(),
        })
    }
}

/// The checkpoint of an account's tree with this edge.
fn checkpoint_of(account: &AccountId, edge: &Edge) -> Checkpoint {
    Checkpoint {
        origin: origin(account),
        size: edge.size(),
        root: edge.root(),
    }
}

#[cfg(test)]
mod tests;
