//! The checkpoint signing key held in AWS KMS, behind the [`Signer`] port.
//!
//! The key is an `ECC_NIST_EDWARDS25519` / `SIGN_VERIFY` KMS key: the private half never leaves
//! KMS, and each checkpoint costs one `Sign` call. `ED25519_SHA_512` with `MessageType: RAW` is
//! pure Ed25519 (RFC 8032) over the message bytes, which is what C2SP signed notes sign; the
//! other algorithm KMS offers for these keys, `ED25519_PH_SHA_512`, is Ed25519ph and would not
//! verify as a note signature.
//!
//! Every signature is verified here, against the public key read at [`KmsSigner::connect`],
//! before it is returned: an alias repointed to another key, or any other misconfiguration,
//! then fails the signing call instead of publishing a checkpoint no auditor can verify.

use std::fmt;

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::integrity::note::{SignError, Signer};

/// The largest `Message` KMS signs with `MessageType: RAW` (a checkpoint is a few hundred bytes).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// The DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410) up to the key itself:
/// SEQUENCE (42) { SEQUENCE (5) { OID 1.3.101.112 }, BIT STRING (33, no unused bits) }.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An Ed25519 key in AWS KMS.
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key_id: String,
    public_key: [u8; 32],
}

impl KmsSigner {
    /// Reads the public key of `key_id` (key id, ARN or alias) once, refusing any key that is not
    /// an Ed25519 signing key, so that a misconfigured key fails at start-up, not at the first
    /// checkpoint.
    pub async fn connect(
        client: aws_sdk_kms::Client,
        key_id: impl Into<String>,
    ) -> Result<Self, SignError> {
        let key_id = key_id.into();
        let output = client
            .get_public_key()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|err| sdk_error("GetPublicKey", &key_id, err))?;
        match output.key_spec() {
            Some(KeySpec::EccNistEdwards25519) => {}
            other => {
                return Err(SignError(format!(
                    "KMS key {key_id} has key spec {}, not ECC_NIST_EDWARDS25519",
                    other.map_or("(none)", KeySpec::as_str)
                )));
            }
        }
        match output.key_usage() {
            Some(KeyUsageType::SignVerify) => {}
            other => {
                return Err(SignError(format!(
                    "KMS key {key_id} has key usage {}, not SIGN_VERIFY",
                    other.map_or("(none)", KeyUsageType::as_str)
                )));
            }
        }
        let spki = output.public_key().map(Blob::as_ref).unwrap_or_default();
        let public_key = ed25519_from_spki(spki).ok_or_else(|| {
            SignError(format!(
                "KMS key {key_id}: public key is not a DER Ed25519 SubjectPublicKeyInfo"
            ))
        })?;
        // Not every 32 bytes are a curve point; such a key could never verify a signature.
        VerifyingKey::from_bytes(&public_key).map_err(|_| {
            SignError(format!(
                "KMS key {key_id}: public key is not a valid Ed25519 point"
            ))
        })?;
        Ok(Self {
            client,
            key_id,
            public_key,
        })
    }
}

impl fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsSigner")
            .field("key_id", &self.key_id)
            .field("public_key", &STANDARD.encode(self.public_key))
            .finish_non_exhaustive()
    }
}

impl Signer for KmsSigner {
    fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    async fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        // KMS would refuse it too, but only after a network round trip and a billed request.
        if message.len() > MAX_MESSAGE_LEN {
            return Err(SignError(format!(
                "message is {} bytes; KMS signs at most {MAX_MESSAGE_LEN} raw bytes",
                message.len()
            )));
        }
        let output = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::Ed25519Sha512)
            .send()
            .await
            .map_err(|err| sdk_error("Sign", &self.key_id, err))?;
        let signature = output.signature().map(Blob::as_ref).unwrap_or_default();
        checked_signature(&self.public_key, message, signature)
    }
}

/// The raw Ed25519 key of a DER SubjectPublicKeyInfo (what `GetPublicKey` returns). Ed25519's
/// encoding has no optional parts, so the exact prefix and length are the whole check.
pub fn ed25519_from_spki(der: &[u8]) -> Option<[u8; 32]> {
    der.strip_prefix(&ED25519_SPKI_PREFIX)?.try_into().ok()
}

/// `signature` as 64 bytes, if it is a valid signature of `message` under `public_key`, with the
/// same strict check (`verify_strict`) the note verifier applies, so whatever passes here also
/// verifies for the service and for auditors.
fn checked_signature(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8],
) -> Result<[u8; 64], SignError> {
    let bytes: [u8; 64] = signature.try_into().map_err(|_| {
        SignError(format!(
            "KMS returned a {}-byte signature, not a 64-byte Ed25519 one",
            signature.len()
        ))
    })?;
    let key = VerifyingKey::from_bytes(public_key)
        .map_err(|_| SignError("the public key is not a valid Ed25519 point".into()))?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| {
            SignError(
                "KMS returned a signature that does not verify under the key's public key".into(),
            )
        })?;
    Ok(bytes)
}

