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
/// its own request), read as of `now`. Without the `bench` feature (in every function) such a
/// job does not run. A `cfg!` rather than two `#[cfg]` items: both builds compile, and
/// `make lint` lints, the same code, so the Lambdas' variant needs no clippy pass of its own.
pub(super) fn rows_read(job: &ExportJob, now: Timestamp) -> Result<RowsRead, Failure> {
    if !cfg!(any(test, feature = "bench")) {
        return Err(Failure::NoRequestEntry);
    }
    let mut filter = job.filters.filter.clone();
    let cutoff = job.created_at - jiff::SignedDuration::from_nanos(1);
    filter.to = Some(filter.to.map_or(cutoff, |to| to.min(cutoff)));
    Ok(RowsRead {
        scope: None,
        filter,
        as_of: now,
    })
}
