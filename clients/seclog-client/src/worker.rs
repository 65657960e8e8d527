//! The background task: takes recorded events in order, packs them into batches, closes a batch
//! when it is full or has waited the flush interval, keeps a few batches in flight, and answers
//! `flush()` once every batch formed before it is settled.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinSet};
use tokio::time::{Instant, sleep_until};

use crate::Event;
use crate::batch::{Oversized, Packer};
use crate::buffer::BufferBound;
use crate::delivery::Delivery;
use crate::transport::{EncodedEvent, Transport};

// Nearly every command is a record: boxing its event would cost an allocation per `record()`
// to save bytes on the rare others.
#[expect(
    clippy::large_enum_variant,
    reason = "records dominate; no allocation per record"
)]
pub(crate) enum Command {
    Record(Event),
    Flush(oneshot::Sender<()>),
    Shutdown {
        grace: Duration,
        unconfirmed: oneshot::Sender<Vec<Event>>,
    },
}

/// How the worker batches and sends.
pub(crate) struct Pacing {
    pub flush_interval: Duration,
    pub max_in_flight: usize,
}

pub(crate) struct Worker<T> {
    commands: mpsc::UnboundedReceiver<Command>,
    delivery: Arc<Delivery<T>>,
    buffer: Arc<BufferBound>,
    pacing: Pacing,
    packer: Packer,
    /// When the oldest event of the open batch arrived.
    open_since: Option<Instant>,
    next_batch: u64,
    queued: VecDeque<(u64, Vec<EncodedEvent>)>,
    /// Every batch formed and not yet settled (queued or in flight), by number.
    unsettled: BTreeMap<u64, Vec<EncodedEvent>>,
    sending: JoinSet<u64>,
    batch_of_task: HashMap<Id, u64>,
    /// Each `flush()`: answered when no batch numbered below its own is unsettled.
    flushes: Vec<(u64, oneshot::Sender<()>)>,
}

impl<T: Transport> Worker<T> {
    pub fn new(
        commands: mpsc::UnboundedReceiver<Command>,
        delivery: Delivery<T>,
        buffer: Arc<BufferBound>,
        pacing: Pacing,
        packer: Packer,
    ) -> Self {
        Self {
            commands,
            delivery: Arc::new(delivery),
            buffer,
            pacing,
            packer,
            open_since: None,
            next_batch: 0,
            queued: VecDeque::new(),
            unsettled: BTreeMap::new(),
            sending: JoinSet::new(),
            batch_of_task: HashMap::new(),
            flushes: Vec::new(),
        }
    }

    pub async fn run(mut self) {
        loop {
            // Without an open batch there is no deadline; the far instant is never reached.
            let close_at = self
                .open_since
                .map_or_else(far_future, |since| since + self.pacing.flush_interval);
            tokio::select! {
                Some(done) = self.sending.join_next_with_id(), if !self.sending.is_empty() => {
                    self.settled(done);
                }
                command = self.commands.recv() => match command {
                    Some(Command::Record(event)) => self.add(event),
                    Some(Command::Flush(answer)) => self.flush(answer),
                    Some(Command::Shutdown { grace, unconfirmed }) => {
                        let left = self.drain(Some(Instant::now() + grace)).await;
                        let _ = unconfirmed.send(left);
                        return;
                    }
                    // Every handle dropped without `shutdown()`: send what is held, then end.
                    None => {
                        self.drain(None).await;
                        return;
                    }
                },
                () = sleep_until(close_at), if self.open_since.is_some() => self.close_open_batch(),
            }
        }
    }

    fn add(&mut self, event: Event) {
        let encoded = match EncodedEvent::new(event) {
            Ok(encoded) => encoded,
            Err(error) => {
                // Unreachable with serde_json's serializers of these types; reported, not lost.
                tracing::error!("security logs: an event cannot be encoded: {error}");
                self.buffer.release(1);
                return;
            }
        };
        match self.packer.push(encoded) {
            Ok(complete) => {
                for batch in complete {
                    self.enqueue(batch);
                }
            }
            Err(Oversized(event)) => {
                self.buffer.release(1);
                let detail = "the event alone is larger than a request may be";
                self.delivery.reject(event, None, detail, Vec::new());
            }
        }
        if self.packer.is_empty() {
            self.open_since = None;
        } else if self.open_since.is_none() {
            self.open_since = Some(Instant::now());
        }
    }

    fn flush(&mut self, answer: oneshot::Sender<()>) {
        self.close_open_batch();
        self.flushes.push((self.next_batch, answer));
        self.answer_flushes();
    }

    fn close_open_batch(&mut self) {
        self.open_since = None;
        if let Some(batch) = self.packer.take() {
            self.enqueue(batch);
        }
    }

    fn enqueue(&mut self, batch: Vec<EncodedEvent>) {
        let number = self.next_batch;
        self.next_batch += 1;
        self.unsettled.insert(number, batch.clone());
        self.queued.push_back((number, batch));
        self.start_sending();
    }

    fn start_sending(&mut self) {
        while self.sending.len() < self.pacing.max_in_flight {
            let Some((number, batch)) = self.queued.pop_front() else {
                return;
            };
            let delivery = Arc::clone(&self.delivery);
            let task = self.sending.spawn(async move {
                delivery.settle(batch).await;
                number
            });
            self.batch_of_task.insert(task.id(), number);
        }
    }

    fn settled(&mut self, done: Result<(Id, u64), tokio::task::JoinError>) {
        let (task, failure) = match done {
            Ok((task, _)) => (task, None),
            Err(error) => (error.id(), Some(error.to_string())),
        };
        if let Some(batch) = self
            .batch_of_task
            .remove(&task)
            .and_then(|number| self.unsettled.remove(&number))
        {
            self.buffer.release(batch.len());
            // Only a bug (a panicking transport) ends a task early: its events are reported,
            // not silently dropped.
            if let Some(failure) = failure {
                let detail = format!("the client failed while sending it: {failure}");
                for event in batch {
                    self.delivery.reject(event, None, &detail, Vec::new());
                }
            }
        }
        self.start_sending();
        self.answer_flushes();
    }

    fn answer_flushes(&mut self) {
        let oldest = self.unsettled.keys().next().copied();
        let (done, waiting) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(upto, _)| oldest.is_none_or(|oldest| oldest >= *upto));
        self.flushes = waiting;
        for (_, answer) in done {
            let _ = answer.send(());
        }
    }

    /// Stops taking events, sends everything held, and waits until it is settled or `deadline`
    /// passes; returns the events still unconfirmed then.
    async fn drain(&mut self, deadline: Option<Instant>) -> Vec<Event> {
        // Events recorded just before the close are still in the channel: take them too.
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Record(event) => self.add(event),
                Command::Flush(answer) => self.flush(answer),
                Command::Shutdown { unconfirmed, .. } => drop(unconfirmed),
            }
        }
        self.close_open_batch();
        let until = deadline.unwrap_or_else(far_future);
        while !self.unsettled.is_empty() {
            tokio::select! {
                Some(done) = self.sending.join_next_with_id() => self.settled(done),
                () = sleep_until(until) => break,
            }
        }
        self.sending.abort_all();
        std::mem::take(&mut self.unsettled)
            .into_values()
            .flatten()
            .map(EncodedEvent::into_event)
            .collect()
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}