/// SDK errors carry no secrets (no key material is ever sent), so their whole chain is kept.
fn sdk_error(operation: &str, key_id: &str, err: impl std::error::Error) -> SignError {
    SignError(format!(
        "KMS {operation} with key {key_id}: {}",
        DisplayErrorContext(err)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_kms::config::{BehaviorVersion, Region};
    use ed25519_dalek::{Signer as _, SigningKey};

    /// RFC 8410, section 10.1: an Ed25519 public key as a PEM SubjectPublicKeyInfo.
    const RFC8410_SPKI: &str = "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";
    const RFC8410_KEY: [u8; 32] = [
        0x19, 0xbf, 0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b,
        0x96, 0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31,
        0x66, 0xe1,
    ];
    const RFC8410_KEY_BASE64: &str = "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";

    fn spki_of(key: &[u8; 32]) -> Vec<u8> {
        [&ED25519_SPKI_PREFIX[..], key].concat()
    }

    #[test]
    fn the_rfc_8410_example_key_is_extracted() {
        let der = STANDARD.decode(RFC8410_SPKI).unwrap();
        assert_eq!(der.len(), 44);
        assert_eq!(ed25519_from_spki(&der), Some(RFC8410_KEY));
    }

    #[test]
    fn a_dalek_key_round_trips_through_its_spki() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
        assert_eq!(ed25519_from_spki(&spki_of(&key)), Some(key));
    }

    #[test]
    fn other_algorithms_and_lengths_are_refused() {
        let mut x25519 = spki_of(&RFC8410_KEY);
        x25519[8] = 0x6e; // OID 1.3.101.110: an X25519 key, same shape otherwise.
        assert_eq!(ed25519_from_spki(&x25519), None);

        let full = spki_of(&RFC8410_KEY);
        assert_eq!(ed25519_from_spki(&full[..43]), None);
        let mut long = full.clone();
        long.push(0);
        assert_eq!(ed25519_from_spki(&long), None);
        assert_eq!(ed25519_from_spki(&full[..12]), None);
        assert_eq!(ed25519_from_spki(&[]), None);
        assert_eq!(ed25519_from_spki(&RFC8410_KEY), None);
    }

    #[test]
    fn a_good_signature_is_returned_as_is() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let message = b"security-logs/acct_Demo-1\n3\nAAAA\n";
        let signature = key.sign(message).to_bytes();
        let checked = checked_signature(&key.verifying_key().to_bytes(), message, &signature);
        assert_eq!(checked, Ok(signature));
    }

    #[test]
    fn bad_signatures_are_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public_key = key.verifying_key().to_bytes();
        let message = b"security-logs/acct_Demo-1\n3\nAAAA\n";
        let signature = key.sign(message).to_bytes();

        let mut flipped = signature;
        flipped[10] ^= 1;
        assert!(checked_signature(&public_key, message, &flipped).is_err());
        // Another message, another key, and a truncated or DER-wrapped signature.
        assert!(checked_signature(&public_key, b"other\n", &signature).is_err());
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        assert!(checked_signature(&other, message, &signature).is_err());
        assert!(checked_signature(&public_key, message, &signature[..63]).is_err());
        let longer = [&signature[..], &[0]].concat();
        assert!(checked_signature(&public_key, message, &longer).is_err());
    }

    /// A signer whose client was never connected: anything that reaches KMS fails.
    fn offline_signer() -> KmsSigner {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        KmsSigner {
            client: aws_sdk_kms::Client::from_conf(config),
            key_id: "alias/checkpoints".into(),
            public_key: RFC8410_KEY,
        }
    }

    #[tokio::test]
    async fn messages_over_the_kms_limit_are_refused_before_any_call() {
        let signer = offline_signer();
        let err = signer.sign(&[b'a'; MAX_MESSAGE_LEN + 1]).await.unwrap_err();
        assert!(err.0.contains("at most 4096"), "{err}");
    }

    #[test]
    fn debug_shows_the_key_id_and_public_key_only() {
        let shown = format!("{:?}", offline_signer());
        assert_eq!(
            shown,
            format!(
                r#"KmsSigner {{ key_id: "alias/checkpoints", public_key: "{RFC8410_KEY_BASE64}", .. }}"#
            )
        );
    }
}
