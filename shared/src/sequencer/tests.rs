//! The sequencer over an in-memory [`LogStorage`] whose commits are atomic and whose reads
//! yield, so concurrent runs interleave as they would against DynamoDB. The DynamoDB adapter is
//! tested against the local stack (tests/api/integrity.rs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;
use crate::domain::AccountId;
use crate::integrity::canonical::LeafData;
use crate::integrity::merkle::{leaf_hash, root};
use crate::integrity::note::{LocalSigner, VerifierKey, verify_checkpoint};

#[derive(Default)]
struct Log {
    head: Option<Head>,
    /// The account's mark in the pending set.
    marked: bool,
    tiles: HashMap<TileId, Vec<Hash>>,
    stamps: HashMap<String, u64>,
    /// The leaf data of every index, as the commits kept it.
    leaves: Vec<String>,
    checkpoint: Option<(u64, String)>,
    commits: usize,
    refused: usize,
    /// Edge reads (requests, each of any number of accounts), kept under the key "".
    edge_reads: usize,
}

#[derive(Clone, Default)]
struct MemoryLog(Arc<Mutex<HashMap<String, Log>>>);

/// Transactions written, kept under the key "" (no account has an empty id).
fn log_transactions(logs: &mut HashMap<String, Log>) {
    logs.entry(String::new()).or_default().commits += 1;
}

impl MemoryLog {
    fn with<T>(&self, account: &AccountId, f: impl FnOnce(&mut Log) -> T) -> T {
        let mut logs = self.0.lock().unwrap();
        f(logs.entry(account.to_string()).or_default())
    }
}

impl LogStorage for MemoryLog {
    async fn heads(&self, accounts: &[&AccountId]) -> Result<HashMap<AccountId, Head>, StoreError> {
        let heads = accounts
            .iter()
            .filter_map(|a| {
                self.with(a, |log| log.head.clone())
                    .map(|h| ((*a).clone(), h))
            })
            .collect();
        self.0
            .lock()
            .unwrap()
            .entry(String::new())
            .or_default()
            .edge_reads += 1;
        tokio::task::yield_now().await;
        Ok(heads)
    }

    async fn pending(&self, shard: u8) -> Result<Vec<AccountId>, StoreError> {
        tokio::task::yield_now().await;
        let logs = self.0.lock().unwrap();
        Ok(logs
            .iter()
            .filter(|(_, log)| log.marked)
            .map(|(account, _)| AccountId::parse(account).unwrap())
            .filter(|account| pending_shard(account) == shard)
            .collect())
    }

    async fn store_checkpoint(
        &self,
        account: &AccountId,
        head: &Head,
        note: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        tokio::task::yield_now().await;
        self.with(account, |log| {
            let stored = log.head.as_mut().unwrap();
            if stored.edge.size() != head.edge.size() {
                return Ok(false);
            }
            if let Some(note) = note {
                stored.signed_size = head.edge.size();
                stored.signed_at = at;
                log.checkpoint = Some((head.edge.size(), note.to_owned()));
            }
            log.marked = false;
            Ok(true)
        })
    }

