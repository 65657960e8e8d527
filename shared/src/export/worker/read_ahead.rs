//! Reading the next page of entries while this one is written. Most of an export's time was
//! spent waiting: for the store to serve a page, then (the store idle) parsing and writing it.
//! The worker runs on one thread (the Lambda's current-thread runtime), so the next page's
//! read is not spawned: it is polled alongside the writing, which yields to the runtime every
//! few entries so the read's request goes out and its answer comes in meanwhile. At most one
//! page is read ahead, so memory stays at about one part plus two pages.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::MaybeDone;

/// Entries written between two turns given to the runtime (and so to the read ahead).
pub(super) const ENTRIES_PER_TURN: usize = 64;

/// Whether the page read ahead still waits for the store: the writing gives the runtime a turn
/// only then (a read that is already done, as in the in-memory tests, needs none).
#[derive(Default)]
pub(super) struct Ahead(AtomicBool);

impl Ahead {
    pub(super) fn waiting(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs `work` to its end while driving `ahead` too (which may finish before, or not yet: await
/// it afterwards to get its output), telling `work` through `state` whether it still waits.
/// `work` should yield now and then while it does ([`ENTRIES_PER_TURN`]).
pub(super) async fn alongside<A: Future, W: Future>(
    mut ahead: Pin<&mut MaybeDone<A>>,
    state: &Ahead,
    work: W,
) -> W::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        // `MaybeDone` keeps the output once finished, and polling it again is a no-op.
        let waiting = ahead.as_mut().poll(cx).is_pending();
        state.0.store(waiting, Ordering::Relaxed);
        work.as_mut().poll(cx)
    })
    .await
}
