//! The sequencer: appends newly stored entries to their account's Merkle log, after ingest has
//! answered (it runs on the events table's stream), and signs a checkpoint of the grown log.
//!
//! Per account, the new entries are appended in sort-key order (time, then id) in commits of
//! at most [`COMMIT_MAX`] leaves. Each commit moves the stored edge from the size it read to
//! the new one, conditionally, and stamps every appended entry's `log_index`, conditional on it
//! having none; all in one transaction ([`LogStorage::commit_all`]). So concurrent sequencers for
//! one account serialize on the edge (the log never forks), and an entry the stream delivers
//! twice is appended once: a refused commit drops the entries already stamped, re-reads the
//! edge if it moved, and tries again.
//!
//! The same transaction keeps the appended entries' leaf data ([`Commit::leaves`]) for the life
//! of the log, so no committed index lacks it: entries expire, and export evidence must still
//! account for every index of the tree by its type, time and actor.
//!
//! Checkpoints are signed when due, not for every batch (a signature is a KMS call in the
//! cloud): an append signs the grown log if the account's latest checkpoint is older than
//! [`Sequencer::signing_every`]; otherwise its commit puts the account in the pending set, and
//! the sweep ([`Sequencer::sign_pending`], every minute) signs what grew. So a checkpoint
//! covers any entry within about a minute; an export signs its own (`export::worker`).
//!
//! The use case is this folder: the core here, its ports in `ports.rs` (re-exported), its
//! in-memory tests in `tests.rs`.

mod ports;

pub use ports::{
    Commit, CommitOutcome, Head, LogStorage, NewLeaf, PENDING_SHARDS, Stamp, pending_shard,
};

use std::collections::HashMap;

use thiserror::Error;

use crate::domain::AccountId;
use crate::integrity::merkle::Hash;
use crate::integrity::note::{Checkpoint, NoteError, Signer, origin, sign_checkpoint};
use crate::integrity::tiles::{Edge, TILE_HEIGHT, TileId};
use crate::storage::StoreError;
use crate::storage::TRANSACTION_MAX;
use crate::storage::retry::backoff;

/// Leaves per commit: with the edge, the leaf-data item, the checkpoint or the pending mark,
/// and at most one completed tile per level, a commit stays within DynamoDB's 100 items per
/// transaction.
pub const COMMIT_MAX: usize = 89;

// One stamp per leaf, the edge, the leaf data, the checkpoint or the pending mark, and one tile
// per level of a tree of up to 2^64 leaves (fewer than 256 leaves complete at most one tile per
// level).
const _: () = assert!(
    COMMIT_MAX < 1 << TILE_HEIGHT
        && COMMIT_MAX + 3 + (u64::BITS / TILE_HEIGHT) as usize <= TRANSACTION_MAX
);

/// Accounts whose head a sequencer remembers between invocations; past it, it forgets them all.
const CACHED_HEADS: usize = 4096;

/// Commits refused because another sequencer moved the edge, before giving up (the stream
/// retries the batch).
const MAX_EDGE_RACES: u32 = 16;

#[derive(Debug, Error)]
pub enum SequenceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("other sequencers kept moving the log of {0}")]
    Contended(String),
    #[error("signing the checkpoint failed")]
    Sign(#[from] NoteError),
    /// The transaction this account's commit shared with other accounts' failed.
    #[error("the shared commit failed: {0}")]
    Shared(String),
}

/// What one run did to an account's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Leaves this run appended (entries already in the log are not counted).
    pub appended: usize,
    /// The log's size when this run ended, as its checkpoint says.
    pub size: u64,
}

/// What one sweep of the pending set did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Accounts whose grown log got a signed checkpoint.
    pub signed: usize,
    /// Accounts left for the next sweep: their log moved while this one signed.
    pub moved: usize,
}

pub struct Sequencer<S> {
    storage: S,
    /// Each account's head as this sequencer last committed it: a warm sequencer appends
    /// without reading it first. A stale one (another sequencer appended, or the sweep signed,
    /// since) only costs a refused commit, after which the head is read.
    heads: std::sync::Mutex<HashMap<AccountId, Head>>,
    /// How old an account's latest checkpoint may get before an append signs a new one.
    signing_every: std::time::Duration,
}

