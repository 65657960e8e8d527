//! The sequencer's ports: what it reads and writes of an account's log ([`LogStorage`], which
//! `store::dynamodb::log` implements) and the values that cross them.

use std::collections::HashMap;
use std::future::Future;

use crate::domain::{AccountId, LogEntry};
use crate::integrity::canonical::{CanonicalError, LeafData};
use crate::integrity::merkle::{Hash, leaf_hash};
use crate::integrity::tiles::{Edge, TILE_HEIGHT, TileId};
use crate::storage::StoreError;

/// Shards of the pending set, so marking accounts spreads over that many partitions.
pub const PENDING_SHARDS: u8 = 16;

/// The pending-set shard of an account.
pub fn pending_shard(account: &AccountId) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::digest(account.as_str().as_bytes())[0] % PENDING_SHARDS
}

/// An account's log as the sequencer needs it: the tree's edge and how far it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub edge: Edge,
    /// The size of the latest signed checkpoint, and when it was signed (Unix ms), as the
    /// writer of the edge knew them: never newer than the truth, so at worst a checkpoint is
    /// signed sooner than due, or twice.
    pub signed_size: u64,
    pub signed_at: i64,
}

impl Head {
    pub fn empty() -> Self {
        Self {
            edge: Edge::empty(TILE_HEIGHT),
            signed_size: 0,
            signed_at: 0,
        }
    }
}

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

/// One atomic step of the log: the edge goes from `previous_size` to `head.edge`, the `tiles`
/// it completed are written, each appended entry gets its index, their leaf data is kept, and
/// either the new size's checkpoint is stored or the account is marked in the pending set.
pub struct Commit<'a> {
    pub previous_size: u64,
    pub head: &'a Head,
    pub tiles: &'a [(TileId, Vec<Hash>)],
    pub stamps: &'a [Stamp],
    /// The appended entries' leaf data texts in index order, the first at `previous_size`.
    pub leaves: &'a [String],
    /// The signed checkpoint of the new edge, on an append's last commit when one is due:
    /// stored as the latest in the same transaction (the edge's condition orders them, so it
    /// is never older). Without one, the commit marks the account pending (an idempotent put:
    /// a mark is never lost to a stale view of the set).
    pub checkpoint: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was written because another commit of the same transaction was refused.
    NotApplied,
    /// Nothing was written: the edge is no longer at `previous_size`, and/or these stamps
    /// (positions in [`Commit::stamps`]) found an index already there.
    Refused {
        edge_moved: bool,
        already_stamped: Vec<usize>,
    },
}

/// The storage the sequencer needs (the log table and the entries' stamps).
pub trait LogStorage: Send + Sync {
    /// The heads of these accounts' logs (strongly consistent) in one read; an account with no
    /// log yet is missing from the answer.
    fn heads(
        &self,
        accounts: &[&AccountId],
    ) -> impl Future<Output = Result<HashMap<AccountId, Head>, StoreError>> + Send;
    /// Commits of several accounts (one each) in one transaction: all are written or none,
    /// with each one's outcome.
    fn commit_all(
        &self,
        commits: &[(&AccountId, Commit<'_>)],
    ) -> impl Future<Output = Result<Vec<CommitOutcome>, StoreError>> + Send;
    /// The accounts in one shard of the pending set.
    fn pending(&self, shard: u8)
    -> impl Future<Output = Result<Vec<AccountId>, StoreError>> + Send;
    /// Takes the account out of the pending set if its edge is still `head`'s size, storing
    /// `note` (the signed checkpoint of that size, if given) as the latest and the edge as
    /// signed at `at` (Unix ms); `false` (nothing written) if the edge moved.
    fn store_checkpoint(
        &self,
        account: &AccountId,
        head: &Head,
        note: Option<&str>,
        at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
