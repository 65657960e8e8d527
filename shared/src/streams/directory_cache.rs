//! The fan-out's view of which accounts have streams, kept for a few seconds per process.
//!
//! Every growth of every account's log reaches the fan-out, and most accounts have no stream:
//! without it, each would cost a Query per batch. Kept for [`TTL`] (2 s), a stream created meanwhile
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
    async fn deliverable(&self, account: &AccountId) -> Result<Vec<StreamId>, StoreError> {
        let now = Instant::now();
        if let Ok(known) = self.known.lock()
            && let Some((read_at, streams)) = known.get(account)
            && now.duration_since(*read_at) < self.ttl
        {
            return Ok(streams.clone());
        }
        let streams = self.inner.deliverable(account).await?;
        if let Ok(mut known) = self.known.lock() {
            // Forget what expired, so the map stays as small as the accounts recently seen.
            known.retain(|_, (read_at, _)| now.duration_since(*read_at) < self.ttl);
            known.insert(account.clone(), (now, streams.clone()));
        }
        Ok(streams)
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
        async fn deliverable(&self, _account: &AccountId) -> Result<Vec<StreamId>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.streams.lock().unwrap().clone())
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
        assert!(directory.deliverable(&account).await.unwrap().is_empty());
        let created = StreamId::generate();
        directory
            .inner
            .streams
            .lock()
            .unwrap()
            .push(created.clone());
        tokio::time::advance(TTL / 2).await;
        assert!(
            directory.deliverable(&account).await.unwrap().is_empty(),
            "cached"
        );
        assert_eq!(directory.inner.reads.load(Ordering::SeqCst), 1);
        tokio::time::advance(TTL).await;
        assert_eq!(
            directory.deliverable(&account).await.unwrap(),
            vec![created]
        );
        assert_eq!(directory.inner.reads.load(Ordering::SeqCst), 2);
    }
}
