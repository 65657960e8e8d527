//! From "these accounts' logs grew" to one run per stream: what the log table's stream starts.
//! It only enqueues; the runs deliver, each in its own invocation, so no destination's
//! slowness reaches another stream or the log.

use super::ports::{DeliveryQueue, QueueError, ScheduledRun, StreamDirectory};
use crate::domain::AccountId;
use crate::storage::{StoreError, TRANSACTION_MAX};

#[derive(Debug, thiserror::Error)]
pub enum FanOutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Enqueues a run, now, of every deliverable stream of `accounts` (each account once); how many.
pub async fn fan_out(
    accounts: &[AccountId],
    directory: &(impl StreamDirectory + Sync),
    queue: &impl DeliveryQueue,
) -> Result<usize, FanOutError> {
    let mut unique: Vec<AccountId> = accounts.to_vec();
    unique.sort();
    unique.dedup();
    let mut runs = Vec::new();
    for accounts in unique.chunks(TRANSACTION_MAX) {
        for (account, streams) in directory.streams_of(accounts).await? {
            runs.extend(streams.into_iter().map(|stream| ScheduledRun {
                account: account.clone(),
                stream,
                delay: std::time::Duration::ZERO,
            }));
        }
    }
    if !runs.is_empty() {
        queue.enqueue(&runs).await?;
    }
    Ok(runs.len())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::domain::stream::StreamId;

    struct Directory(HashMap<String, Vec<StreamId>>);

    impl StreamDirectory for Directory {
        async fn streams_of(
            &self,
            accounts: &[AccountId],
        ) -> Result<HashMap<AccountId, Vec<StreamId>>, StoreError> {
            Ok(accounts
                .iter()
                .filter_map(|a| Some((a.clone(), self.0.get(a.as_str())?.clone())))
                .collect())
        }
    }

    #[derive(Default)]
    struct Queue(Mutex<Vec<ScheduledRun>>);

    impl DeliveryQueue for Queue {
        async fn enqueue(&self, runs: &[ScheduledRun]) -> Result<(), QueueError> {
            self.0.lock().unwrap().extend_from_slice(runs);
            Ok(())
        }
    }

    fn account(name: &str) -> AccountId {
        AccountId::parse(name).unwrap()
    }

    #[tokio::test]
    async fn each_stream_of_each_grown_account_gets_one_run_now() {
        let (s1, s2, s3) = (
            StreamId::generate(),
            StreamId::generate(),
            StreamId::generate(),
        );
        let directory = Directory(HashMap::from([
            ("acct_a".to_owned(), vec![s1.clone(), s2.clone()]),
            ("acct_b".to_owned(), vec![s3.clone()]),
        ]));
        let queue = Queue::default();
        let grown = [
            account("acct_a"),
            account("acct_c"),
            account("acct_a"),
            account("acct_b"),
        ];
        assert_eq!(fan_out(&grown, &directory, &queue).await.unwrap(), 3);
        let mut runs: Vec<(String, String)> = queue
            .0
            .lock()
            .unwrap()
            .iter()
            .inspect(|run| assert!(run.delay.is_zero()))
            .map(|run| (run.account.to_string(), run.stream.to_string()))
            .collect();
        runs.sort();
        let mut want = vec![
            ("acct_a".to_owned(), s1.to_string()),
            ("acct_a".to_owned(), s2.to_string()),
            ("acct_b".to_owned(), s3.to_string()),
        ];
        want.sort();
        assert_eq!(runs, want);
    }

    #[tokio::test]
    async fn accounts_without_streams_enqueue_nothing() {
        let queue = Queue::default();
        let directory = Directory(HashMap::new());
        assert_eq!(
            fan_out(&[account("acct_a")], &directory, &queue)
                .await
                .unwrap(),
            0
        );
        assert!(queue.0.lock().unwrap().is_empty());
    }
}