impl<S: LogStorage> Sequencer<S> {
    /// A sequencer that signs a checkpoint for every append.
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            heads: std::sync::Mutex::new(HashMap::new()),
            signing_every: std::time::Duration::ZERO,
        }
    }

    /// Signs an append's checkpoint only if the account's latest is older than `interval`;
    /// other growth waits in the pending set for [`Sequencer::sign_pending`].
    pub fn signing_every(mut self, interval: std::time::Duration) -> Self {
        self.signing_every = interval;
        self
    }

    /// Each account's head: remembered, or read for all the others in one request (a cold
    /// sequencer with fifty accounts in its batch makes one read, not fifty in a row).
    async fn heads_of(&self, accounts: &[&AccountId]) -> Result<Vec<Head>, StoreError> {
        let mut known: HashMap<AccountId, Head> = {
            let cached = self.heads.lock().expect("heads lock");
            accounts
                .iter()
                .filter_map(|a| cached.get(*a).map(|edge| ((*a).clone(), edge.clone())))
                .collect()
        };
        let unknown: Vec<&AccountId> = accounts
            .iter()
            .copied()
            .filter(|a| !known.contains_key(*a))
            .collect();
        if !unknown.is_empty() {
            known.extend(self.storage.heads(&unknown).await?);
        }
        Ok(accounts
            .iter()
            .map(|a| known.get(*a).cloned().unwrap_or_else(Head::empty))
            .collect())
    }

    /// The stored head of one account, past the cache.
    async fn stored_head(&self, account: &AccountId) -> Result<Head, StoreError> {
        let mut heads = self.storage.heads(&[account]).await?;
        Ok(heads.remove(account).unwrap_or_else(Head::empty))
    }

    fn remember(&self, account: &AccountId, head: &Head) {
        let mut heads = self.heads.lock().expect("heads lock");
        if heads.len() >= CACHED_HEADS && !heads.contains_key(account) {
            heads.clear();
        }
        heads.insert(account.clone(), head.clone());
    }

    /// Signs a checkpoint for every account in the pending set (its log grew past its latest
    /// checkpoint) that an append has not signed since: the scheduled sweep, so no growth waits
    /// much over a minute for one. An account whose log moves meanwhile stays marked, for the
    /// next sweep (or its next append).
    pub async fn sign_pending<K: Signer + Sync>(&self, signer: &K) -> Result<Swept, SequenceError> {
        let mut swept = Swept::default();
        for shard in 0..PENDING_SHARDS {
            let accounts = self.storage.pending(shard).await?;
            for chunk in accounts.chunks(TRANSACTION_MAX) {
                let names: Vec<&AccountId> = chunk.iter().collect();
                let heads = self.storage.heads(&names).await?;
                let signed = futures::future::join_all(chunk.iter().filter_map(|account| {
                    let head = heads.get(account)?.clone();
                    Some(async move {
                        let note = match head.signed_size < head.edge.size() {
                            true => Some(
                                sign_checkpoint(&checkpoint_of(account, &head.edge), signer)
                                    .await?,
                            ),
                            false => None,
                        };
                        let at = jiff::Timestamp::now().as_millisecond();
                        let stored = self
                            .storage
                            .store_checkpoint(account, &head, note.as_deref(), at)
                            .await?;
                        Ok::<_, SequenceError>(note.is_some().then_some(stored))
                    })
                }))
                .await;
                for result in signed {
                    match result? {
                        Some(true) => swept.signed += 1,
                        Some(false) => swept.moved += 1,
                        None => {} // an append signed it since it was marked
                    }
                }
            }
        }
        Ok(swept)
    }

    /// Appends `leaves` (any order, repeats allowed) to the log of `account`, and stores a
    /// checkpoint of the new size signed with `signer` in the same transaction as the last
    /// commit: one transaction and one signature per account for up to [`COMMIT_MAX`] leaves.
    pub async fn append<K: Signer + Sync>(
        &self,
        signer: &K,
        account: &AccountId,
        leaves: Vec<NewLeaf>,
    ) -> Result<Appended, SequenceError> {
        let mut done = self
            .append_all(signer, vec![(account.clone(), leaves)])
            .await;
        done.pop().map(|(_, result)| result).unwrap_or(Ok(Appended {
            appended: 0,
            size: 0,
        }))
    }

    /// Appends each account's leaves as [`Sequencer::append`] does, packing the commits of
    /// several accounts into one transaction (up to DynamoDB's 100 items): a batch of many
    /// accounts with a few entries each costs a few transactions, not one per account. Each
    /// account's result is its own: a commit refused for one account's reason is retried for
    /// the others.
    pub async fn append_all<K: Signer + Sync>(
        &self,
        signer: &K,
        accounts: Vec<(AccountId, Vec<NewLeaf>)>,
    ) -> Vec<(AccountId, Result<Appended, SequenceError>)> {
        let mut done = Vec::new();
        let names: Vec<&AccountId> = accounts.iter().map(|(account, _)| account).collect();
        let heads = match self.heads_of(&names).await {
            Ok(heads) => heads,
            Err(e) => {
                let message = e.to_string();
                let mut error = Some(SequenceError::from(e));
                return accounts
                    .into_iter()
                    .map(|(account, _)| {
                        let error = error
                            .take()
                            .unwrap_or_else(|| SequenceError::Shared(message.clone()));
                        (account, Err(error))
                    })
                    .collect();
            }
        };
        let mut pending: Vec<Pending> = accounts
            .into_iter()
            .zip(heads)
            .map(|((account, mut leaves), head)| {
                leaves.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
                leaves.dedup_by(|a, b| a.sort_key == b.sort_key);
                Pending {
                    account,
                    leaves,
                    head,
                    appended: 0,
                    races: 0,
                    error: None,
                }
            })
            .collect();
        while !pending.is_empty() {
            // Each account still appending plans its next commit, side by side (an account's
            // last commit waits on a signature, a KMS call).
            let plans = futures::future::join_all(
                pending
                    .iter()
                    .enumerate()
                    .filter(|(_, account)| !account.leaves.is_empty())
                    .map(|(position, account)| async move {
                        (position, account.plan(signer, self.signing_every).await)
                    }),
            )
            .await;
            let mut planned = Vec::new();
            for (position, plan) in plans {
                match plan {
                    Ok(plan) => planned.push((position, plan)),
                    Err(e) => pending[position].error = Some(e),
                }
            }
            // The transactions go side by side (their accounts differ), so a batch keeps a
            // few requests in flight at the storage, as one per account did.
            let groups = transactions(&planned);
            let results = futures::future::join_all(groups.iter().map(|group| {
                let commits: Vec<(&AccountId, Commit<'_>)> = group
                    .iter()
                    .map(|(position, plan)| (&pending[*position].account, plan.commit()))
                    .collect();
                async move { self.storage.commit_all(&commits).await }
            }))
            .await;
            for (group, outcomes) in groups.into_iter().zip(results) {
                match outcomes {
                    Ok(outcomes) => {
                        for ((position, plan), outcome) in group.iter().zip(outcomes) {
                            let account = &mut pending[*position];
                            if let Err(e) = self.settle(account, plan, outcome).await {
                                account.error = Some(e);
                            }
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        let mut error = Some(SequenceError::from(e));
                        for (position, _) in group.iter() {
                            pending[*position].error = Some(
                                error
                                    .take()
                                    .unwrap_or_else(|| SequenceError::Shared(message.clone())),
                            );
                        }
                    }
                }
            }
            // Failed and finished accounts leave the loop.
            let mut still = Vec::new();
            for account in pending {
                if let Some(error) = account.error {
                    done.push((account.account, Err(error)));
                } else if account.leaves.is_empty() {
                    done.push((
                        account.account,
                        Ok(Appended {
                            appended: account.appended,
                            size: account.head.edge.size(),
                        }),
                    ));
                } else {
                    still.push(account);
                }
            }
            pending = still;
        }
        done
    }

    /// Applies a commit's outcome to its account.
    async fn settle(
        &self,
        account: &mut Pending,
        plan: &Plan,
        outcome: CommitOutcome,
    ) -> Result<(), SequenceError> {
        match outcome {
            CommitOutcome::Committed => {
                account.leaves.drain(..plan.stamps.len());
                account.appended += plan.stamps.len();
                account.head = plan.next.clone();
                self.remember(&account.account, &account.head);
            }
            // Another account's commit in the same transaction was refused: plan again.
            CommitOutcome::NotApplied => {}
            CommitOutcome::Refused {
                edge_moved,
                already_stamped,
            } => {
                // Entries already in the log (a redelivered record) are done.
                for &position in already_stamped.iter().rev() {
                    account.leaves.remove(position);
                }
                if edge_moved || already_stamped.is_empty() {
                    account.races += 1;
                    if account.races > MAX_EDGE_RACES {
                        return Err(SequenceError::Contended(account.account.to_string()));
                    }
                    backoff(account.races).await;
                    account.head = self.stored_head(&account.account).await?;
                    self.remember(&account.account, &account.head);
                }
            }
        }
        Ok(())
    }
}

/// An account being appended to.
struct Pending {
    account: AccountId,
    /// Leaves not yet in the log, in sort-key order.
    leaves: Vec<NewLeaf>,
    head: Head,
    appended: usize,
    races: u32,
    /// Why it stopped, once it failed.
    error: Option<SequenceError>,
}

/// An account's next commit, owned.
struct Plan {
    previous_size: u64,
    next: Head,
    tiles: Vec<(TileId, Vec<Hash>)>,
    stamps: Vec<Stamp>,
    data: Vec<String>,
    checkpoint: Option<String>,
}

impl Plan {
    fn commit(&self) -> Commit<'_> {
        Commit {
            previous_size: self.previous_size,
            head: &self.next,
            tiles: &self.tiles,
            stamps: &self.stamps,
            leaves: &self.data,
            checkpoint: self.checkpoint.as_deref(),
        }
    }

    /// The transaction items it takes: the edge, its tiles, the leaf data, the checkpoint or
    /// the pending mark, and a stamp per leaf.
    fn items(&self) -> usize {
        3 + self.tiles.len() + self.stamps.len()
    }
}

