//! One lane of an event source mapping, batched as Lambda batches it: records wait here while
//! the lane's function runs its batch (one batch in flight per lane), and the next batch is formed
//! from everything that waited, up to `BatchSize`, once the batching window (counted from the
//! arrival of the batch's oldest record, so records that waited out a busy function's run go at
//! once) has passed or the batch is full, or (past the window) the stream's reader has reached the stream's tip. So a
//! function that fell behind gets full batches and catches up, instead of the small ones each
//! stream read happened to return.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub struct Backlog<T> {
    /// Records with the time each arrived.
    queue: Mutex<VecDeque<(Instant, T)>>,
    /// Records arrived (the lane's one consumer waits on it).
    arrived: Notify,
    /// A batch was taken (the stream reader waits on it when the backlog is full).
    taken: Notify,
    /// Records held at most before the stream reader waits: Lambda reads a shard only as far
    /// as its batches need.
    capacity: usize,
    /// Whether the reader's last read reached the stream's tip (no more records waiting there).
    at_tip: AtomicBool,
}

impl<T> Backlog<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
            taken: Notify::new(),
            capacity: capacity.max(1),
            at_tip: AtomicBool::new(true),
        }
    }

    pub fn len(&self) -> usize {
        self.queue.lock().expect("backlog lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends records, in order.
    pub fn push(&self, records: impl IntoIterator<Item = T>) {
        let mut queue = self.queue.lock().expect("backlog lock");
        let before = queue.len();
        let now = Instant::now();
        queue.extend(records.into_iter().map(|record| (now, record)));
        if queue.len() > before {
            self.arrived.notify_one();
        }
    }

    /// Whether the stream still holds records beyond what was read (a full page came back):
    /// until the reader reaches the tip, a batch waits to fill even past its window.
    pub fn set_at_tip(&self, at_tip: bool) {
        self.at_tip.store(at_tip, Ordering::Release);
        if at_tip {
            self.arrived.notify_one();
        }
    }

    /// Waits until the backlog has room for more records.
    pub async fn room(&self) {
        while self.len() >= self.capacity {
            self.taken.notified().await;
        }
    }

    /// The next batch: waits for a first record, then for the batch to fill to `size` until
    /// `window` has passed since the oldest record arrived and the reader is at the stream's
    /// tip, and takes at most `size` records, oldest first.
    pub async fn next_batch(&self, size: usize, window: Duration) -> Vec<T> {
        let size = size.max(1);
        while self.is_empty() {
            self.arrived.notified().await;
        }
        let oldest = self
            .queue
            .lock()
            .expect("backlog lock")
            .front()
            .map(|(at, _)| *at);
        let deadline = oldest.unwrap_or_else(Instant::now) + window;
        while self.len() < size {
            let window_open = Instant::now() < deadline;
            if !window_open && self.at_tip.load(Ordering::Acquire) {
                break;
            }
            // Woken by an arrival, the reader reaching the tip, or the window closing.
            let arrival = self.arrived.notified();
            if window_open {
                let _ = tokio::time::timeout_at(deadline, arrival).await;
            } else {
                arrival.await;
            }
        }
        let batch: Vec<T> = {
            let mut queue = self.queue.lock().expect("backlog lock");
            let take = queue.len().min(size);
            queue.drain(..take).map(|(_, record)| record).collect()
        };
        self.taken.notify_one();
        batch
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_backlog_is_taken_in_full_batches_in_order() {
        let backlog = Backlog::new(10_000);
        backlog.push(0..3500);
        let mut sizes = Vec::new();
        let mut next = 0;
        while !backlog.is_empty() {
            let batch = backlog.next_batch(1000, Duration::ZERO).await;
            assert_eq!(batch[0], next, "oldest first");
            next += batch.len();
            sizes.push(batch.len());
        }
        assert_eq!(sizes, [1000, 1000, 1000, 500]);
    }

    #[tokio::test(start_paused = true)]
    async fn records_arriving_while_a_batch_runs_form_the_next_one() {
        let backlog = Arc::new(Backlog::new(100_000));
        // The stream hands over 100 records every 10 ms, 3,000 in all.
        let feeder = {
            let backlog = backlog.clone();
            tokio::spawn(async move {
                for page in 0..30 {
                    backlog.push(page * 100..(page + 1) * 100);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        // The function takes 50 ms a batch: five pages wait meanwhile.
        let mut sizes = Vec::new();
        let mut next = 0;
        while next < 3000 {
            let batch = backlog.next_batch(1000, Duration::ZERO).await;
            assert_eq!(batch[0], next);
            next += batch.len();
            sizes.push(batch.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        feeder.await.unwrap();
        assert!(
            sizes[1..].iter().all(|&s| s >= 400),
            "after the first, each batch holds what waited: {sizes:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_batching_window_gathers_records_before_invoking() {
        let backlog = Arc::new(Backlog::new(100));
        backlog.push(0..10);
        let later = {
            let backlog = backlog.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                backlog.push(10..20);
            })
        };
        let started = Instant::now();
        let batch = backlog.next_batch(1000, Duration::from_secs(1)).await;
        assert_eq!(batch.len(), 20);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        later.await.unwrap();
        // A full batch does not wait for the window.
        backlog.push(0..5);
        let started = Instant::now();
        assert_eq!(backlog.next_batch(5, Duration::from_secs(1)).await.len(), 5);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    /// Lambda gathers the next batch while one runs: records that waited out a run longer
    /// than the window go as soon as it ends, not a window later.
    #[tokio::test(start_paused = true)]
    async fn the_window_counts_from_the_oldest_records_arrival() {
        let backlog = Backlog::new(100);
        backlog.push(0..10);
        // The function's previous run takes 1.5 s, longer than the 1 s window.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = Instant::now();
        assert_eq!(
            backlog.next_batch(1000, Duration::from_secs(1)).await.len(),
            10
        );
        assert_eq!(started.elapsed(), Duration::ZERO);
        // Part of a window already passed: only the rest is waited.
        backlog.push(0..10);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let started = Instant::now();
        backlog.next_batch(1000, Duration::from_secs(1)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(600));
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_reader_is_behind_a_batch_waits_to_fill() {
        let backlog = Arc::new(Backlog::new(10_000));
        backlog.set_at_tip(false);
        backlog.push(0..500);
        let reader = {
            let backlog = backlog.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                backlog.push(500..1200);
                tokio::time::sleep(Duration::from_millis(30)).await;
                backlog.push(1200..1300);
                backlog.set_at_tip(true);
            })
        };
        assert_eq!(backlog.next_batch(1000, Duration::ZERO).await.len(), 1000);
        // At the tip, the rest goes at once.
        reader.await.unwrap();
        assert_eq!(backlog.next_batch(1000, Duration::ZERO).await.len(), 300);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reader_waits_while_the_backlog_is_full() {
        let backlog = Arc::new(Backlog::new(10));
        backlog.push(0..10);
        let reader = {
            let backlog = backlog.clone();
            tokio::spawn(async move { backlog.room().await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!reader.is_finished(), "no room yet");
        backlog.next_batch(4, Duration::ZERO).await;
        reader.await.unwrap();
    }
}
