//! Why an export run stopped short, as one type: each variant carries what the logs need and
//! says, in [`Failure::reason`], what the merchant reads on the failed job. Keeping the reason
//! beside the variant (rather than in the use case's match) is what lets a fault of the CSV say
//! the CSV: the file the fault is in is part of the variant.

use crate::domain::export::ExportId;
use crate::export::ports::SealError;
use crate::integrity::canonical::CanonicalError;
use crate::storage::BucketError;
use crate::storage::StoreError;

/// The two files of an export, written one after the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum File {
    Csv,
    Evidence,
}

impl File {
    /// How the merchant-facing reasons name the file.
    fn noun(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Evidence => "evidence",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the log did not reach the export's request entry in time")]
    Unsealed,
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("evidence: {0}")]
    Evidence(&'static str),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The bytes a paused invocation carried in the job do not decode.
    #[error("the checkpoint's carried bytes of the {} are not base64", .0.noun())]
    CorruptCarry(File),
    /// A job the API did not create: it has no request entry in the log to seal it with.
    /// (Built with `bench`, such a job runs instead: see `super::unsealed`.)
    #[error("the export has no request entry in the log")]
    NoRequestEntry,
}

impl Failure {
    /// DynamoDB's passing fault (reading entries, the log, or sealing it): worth a retry. Such
    /// a failure gives no verdict on the export; the retry continues it.
    pub(super) fn is_transient(&self) -> bool {
        matches!(self, Self::Store(error) | Self::Seal(SealError::Store(error)) if error.is_transient())
    }

    /// The store's passing fault this failure is, or the failure itself if it is a verdict.
    pub(super) fn into_transient(self) -> Result<StoreError, Self> {
        match self {
            Self::Store(error) | Self::Seal(SealError::Store(error)) if error.is_transient() => {
                Ok(error)
            }
            other => Err(other),
        }
    }

    /// What the merchant reads on the failed job (the details go to the logs only).
    pub(super) fn reason(&self) -> String {
        match self {
            Self::Bucket(e) => e.to_string(),
            Self::Store(_) => {
                "reading the security logs failed; please request the export again".to_owned()
            }
            Self::Unsealed => {
                "the tamper-evident log is behind; please request the export again".to_owned()
            }
            Self::Seal(_) => {
                "signing the export's checkpoint failed; please request the export again"
                    .to_owned()
            }
            Self::Evidence(_) | Self::Canonical(_) => Self::writing_failed(File::Evidence),
            Self::CorruptCarry(file) => Self::writing_failed(*file),
            Self::NoRequestEntry => {
                "the export was not recorded in the tamper-evident log; please request the export again"
                    .to_owned()
            }
        }
    }

    fn writing_failed(file: File) -> String {
        format!(
            "writing the export's {} failed; please request the export again",
            file.noun()
        )
    }

    /// Logs the failure with its details, as the operator needs them.
    pub(super) fn log(&self, export: &ExportId) {
        let export = export.as_str();
        match self {
            Self::Bucket(e) => {
                tracing::error!(export, detail = e.detail(), "export failed in S3");
            }
            Self::Store(e) => tracing::error!(export, error = %e, "export failed reading logs"),
            Self::Unsealed => tracing::error!(export, "the log did not reach the export's request"),
            Self::Seal(e) => tracing::error!(export, error = %e, "sealing the export failed"),
            Self::Evidence(e) => tracing::error!(export, error = %e, "writing the evidence failed"),
            Self::Canonical(e) => {
                tracing::error!(export, error = %e, "an entry has no canonical form");
            }
            Self::CorruptCarry(file) => {
                tracing::error!(
                    export,
                    file = file.noun(),
                    "the checkpoint's carry is corrupt"
                );
            }
            Self::NoRequestEntry => tracing::error!(export, "the export has no request entry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_carry_names_the_file_it_is_in() {
        assert_eq!(
            Failure::CorruptCarry(File::Csv).reason(),
            "writing the export's CSV failed; please request the export again"
        );
        assert_eq!(
            Failure::CorruptCarry(File::Evidence).reason(),
            "writing the export's evidence failed; please request the export again"
        );
    }

    #[test]
    fn a_job_without_its_request_entry_says_the_log_lacks_it() {
        let reason = Failure::NoRequestEntry.reason();
        assert!(
            reason.contains("not recorded in the tamper-evident log"),
            "{reason}"
        );
        assert!(!Failure::NoRequestEntry.is_transient());
    }
}
