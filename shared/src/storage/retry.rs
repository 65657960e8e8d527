//! Backoff for DynamoDB's partial successes (unprocessed batch items, transaction conflicts),
//! which the SDK's own retry does not cover.

use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 8;

/// Exponential backoff with full jitter: 0..(25 ms * 2^attempt), capped at 2 s.
pub async fn backoff(attempt: u32) {
    let cap_ms = (25u64 << attempt.min(7)).min(2_000);
    let jitter = u64::from(ulid::Ulid::generate().random() as u32) % cap_ms.max(1);
    tokio::time::sleep(Duration::from_millis(jitter)).await;
}
