//! The pure core of the events read path (docs/design/storage.md): which sort keys a page may read,
//! and the newest-first merge of one or several partitions under a bound of Query calls, with
//! the position the next page resumes after. No AWS types and no I/O: [`super`] issues
//! the Query calls and feeds their results in; the tests below feed in-memory partitions.
//!
//! A page is read in four steps:
//!
//! 1. [`KeyRange::new`] turns the filter's time window and the cursor into the bounds of the
//!    Query's `BETWEEN` (both inclusive) and the cursor's own position (excluded).
//! 2. [`Merge::next_queries`] names the partitions whose buffer ran dry and which may hold more.
//!    The adapter queries each of them once, newest first, [`query_limit`] items at a time from
//!    where that partition's previous Query stopped, and gives back what came with
//!    [`Merge::feed`], together with where the Query stopped: the sort key of its
//!    `LastEvaluatedKey`, the partition's *frontier*.
//! 3. When no partition needs a Query, [`Merge::next_queries`] moves entries into the page, newest
//!    first, until the page holds `limit + 1` or every partition is exhausted; it stops early when
//!    the next round of Queries would exceed the bound ([`MAX_QUERIES_PER_PAGE`]).
//! 4. [`Merge::finish`] settles the page and the position the next page resumes after.
//!
//! Why the page is exact. A Query reads a partition newest first, so everything at or above a
//! partition's frontier has been evaluated (returned, or dropped by the FilterExpression), and
//! what it has not read yet is strictly below its frontier. The newest buffered entry across
//! partitions is therefore the newest remaining entry of all once no partition is starved (each
//! unfinished one holds a buffered entry above whatever it has not read). When the bound stops
//! the merge early, every entry at or above the highest frontier of the unfinished partitions is
//! known, so the page takes those and resumes strictly below that frontier: nothing is skipped,
//! and nothing is served twice (buffered entries below it are dropped and read again next page).

use std::collections::VecDeque;

use jiff::Timestamp;

use crate::domain::time::sortable;

/// Query calls one page may make while filters thin results out, before it returns what it has
/// with a resume position that continues exactly where it stopped. Bounds the latency and the
/// read cost of one page whose filter matches little; it must be at least the number of
/// partitions one page reads (one per event type requested, at most [`EventType::ALL`]`.len()`),
/// or the first round of Queries could not be made.
///
/// [`EventType::ALL`]: crate::domain::EventType::ALL
pub const MAX_QUERIES_PER_PAGE: usize = 24;

/// With an actor filter, each Query evaluates this many times the items a page wants: the actor
/// is a FilterExpression, which DynamoDB applies after `Limit` has counted the items evaluated,
/// so sparse matches would otherwise spend the bound of Queries per page a few items at a time.
const ACTOR_FILTER_READ_FACTOR: usize = 4;

/// The largest `Limit` of one Query when the actor filter multiplies it, so that one call of a
/// large page (the export worker reads 1000 entries a page) stays a bounded read.
const MAX_FILTERED_QUERY_LIMIT: usize = 1000;

/// Below every sort key: keys start with the year of the event, four digits from 1970 on
/// (`OccurredAt` refuses earlier instants), and `"0"` sorts before any of them. The lower bound
/// when the filter has no `from`.
const BELOW_EVERY_KEY: &str = "0";

/// Above every sort key: `'~'` (0x7E) is above every character a key holds (digits, `-`, `:`,
/// `T`, `.`, `Z`, `#` and the upper-case Crockford base32 of the ULID). The upper bound when the
/// filter has no `to`.
const ABOVE_EVERY_KEY: &str = "~";

/// Appended to the time prefix of `to`: the keys of events at exactly `to` are
/// `<time of to>#<ULID>`, all below `<time of to>#~`, while every later instant's prefix is
/// already greater than `<time of to>`, so `to` is inclusive. (`from` is inclusive as it is:
/// `<time of from>` is a prefix of, hence below, the keys of events at `from`.)
const AFTER_EVERY_ID: &str = "#~";