impl Pending {
    /// The next commit: up to [`COMMIT_MAX`] leaves; the last one carries the signed
    /// checkpoint of the new size when one is due (the latest is older than `signing_every`),
    /// and any other puts the account in the pending set.
    async fn plan<K: Signer + Sync>(
        &self,
        signer: &K,
        signing_every: std::time::Duration,
    ) -> Result<Plan, SequenceError> {
        let take = self.leaves.len().min(COMMIT_MAX);
        let mut next = self.head.clone();
        let hashes: Vec<Hash> = self.leaves[..take].iter().map(|l| l.hash).collect();
        let tiles = next.edge.append(&hashes);
        let stamps: Vec<Stamp> = self.leaves[..take]
            .iter()
            .zip(self.head.edge.size()..)
            .map(|(leaf, index)| Stamp {
                sort_key: leaf.sort_key.clone(),
                index,
            })
            .collect();
        let now = jiff::Timestamp::now().as_millisecond();
        let due = now.saturating_sub(self.head.signed_at) >= signing_every.as_millis() as i64;
        let checkpoint = if take == self.leaves.len() && due {
            let note = sign_checkpoint(&checkpoint_of(&self.account, &next.edge), signer).await?;
            next.signed_size = next.edge.size();
            next.signed_at = now;
            Some(note)
        } else {
            None
        };
        Ok(Plan {
            previous_size: self.head.edge.size(),
            next,
            tiles,
            stamps,
            data: self.leaves[..take].iter().map(|l| l.data.clone()).collect(),
            checkpoint,
        })
    }
}

/// Transactions a batch keeps in flight at once, when it has that many commits: the storage
/// serves other callers between them (the local stand-in serves one request at a time, in
/// arrival order), so fewer would leave the sequencer a smaller share of it.
const TRANSACTIONS_IN_FLIGHT: usize = 8;

/// Groups planned commits (one per account) into transactions of at most
/// [`TRANSACTION_MAX`] items, in order, spread over at least
/// [`TRANSACTIONS_IN_FLIGHT`] transactions when there are that many commits.
fn transactions(planned: &[(usize, Plan)]) -> Vec<&[(usize, Plan)]> {
    let total: usize = planned.iter().map(|(_, plan)| plan.items()).sum();
    let limit = total.div_ceil(TRANSACTIONS_IN_FLIGHT).min(TRANSACTION_MAX);
    let mut groups = Vec::new();
    let (mut start, mut items) = (0, 0);
    for (i, (_, plan)) in planned.iter().enumerate() {
        if i > start && items + plan.items() > limit {
            groups.push(&planned[start..i]);
            (start, items) = (i, 0);
        }
        items += plan.items();
    }
    if start < planned.len() {
        groups.push(&planned[start..]);
    }
    groups
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
