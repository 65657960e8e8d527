//! The exports bucket's faults, as the export worker's upload port
//! (`export::ports::ExportUpload`) and the download links report them. Here, below the use case
//! and the S3 adapter, like [`super::StoreError`]; the adapter's constructor from S3's errors
//! (`BucketError::from_sdk`) stays in `store::s3::exports_bucket`.

use thiserror::Error;

use crate::error::ApiError;

/// What can go wrong with the exports bucket. The messages are written for a merchant reading
/// an export's `error`; the S3 detail is kept for logs (`Debug`, [`BucketError::detail`]).
#[derive(Debug, Error)]
pub enum BucketError {
    #[error("the exports bucket is unreachable, retry later")]
    Unreachable(String),
    #[error("the export's upload no longer exists; the export has to start over")]
    UploadGone(String),
    #[error("an export part other than the last is smaller than 5 MiB")]
    PartTooSmall(String),
    #[error("the exports bucket refused the request ({code})")]
    Rejected { code: String, detail: String },
    #[error("the download link could not be created")]
    Presign(String),
}

impl BucketError {
    /// Everything known about the failure, for logs.
    pub fn detail(&self) -> &str {
        match self {
            Self::Unreachable(d)
            | Self::UploadGone(d)
            | Self::PartTooSmall(d)
            | Self::Presign(d) => d,
            Self::Rejected { detail, .. } => detail,
        }
    }
}

impl From<BucketError> for ApiError {
    fn from(err: BucketError) -> Self {
        ApiError::storage(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_sentences_and_keep_their_detail() {
        let err = BucketError::Unreachable("dispatch failure".into());
        assert_eq!(
            err.to_string(),
            "the exports bucket is unreachable, retry later"
        );
        assert_eq!(err.detail(), "dispatch failure");
        let err = BucketError::Rejected {
            code: "AccessDenied".into(),
            detail: "403".into(),
        };
        assert_eq!(
            err.to_string(),
            "the exports bucket refused the request (AccessDenied)"
        );
        assert_eq!(err.detail(), "403");
    }
}