    async fn commit_all(
        &self,
        commits: &[(&AccountId, Commit<'_>)],
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        tokio::task::yield_now().await;
        let mut logs = self.0.lock().unwrap();
        // All or nothing, as one transaction: every commit checked first.
        let refusals: Vec<Option<CommitOutcome>> = commits
            .iter()
            .map(|(account, commit)| {
                let log = logs.entry(account.to_string()).or_default();
                let size = log.head.as_ref().map_or(0, |h| h.edge.size());
                let edge_moved = size != commit.previous_size
                    || commit
                        .tiles
                        .iter()
                        .any(|(id, _)| log.tiles.contains_key(id));
                let already_stamped: Vec<usize> = commit
                    .stamps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| log.stamps.contains_key(&s.sort_key))
                    .map(|(p, _)| p)
                    .collect();
                (edge_moved || !already_stamped.is_empty()).then(|| {
                    log.refused += 1;
                    CommitOutcome::Refused {
                        edge_moved,
                        already_stamped,
                    }
                })
            })
            .collect();
        if refusals.iter().any(Option::is_some) {
            return Ok(refusals
                .into_iter()
                .map(|r| r.unwrap_or(CommitOutcome::NotApplied))
                .collect());
        }
        for (account, commit) in commits {
            let log = logs.entry(account.to_string()).or_default();
            log.head = Some(commit.head.clone());
            log.tiles.extend(commit.tiles.iter().cloned());
            for stamp in commit.stamps {
                log.stamps.insert(stamp.sort_key.clone(), stamp.index);
            }
            assert_eq!(log.leaves.len() as u64, commit.previous_size);
            assert_eq!(commit.leaves.len(), commit.stamps.len());
            log.leaves.extend(commit.leaves.iter().cloned());
            match commit.checkpoint {
                Some(note) => log.checkpoint = Some((commit.head.edge.size(), note.to_owned())),
                None => log.marked = true,
            }
            log.commits += 1;
        }
        log_transactions(&mut logs);
        Ok(vec![CommitOutcome::Committed; commits.len()])
    }
}

fn account() -> AccountId {
    AccountId::parse("acct_seq").unwrap()
}

fn leaf(i: usize) -> NewLeaf {
    let data = LeafData {
        event_type: "login".into(),
        occurred_at: format!("2024-04-22T06:32:{i:06}Z"),
        actor_id: format!("user_{i}"),
        entry_sha256: [i as u8; 32],
        unfamiliar: i.is_multiple_of(3),
    }
    .to_text();
    NewLeaf {
        sort_key: format!("2024-04-22T06:32:{i:06}#id"),
        hash: leaf_hash(data.as_bytes()),
        data,
    }
}

fn key() -> LocalSigner {
    LocalSigner::from_seed(&[3; 32])
}

/// The log's leaves in index order, from the stamps, and a check that the stored edge is the
/// tree of exactly those leaves.
fn stored_leaves(log: &MemoryLog, all: &[NewLeaf]) -> Vec<Hash> {
    log.with(&account(), |log| {
        let mut by_index: Vec<(u64, &String)> = log.stamps.iter().map(|(k, i)| (*i, k)).collect();
        by_index.sort();
        let hashes: Vec<Hash> = by_index
            .iter()
            .enumerate()
            .map(|(expected, (index, key))| {
                assert_eq!(*index, expected as u64, "indices are dense");
                all.iter().find(|l| &&l.sort_key == key).unwrap().hash
            })
            .collect();
        let edge = &log.head.as_ref().unwrap().edge;
        assert_eq!(edge.size(), hashes.len() as u64);
        assert_eq!(edge.root(), root(&hashes));
        hashes
    })
}

#[tokio::test]
async fn entries_are_appended_in_sort_key_order_and_the_checkpoint_verifies() {
    let log = MemoryLog::default();
    let sequencer = Sequencer::new(log.clone());
    let leaves: Vec<NewLeaf> = (0..5).rev().map(leaf).collect();
    let result = sequencer
        .append(&key(), &account(), leaves.clone())
        .await
        .unwrap();
    assert_eq!(
        result,
        Appended {
            appended: 5,
            size: 5
        }
    );
    let hashes = stored_leaves(&log, &leaves);
    let in_order: Vec<Hash> = (0..5).map(|i| leaf(i).hash).collect();
    assert_eq!(hashes, in_order);

    let (size, note) = log.with(&account(), |l| l.checkpoint.clone().unwrap());
    assert_eq!(size, 5);
    let vkey = VerifierKey::new(&origin(&account()), &key().public_key()).unwrap();
    let checkpoint = verify_checkpoint(&note, &vkey).unwrap();
    assert_eq!((checkpoint.size, checkpoint.root), (5, root(&in_order)));
}

#[tokio::test]
async fn a_redelivered_entry_is_appended_once() {
    let log = MemoryLog::default();
    let sequencer = Sequencer::new(log.clone());
    let all: Vec<NewLeaf> = (0..10).map(leaf).collect();
    sequencer
        .append(&key(), &account(), all[..6].to_vec())
        .await
        .unwrap();
    // The stream redelivers 3..6 with new ones, and repeats one within the batch.
    let mut again = all[3..10].to_vec();
    again.push(all[8].clone());
    let result = sequencer.append(&key(), &account(), again).await.unwrap();
    assert_eq!(
        result,
        Appended {
            appended: 4,
            size: 10
        }
    );
    assert_eq!(stored_leaves(&log, &all).len(), 10);
}

#[tokio::test]
async fn a_large_batch_is_committed_in_bounded_steps() {
    let log = MemoryLog::default();
    let sequencer = Sequencer::new(log.clone());
    let all: Vec<NewLeaf> = (0..600).map(leaf).collect();
    let result = sequencer
        .append(&key(), &account(), all.clone())
        .await
        .unwrap();
    assert_eq!(result.size, 600);
    assert_eq!(
        log.with(&account(), |l| l.commits),
        600_usize.div_ceil(COMMIT_MAX)
    );
    assert_eq!(stored_leaves(&log, &all).len(), 600);
    // Two complete level-0 tiles were written.
    assert_eq!(log.with(&account(), |l| l.tiles.len()), 2);
}

/// Eight sequencers at once, each with an overlapping slice of `all` (as redeliveries and
/// shard splits give); how many leaves they appended in all.
async fn race(log: &MemoryLog, all: &[NewLeaf]) -> usize {
    let step = all.len() / 10;
    let runs = (0..8).map(|k| {
        let sequencer = Sequencer::new(log.clone());
        let slice = all[k * step..(k * step + 3 * step).min(all.len())].to_vec();
        tokio::spawn(async move { sequencer.append(&key(), &account(), slice).await })
    });
    let mut appended = 0;
    for run in runs {
        appended += run.await.unwrap().unwrap().appended;
    }
    assert!(
        log.with(&account(), |l| l.refused) > 0,
        "the runs raced (else the test shows nothing)"
    );
    appended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sequencers_never_fork_the_log_nor_append_an_entry_twice() {
    let log = MemoryLog::default();
    let all: Vec<NewLeaf> = (0..400).map(leaf).collect();
    let appended = race(&log, &all).await;
    assert_eq!(appended, 400, "each entry appended by exactly one run");
    assert_eq!(stored_leaves(&log, &all).len(), 400);
    let (size, _) = log.with(&account(), |l| l.checkpoint.clone().unwrap());
    assert_eq!(size, 400, "the latest checkpoint covers the whole log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sequencers_keep_the_leaf_data_of_every_index() {
    let log = MemoryLog::default();
    let all: Vec<NewLeaf> = (0..300).map(leaf).collect();
    race(&log, &all).await;
    let hashes = stored_leaves(&log, &all);
    let kept = log.with(&account(), |l| l.leaves.clone());
    assert_eq!(kept.len(), hashes.len());
    for (index, (data, hash)) in kept.iter().zip(&hashes).enumerate() {
        assert_eq!(
            &leaf_hash(data.as_bytes()),
            hash,
            "leaf data of index {index}"
        );
        assert!(LeafData::parse(data.as_bytes()).is_ok(), "{data}");
        assert!(!data.contains('\n'));
    }
}

/// A warm sequencer appends from the edge it remembers; when another sequencer appended
/// meanwhile, its commit is refused, it reads the edge and appends after the other's leaves.
#[tokio::test]
async fn a_remembered_edge_that_went_stale_costs_one_refused_commit() {
    let log = MemoryLog::default();
    let (warm, other) = (Sequencer::new(log.clone()), Sequencer::new(log.clone()));
    let all: Vec<NewLeaf> = (0..30).map(leaf).collect();
    warm.append(&key(), &account(), all[..10].to_vec())
        .await
        .unwrap();
    other
        .append(&key(), &account(), all[10..20].to_vec())
        .await
        .unwrap();
    let refused = log.with(&account(), |l| l.refused);
    let result = warm
        .append(&key(), &account(), all[20..].to_vec())
        .await
        .unwrap();
    assert_eq!((result.appended, result.size), (10, 30));
    assert_eq!(log.with(&account(), |l| l.refused), refused + 1);
    stored_leaves(&log, &all);
    // Its checkpoint, stored with the last commit, is of the whole log.
    let (size, _) = log.with(&account(), |l| l.checkpoint.clone().unwrap());
    assert_eq!(size, 30);
    // Warm again: no read, no refusal.
    let before = log.with(&account(), |l| l.refused);
    warm.append(&key(), &account(), (30..35).map(leaf).collect())
        .await
        .unwrap();
    assert_eq!(log.with(&account(), |l| l.refused), before);
}

/// Many accounts with a few entries each: their commits share transactions (up to 100 items),
/// and one account's stale edge does not stop the others.
#[tokio::test]
async fn accounts_share_transactions_and_one_refusal_does_not_stop_the_others() {
    let log = MemoryLog::default();
    let (warm, other) = (Sequencer::new(log.clone()), Sequencer::new(log.clone()));
    let accounts: Vec<AccountId> = (0..30)
        .map(|n| AccountId::parse(&format!("acct_{n}")).unwrap())
        .collect();
    let batch = |range: std::ops::Range<usize>| -> Vec<(AccountId, Vec<NewLeaf>)> {
        accounts
            .iter()
            .map(|a| (a.clone(), range.clone().map(leaf).collect()))
            .collect()
    };
    let results = warm.append_all(&key(), batch(0..3)).await;
    assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().size == 3));
    // 30 accounts of 3 leaves (edge, leaf data, checkpoint, 3 stamps: 6 items each): 180
    // items, spread to at least 8 transactions (at most 23 items: 3 accounts each), not 30.
    assert_eq!(log.0.lock().unwrap()[""].commits, 10);
    // A cold sequencer read the 30 edges in one request.
    assert_eq!(log.0.lock().unwrap()[""].edge_reads, 1);
    // Another sequencer appends to one account: the warm one's edge of it is stale.
    other
        .append(&key(), &accounts[7], vec![leaf(3)])
        .await
        .unwrap();
    let results = warm.append_all(&key(), batch(4..6)).await;
    for (account, result) in &results {
        let expected = if *account == accounts[7] { 6 } else { 5 };
        assert_eq!(result.as_ref().unwrap().size, expected, "{account}");
    }
    for account in &accounts {
        let (size, note) = log.with(account, |l| l.checkpoint.clone().unwrap());
        let key = VerifierKey::new(&origin(account), &key().public_key()).unwrap();
        assert_eq!(verify_checkpoint(&note, &key).unwrap().size, size);
    }
}

/// An append signs only when the latest checkpoint is older than the interval; the rest of the
/// growth waits in the pending set until the sweep signs it.
#[tokio::test]
async fn a_checkpoint_is_signed_when_due_and_the_sweep_signs_the_rest() {
    let log = MemoryLog::default();
    let sequencer = Sequencer::new(log.clone()).signing_every(std::time::Duration::from_secs(3600));
    let signed = || log.with(&account(), |l| l.checkpoint.clone().unwrap());
    let shard = pending_shard(&account());
    sequencer
        .append(&key(), &account(), (0..3).map(leaf).collect())
        .await
        .unwrap();
    assert_eq!(signed().0, 3, "a new log's first checkpoint is due");
    assert!(log.pending(shard).await.unwrap().is_empty());
    sequencer
        .append(&key(), &account(), (3..5).map(leaf).collect())
        .await
        .unwrap();
    assert_eq!(signed().0, 3, "not due within the interval");
    assert_eq!(log.pending(shard).await.unwrap(), vec![account()]);

    let swept = sequencer.sign_pending(&key()).await.unwrap();
    assert_eq!(
        swept,
        Swept {
            signed: 1,
            moved: 0
        }
    );
    let (size, note) = signed();
    let verifier = VerifierKey::new(&origin(&account()), &key().public_key()).unwrap();
    assert_eq!(
        (size, verify_checkpoint(&note, &verifier).unwrap().size),
        (5, 5)
    );
    assert!(log.pending(shard).await.unwrap().is_empty());
    assert_eq!(
        sequencer.sign_pending(&key()).await.unwrap(),
        Swept::default()
    );
}
