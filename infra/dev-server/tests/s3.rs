//! The exports bucket adapter against the in-process s3s-fs, through the real aws-sdk-s3 client
//! and plain HTTP downloads of presigned links.

use std::path::PathBuf;
use std::time::Duration;

use dev_server::LocalS3;
use seclog::domain::AccountId;
use seclog::domain::export::UploadedPart;
use seclog::export::object_keys::export_key;
use seclog::storage::BucketError;
use seclog::store::s3::exports_bucket::{CSV_CONTENT_TYPE, ExportsBucket, MIN_PART_BYTES};

const BUCKET: &str = "exports-test";
const FILENAME: &str = "security-logs-acct_1-2024-04-22.csv";

/// A server on a free port over its own empty directory, removed again when the test ends.
struct TestS3 {
    s3: Option<LocalS3>,
    root: PathBuf,
}

impl std::ops::Deref for TestS3 {
    type Target = LocalS3;
    fn deref(&self) -> &LocalS3 {
        self.s3.as_ref().expect("server running")
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        drop(self.s3.take());
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A fresh server with the bucket created, and an adapter signing as the local credentials.
async fn setup(name: &str) -> (TestS3, ExportsBucket) {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("s3-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let s3 = LocalS3::start(&root, 0).await.expect("s3s-fs starts");
    s3.create_bucket(BUCKET).unwrap();
    let bucket = ExportsBucket::local(&s3.endpoint, BUCKET).await;
    (TestS3 { s3: Some(s3), root }, bucket)
}

fn key(export_id: &str) -> String {
    export_key(&AccountId::parse("acct_1").unwrap(), export_id)
}

/// CSV-looking bytes of exactly `len` bytes, different for each `seed`.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    let line = format!("2024-04-22 14:32:15 +08:00,Login,row {seed}\r\n");
    line.bytes().cycle().take(len).collect()
}

async fn download(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("the local S3 answers")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Stores `bytes` at `key` as the export worker does: one multipart upload, here of one part.
async fn put_file(bucket: &ExportsBucket, key: &str, filename: &str, bytes: Vec<u8>) {
    let upload_id = bucket.start(key, filename).await.unwrap();
    let etag = bucket.upload_part(key, &upload_id, 1, bytes).await.unwrap();
    bucket
        .complete(
            key,
            &upload_id,
            &[UploadedPart {
                part_number: 1,
                etag,
            }],
        )
        .await
        .unwrap();
}

fn pending_part_files(s3: &TestS3) -> Vec<String> {
    std::fs::read_dir(s3.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload_id-"))
        .collect()
}

#[tokio::test]
async fn a_multipart_upload_resumed_by_another_client_downloads_byte_for_byte() {
    let (s3, first_invocation) = setup("multipart").await;
    let key = key("01HW3Z9V7Q4M8K2N5P6R7S8T9V");
    let part1 = payload(MIN_PART_BYTES + 1234, 1);
    let part2 = payload(MIN_PART_BYTES, 2);
    let part3 = payload(777, 3);

    // First invocation: start and upload one part, then persist what it needs to go on.
    let upload_id = first_invocation.start(&key, FILENAME).await.unwrap();
    let etag1 = first_invocation
        .upload_part(&key, &upload_id, 1, part1.clone())
        .await
        .unwrap();
    let saved = serde_json::to_string(&[UploadedPart {
        part_number: 1,
        etag: etag1,
    }])
    .unwrap();
    drop(first_invocation);

    // Second invocation: a new client continues the same upload with the next parts.
    let second_invocation = ExportsBucket::local(&s3.endpoint, BUCKET).await;
    let mut parts: Vec<UploadedPart> = serde_json::from_str(&saved).unwrap();
    for (number, bytes) in [(2, part2.clone()), (3, part3.clone())] {
        let etag = second_invocation
            .upload_part(&key, &upload_id, number, bytes)
            .await
            .unwrap();
        parts.push(UploadedPart {
            part_number: number,
            etag,
        });
    }
    second_invocation
        .complete(&key, &upload_id, &parts)
        .await
        .unwrap();
    assert!(
        pending_part_files(&s3).is_empty(),
        "completion consumes the parts"
    );

    let link = second_invocation
        .presign_download(&key, FILENAME, Duration::from_secs(600))
        .await
        .unwrap();
    let response = download(&link.url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-disposition"),
        format!("attachment; filename=\"{FILENAME}\"")
    );
    assert_eq!(header(&response, "content-type"), CSV_CONTENT_TYPE);
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), part1.len() + part2.len() + part3.len());
    assert!(
        body.as_ref() == [part1, part2, part3].concat(),
        "exact bytes"
    );
}

#[tokio::test]
async fn a_single_small_part_completes_as_the_last_part() {
    let (_s3, bucket) = setup("one-part").await;
    let key = key("01HW3Z9V7Q4M8K2N5P6R7S8T9W");
    let bytes = payload(100, 4);
    let upload_id = bucket.start(&key, FILENAME).await.unwrap();
    let etag = bucket
        .upload_part(&key, &upload_id, 1, bytes.clone())
        .await
        .unwrap();
    bucket
        .complete(
            &key,
            &upload_id,
            &[UploadedPart {
                part_number: 1,
                etag,
            }],
        )
        .await
        .unwrap();
    let link = bucket
        .presign_download(&key, FILENAME, Duration::from_secs(60))
        .await
        .unwrap();
    let response = download(&link.url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn a_small_part_that_is_not_the_last_is_rejected() {
    let (_s3, bucket) = setup("small-part").await;
    let key = key("01HW3Z9V7Q4M8K2N5P6R7S8T9X");
    let upload_id = bucket.start(&key, FILENAME).await.unwrap();
    let mut parts = Vec::new();
    for number in 1..=2 {
        let etag = bucket
            .upload_part(&key, &upload_id, number, payload(MIN_PART_BYTES - 1, 5))
            .await
            .unwrap();
        parts.push(UploadedPart {
            part_number: number,
            etag,
        });
    }
    let err = bucket.complete(&key, &upload_id, &parts).await.unwrap_err();
    assert!(matches!(err, BucketError::PartTooSmall(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "an export part other than the last is smaller than 5 MiB"
    );
    // Real S3 keeps the upload after a failed completion (abort then frees it); s3s-fs 0.14.1
    // forgets the upload id before checking sizes, so its abort answers AccessDenied.
    let _ = bucket.abort(&key, &upload_id).await;
}

#[tokio::test]
async fn the_upload_stores_csv_headers_and_the_link_chooses_the_download_name() {
    let (_s3, bucket) = setup("headers").await;
    let key = key("01HW3Z9V7Q4M8K2N5P6R7S8T9Y");
    let bytes = b"Timestamp,Timestamp (UTC)\r\n".to_vec();
    put_file(&bucket, &key, "stored-name.csv", bytes.clone()).await;
    // The link's response-content-disposition wins over what the object was stored with.
    let link = bucket
        .presign_download(&key, FILENAME, Duration::from_secs(60))
        .await
        .unwrap();
    let response = download(&link.url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-disposition"),
        format!("attachment; filename=\"{FILENAME}\"")
    );
    assert_eq!(header(&response, "content-type"), CSV_CONTENT_TYPE);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The stored metadata is right too, for anyone reading the object directly.
    let head = bucket
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some(CSV_CONTENT_TYPE));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"stored-name.csv\"")
    );
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let (_s3, bucket) = setup("expired").await;
    let key = key("01HW3Z9V7Q4M8K2N5P6R7S8T9Z");
    put_file(&bucket, &key, FILENAME, b"x\r\n".to_vec()).await;
    let link = bucket
        .presign_download(&key, FILENAME, Duration::from_secs(1))
        .await
        .unwrap();
    let early = link.expires_at.duration_since(jiff::Timestamp::now());
    assert!(early <= jiff::SignedDuration::from_secs(1), "{early:?}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    let response = download(&link.url).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("AccessDenied"));
}

#[tokio::test]
async fn a_tampered_link_is_refused() {
    let (_s3, bucket) = setup("tampered").await;
    let key_a = key("01HW3Z9V7Q4M8K2N5P6R7S8TAA");
    let key_b = key("01HW3Z9V7Q4M8K2N5P6R7S8TAB");
    for key in [&key_a, &key_b] {
        put_file(&bucket, key, FILENAME, b"secret\r\n".to_vec()).await;
    }
    let link = bucket
        .presign_download(&key_a, FILENAME, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        download(&link.url).await.status(),
        200,
        "the untouched link"
    );

    // One character of the signature.
    let (before, signature) = link.url.split_once("X-Amz-Signature=").unwrap();
    let first = signature.chars().next().unwrap();
    let flipped = if first == '0' { '1' } else { '0' };
    let bad_signature = format!("{before}X-Amz-Signature={flipped}{}", &signature[1..]);
    assert_eq!(download(&bad_signature).await.status(), 403);

    // Another account's object (or another export) under the same signature.
    let other_key = link.url.replacen("S8TAA.csv", "S8TAB.csv", 1);
    assert_ne!(other_key, link.url);
    assert_eq!(download(&other_key).await.status(), 403);

    // A different download name.
    let other_name = link.url.replacen("2024-04-22.csv", "2024-04-23.csv", 1);
    assert_ne!(other_name, link.url);
    assert_eq!(download(&other_name).await.status(), 403);

    // No signature at all.
    let unsigned = link.url.split_once('?').unwrap().0;
    assert_eq!(download(unsigned).await.status(), 403);
}

#[tokio::test]
async fn abort_removes_the_upload_and_its_parts() {
    let (s3, bucket) = setup("abort").await;
    let key = key("01HW3Z9V7Q4M8K2N5P6R7S8TAC");
    let upload_id = bucket.start(&key, FILENAME).await.unwrap();
    let etag = bucket
        .upload_part(&key, &upload_id, 1, payload(MIN_PART_BYTES, 6))
        .await
        .unwrap();
    assert!(!pending_part_files(&s3).is_empty());

    bucket.abort(&key, &upload_id).await.unwrap();

    assert!(
        pending_part_files(&s3).is_empty(),
        "{:?}",
        pending_part_files(&s3)
    );
    assert!(
        bucket
            .upload_part(&key, &upload_id, 2, b"late".to_vec())
            .await
            .is_err()
    );
    let parts = [UploadedPart {
        part_number: 1,
        etag,
    }];
    assert!(bucket.complete(&key, &upload_id, &parts).await.is_err());
    let head = bucket
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await;
    assert!(head.is_err(), "no object was created");
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let (s3, _bucket) = setup("credentials").await;
    // The local configuration (its HTTP client, endpoint, region), other credentials.
    let config = aws_sdk_s3::config::Builder::from(&seclog::store::aws::local(&s3.endpoint).await)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "local", "wrong", None, None, "test",
        ))
        .force_path_style(true)
        .build();
    let intruder = ExportsBucket::new(aws_sdk_s3::Client::from_conf(config), BUCKET.into());
    let err = intruder
        .start(&key("01HW3Z9V7Q4M8K2N5P6R7S8TAD"), FILENAME)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BucketError::Rejected { code, .. } if code == "SignatureDoesNotMatch"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_bucket_reads_as_such() {
    let (s3, _bucket) = setup("unreachable").await;
    let endpoint = s3.endpoint.clone();
    let address = endpoint.trim_start_matches("http://").to_owned();
    drop(s3);
    // Dropping the handle stops the server: the port soon refuses connections.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still listening on {address}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bucket = ExportsBucket::local(&endpoint, BUCKET).await;
    let err = bucket
        .start(&key("01HW3Z9V7Q4M8K2N5P6R7S8TAE"), FILENAME)
        .await
        .unwrap_err();
    assert!(matches!(err, BucketError::Unreachable(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the exports bucket is unreachable, retry later"
    );
}
