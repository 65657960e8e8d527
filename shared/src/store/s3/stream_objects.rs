//! s3 streams: each batch becomes one object in the merchant's bucket, written through the
//! merchant's role. The service assumes the role with the stream's `external_id` (which the
//! role's trust policy must require), so another customer who learns the role's ARN cannot make
//! the service write there for them (the confused deputy).
//!
//! An object is gzip'd NDJSON, one record per line, under
//! `<prefix><YYYY>/<MM>/<DD>/<stream>-<first index>-<last index>.ndjson.gz` (UTC date of the
//! delivery; indices 20 digits wide, so keys sort in log order within a day). A retried batch
//! writes the same key again. The checkpoint covering the records is the object's metadata
//! `security-logs-checkpoint` (base64 of the note: metadata is ASCII), its delivery id
//! `security-logs-delivery`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::domain::stream::StreamId;
use crate::streams::outcome::SendError;
use crate::streams::ports::Batch;

/// How long assumed credentials are asked for (STS's least), and how long before their end they
/// are renewed.
const SESSION: Duration = Duration::from_secs(900);
const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// Where one s3 stream writes.
pub struct S3Target<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub role_arn: &'a str,
    pub region: &'a str,
    pub external_id: &'a str,
}

pub struct StreamObjects {
    sts: aws_sdk_sts::Client,
    /// The base of the merchants' S3 clients (the local stack's endpoint in tests).
    s3: SdkConfig,
    /// A client per stream on its assumed credentials (its connections reused across
    /// batches), until shortly before the credentials expire.
    sessions: Mutex<HashMap<StreamId, (aws_sdk_s3::Client, SystemTime)>>,
}

impl StreamObjects {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(config),
            s3: config.clone(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `batch` as one object.
    pub async fn put(
        &self,
        stream: &StreamId,
        target: &S3Target<'_>,
        batch: &Batch<'_>,
    ) -> Result<(), SendError> {
        let client = self.client(stream, target).await?;
        let result = client
            .put_object()
            .bucket(target.bucket)
            .key(object_key(
                target.prefix,
                stream,
                batch,
                jiff::Timestamp::now(),
            ))
            .content_type("application/x-ndjson")
            .content_encoding("gzip")
            .metadata("security-logs-delivery", &batch.id)
            .metadata(
                "security-logs-checkpoint",
                STANDARD.encode(batch.checkpoint),
            )
            .body(ByteStream::from(ndjson_gz(batch)?))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(match err.code() {
                Some("AccessDenied" | "NoSuchBucket" | "InvalidBucketName") => SendError::stop(
                    format!("S3 refused the object: {}", err.code().unwrap_or_default()),
                ),
                Some(code) => SendError::retry(format!("S3 answered {code}")),
                None => SendError::retry("S3 could not be reached"),
            }),
        }
    }

    /// The stream's S3 client on the merchant's role: the one kept, or one on fresh
    /// credentials.
    async fn client(
        &self,
        stream: &StreamId,
        target: &S3Target<'_>,
    ) -> Result<aws_sdk_s3::Client, SendError> {
        if let Ok(sessions) = self.sessions.lock()
            && let Some((client, renew_at)) = sessions.get(stream)
            && SystemTime::now() < *renew_at
        {
            return Ok(client.clone());
        }
        let assumed = self
            .sts
            .assume_role()
            .role_arn(target.role_arn)
            .role_session_name(session_name(stream))
            .external_id(target.external_id)
            .duration_seconds(SESSION.as_secs() as i32)
            .send()
            .await
            .map_err(|err| match err.code() {
                Some("AccessDenied") => SendError::stop(
                    "the service may not assume the role: its trust policy must allow the \
                     service's account with the stream's external_id",
                ),
                Some(code) => SendError::retry(format!("STS answered {code}")),
                None => SendError::retry("STS could not be reached"),
            })?;
        let Some(assumed) = assumed.credentials else {
            return Err(SendError::retry("STS returned no credentials"));
        };
        let expires: SystemTime = assumed
            .expiration
            .try_into()
            .unwrap_or_else(|_| SystemTime::now() + SESSION);
        let credentials = aws_sdk_s3::config::Credentials::new(
            assumed.access_key_id,
            assumed.secret_access_key,
            Some(assumed.session_token),
            Some(expires),
            "security-logs-stream",
        );
        let mut config = aws_sdk_s3::config::Builder::from(&self.s3)
            .region(aws_sdk_s3::config::Region::new(target.region.to_owned()))
            .credentials_provider(credentials);
        // A local stack's endpoint serves buckets by path, not by host name.
        if self.s3.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        let client = aws_sdk_s3::Client::from_conf(config.build());
        if let Ok(mut sessions) = self.sessions.lock() {
            let renew_at = expires.checked_sub(RENEW_BEFORE).unwrap_or(expires);
            sessions.insert(stream.clone(), (client.clone(), renew_at));
        }
        Ok(client)
    }
}

