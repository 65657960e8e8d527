//! The S3 adapter for export files: a multipart upload that can be resumed across Lambda
//! invocations, and presigned download links.
//!
//! Every key lives under `exports/` (the export use case names them:
//! [`export_key`](crate::export::object_keys::export_key)); the functions' IAM policies allow
//! nothing else in the bucket. The adapter implements the upload port in `store::export_ports`.
//!
//! Upload flow of the export worker (`crate::export::worker`, through the
//! [`ExportUpload`](crate::export::ports::ExportUpload) port):
//! 1. [`ExportsBucket::start`] once per export, whatever its size: even an empty export is one
//!    multipart upload.
//! 2. [`ExportsBucket::upload_part`] for parts 1, 2, ..., each cut at a row boundary once at
//!    least [`MIN_PART_BYTES`] are buffered; the last part holds the rest and may be smaller
//!    (a small export is a single small part). The upload id and each [`UploadedPart`] are
//!    persisted by the caller, so a later invocation continues with the next part number.
//! 3. [`ExportsBucket::complete`] with every part in order; [`ExportsBucket::abort`] when the
//!    export fails, so S3 frees the stored parts.
//!
//! Checksums follow the SDK's defaults: each part is sent with a CRC32 the SDK computes and S3
//! verifies on arrival, and completion names parts by number and ETag only.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::domain::export::{DownloadLink, UploadedPart};
use crate::storage::BucketError;

/// S3's minimum size of every part but the last.
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;
/// The longest a download link may live (API.md: "valid 15 minutes at most").
pub const MAX_DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// The media type of every export file, stored on the object and forced on downloads.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";
pub const EVIDENCE_CONTENT_TYPE: &str = "application/json";

/// The content type of an export file, from its name: the CSV or its JSON evidence.
fn content_type(name: &str) -> &'static str {
    if name.ends_with(".json") {
        EVIDENCE_CONTENT_TYPE
    } else {
        CSV_CONTENT_TYPE
    }
}

/// The `Content-Disposition` of an export download: `attachment; filename="<filename>"`.
/// Anything but `A-Za-z0-9._-` in the name becomes `_`, so the header can never be broken out
/// of (quotes, `;`, CR/LF) whatever name a caller passes.
pub fn attachment_disposition(filename: &str) -> String {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.is_empty() {
        "export.csv".to_owned()
    } else {
        safe
    };
    format!("attachment; filename=\"{safe}\"")
}

/// The bucket's fault (a type of `crate::storage`, below the ports) from an S3 call's error.
impl BucketError {
    fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let detail = format!(
            "{operation}: {}",
            aws_sdk_s3::error::DisplayErrorContext(&err)
        );
        match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Self::Unreachable(detail),
            SdkError::ServiceError(service) => match service.err().code() {
                Some("NoSuchUpload") => Self::UploadGone(detail),
                Some("EntityTooSmall") => Self::PartTooSmall(detail),
                code => Self::Rejected {
                    code: code.unwrap_or("unknown").to_owned(),
                    detail,
                },
            },
            _ => Self::Rejected {
                code: "unknown".to_owned(),
                detail,
            },
        }
    }
}

/// The exports bucket.
#[derive(Debug, Clone)]
pub struct ExportsBucket {
    client: Client,
    bucket: String,
}

