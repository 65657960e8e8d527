//! The signature of a webhook delivery, so a receiver knows the body came from this service and
//! is recent: `Security-Logs-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! The time is inside the MAC, so a captured delivery cannot be replayed later with a fresh
//! `t`; a receiver refuses a `t` too far from its clock. Several `v1=` values may be present, so a
//! secret can be rotated: during the change the sender signs with both, and a receiver holding
//! either accepts. Comparison is constant-time (`subtle`), so timing reveals nothing of the
//! expected MAC. The same scheme as Stripe's, which SIEM receivers commonly already implement.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Security-Logs-Signature";
/// The header that names a delivery (the same on each retry of it).
pub const DELIVERY_HEADER: &str = "Security-Logs-Delivery";

const SECRET_PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;
const SCHEME: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// A webhook's signing secret: `whsec_` and the hex of 32 random bytes. The whole text, as the
/// merchant copies it, is the HMAC key (nothing to decode on the receiving side). Its `Debug`
/// form hides it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

/// Why a secret's text is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a signing secret is `{SECRET_PREFIX}` followed by {} hex digits", SECRET_BYTES * 2)]
pub struct MalformedSecret;

impl SigningSecret {
    /// A new secret from the operating system's random source.
    #[cfg(feature = "aws")]
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{SECRET_PREFIX}{}", hex::encode(bytes))))
    }

    pub fn parse(text: &str) -> Result<Self, MalformedSecret> {
        let digits = text.strip_prefix(SECRET_PREFIX).ok_or(MalformedSecret)?;
        let well_formed = digits.len() == SECRET_BYTES * 2
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(MalformedSecret)
        }
    }

    /// The text to show the merchant, once, and to store (encrypted).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn mac(&self, t: i64, body: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = HmacSha256::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

/// The header value signing `body` at time `t` (Unix seconds) with each secret (the current one
/// first; two during a rotation).
pub fn sign(secrets: &[&SigningSecret], t: i64, body: &[u8]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let tag = secret.mac(t, body).finalize().into_bytes();
        header.push_str(&format!(",{SCHEME}={}", hex::encode(tag)));
    }
    header
}

/// Why a receiver refuses a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureRefused {
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature's time {t} is more than {tolerance} s before now ({now})")]
    Stale { t: i64, now: i64, tolerance: u64 },
    #[error("the signature's time {t} is more than {tolerance} s after now ({now})")]
    FromTheFuture { t: i64, now: i64, tolerance: u64 },
    #[error("no v1 signature matches the body")]
    NoMatch,
}

