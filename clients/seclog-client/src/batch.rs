//! Cutting recorded events into requests within the transport's limits, in recording order.

use crate::transport::{BatchLimits, EncodedEvent};

/// The events waiting for their request.
#[derive(Debug)]
pub(crate) struct Packer {
    limits: BatchLimits,
    events: Vec<EncodedEvent>,
    event_bytes: usize,
}

/// An event that no request can hold, even alone.
#[derive(Debug)]
pub(crate) struct Oversized(pub EncodedEvent);

impl Packer {
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            events: Vec::new(),
            event_bytes: 0,
        }
    }

    /// Adds `event`; returns the batches it completes: the waiting ones when `event` does not
    /// fit with them, and the one it fills.
    pub fn push(&mut self, event: EncodedEvent) -> Result<Vec<Vec<EncodedEvent>>, Oversized> {
        let size = event.json().len();
        if self.limits.request_bytes(1, size) > self.limits.max_bytes {
            return Err(Oversized(event));
        }
        let mut complete = Vec::new();
        let fits = self.events.len() < self.limits.max_events
            && self
                .limits
                .request_bytes(self.events.len() + 1, self.event_bytes + size)
                <= self.limits.max_bytes;
        if !fits {
            complete.extend(self.take());
        }
        self.events.push(event);
        self.event_bytes += size;
        if self.events.len() >= self.limits.max_events {
            complete.extend(self.take());
        }
        Ok(complete)
    }

    /// The waiting events as one batch, if any.
    pub fn take(&mut self) -> Option<Vec<EncodedEvent>> {
        self.event_bytes = 0;
        (!self.events.is_empty()).then(|| std::mem::take(&mut self.events))
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Event, EventType};

    /// An event whose JSON is about `padding` bytes longer than a bare one.
    fn event(padding: usize) -> EncodedEvent {
        let event = Event::new("acct_1", EventType::Login, Actor::new("u_1"))
            .detail("padding", "x".repeat(padding));
        EncodedEvent::new(event).expect("encodes")
    }

    fn limits(max_events: usize, max_bytes: usize) -> BatchLimits {
        BatchLimits {
            max_events,
            max_bytes,
            envelope_bytes: 13,
            separator_bytes: 1,
        }
    }

    fn request_size(limits: &BatchLimits, batch: &[EncodedEvent]) -> usize {
        limits.request_bytes(batch.len(), batch.iter().map(|e| e.json().len()).sum())
    }

    #[test]
    fn a_batch_closes_at_the_event_limit() {
        let mut packer = Packer::new(limits(100, 1 << 20));
        let mut closed = Vec::new();
        for _ in 0..250 {
            closed.extend(packer.push(event(0)).expect("fits"));
        }
        assert_eq!(closed.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100]);
        assert_eq!(packer.take().map(|b| b.len()), Some(50));
        assert!(packer.is_empty() && packer.take().is_none());
    }

    #[test]
    fn a_batch_closes_before_the_byte_limit_and_every_request_fits() {
        let limits = limits(100, 1 << 20);
        let mut packer = Packer::new(limits);
        let mut closed = Vec::new();
        // ~30 KiB events: about 34 fit in 1 MiB, far below 100 events.
        for _ in 0..100 {
            closed.extend(packer.push(event(30 * 1024)).expect("fits"));
        }
        closed.extend(packer.take());
        assert!(closed.len() >= 3, "{}", closed.len());
        assert_eq!(closed.iter().map(Vec::len).sum::<usize>(), 100);
        for batch in &closed {
            assert!(request_size(&limits, batch) <= limits.max_bytes);
        }
        // Each closed batch was full: one more event would not have fitted.
        let one_more = closed[0].len() + 1;
        let bytes: usize = closed[0].iter().map(|e| e.json().len()).sum();
        assert!(
            limits.request_bytes(one_more, bytes + closed[1][0].json().len()) > limits.max_bytes
        );
    }

    #[test]
    fn an_event_no_request_can_hold_is_refused_alone() {
        let mut packer = Packer::new(limits(100, 4096));
        assert!(packer.push(event(10)).expect("fits").is_empty());
        assert!(packer.push(event(5000)).is_err());
        assert_eq!(packer.take().map(|b| b.len()), Some(1), "the others stay");
    }
}
