//! Opaque pagination cursors, bound to the query they were issued for.
//!
//! A cursor is `base64url(version | scope | position | hmac)`. The scope is a digest of the
//! account and the filters, so a cursor replayed by another account, or with other filters,
//! is refused; the HMAC (key from configuration) makes any tampering visible. Either way the
//! caller gets 400 and never another account's data.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const SCOPE_LEN: usize = 16;
const MAC_LEN: usize = 16;
/// Cursors are small; anything longer is not one of ours, whatever it holds.
const MAX_CURSOR_CHARS: usize = 512;

/// The secret that signs cursors (at least 32 bytes).
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    pub const MIN_LEN: usize = 32;

    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < Self::MIN_LEN {
            return Err(format!(
                "cursor signing key must be at least {} bytes",
                Self::MIN_LEN
            ));
        }
        Ok(Self(secret.to_vec()))
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// What a cursor is bound to: a digest of the account and the filters of its query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope([u8; SCOPE_LEN]);

impl Scope {
    /// Each part is length-prefixed so that no two different part lists share a digest.
    pub fn of(parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut scope = [0; SCOPE_LEN];
        scope.copy_from_slice(&digest[..SCOPE_LEN]);
        Self(scope)
    }
}

pub fn encode(key: &CursorKey, scope: Scope, position: &str) -> String {
    let mut bytes = Vec::with_capacity(1 + SCOPE_LEN + position.len() + MAC_LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(&scope.0);
    bytes.extend_from_slice(position.as_bytes());
    let mut mac = key.mac();
    mac.update(&bytes);
    bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position inside a cursor, when the cursor is genuine and issued for `scope`.
pub fn decode(key: &CursorKey, scope: Scope, cursor: &str) -> Result<String, String> {
    let invalid =
        || "is not a valid cursor; use next_cursor from the previous page unchanged".to_owned();
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    if bytes.len() < 1 + SCOPE_LEN + MAC_LEN {
        return Err(invalid());
    }
    let (signed, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    let mut mac = key.mac();
    mac.update(signed);
    mac.verify_truncated_left(tag).map_err(|_| invalid())?;
    if signed[0] != VERSION {
        return Err(invalid());
    }
    if signed[1..=SCOPE_LEN] != scope.0 {
        return Err("was issued for another query: keep the same filters while paging".to_owned());
    }
    String::from_utf8(signed[1 + SCOPE_LEN..].to_vec()).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new(&[7; 32]).unwrap()
    }

    #[test]
    fn round_trips_within_its_scope() {
        let scope = Scope::of(&["acct_1", "login"]);
        let cursor = encode(&key(), scope, "2024-04-22T06:32:15.000000000Z#01HX");
        assert_eq!(
            decode(&key(), scope, &cursor).unwrap(),
            "2024-04-22T06:32:15.000000000Z#01HX"
        );
    }

    #[test]
    fn refuses_other_scopes_keys_and_tampering() {
        let scope = Scope::of(&["acct_1", ""]);
        let cursor = encode(&key(), scope, "pos");
        assert!(decode(&key(), Scope::of(&["acct_2", ""]), &cursor).is_err());
        assert!(decode(&CursorKey::new(&[8; 32]).unwrap(), scope, &cursor).is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[18] ^= 1;
        assert!(decode(&key(), scope, &URL_SAFE_NO_PAD.encode(bytes)).is_err());
        for garbage in ["", "x", "not base64!", &"A".repeat(600)] {
            assert!(decode(&key(), scope, garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn scope_parts_are_unambiguous() {
        assert_ne!(Scope::of(&["ab", "c"]), Scope::of(&["a", "bc"]));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(CursorKey::new(&[1; 31]).is_err());
    }
}