/// The role session's name: the stream id, which the merchant's CloudTrail then shows.
fn session_name(stream: &StreamId) -> String {
    format!("security-logs-{stream}").chars().take(64).collect()
}

/// `<prefix><YYYY>/<MM>/<DD>/<stream>-<first>-<last>.ndjson.gz`, the date `now`'s in UTC.
pub fn object_key(
    prefix: &str,
    stream: &StreamId,
    batch: &Batch<'_>,
    now: jiff::Timestamp,
) -> String {
    let date = jiff::tz::TimeZone::UTC.to_datetime(now).date();
    format!(
        "{prefix}{:04}/{:02}/{:02}/{stream}-{:020}-{:020}.ndjson.gz",
        date.year(),
        date.month(),
        date.day(),
        batch.first_index,
        batch.last_index,
    )
}

/// The batch's records, one per line, gzip'd.
fn ndjson_gz(batch: &Batch<'_>) -> Result<Vec<u8>, SendError> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for record in batch.records {
        gz.write_all(record.get().as_bytes())
            .and_then(|()| gz.write_all(b"\n"))
            .map_err(|e| SendError::retry(format!("compressing the batch failed: {e}")))?;
    }
    gz.finish()
        .map_err(|e| SendError::retry(format!("compressing the batch failed: {e}")))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use serde_json::value::RawValue;

    use super::*;
    use crate::domain::stream::StreamFormat;

    fn batch<'a>(records: &'a [&'a RawValue]) -> Batch<'a> {
        Batch {
            id: "st_x-7-8".into(),
            format: StreamFormat::Native,
            records,
            first_index: 7,
            last_index: 8,
            checkpoint: "note",
        }
    }

    #[test]
    fn objects_are_keyed_by_day_and_indices_so_keys_sort_in_log_order() {
        let stream = StreamId::parse("st_01HW3Z9V7Q4M8K2N5P6R7S8T9V").unwrap();
        let records: Vec<Box<RawValue>> = vec![];
        let refs: Vec<&RawValue> = records.iter().map(AsRef::as_ref).collect();
        let now: jiff::Timestamp = "2026-12-07T23:59:59Z".parse().unwrap();
        assert_eq!(
            object_key("logs/", &stream, &batch(&refs), now),
            "logs/2026/12/07/st_01HW3Z9V7Q4M8K2N5P6R7S8T9V-00000000000000000007-00000000000000000008.ndjson.gz"
        );
    }

    #[test]
    fn a_batch_is_one_gzip_of_one_record_per_line() {
        let records = [
            RawValue::from_string(r#"{"log_index":7}"#.into()).unwrap(),
            RawValue::from_string(r#"{"log_index":8}"#.into()).unwrap(),
        ];
        let refs: Vec<&RawValue> = records.iter().map(AsRef::as_ref).collect();
        let gz = ndjson_gz(&batch(&refs)).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"log_index\":7}\n{\"log_index\":8}\n");
    }
}