impl ExportsBucket {
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    /// A client from shared configuration. Path-style addressing is forced only when an endpoint
    /// is configured (`endpoint_url`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`): local S3
    /// stand-ins serve one host, while real S3 wants virtual-hosted style.
    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        let mut builder = aws_sdk_s3::config::Builder::from(config);
        let endpoint_configured = config.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        if endpoint_configured {
            builder = builder.force_path_style(true);
        }
        Self::new(Client::from_conf(builder.build()), bucket.into())
    }

    /// A client for a local S3 stand-in at `endpoint` (static credentials `local`/`local`).
    pub async fn local(endpoint: &str, bucket: impl Into<String>) -> Self {
        Self::from_config(&crate::store::aws::local(endpoint).await, bucket)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Starts a multipart upload of a CSV file that downloads as `filename`; returns the upload id.
    pub async fn start(&self, key: &str, filename: &str) -> Result<String, BucketError> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type(filename))
            .content_disposition(attachment_disposition(filename))
            .send()
            .await
            .map_err(|e| BucketError::from_sdk("CreateMultipartUpload", e))?;
        output.upload_id.ok_or_else(|| BucketError::Rejected {
            code: "NoUploadId".into(),
            detail: "CreateMultipartUpload returned no upload id".into(),
        })
    }

    /// Uploads part `part_number` (1-based, consecutive) and returns its ETag. Every part but the
    /// last must be at least [`MIN_PART_BYTES`]; S3 only checks that at [`complete`](Self::complete).
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        bytes: Vec<u8>,
    ) -> Result<String, BucketError> {
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| BucketError::from_sdk("UploadPart", e))?;
        output.e_tag.ok_or_else(|| BucketError::Rejected {
            code: "NoETag".into(),
            detail: format!("UploadPart {part_number} returned no ETag"),
        })
    }

    /// Assembles the object from `parts` (in part-number order).
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BucketError> {
        let mut parts = parts.to_vec();
        parts.sort_by_key(|p| p.part_number);
        let parts = parts
            .into_iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.part_number)
                    .e_tag(p.etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| BucketError::from_sdk("CompleteMultipartUpload", e))?;
        Ok(())
    }

    /// Abandons an upload and frees its parts. An upload that is already gone counts as aborted.
    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<(), BucketError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| BucketError::from_sdk("AbortMultipartUpload", e))
        {
            Ok(_) | Err(BucketError::UploadGone(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// A presigned GET of `key` that downloads as an attachment named `filename`, typed
    /// `text/csv; charset=utf-8` (`response-content-disposition` / `response-content-type`, so
    /// the link is right even for an object stored without those headers). `ttl` is capped at
    /// [`MAX_DOWNLOAD_TTL`]. Signing is local: no request reaches S3.
    pub async fn presign_download(
        &self,
        key: &str,
        filename: &str,
        ttl: Duration,
    ) -> Result<DownloadLink, BucketError> {
        let ttl = ttl.clamp(Duration::from_secs(1), MAX_DOWNLOAD_TTL);
        // The signature carries whole seconds (X-Amz-Date), so the link's life starts at the
        // current second: `expires_at` is then exact.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|e| BucketError::Presign(e.to_string()))?;
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(now.as_secs());
        let expires_at = jiff::Timestamp::try_from(start + ttl)
            .map_err(|e| BucketError::Presign(e.to_string()))?;
        let config = PresigningConfig::builder()
            .start_time(start)
            .expires_in(ttl)
            .build()
            .map_err(|e| BucketError::Presign(e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(attachment_disposition(filename))
            .response_content_type(content_type(filename))
            .presigned(config)
            .await
            .map_err(|e| {
                BucketError::Presign(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
            })?;
        Ok(DownloadLink {
            url: request.uri().to_owned(),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_is_an_attachment_with_a_safe_name() {
        assert_eq!(
            attachment_disposition("security-logs-acct_1-2024-04-22.csv"),
            "attachment; filename=\"security-logs-acct_1-2024-04-22.csv\""
        );
        assert_eq!(
            attachment_disposition("a\"; x=\r\n.csv"),
            "attachment; filename=\"a___x___.csv\""
        );
        assert_eq!(
            attachment_disposition(""),
            "attachment; filename=\"export.csv\""
        );
    }

    #[tokio::test]
    async fn presigned_links_are_capped_at_fifteen_minutes_and_signed_locally() {
        let bucket = ExportsBucket::local("http://127.0.0.1:9", "exports-bucket").await;
        let key = "exports/acct_1/01HW3Z9V7Q4M8K2N5P6R7S8T9V.csv";
        let before = jiff::Timestamp::now();
        let link = bucket
            .presign_download(
                key,
                "security-logs-acct_1-2024-04-22.csv",
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        let lifetime = link.expires_at.duration_since(before);
        assert!(
            lifetime <= jiff::SignedDuration::from_secs(15 * 60 + 1),
            "{lifetime:?}"
        );
        assert!(
            lifetime > jiff::SignedDuration::from_secs(15 * 60 - 2),
            "{lifetime:?}"
        );
        assert!(link.url.contains("X-Amz-Expires=900"), "{}", link.url);
        assert!(
            link.url
                .starts_with("http://127.0.0.1:9/exports-bucket/exports/acct_1/"),
            "path-style with a local endpoint: {}",
            link.url
        );
        assert!(link.url.contains("response-content-disposition=attachment"));
        assert!(link.url.contains("response-content-type=text%2Fcsv"));
    }
}
