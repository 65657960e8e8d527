//! What a webhook's answer means for its stream (API.md's delivery rules, in one place): a 2xx
//! acknowledges the batch; 408, 429, 5xx, a timeout or a refused connection are retried; any
//! other answer stops the stream until the merchant replays it. A redirect is not followed (it
//! could lead anywhere, the address policy's checks included), so it stops the stream too.
//!
//! Each refusal carries a short reason for the stream's `last_error`: the status or the kind of
//! failure, never a header of the request (the merchant's auth header among them).

use std::time::Duration;

use jiff::Timestamp;
use jiff::fmt::rfc2822::DateTimeParser;
use thiserror::Error;

/// A batch the receiver acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
}

/// A batch that was not acknowledged, and what the stream does next.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// Try again later; `retry_after` is the receiver's own wish (`Retry-After`).
    #[error("{reason}")]
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The stream is `failing` until it is replayed.
    #[error("{reason}")]
    Stop { reason: String },
}

impl SendError {
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn stop(reason: impl Into<String>) -> Self {
        Self::Stop {
            reason: reason.into(),
        }
    }

    /// The text for the stream's `last_error`.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retry { reason, .. } | Self::Stop { reason } => reason,
        }
    }
}

/// Classifies a received status; `retry_after` is the answer's `Retry-After` header, if any,
/// read at `now`.
pub fn classify_status(
    status: u16,
    retry_after: Option<&str>,
    now: Timestamp,
) -> Result<Delivered, SendError> {
    let reason = format!("the receiver answered HTTP {status}");
    match status {
        200..=299 => Ok(Delivered { status }),
        408 | 500..=599 => Err(SendError::retry(reason)),
        429 => Err(SendError::Retry {
            reason,
            retry_after: retry_after.and_then(|value| delay(value, now)),
        }),
        300..=399 => Err(SendError::stop(format!(
            "the receiver answered HTTP {status}, a redirect, which is not followed"
        ))),
        _ => Err(SendError::stop(reason)),
    }
}

/// `Retry-After` as delta-seconds or as an HTTP date (RFC 9110; its IMF-fixdate is an RFC 2822
/// date); a date already past is no delay. Unreadable: none, the stream's own backoff applies.
fn delay(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTimeParser::new().parse_timestamp(value).ok()?;
    let seconds = at.as_second().saturating_sub(now.as_second()).max(0);
    Some(Duration::from_secs(seconds.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2015-10-21T07:27:00Z".parse().unwrap()
    }

    fn classify(status: u16, retry_after: Option<&str>) -> Result<Delivered, SendError> {
        classify_status(status, retry_after, now())
    }

    fn is_retry(result: Result<Delivered, SendError>) -> bool {
        matches!(result, Err(SendError::Retry { .. }))
    }

    fn is_stop(result: Result<Delivered, SendError>) -> bool {
        matches!(result, Err(SendError::Stop { .. }))
    }

    #[test]
    fn a_2xx_acknowledges() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(classify(status, None), Ok(Delivered { status }));
        }
    }

    #[test]
    fn timeouts_throttling_and_server_faults_are_retried() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retry(classify(status, None)), "{status}");
        }
        assert_eq!(
            classify(429, Some(" 120 ")),
            Err(SendError::Retry {
                reason: "the receiver answered HTTP 429".into(),
                retry_after: Some(Duration::from_secs(120)),
            })
        );
        let at = |value| match classify(429, Some(value)) {
            Err(SendError::Retry { retry_after, .. }) => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            at("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(at("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("soon"), None);
    }

    #[test]
    fn other_client_errors_and_redirects_stop_the_stream() {
        for status in [400, 401, 403, 404, 405, 410, 413, 422, 451] {
            assert!(is_stop(classify(status, None)), "{status}");
        }
        for status in [301, 302, 303, 307, 308] {
            let result = classify(status, None);
            assert!(is_stop(result.clone()), "{status}");
            assert!(result.unwrap_err().reason().contains("redirect"));
        }
    }
}