/// The `Limit` of each Query for a page of `limit` entries.
///
/// The page wants `limit + 1` entries: the one past the page is how it knows more follow, so a
/// page that ends exactly at the last match gets no resume position (no empty last page).
/// Without an actor filter every item of the key range is a match (bar expired items, not yet
/// deleted by the TTL, which the FilterExpression drops too), so `limit + 1` items fill a page
/// in one Query per partition. With a thinning filter (an actor, the unfamiliar flag), see
/// `ACTOR_FILTER_READ_FACTOR` (4 times as many, at most `MAX_FILTERED_QUERY_LIMIT`, 1000).
///
/// A page that resumes from a cursor (`from_cursor`) reads the cursor's own item too (`BETWEEN`
/// includes it; [`Merge::feed`] drops it), so its Query asks for one more: without it, every
/// page after the first came up one short and made a second Query of `Limit` items for the
/// one entry missing, twice the store's work for an export.
pub fn query_limit(limit: usize, thinning: bool, from_cursor: bool) -> usize {
    let want = limit + 1 + usize::from(from_cursor);
    if thinning {
        (want * ACTOR_FILTER_READ_FACTOR).min(MAX_FILTERED_QUERY_LIMIT)
    } else {
        want
    }
}

/// The sort keys one page may read: `lower ..= upper` in the Query's key condition, without
/// `exclusive_upper`, the cursor's position (the last entry of the previous page, or where the
/// previous page stopped), which `BETWEEN` would include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub lower: String,
    pub upper: String,
    pub exclusive_upper: Option<String>,
}

impl KeyRange {
    /// The keys of entries that occurred in `from ..= to` (each end optional) and sort strictly
    /// below `after`; `None` when no key can be in the range, so no Query is needed.
    pub fn new(
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        after: Option<&str>,
    ) -> Option<Self> {
        let lower = from
            .map(sortable)
            .unwrap_or_else(|| BELOW_EVERY_KEY.to_owned());
        let mut upper = to
            .map(|t| format!("{}{AFTER_EVERY_ID}", sortable(t)))
            .unwrap_or_else(|| ABOVE_EVERY_KEY.to_owned());
        if let Some(after) = after
            && after < upper.as_str()
        {
            upper = after.to_owned();
        }
        if lower > upper {
            return None;
        }
        Some(Self {
            lower,
            upper,
            exclusive_upper: after.map(str::to_owned),
        })
    }

    /// Whether a key the Query returned belongs to the page: it is not the cursor's position.
    pub fn admits(&self, sort_key: &str) -> bool {
        self.exclusive_upper.as_deref() != Some(sort_key)
    }
}

/// A page settled by [`Merge::finish`]: its entries, newest first, and the sort key the next page
/// resumes strictly below, if more may follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedPage<T> {
    pub entries: Vec<T>,
    pub resume_after: Option<String>,
}

/// The newest-first merge of the partitions one page reads, as a state machine the adapter
/// drives:
///
/// ```text
/// let mut merge = Merge::new(&range, partitions, limit, MAX_QUERIES_PER_PAGE);
/// while let Some(due) = merge.next_queries() {
///     // Query each partition of `due` once (concurrently if you like), then for each:
///     merge.feed(partition, entries_newest_first, last_evaluated_sort_key);
/// }
/// let page = merge.finish();
/// ```
///
/// Entries are `(sort key, T)`; `T` is whatever the adapter parsed the item into.
#[derive(Debug)]
pub struct Merge<T> {
    partitions: Vec<Partition<T>>,
    exclusive_upper: Option<String>,
    limit: usize,
    max_queries: usize,
    queries: usize,
    out_of_queries: bool,
    out: Vec<(String, T)>,
}

/// One partition being read newest first: the base table or one type of the index.
#[derive(Debug)]
struct Partition<T> {
    /// Returned by Queries, not yet merged: newest first, all below the earlier entries.
    buffer: VecDeque<(String, T)>,
    /// The lowest sort key evaluated so far; everything at or above it has been read.
    frontier: Option<String>,
    /// The last Query had no `LastEvaluatedKey`: nothing of the range is left unread.
    done: bool,
}

impl<T> Merge<T> {
    /// A merge of `partitions` partitions for a page of `limit` entries, making at most
    /// `max_queries` Query calls. Expects `max_queries >= partitions`, and Queries that evaluate
    /// at least 2 items each ([`query_limit`] of a `limit` of 1 or more): with a `Limit` of 1, a
    /// Query may evaluate only the cursor's own item, so a page cut short by the bound could
    /// resume at the position it started from.
    pub fn new(range: &KeyRange, partitions: usize, limit: usize, max_queries: usize) -> Self {
        Self {
            partitions: (0..partitions)
                .map(|_| Partition {
                    buffer: VecDeque::new(),
                    frontier: None,
                    done: false,
                })
                .collect(),
            exclusive_upper: range.exclusive_upper.clone(),
            limit,
            max_queries,
            queries: 0,
            out_of_queries: false,
            out: Vec::with_capacity(limit + 1),
        }
    }

