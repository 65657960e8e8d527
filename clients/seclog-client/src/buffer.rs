//! The bound on events held by the client (recorded, not yet stored or rejected): a counter,
//! so that `record()` refuses at once when it is reached instead of waiting.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct BufferBound {
    capacity: usize,
    held: AtomicUsize,
}

impl BufferBound {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            held: AtomicUsize::new(0),
        }
    }

    /// Takes one place; false when the buffer is full.
    pub fn try_acquire(&self) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.capacity).then_some(held + 1)
            })
            .is_ok()
    }

    pub fn release(&self, places: usize) {
        self.held.fetch_sub(places, Ordering::AcqRel);
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_capacity_until_places_are_released() {
        let bound = BufferBound::new(2);
        assert!(bound.try_acquire() && bound.try_acquire());
        assert!(!bound.try_acquire());
        assert_eq!(bound.held(), 2);
        bound.release(1);
        assert!(bound.try_acquire());
        assert!(!bound.try_acquire());
    }
}
