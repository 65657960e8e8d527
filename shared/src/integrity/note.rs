//! C2SP signed notes (c2sp.org/signed-note) carrying tlog checkpoints
//! (c2sp.org/tlog-checkpoint), with Ed25519 signatures.
//!
//! Signing goes through the [`Signer`] port, so the key can live in a KMS; verification is
//! plain code over text, for the service and for an auditor offline.

use std::fmt;
use std::future::Future;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::merkle::Hash;
use crate::domain::AccountId;

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// Signature lines read before giving up: the spec asks verifiers to accept at least 16.
const MAX_SIGNATURES: usize = 64;
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The origin of an account's log, also the name of the key that signs its checkpoints (the
/// checkpoint spec wants the two equal). Account ids hold no space or `+`, which names forbid.
pub fn origin(account: &AccountId) -> String {
    format!("security-logs/{account}")
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    #[error("key names must be non-empty, without spaces or '+'")]
    KeyName,
    #[error("verifier key is not name+hex(key id)+base64(0x01 || Ed25519 public key)")]
    VerifierKey,
    #[error("verifier key id does not match its name and public key")]
    KeyIdMismatch,
    #[error("note text must be non-empty, end in a newline and hold no other control characters")]
    Text,
    #[error("signed note is malformed: {0}")]
    Malformed(&'static str),
    #[error("the note's signature by the known key does not verify")]
    BadSignature,
    #[error("the note has no signature by the known key")]
    NoKnownSignature,
    #[error("checkpoint text is malformed: {0}")]
    Checkpoint(&'static str),
    #[error("checkpoint origin {origin:?} is not the key's name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// A signing backend failed (a KMS call, say).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// The port to the log's Ed25519 signing key.
pub trait Signer {
    /// The 32-byte Ed25519 public key (RFC 8032 encoding).
    fn public_key(&self) -> [u8; 32];
    /// An Ed25519 signature of `message` (async: a KMS-backed key is a network call).
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<[u8; 64], SignError>> + Send;
}

/// An Ed25519 key held in process memory (tests, the dev server, a key from a secret store).
pub struct LocalSigner {
    key: SigningKey,
}

impl LocalSigner {
    /// The key of a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        f.debug_struct("LocalSigner")
            .field("public_key", &STANDARD.encode(self.public_key()))
            .finish()
    }
}

impl Signer for LocalSigner {
    fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    async fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(message).to_bytes())
    }
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`.
fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// An Ed25519 verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::KeyName);
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| NoteError::VerifierKey)?;
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, public_key),
            key,
        })
    }

    /// Reads the text form, accepting only its one canonical spelling.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        // Names hold no '+', but standard base64 does: only the first two separate.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::VerifierKey);
        };
        let material = STANDARD.decode(key).map_err(|_| NoteError::VerifierKey)?;
        let public_key: [u8; 32] = match material.split_first() {
            Some((&ED25519, rest)) => rest.try_into().map_err(|_| NoteError::VerifierKey)?,
            _ => return Err(NoteError::VerifierKey),
        };
        let parsed = Self::new(name, &public_key)?;
        if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(NoteError::VerifierKey);
        }
        if id != hex(&parsed.id) {
            return Err(NoteError::KeyIdMismatch);
        }
        if parsed.to_string() != text {
            return Err(NoteError::VerifierKey);
        }
        Ok(parsed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![ED25519];
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex(&self.id),
            STANDARD.encode(material)
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_text(text: &str) -> bool {
    text.ends_with('\n') && !text.contains(|c: char| c.is_ascii_control() && c != '\n')
}

/// Signs `text` (non-empty, newline-terminated) as a note under `key_name`.
pub async fn sign_note<S: Signer>(
    text: &str,
    key_name: &str,
    signer: &S,
) -> Result<String, NoteError> {
    if !valid_text(text) {
        return Err(NoteError::Text);
    }
    let key = VerifierKey::new(key_name, &signer.public_key())?;
    let signature = signer.sign(text.as_bytes()).await?;
    let mut blob = key.id.to_vec();
    blob.extend_from_slice(&signature);
    Ok(format!(
        "{text}\n{SIGNATURE_PREFIX}{key_name} {}\n",
        STANDARD.encode(blob)
    ))
}

/// Checks `note` against `key` and returns its text (newline included). Signatures by other
/// keys are ignored, as the spec requires (witnesses, a rotated key); a signature by `key`
/// that fails rejects the note.
pub fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, NoteError> {
    if !valid_text(note) {
        return Err(NoteError::Malformed(
            "not newline-terminated or has control characters",
        ));
    }
    // The text ends at the last blank line; what follows is only signature lines.
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if text.is_empty() || signatures.is_empty() {
        return Err(NoteError::Malformed("empty text or no signatures"));
    }
    let mut verified = false;
    for (n, line) in signatures.lines().enumerate() {
        if n == MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let (name, blob) = line
            .strip_prefix(SIGNATURE_PREFIX)
            .and_then(|rest| rest.split_once(' '))
            .ok_or(NoteError::Malformed(
                "a signature line is not '\u{2014} name base64'",
            ))?;
        let blob = STANDARD
            .decode(blob)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if !valid_key_name(name) || blob.len() < 4 {
            return Err(NoteError::Malformed(
                "a signature line has a bad name or is too short",
            ));
        }
        if name != key.name || blob[..4] != key.id {
            continue;
        }
        let signature: [u8; 64] = blob[4..].try_into().map_err(|_| NoteError::BadSignature)?;
        key.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| NoteError::BadSignature)?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::NoKnownSignature)
    }
}

/// A log's signed statement of its size and root (the note text of a tlog checkpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// `<origin>\n<size>\n<base64 root>\n`: no extension lines.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Reads checkpoint text as this service writes it: exactly three lines, the size in
    /// decimal without leading zeros, the root as canonical base64 of 32 bytes. Extension
    /// lines are refused: this log writes none, and a monitor cannot audit them.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::Checkpoint("not newline-terminated"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Checkpoint("not exactly three lines"));
        };
        if !valid_key_name(origin) {
            return Err(NoteError::Checkpoint(
                "empty origin, or one with a space or '+'",
            ));
        }
        let canonical_size = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = size
            .parse()
            .ok()
            .filter(|_| canonical_size)
            .ok_or(NoteError::Checkpoint(
                "size is not a decimal without leading zeros",
            ))?;
        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or(NoteError::Checkpoint("root is not base64 of 32 bytes"))?;
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root,
        };
        if checkpoint.to_text() != text {
            return Err(NoteError::Checkpoint("root is not canonical base64"));
        }
        Ok(checkpoint)
    }
}

/// Signs a checkpoint under its origin as key name.
pub async fn sign_checkpoint<S: Signer>(
    checkpoint: &Checkpoint,
    signer: &S,
) -> Result<String, NoteError> {
    sign_note(&checkpoint.to_text(), &checkpoint.origin, signer).await
}

/// Verifies a checkpoint note against the log's key and returns the checkpoint. Its origin
/// must be the key's name, so one account's checkpoint never passes for another's.
pub fn verify_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let checkpoint = Checkpoint::parse(open_note(note, key)?)?;
    if checkpoint.origin != key.name {
        return Err(NoteError::OriginMismatch {
            origin: checkpoint.origin,
            key_name: key.name.clone(),
        });
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests;