    /// Merges as far as the buffered entries allow, then names the partitions to query next
    /// (ascending; each exactly once, each fed back before the next call), or `None` when the
    /// page is settled: it holds `limit + 1` entries, every partition is exhausted, or the next
    /// round of Queries would exceed the bound.
    pub fn next_queries(&mut self) -> Option<Vec<usize>> {
        while self.out.len() < self.want() {
            let starving: Vec<usize> = (0..self.partitions.len())
                .filter(|&i| self.partitions[i].buffer.is_empty() && !self.partitions[i].done)
                .collect();
            if !starving.is_empty() {
                if self.queries + starving.len() > self.max_queries {
                    self.out_of_queries = true;
                    return None;
                }
                self.queries += starving.len();
                return Some(starving);
            }
            match self.take_newest(None) {
                Some(entry) => self.out.push(entry),
                None => break,
            }
        }
        None
    }

    /// What one Query of `partition` returned: its entries, newest first (the cursor's own
    /// position is dropped here), and the sort key of its `LastEvaluatedKey`, `None` when the
    /// partition has nothing more in the range.
    pub fn feed(
        &mut self,
        partition: usize,
        entries: impl IntoIterator<Item = (String, T)>,
        last_evaluated: Option<String>,
    ) {
        let exclusive_upper = self.exclusive_upper.as_deref();
        let source = &mut self.partitions[partition];
        for (sort_key, entry) in entries {
            debug_assert!(
                source
                    .frontier
                    .as_deref()
                    .is_none_or(|f| sort_key.as_str() < f),
                "a Query continues below the previous one's frontier"
            );
            if exclusive_upper == Some(sort_key.as_str()) {
                continue;
            }
            source.buffer.push_back((sort_key, entry));
        }
        match last_evaluated {
            Some(frontier) => source.frontier = Some(frontier),
            None => source.done = true,
        }
    }

    /// The page, and where the next one resumes:
    ///
    /// - `limit + 1` entries merged: the page is the first `limit`, and more follow, so it resumes
    ///   after its last entry;
    /// - every partition exhausted first: the page is all there was, with no resume position;
    /// - the bound hit: the page is what is merged, topped up (up to `limit`) with the buffered
    ///   entries at or above the highest frontier of the unfinished partitions (everything above
    ///   it is known). If the page is still short, it resumes strictly below that frontier (the
    ///   entries below it, read but not served, are read again); if it is full, after its last
    ///   entry.
    pub fn finish(mut self) -> MergedPage<T> {
        let resume_after = if self.out.len() == self.want() {
            self.out.pop();
            self.last_key()
        } else if self.out_of_queries {
            let floor = self
                .partitions
                .iter()
                .filter(|p| !p.done)
                .filter_map(|p| p.frontier.clone())
                .max();
            while self.out.len() < self.limit {
                match self.take_newest(floor.as_deref()) {
                    Some(entry) => self.out.push(entry),
                    None => break,
                }
            }
            match floor {
                Some(floor) if self.out.len() < self.limit => Some(floor),
                _ => self.last_key(),
            }
        } else {
            None
        };
        MergedPage {
            entries: self.out.into_iter().map(|(_, entry)| entry).collect(),
            resume_after,
        }
    }

    /// `limit + 1`: the entry past the page tells whether more follow.
    fn want(&self) -> usize {
        self.limit + 1
    }

    fn last_key(&self) -> Option<String> {
        self.out.last().map(|(sort_key, _)| sort_key.clone())
    }

    /// Takes the newest buffered entry across partitions, if it is at or above `floor`.
    fn take_newest(&mut self, floor: Option<&str>) -> Option<(String, T)> {
        let best = self
            .partitions
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.buffer.front().map(|(sort_key, _)| (i, sort_key)))
            .filter(|(_, sort_key)| floor.is_none_or(|f| sort_key.as_str() >= f))
            .max_by(|a, b| a.1.cmp(b.1))
            .map(|(i, _)| i)?;
        self.partitions[best].buffer.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use proptest::prelude::*;

