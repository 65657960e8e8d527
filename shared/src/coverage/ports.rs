//! Where coverage is kept: narrow, so the sequencer's use of it is tested over a fake and the
//! DynamoDB adapter against the local stack.

use std::future::Future;

use super::{Coverage, Tally};
use crate::storage::StoreError;

pub trait CoverageStore {
    /// Adds the tally's counts, and moves each last-seen time forward.
    fn add(&self, tally: &Tally) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every producer and type seen.
    fn all(&self) -> impl Future<Output = Result<Vec<Coverage>, StoreError>> + Send;
}
