//! Exports without a sealed log, and so without evidence: jobs written straight into the table
//! by `infra/export-bench` (its local DynamoDB, dynalite, has no transactions, so it cannot
//! record the export's request entry as the API does). The API never creates such a job, so this
//! path exists only in test builds and behind `seclog`'s `bench` feature, which no function
//! enables; in the Lambda a job without its request entry fails instead of exporting unproven.

use jiff::Timestamp;

use super::csv_file::RowsRead;
use super::failure::Failure;
use crate::domain::export::ExportJob;

/// The rows of a job without a sealed log: the entries that occurred before its request (an
/// export is a snapshot: entries arriving while it runs do not shift it, and it does not list
/// its own request), read as of `now`.
#[cfg(any(test, feature = "bench"))]
pub(super) fn rows_read(job: &ExportJob, now: Timestamp) -> Result<RowsRead, Failure> {
    let mut filter = job.filters.filter.clone();
    let cutoff = job.created_at - jiff::SignedDuration::from_nanos(1);
    filter.to = Some(filter.to.map_or(cutoff, |to| to.min(cutoff)));
    Ok(RowsRead {
        scope: None,
        filter,
        as_of: now,
    })
}

/// Without the `bench` feature an export without a sealed log does not run.
#[cfg(not(any(test, feature = "bench")))]
pub(super) fn rows_read(_job: &ExportJob, _now: Timestamp) -> Result<RowsRead, Failure> {
    Err(Failure::NoRequestEntry)
}