    /// An instant `seconds` after a fixed origin.
    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_713_765_600 + seconds).unwrap()
    }

    /// A sort key as the events table stores it: time, `#`, a 26-character id.
    fn key_at(instant: Timestamp, id: usize) -> String {
        format!("{}#{id:026}", sortable(instant))
    }

    fn key(seconds: i64, id: usize) -> String {
        key_at(at(seconds), id)
    }

    /// Keys `(seconds, id)` newest first.
    fn keys(pairs: &[(i64, usize)]) -> Vec<String> {
        let mut keys: Vec<String> = pairs.iter().map(|&(s, id)| key(s, id)).collect();
        keys.sort_by(|a, b| b.cmp(a));
        keys
    }

    /// One in-memory partition: its items newest first, each with whether it matches the
    /// filter (an item that does not is evaluated by a Query but not returned).
    #[derive(Debug, Clone)]
    struct Stored(Vec<(String, bool)>);

    impl Stored {
        fn new(mut items: Vec<(String, bool)>) -> Self {
            items.sort_by(|a, b| b.0.cmp(&a.0));
            Self(items)
        }

        /// Every item matches.
        fn matching(pairs: &[(i64, usize)]) -> Self {
            Self::new(pairs.iter().map(|&(s, id)| (key(s, id), true)).collect())
        }
    }

    /// How the fake Query behaves.
    #[derive(Debug, Clone, Copy)]
    struct Fake {
        /// Items evaluated per Query (its `Limit`).
        per_call: usize,
        /// DynamoDB may return a `LastEvaluatedKey` when a Query stops at `Limit` even though
        /// nothing follows (moto does not); the next Query then returns nothing and no key.
        key_when_exactly_at_limit: bool,
    }

    /// One Query, as DynamoDB runs it: newest first within `range` (`BETWEEN`, both ends
    /// inclusive: dropping the cursor's position is the merge's job), strictly below `start`,
    /// evaluating at most `per_call` items and returning those that match, with the key of the
    /// last one evaluated if the partition may hold more.
    fn query(
        stored: &Stored,
        range: &KeyRange,
        start: Option<&str>,
        fake: Fake,
    ) -> (Vec<(String, String)>, Option<String>) {
        let in_range: Vec<&(String, bool)> = stored
            .0
            .iter()
            .filter(|(k, _)| range.lower <= *k && *k <= range.upper)
            .filter(|(k, _)| start.is_none_or(|s| k.as_str() < s))
            .collect();
        let evaluated = &in_range[..in_range.len().min(fake.per_call)];
        let returned = evaluated
            .iter()
            .filter(|(_, matches)| *matches)
            .map(|(k, _)| (k.clone(), k.clone()))
            .collect();
        let more = in_range.len() > evaluated.len();
        let at_limit = evaluated.len() == fake.per_call;
        let last_evaluated = (more || (at_limit && fake.key_when_exactly_at_limit))
            .then(|| evaluated.last().map(|(k, _)| k.clone()))
            .flatten();
        (returned, last_evaluated)
    }

    /// Reads pages the way `EventStore::page` does, against in-memory partitions.
    #[derive(Debug, Clone)]
    struct Reader {
        stored: Vec<Stored>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        limit: usize,
        fake: Fake,
        max_queries: usize,
    }

    /// One page read by [`Reader`], with what it cost.
    #[derive(Debug)]
    struct Read {
        page: MergedPage<String>,
        queries: usize,
        /// The bound of Queries stopped the merge.
        cut: bool,
    }

    impl Reader {
        fn new(stored: Vec<Stored>, limit: usize) -> Self {
            Self {
                stored,
                from: None,
                to: None,
                limit,
                fake: Fake {
                    per_call: limit + 1,
                    key_when_exactly_at_limit: false,
                },
                max_queries: MAX_QUERIES_PER_PAGE,
            }
        }

        fn page(&self, after: Option<&str>) -> Read {
            let Some(range) = KeyRange::new(self.from, self.to, after) else {
                return Read {
                    page: MergedPage {
                        entries: Vec::new(),
                        resume_after: None,
                    },
                    queries: 0,
                    cut: false,
                };
            };
            let mut merge = Merge::new(&range, self.stored.len(), self.limit, self.max_queries);
            let mut starts: Vec<Option<String>> = vec![None; self.stored.len()];
            let mut queries = 0;
            while let Some(due) = merge.next_queries() {
                for i in due {
                    let (entries, last) =
                        query(&self.stored[i], &range, starts[i].as_deref(), self.fake);
                    starts[i].clone_from(&last);
                    merge.feed(i, entries, last);
                    queries += 1;
                }
            }
            let cut = merge.out_of_queries;
            Read {
                page: merge.finish(),
                queries,
                cut,
            }
        }

        /// Every page from the first to the one without a resume position, checking what each
        /// page promises on its own.
        fn pages(&self) -> Vec<Read> {
            let mut reads: Vec<Read> = Vec::new();
            let mut after: Option<String> = None;
            loop {
                assert!(reads.len() < 10_000, "pagination does not end");
                let read = self.page(after.as_deref());
                let page = &read.page;
                assert!(read.queries <= self.max_queries, "{read:?}");
                assert!(page.entries.len() <= self.limit, "{read:?}");
                assert!(
                    page.entries.windows(2).all(|w| w[0] > w[1]),
                    "newest first: {read:?}"
                );
                if let Some(after) = &after {
                    assert!(page.entries.iter().all(|e| e < after), "{read:?}");
                }
                if let Some(resume) = &page.resume_after {
                    assert!(page.entries.iter().all(|e| e >= resume), "{read:?}");
                    // Progress: the next page starts strictly lower.
                    assert!(after.as_ref().is_none_or(|a| resume < a), "{read:?}");
                    if !read.cut {
                        assert_eq!(page.entries.len(), self.limit, "{read:?}");
                    }
                }
                if let Some(previous) = reads.last()
                    && !previous.cut
                    && !read.cut
                {
                    assert!(!page.entries.is_empty(), "an empty page after {previous:?}");
                }
                after.clone_from(&page.resume_after);
                reads.push(read);
                if after.is_none() {
                    return reads;
                }
            }
        }

        fn all_entries(&self) -> Vec<String> {
            self.pages()
                .into_iter()
                .flat_map(|read| read.page.entries)
                .collect()
        }
    }

    #[test]
    fn interleaved_partitions_merge_newest_first() {
        // Three partitions, taking turns; 5 seconds holds one entry in two partitions.
        let a = [(1, 1), (4, 4), (7, 7)];
        let b = [(2, 2), (5, 5), (8, 8)];
        let c = [(3, 3), (5, 10), (6, 6), (9, 9)];
        let stored = vec![
            Stored::matching(&a),
            Stored::matching(&b),
            Stored::matching(&c),
        ];
        let everything = keys(&[a.as_slice(), &b, &c].concat());

        let mut reader = Reader::new(stored, 50);
        reader.fake.per_call = 2;
        let read = reader.page(None);
        assert_eq!(read.page.entries, everything);
        assert_eq!(read.page.resume_after, None);

        reader.limit = 4;
        let read = reader.page(None);
        assert_eq!(read.page.entries, everything[..4]);
        assert_eq!(
            read.page.resume_after.as_deref(),
            Some(everything[3].as_str())
        );
        assert_eq!(reader.all_entries(), everything);
    }

    #[test]
    fn a_full_page_with_more_behind_resumes_after_its_last_entry() {
        let pairs = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)];
        for key_when_exactly_at_limit in [false, true] {
            let mut reader = Reader::new(vec![Stored::matching(&pairs)], 3);
            reader.fake.key_when_exactly_at_limit = key_when_exactly_at_limit;
            let first = reader.page(None).page;
            assert_eq!(first.entries, keys(&pairs[2..]));
            assert_eq!(first.resume_after, Some(key(3, 3)));
            let second = reader.page(first.resume_after.as_deref()).page;
            assert_eq!(second.entries, keys(&pairs[..2]));
            assert_eq!(second.resume_after, None);
        }
    }

    #[test]
    fn a_page_of_exactly_limit_with_nothing_behind_gets_no_resume_position() {
        let layouts = [
            vec![Stored::matching(&[(1, 1), (2, 2), (3, 3)])],
            vec![
                Stored::matching(&[(1, 1), (3, 3)]),
                Stored::matching(&[(2, 2)]),
            ],
        ];
        for stored in layouts {
            for key_when_exactly_at_limit in [false, true] {
                for per_call in [2, 4, 10] {
                    let mut reader = Reader::new(stored.clone(), 3);
                    reader.fake = Fake {
                        per_call,
                        key_when_exactly_at_limit,
                    };
                    let reads = reader.pages();
                    assert_eq!(reads.len(), 1, "no empty last page: {reads:?}");
                    assert_eq!(reads[0].page.entries, keys(&[(1, 1), (2, 2), (3, 3)]));
                    assert_eq!(reads[0].page.resume_after, None);
                }
            }
        }
    }

    #[test]
    fn the_query_bound_stops_at_the_highest_unfinished_frontier() {
        // Partition 0 matches rarely (the actor filter thins it out); partition 1 always.
        let sparse = Stored::new(vec![
            (key(100, 1), true),
            (key(95, 2), false),
            (key(90, 3), false),
            (key(85, 4), false),
            (key(80, 5), false),
            (key(75, 6), false),
            (key(20, 7), true),
        ]);
        let dense = Stored::matching(&[(99, 8), (50, 9), (40, 10), (30, 11), (10, 12)]);
        let mut reader = Reader::new(vec![sparse, dense], 5);
        reader.fake.per_call = 2;
        reader.max_queries = 4;

        // Both partitions once (100 | 99 50), then partition 0 twice more (nothing, down to 75),
        // then a fifth Query would exceed the bound. Partition 0 is read down to 75, partition 1
        // to 50: only what is at or above 75 is known, so 50 (read, but below) is not served.
        let first = reader.page(None);
        assert!(first.cut);
        assert_eq!(first.queries, 4);
        assert_eq!(first.page.entries, [key(100, 1), key(99, 8)]);
        assert_eq!(first.page.resume_after, Some(key(75, 6)));

        let second = reader.page(first.page.resume_after.as_deref());
        assert!(!second.cut);
        assert_eq!(
            second.page.entries,
            keys(&[(50, 9), (40, 10), (30, 11), (20, 7), (10, 12)])
        );
        assert_eq!(second.page.resume_after, None);

        // When what is known above the frontier fills the page, it resumes after its last entry.
        reader.limit = 2;
        let first = reader.page(None);
        assert!(first.cut);
        assert_eq!(first.page.entries, [key(100, 1), key(99, 8)]);
        assert_eq!(first.page.resume_after, Some(key(99, 8)));
        assert_eq!(
            reader.all_entries(),
            keys(&[
                (100, 1),
                (99, 8),
                (50, 9),
                (40, 10),
                (30, 11),
                (20, 7),
                (10, 12)
            ])
        );
    }

    #[test]
    fn an_exclusive_cursor_position_is_excluded() {
        let pairs = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)];
        let range = KeyRange::new(None, None, Some(&key(3, 3))).unwrap();
        assert_eq!(
            range.upper,
            key(3, 3),
            "BETWEEN reaches the cursor's position"
        );
        assert!(!range.admits(&key(3, 3)));
        assert!(range.admits(&key(2, 2)));

        for per_call in [2, 3, 10] {
            let mut reader = Reader::new(vec![Stored::matching(&pairs)], 10);
            reader.fake.per_call = per_call;
            // A stored entry's position (the last entry of the previous page) ...
            let page = reader.page(Some(&key(3, 3))).page;
            assert_eq!(page.entries, keys(&[(1, 1), (2, 2)]));
            // ... or a position in between (where a page cut short stopped).
            let page = reader.page(Some(&key(4, 0))).page;
            assert_eq!(page.entries, keys(&[(1, 1), (2, 2), (3, 3)]));
        }

        // A cursor above the `to` bound leaves the upper bound alone; still nothing above it.
        let range = KeyRange::new(None, Some(at(2)), Some(&key(3, 3))).unwrap();
        assert_eq!(range.upper, format!("{}#~", sortable(at(2))));
    }

    #[test]
    fn an_empty_range_reads_nothing() {
        assert_eq!(KeyRange::new(Some(at(10)), Some(at(5)), None), None);
        assert_eq!(KeyRange::new(Some(at(10)), None, Some(&key(5, 1))), None);
        assert!(KeyRange::new(Some(at(10)), Some(at(10)), None).is_some());

        let stored = vec![
            Stored::matching(&[(1, 1), (2, 2)]),
            Stored::matching(&[(20, 3)]),
        ];
        let mut reader = Reader::new(stored, 10);
        // The window is between the stored keys: one Query per partition finds nothing.
        reader.from = Some(at(5));
        reader.to = Some(at(15));
        let read = reader.page(None);
        assert_eq!(
            read.page,
            MergedPage {
                entries: Vec::new(),
                resume_after: None
            }
        );
        assert_eq!(read.queries, 2);
        // No partition at all.
        let reader = Reader::new(Vec::new(), 10);
        assert_eq!(reader.page(None).page.entries, Vec::<String>::new());
    }

    #[test]
    fn the_time_window_includes_both_ends_and_nothing_outside() {
        let (from, to) = (at(10), at(20));
        let just_before = from.checked_sub(1.nanosecond()).unwrap();
        let just_after = to.checked_add(1.nanosecond()).unwrap();
        let stored = Stored::new(
            [just_before, from, at(15), to, just_after]
                .into_iter()
                .enumerate()
                .map(|(id, t)| (key_at(t, id), true))
                .collect(),
        );
        let mut reader = Reader::new(vec![stored], 10);
        reader.from = Some(from);
        reader.to = Some(to);
        assert_eq!(
            reader.page(None).page.entries,
            [key_at(to, 3), key(15, 2), key_at(from, 1)]
        );
        // Without bounds, `"0"` and `"~"` hold every key.
        reader.from = None;
        reader.to = None;
        assert_eq!(reader.page(None).page.entries.len(), 5);
        let range = KeyRange::new(None, None, None).unwrap();
        assert!(range.lower < key_at(Timestamp::UNIX_EPOCH, 0));
        assert!(range.upper > key_at(Timestamp::MAX, usize::MAX));
    }

    #[test]
    fn queries_evaluate_one_more_than_the_page_and_four_times_that_with_an_actor() {
        assert_eq!(query_limit(50, false, false), 51);
        assert_eq!(query_limit(50, false, true), 52, "the cursor's own item");
        assert_eq!(query_limit(50, true, false), 204);
        assert_eq!(query_limit(1000, false, false), 1001);
        assert_eq!(query_limit(1000, false, true), 1002);
        assert_eq!(query_limit(1000, true, true), 1000);
        assert_eq!(
            query_limit(1, false, false),
            2,
            "at least 2: see `Merge::new`"
        );
    }

    /// One stored item: its second, its partition (taken modulo the number of partitions),
    /// and a number below the layout's density when it matches the filter.
    type Item = (i64, usize, u8);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Whatever the layout, page size, Query size and bound: reading page after page yields
        /// every match of the window exactly once, newest first (checks of each page in
        /// [`Reader::pages`]).
        #[test]
        fn pages_concatenate_to_every_match_newest_first_exactly_once(
            items in proptest::collection::vec((0i64..40, 0usize..4, 0u8..100), 0..60),
            partitions in 1usize..=4,
            density in 0u8..=100,
            limit in 1usize..=6,
            per_call in 2usize..=8,
            spare_queries in 0usize..=6,
            key_when_exactly_at_limit in any::<bool>(),
            from in proptest::option::of(0i64..40),
            to in proptest::option::of(0i64..40),
        ) {
            let items: Vec<Item> = items;
            let mut stored = vec![Vec::new(); partitions];
            for (id, &(second, partition, roll)) in items.iter().enumerate() {
                stored[partition % partitions].push((key(second, id), roll < density));
            }
            let reader = Reader {
                stored: stored.into_iter().map(Stored::new).collect(),
                from: from.map(at),
                to: to.map(at),
                limit,
                fake: Fake { per_call, key_when_exactly_at_limit },
                max_queries: partitions + spare_queries,
            };
            let in_window = |s: i64| from.is_none_or(|f| f <= s) && to.is_none_or(|t| s <= t);
            let mut expected: Vec<String> = items
                .iter()
                .enumerate()
                .filter(|(_, (second, _, roll))| *roll < density && in_window(*second))
                .map(|(id, (second, _, _))| key(*second, id))
                .collect();
            expected.sort_by(|a, b| b.cmp(a));
            prop_assert_eq!(reader.all_entries(), expected);
        }
    }
}
