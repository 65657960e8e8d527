//! How long to wait before sending a batch again: exponential backoff with jitter, and the
//! service's `Retry-After` when it gives one.

use std::time::Duration;

use jiff::Timestamp;

/// The retry delays. A batch is retried until it is stored or rejected, however long that
/// takes (the buffer bounds what waits meanwhile); these only space the attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The step of the first retry; each further retry doubles it.
    pub initial_delay: Duration,
    /// The largest step.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured (a larger one is cut to this).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first).
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with(retry, retry_after, fastrand::f64())
    }

    /// "Equal jitter": the step for `retry` (doubling, capped), drawn from its upper half by
    /// `random` in `[0, 1)`, so that producers failing together spread out without any retry
    /// coming sooner than half its step. A `Retry-After` is a floor, never shortened.
    fn delay_with(&self, retry: u32, retry_after: Option<Duration>, random: f64) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        let step = self
            .initial_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let jittered = step / 2 + step.mul_f64(random.clamp(0.0, 1.0) / 2.0);
        match retry_after {
            Some(wish) => wish.min(self.max_retry_after).max(jittered),
            None => jittered,
        }
    }
}

/// `Retry-After` as seconds (`30`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), from `now`.
pub(crate) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn steps_double_up_to_the_cap_and_jitter_spans_their_upper_half() {
        let policy = policy();
        let range = |retry| {
            (
                policy.delay_with(retry, None, 0.0),
                policy.delay_with(retry, None, 0.999_999),
            )
        };
        assert_eq!(range(1).0, Duration::from_millis(50));
        assert!(range(1).1 > Duration::from_millis(99) && range(1).1 <= Duration::from_millis(100));
        assert_eq!(range(2).0, Duration::from_millis(100));
        assert_eq!(range(4).0, Duration::from_millis(400));
        // 100 ms * 2^7 = 12.8 s is past the 10 s cap; so is every later retry.
        assert_eq!(range(8).0, Duration::from_secs(5));
        assert_eq!(range(1000).0, Duration::from_secs(5));
        assert!(range(1000).1 <= Duration::from_secs(10));
    }

    #[test]
    fn the_live_draw_falls_within_the_step() {
        let policy = policy();
        for _ in 0..100 {
            let delay = policy.delay(3, None);
            assert!(
                delay >= Duration::from_millis(200) && delay <= Duration::from_millis(400),
                "{delay:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_a_floor_with_a_ceiling() {
        let policy = policy();
        let wish = Some(Duration::from_secs(7));
        assert_eq!(policy.delay_with(1, wish, 0.5), Duration::from_secs(7));
        // A longer backoff step wins over a shorter wish.
        assert!(policy.delay_with(9, Some(Duration::from_secs(1)), 0.5) > Duration::from_secs(1));
        assert_eq!(
            policy.delay_with(1, Some(Duration::from_secs(3600)), 0.5),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: Timestamp = "2015-10-21T07:27:30Z".parse().expect("time");
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