/// Checks a delivery as a receiver does: `header` well formed, its `t` within `tolerance`
/// seconds of `now`, and one of its `v1` values the MAC of `body` under `secret`. Returns `t`.
/// Members other than `t` and `v1` are ignored (a later scheme can be added beside `v1`).
pub fn verify(
    header: &str,
    secret: &SigningSecret,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<i64, SignatureRefused> {
    let mut t = None;
    let mut candidates = Vec::new();
    for member in header.split(',') {
        let (key, value) = member
            .trim()
            .split_once('=')
            .ok_or(SignatureRefused::Malformed("a member is not key=value"))?;
        match key {
            "t" if t.is_some() => return Err(SignatureRefused::Malformed("t appears twice")),
            "t" => {
                let parsed = value
                    .parse::<i64>()
                    .map_err(|_| SignatureRefused::Malformed("t is not a number"))?;
                t = Some(parsed);
            }
            SCHEME => candidates.push(value),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureRefused::Malformed("no t"))?;
    if candidates.is_empty() {
        return Err(SignatureRefused::Malformed("no v1 signature"));
    }
    if now.saturating_sub(t).unsigned_abs() > tolerance {
        return Err(if t < now {
            SignatureRefused::Stale { t, now, tolerance }
        } else {
            SignatureRefused::FromTheFuture { t, now, tolerance }
        });
    }
    let expected = secret.mac(t, body).finalize().into_bytes();
    let mut matched = subtle::Choice::from(0);
    for candidate in candidates {
        let mut tag = [0u8; 32];
        // A value that is not 64 hex digits matches nothing; it does not refuse the others.
        if hex::decode_to_slice(candidate, &mut tag).is_ok() {
            matched |= tag.ct_eq(expected.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(t)
    } else {
        Err(SignatureRefused::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(fill: char) -> SigningSecret {
        SigningSecret::parse(&format!("whsec_{}", fill.to_string().repeat(64))).unwrap()
    }

    const NOW: i64 = 1_765_000_000;
    const BODY: &[u8] = br#"{"records":[]}"#;

    #[test]
    fn matches_an_independent_hmac_of_t_dot_body() {
        // HMAC-SHA256 with key "whsec_" + 64 "a", message "1765000000.{\"records\":[]}",
        // computed with Python's hmac module.
        let header = sign(&[&secret('a')], NOW, BODY);
        assert_eq!(
            header,
            "t=1765000000,v1=bf00df1ffb34426f483a39781c8f73f1ac87466e7bb9e82f0787b8496fd72c39"
        );
    }

    #[test]
    fn verifies_what_it_signs() {
        let header = sign(&[&secret('a')], NOW, BODY);
        assert_eq!(verify(&header, &secret('a'), BODY, NOW + 10, 300), Ok(NOW));
    }

    #[test]
    fn refuses_another_body_another_secret_or_another_time() {
        let header = sign(&[&secret('a')], NOW, BODY);
        let refused = |h: &str, s: &SigningSecret, b: &[u8]| verify(h, s, b, NOW, 300);
        assert_eq!(
            refused(&header, &secret('a'), b"{}"),
            Err(SignatureRefused::NoMatch)
        );
        assert_eq!(
            refused(&header, &secret('b'), BODY),
            Err(SignatureRefused::NoMatch)
        );
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert_eq!(
            refused(&moved, &secret('a'), BODY),
            Err(SignatureRefused::NoMatch)
        );
    }

    #[test]
    fn refuses_stale_and_future_times_beyond_the_tolerance() {
        let header = sign(&[&secret('a')], NOW, BODY);
        assert!(verify(&header, &secret('a'), BODY, NOW + 300, 300).is_ok());
        assert!(verify(&header, &secret('a'), BODY, NOW - 300, 300).is_ok());
        assert!(matches!(
            verify(&header, &secret('a'), BODY, NOW + 301, 300),
            Err(SignatureRefused::Stale { .. })
        ));
        assert!(matches!(
            verify(&header, &secret('a'), BODY, NOW - 301, 300),
            Err(SignatureRefused::FromTheFuture { .. })
        ));
    }

    #[test]
    fn accepts_any_of_several_v1_values_during_a_rotation() {
        let header = sign(&[&secret('b'), &secret('a')], NOW, BODY);
        assert_eq!(header.matches(",v1=").count(), 2);
        assert_eq!(verify(&header, &secret('a'), BODY, NOW, 300), Ok(NOW));
        assert_eq!(verify(&header, &secret('b'), BODY, NOW, 300), Ok(NOW));
        assert_eq!(
            verify(&header, &secret('c'), BODY, NOW, 300),
            Err(SignatureRefused::NoMatch)
        );
        let with_junk = format!("{header},v1=zz,v0=abc");
        assert_eq!(verify(&with_junk, &secret('a'), BODY, NOW, 300), Ok(NOW));
    }

    #[test]
    fn refuses_malformed_headers() {
        let good = sign(&[&secret('a')], NOW, BODY);
        let v1 = good.split_once(',').unwrap().1;
        for header in [
            String::new(),
            v1.to_owned(),
            format!("t={NOW}"),
            format!("t=soon,{v1}"),
            format!("t={NOW},t={NOW},{v1}"),
            format!("t={NOW},{v1},garbage"),
        ] {
            assert!(
                matches!(
                    verify(&header, &secret('a'), BODY, NOW, 300),
                    Err(SignatureRefused::Malformed(_))
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn secrets_are_prefixed_hex_and_never_debug_printed() {
        assert!(SigningSecret::parse("whsec_abc").is_err());
        assert!(SigningSecret::parse(&format!("whsec_{}", "A".repeat(64))).is_err());
        assert!(SigningSecret::parse(&"a".repeat(70)).is_err());
        assert_eq!(format!("{:?}", secret('a')), "SigningSecret(..)");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn generated_secrets_parse_and_differ() {
        let one = SigningSecret::generate().unwrap();
        let two = SigningSecret::generate().unwrap();
        assert_ne!(one, two);
        assert_eq!(SigningSecret::parse(one.expose()), Ok(one));
    }
}
