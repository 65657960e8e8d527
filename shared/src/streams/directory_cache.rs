//! The fan-out's view of which accounts have streams, kept for a few seconds per process.
//!
//! Every growth of every account's log reaches the fan-out, and most accounts have no stream:
//! without it, each would cost a read per batch. Those not known (or known too long ago) are
//! read together, one read per batch. Kept for [`TTL`] (2 s), a stream created meanwhile
//! still delivers everything (its creation queues a run of its own, from index 0), and entries
//! appended in that window wait at most the TTL for the next growth's run; a deleted stream's
//! queued run finds it gone and ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::ports::StreamDirectory;
use crate::domain::AccountId;
use crate::domain::stream::StreamId;
use crate::storage::StoreError;

/// How long an account's list of deliverable streams is reused.
pub const TTL: Duration = Duration::from_secs(2);

pub struct CachedDirectory<D> {
    inner: D,
    ttl: Duration,
    known: Mutex<HashMap<AccountId, (Instant, Vec<StreamId>)>>,
}

impl<D> CachedDirectory<D> {
    pub fn new(inner: D, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            known: Mutex::new(HashMap::new()),
        }
    }
}

impl<D: StreamDirectory + Sync> StreamDirectory for CachedDirectory<D> {
    /// What is known and fresh from memory; the rest in one read of the inner directory.
    async fn streams_of(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, Vec<StreamId>>, StoreError> {
        let now = Instant::now();
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        {
            let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            for account in accounts {
                match known.get(account) {
                    Some((read_at, streams)) if now.duration_since(*read_at) < self.ttl => {
                        if !streams.is_empty() {
                            found.insert(account.clone(), streams.clone());
                        }
                    }
                    _ => unknown.push(account.clone()),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(found);
        }
        let read = self.inner.streams_of(&unknown).await?;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what expired, so the map stays as small as the accounts recently seen.
        known.retain(|_, (read_at, _)| now.duration_since(*read_at) < self.ttl);
        for account in unknown {
            let streams = read.get(&account).cloned().unwrap_or_default();
            if !streams.is_empty() {
                found.insert(account.clone(), streams.clone());
            }
            // Accounts without streams are remembered too: they are most accounts.
            known.insert(account, (now, streams));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting {
        reads: AtomicUsize,
        streams: Mutex<Vec<StreamId>>,
    }

    impl StreamDirectory for Counting {
        async fn streams_of(
            &self,
            accounts: &[AccountId],
        ) -> Result<HashMap<AccountId, Vec<StreamId>>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let streams = self.streams.lock().unwrap().clone();
            Ok(accounts
                .iter()
                .filter(|_| !streams.is_empty())
                .map(|account| (account.clone(), streams.clone()))
                .collect())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_accounts_streams_are_read_once_per_ttl_then_again() {
        let directory = CachedDirectory::new(
            Counting {
                reads: AtomicUsize::new(0),
                streams: Mutex::new(Vec::new()),
            },
            TTL,
        );
        let account = AccountId::parse("acct_1").unwrap();
        let accounts = [account.clone()];
        assert!(directory.streams_of(&accounts).await.unwrap().is_empty());
        let created = StreamId::generate();
        directory
            .inner
            .streams
            .lock()
            .unwrap()
            .push(created.clone());
        tokio::time::advance(TTL / 2).await;
        assert!(
            directory.streams_of(&accounts).await.unwrap().is_empty(),
            "cached"
        );
        assert_eq!(directory.inner.reads.load(Ordering::SeqCst), 1);
        tokio::time::advance(TTL).await;
        assert_eq!(
            directory.streams_of(&accounts).await.unwrap()[&account],
            vec![created]
        );
        assert_eq!(directory.inner.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_reads_only_its_unknown_accounts_and_in_one_read() {
        let directory = CachedDirectory::new(
            Counting {
                reads: AtomicUsize::new(0),
                streams: Mutex::new(vec![StreamId::generate()]),
            },
            TTL,
        );
        let (a, b, c) = (
            AccountId::parse("acct_a").unwrap(),
            AccountId::parse("acct_b").unwrap(),
            AccountId::parse("acct_c").unwrap(),
        );
        assert_eq!(
            directory
                .streams_of(std::slice::from_ref(&a))
                .await
                .unwrap()
                .len(),
            1
        );
        let both = directory
            .streams_of(&[a.clone(), b.clone(), c.clone()])
            .await
            .unwrap();
        assert_eq!(both.len(), 3, "known and read alike");
        assert_eq!(directory.inner.reads.load(Ordering::SeqCst), 2);
        assert_eq!(
            directory.streams_of(&[a, b, c]).await.unwrap().len(),
            3,
            "all cached now"
        );
        assert_eq!(directory.inner.reads.load(Ordering::SeqCst), 2);
    }
}
