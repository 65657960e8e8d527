//! Repeats and gaps in a stream, by `log_index`: delivery is at least once and in log order, so
//! a receiver sees the same index again after a retry or a replay (a repeat, to drop), and a
//! jump forward means entries are missing (a gap), which should never happen.

use std::collections::{BTreeSet, HashMap};

/// What one record's index means, given what this stream delivered before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The next index, or the first one of the stream.
    InOrder,
    /// Delivered before.
    Repeat,
    /// Ahead of the next expected index: `missing` is the range skipped.
    Gap { missing: std::ops::Range<u64> },
    /// Behind the highest index seen, not delivered before: it fills an earlier gap.
    FillsGap,
}

/// Every index seen, per stream.
#[derive(Debug, Default)]
pub struct Sequences {
    streams: HashMap<String, BTreeSet<u64>>,
}

impl Sequences {
    pub fn record(&mut self, stream: &str, index: u64) -> Seen {
        let seen = self.streams.entry(stream.to_owned()).or_default();
        let next = seen.last().map(|last| last + 1);
        let verdict = if seen.contains(&index) {
            Seen::Repeat
        } else {
            match next {
                None => Seen::InOrder,
                Some(next) if index == next => Seen::InOrder,
                Some(next) if index > next => Seen::Gap {
                    missing: next..index,
                },
                Some(_) => Seen::FillsGap,
            }
        };
        seen.insert(index);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_order_repeats_gaps_and_fills_per_stream() {
        let mut sequences = Sequences::default();
        assert_eq!(sequences.record("a", 0), Seen::InOrder);
        assert_eq!(sequences.record("a", 1), Seen::InOrder);
        assert_eq!(sequences.record("a", 1), Seen::Repeat);
        assert_eq!(sequences.record("a", 4), Seen::Gap { missing: 2..4 });
        assert_eq!(sequences.record("a", 2), Seen::FillsGap);
        assert_eq!(sequences.record("a", 0), Seen::Repeat);
        assert_eq!(sequences.record("a", 5), Seen::InOrder);
        assert_eq!(sequences.record("b", 7), Seen::InOrder);
        assert_eq!(sequences.record("b", 7), Seen::Repeat);
    }
}
