//! The platform's published signing keys (`GET /v1/integrity/public-keys`, docs/api.md): every
//! Ed25519 key that ever signed checkpoints, with when it signed from and, once retired, until.
//! An auditor takes the trust anchor from here (or the docs), never from the merchant audited.
//!
//! JSON: `{"keys": [{"key": "<base64>", "fingerprint": "<hex SHA-256 of the key>",
//! "from": "<RFC 3339>", "until": null | "<RFC 3339>"}]}`.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::canonical::hex;
use crate::domain::time::parse_rfc3339;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeysError {
    #[error("the public key is not standard base64 with padding")]
    Base64,
    #[error("the public key is {0} bytes, not 32")]
    Length(usize),
    #[error("the public key is not an Ed25519 public key")]
    NotEd25519,
    #[error("fingerprint {found} is not the SHA-256 of its key ({expected})")]
    FingerprintMismatch { expected: String, found: String },
    #[error("key {fingerprint}: until ({until}) is not after from ({from})")]
    Interval {
        fingerprint: String,
        from: Timestamp,
        until: Timestamp,
    },
    #[error("retired key {0} has no until")]
    NotRetired(String),
    #[error("key {0} is listed twice")]
    Duplicate(String),
    #[error("the current signing key {0} is also listed as retired")]
    CurrentListedAsRetired(String),
    #[error("{field} {message}")]
    Time {
        field: &'static str,
        message: String,
    },
    #[error("not the JSON of published keys: {0}")]
    Json(String),
}

/// Lowercase hex SHA-256 of the raw 32-byte Ed25519 public key: what an auditor compares by
/// eye or over the phone.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    hex(&Sha256::digest(public_key))
}

/// A public key as standard base64 (with padding) of its 32 bytes; also checks it is a valid
/// Ed25519 point, so a typo is caught when the key is read, not when a signature fails.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], KeysError> {
    let bytes = STANDARD.decode(text).map_err(|_| KeysError::Base64)?;
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeysError::Length(bytes.len()))?;
    VerifyingKey::from_bytes(&key).map_err(|_| KeysError::NotEd25519)?;
    Ok(key)
}

/// One key that signed checkpoints from `from` on, until `until` (`None`: it still signs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "KeyJson", into = "KeyJson")]
pub struct PublishedKey {
    pub key: [u8; 32],
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

impl PublishedKey {
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key)
    }
}

/// The wire form; the fingerprint is derived on output and checked on input.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyJson {
    key: String,
    fingerprint: String,
    /// Text, read with the service's strict RFC 3339 parser (jiff's own accepts more).
    from: String,
    until: Option<String>,
}

fn time(field: &'static str, text: &str) -> Result<Timestamp, KeysError> {
    parse_rfc3339(text).map_err(|message| KeysError::Time { field, message })
}

impl TryFrom<KeyJson> for PublishedKey {
    type Error = KeysError;

    fn try_from(json: KeyJson) -> Result<Self, KeysError> {
        let key = parse_public_key(&json.key)?;
        let expected = fingerprint(&key);
        if json.fingerprint != expected {
            return Err(KeysError::FingerprintMismatch {
                expected,
                found: json.fingerprint,
            });
        }
        let from = time("from", &json.from)?;
        let until = json.until.map(|t| time("until", &t)).transpose()?;
        if let Some(until) = until
            && until <= from
        {
            return Err(KeysError::Interval {
                fingerprint: expected,
                from,
                until,
            });
        }
        Ok(Self { key, from, until })
    }
}

impl From<PublishedKey> for KeyJson {
    fn from(key: PublishedKey) -> Self {
        Self {
            key: STANDARD.encode(key.key),
            fingerprint: key.fingerprint(),
            from: key.from.to_string(),
            until: key.until.map(|t| t.to_string()),
        }
    }
}

/// Every published key, the current one first (see [`KeyHistory::publish`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKeys {
    pub keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicKeysJson {
    keys: Vec<KeyJson>,
}

impl PublicKeys {
    /// Reads `{"keys": [...]}` strictly: unknown fields, a key that is not 32 bytes of
    /// Ed25519, a fingerprint of another key, or a key listed twice is an error.
    pub fn parse(text: &str) -> Result<Self, KeysError> {
        let json: PublicKeysJson = from_json(text)?;
        Ok(Self {
            keys: convert(json.keys)?,
        })
    }
}

/// Retired keys as configured (`LOG_RETIRED_KEYS`): a JSON array of published keys, each with
/// its `until`.
pub fn parse_retired_keys(text: &str) -> Result<Vec<PublishedKey>, KeysError> {
    let keys = convert(from_json(text)?)?;
    match keys.iter().find(|k| k.until.is_none()) {
        Some(key) => Err(KeysError::NotRetired(key.fingerprint())),
        None => Ok(keys),
    }
}

fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, KeysError> {
    serde_json::from_str(text).map_err(|e| KeysError::Json(e.to_string()))
}

fn convert(keys: Vec<KeyJson>) -> Result<Vec<PublishedKey>, KeysError> {
    let mut seen = HashSet::new();
    keys.into_iter()
        .map(|json| {
            let key = PublishedKey::try_from(json)?;
            if !seen.insert(key.key) {
                return Err(KeysError::Duplicate(key.fingerprint()));
            }
            Ok(key)
        })
        .collect()
}

/// What the service publishes besides the current key itself (settings `LOG_KEY_FROM`,
/// `LOG_RETIRED_KEYS`): the current key's public half comes from the signer (a KMS key is
/// only read on first use), so it is joined here at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHistory {
    /// Since when the current key signs. Default: the Unix epoch, i.e. "since the log began":
    /// true while no key was ever rotated, and the same in every sandbox.
    pub current_from: Timestamp,
    /// Keys that signed before the current one, each with its `until`.
    pub retired: Vec<PublishedKey>,
}

impl Default for KeyHistory {
    fn default() -> Self {
        Self {
            current_from: Timestamp::UNIX_EPOCH,
            retired: Vec::new(),
        }
    }
}

impl KeyHistory {
    /// The published list: the current key first (the one to verify new checkpoints with),
    /// then the retired keys, newest `from` first.
    pub fn publish(&self, current: [u8; 32]) -> Result<PublicKeys, KeysError> {
        if self.retired.iter().any(|k| k.key == current) {
            return Err(KeysError::CurrentListedAsRetired(fingerprint(&current)));
        }
        let mut retired = self.retired.clone();
        retired.sort_by_key(|k| std::cmp::Reverse(k.from));
        let mut keys = vec![PublishedKey {
            key: current,
            from: self.current_from,
            until: None,
        }];
        keys.extend(retired);
        Ok(PublicKeys { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::note::{LocalSigner, Signer};

    /// The docs' test key (docs/design/integrity.md, worked example): RFC 8032 seed of 32 bytes 0x07.
    fn doc_key() -> [u8; 32] {
        LocalSigner::from_seed(&[7; 32]).public_key()
    }

    /// Computed independently: Python's `hashlib.sha256` over the key decoded from the doc's
    /// verifier key (and again from the seed with the `cryptography` package).
    const DOC_KEY_BASE64: &str = "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=";
    const DOC_KEY_FINGERPRINT: &str =
        "fe812c12f3ab4ce6ac5db69ac352f906cb1b11ef43fb33e252ef7ff552263889";

    fn other_key() -> [u8; 32] {
        LocalSigner::from_seed(&[9; 32]).public_key()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn key_json(key: &[u8; 32], from: &str, until: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "key": STANDARD.encode(key),
            "fingerprint": fingerprint(key),
            "from": from,
            "until": until,
        })
    }

    #[test]
    fn the_doc_keys_fingerprint_is_the_known_answer() {
        assert_eq!(STANDARD.encode(doc_key()), DOC_KEY_BASE64);
        assert_eq!(fingerprint(&doc_key()), DOC_KEY_FINGERPRINT);
        assert_eq!(parse_public_key(DOC_KEY_BASE64), Ok(doc_key()));
    }

    #[test]
    fn public_keys_must_be_32_bytes_of_standard_base64() {
        assert_eq!(
            parse_public_key(&STANDARD.encode([1u8; 31])),
            Err(KeysError::Length(31))
        );
        assert_eq!(parse_public_key("not base64!"), Err(KeysError::Base64));
        // URL-safe alphabet, missing padding, surrounding white space.
        assert_eq!(
            parse_public_key("6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw="),
            Err(KeysError::Base64)
        );
        assert_eq!(
            parse_public_key(DOC_KEY_BASE64.trim_end_matches('=')),
            Err(KeysError::Base64)
        );
        assert_eq!(
            parse_public_key(&format!("{DOC_KEY_BASE64}\n")),
            Err(KeysError::Base64)
        );
    }

    #[test]
    fn a_published_key_round_trips_through_its_json() {
        let key = PublishedKey {
            key: doc_key(),
            from: at("2024-01-01T00:00:00Z"),
            until: Some(at("2025-06-30T12:00:00Z")),
        };
        let json = serde_json::to_value(&key).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "key": DOC_KEY_BASE64,
                "fingerprint": DOC_KEY_FINGERPRINT,
                "from": "2024-01-01T00:00:00Z",
                "until": "2025-06-30T12:00:00Z",
            })
        );
        assert_eq!(serde_json::from_value::<PublishedKey>(json).unwrap(), key);
        let current = PublishedKey { until: None, ..key };
        assert_eq!(
            serde_json::to_value(&current).unwrap()["until"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn parse_rejects_a_wrong_fingerprint_a_short_key_and_unknown_fields() {
        let mut wrong = key_json(&doc_key(), "2024-01-01T00:00:00Z", None);
        wrong["fingerprint"] = fingerprint(&other_key()).into();
        let text = serde_json::json!({ "keys": [wrong] }).to_string();
        assert!(matches!(
            PublicKeys::parse(&text),
            Err(KeysError::FingerprintMismatch { .. })
        ));

        let mut short = key_json(&doc_key(), "2024-01-01T00:00:00Z", None);
        short["key"] = STANDARD.encode([7u8; 33]).into();
        let text = serde_json::json!({ "keys": [short] }).to_string();
        assert_eq!(PublicKeys::parse(&text), Err(KeysError::Length(33)));

        let mut extra = key_json(&doc_key(), "2024-01-01T00:00:00Z", None);
        extra["comment"] = "hi".into();
        let text = serde_json::json!({ "keys": [extra] }).to_string();
        assert!(matches!(PublicKeys::parse(&text), Err(KeysError::Json(_))));

        let text = serde_json::json!({ "keys": [], "version": 1 }).to_string();
        assert!(matches!(PublicKeys::parse(&text), Err(KeysError::Json(_))));
    }

    #[test]
    fn parse_rejects_duplicates_and_empty_intervals() {
        let key = key_json(&doc_key(), "2024-01-01T00:00:00Z", None);
        let text = serde_json::json!({ "keys": [key, key] }).to_string();
        assert_eq!(
            PublicKeys::parse(&text),
            Err(KeysError::Duplicate(DOC_KEY_FINGERPRINT.into()))
        );
        let backwards = key_json(
            &doc_key(),
            "2024-01-01T00:00:00Z",
            Some("2023-01-01T00:00:00Z"),
        );
        let text = serde_json::json!({ "keys": [backwards] }).to_string();
        assert!(matches!(
            PublicKeys::parse(&text),
            Err(KeysError::Interval { .. })
        ));
        let loose = key_json(&doc_key(), "2024-01-01 00:00:00Z", None);
        let text = serde_json::json!({ "keys": [loose] }).to_string();
        assert!(matches!(
            PublicKeys::parse(&text),
            Err(KeysError::Time { field: "from", .. })
        ));
    }

    #[test]
    fn retired_keys_need_their_until() {
        let open = key_json(&doc_key(), "2024-01-01T00:00:00Z", None);
        assert_eq!(
            parse_retired_keys(&serde_json::json!([open]).to_string()),
            Err(KeysError::NotRetired(DOC_KEY_FINGERPRINT.into()))
        );
        let closed = key_json(
            &doc_key(),
            "2024-01-01T00:00:00Z",
            Some("2025-01-01T00:00:00Z"),
        );
        let keys = parse_retired_keys(&serde_json::json!([closed]).to_string()).unwrap();
        assert_eq!(keys[0].until, Some(at("2025-01-01T00:00:00Z")));
        assert!(matches!(
            parse_retired_keys("{\"keys\": []}"),
            Err(KeysError::Json(_))
        ));
    }

    #[test]
    fn the_current_key_comes_first_then_retired_ones_newest_first() {
        let oldest = PublishedKey {
            key: LocalSigner::from_seed(&[1; 32]).public_key(),
            from: at("2022-01-01T00:00:00Z"),
            until: Some(at("2023-01-01T00:00:00Z")),
        };
        let newer = PublishedKey {
            key: other_key(),
            from: at("2023-01-01T00:00:00Z"),
            until: Some(at("2024-01-01T00:00:00Z")),
        };
        let history = KeyHistory {
            current_from: at("2024-01-01T00:00:00Z"),
            retired: vec![oldest.clone(), newer.clone()],
        };
        let published = history.publish(doc_key()).unwrap();
        assert_eq!(published.keys[0].key, doc_key());
        assert_eq!(published.keys[0].until, None);
        assert_eq!(published.keys[1..], [newer, oldest]);

        let text = serde_json::to_string(&published).unwrap();
        assert_eq!(PublicKeys::parse(&text).unwrap(), published);

        assert_eq!(
            history.publish(other_key()),
            Err(KeysError::CurrentListedAsRetired(fingerprint(&other_key())))
        );
    }

    #[test]
    fn by_default_the_current_key_signs_since_the_epoch() {
        let published = KeyHistory::default().publish(doc_key()).unwrap();
        let json = serde_json::to_value(&published).unwrap();
        assert_eq!(json["keys"][0]["from"], "1970-01-01T00:00:00Z");
        assert_eq!(json["keys"].as_array().unwrap().len(), 1);
    }
}
