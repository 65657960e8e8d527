//! Cursors (API.md "List"): only a genuine cursor decodes, and only for the scope and key it was
//! issued for; no string, tampered cursor or foreign scope ever yields a position.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::config;
use crate::domain::cursor::{CursorKey, Scope, decode, encode};

fn key() -> CursorKey {
    CursorKey::new(&[7; 32]).expect("a 32-byte key")
}

fn scope_parts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("\\PC{0,12}", 1..5)
}

fn scope(parts: &[String]) -> Scope {
    Scope::of(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Positions as the stores write them (sort keys, job ids), and odd ones.
fn position() -> impl Strategy<Value = String> {
    prop_oneof![
        "2024-0[1-9]-[12][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{9}Z#[0-9A-Z]{26}",
        "[0-9A-Z]{26}",
        "\\PC{0,40}",
    ]
}

/// Base64url text a forger would try: random bytes of a cursor's length, or a cursor's shape
/// (version 1, the real scope, a position) with a guessed tag.
fn forged(scope: Scope) -> impl Strategy<Value = String> {
    let genuine = URL_SAFE_NO_PAD
        .decode(encode(&key(), scope, ""))
        .expect("our own base64");
    let real_scope = genuine[1..17].to_vec();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..120).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        (position(), prop::collection::vec(any::<u8>(), 16)).prop_map(move |(pos, tag)| {
            let mut bytes = vec![1];
            bytes.extend_from_slice(&real_scope);
            bytes.extend_from_slice(pos.as_bytes());
            bytes.extend_from_slice(&tag);
            URL_SAFE_NO_PAD.encode(bytes)
        }),
        any::<String>(),
        "[A-Za-z0-9_=+/-]{0,600}",
    ]
}

fn base64url_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            .chars()
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_never_decode(parts in scope_parts(), cursor in any::<String>()) {
        prop_assert!(decode(&key(), scope(&parts), &cursor).is_err());
    }

    #[test]
    fn forged_cursors_never_decode(
        parts in scope_parts(),
        (forged_for, cursor) in scope_parts()
            .prop_flat_map(|p| forged(scope(&p)).prop_map(move |c| (p.clone(), c))),
    ) {
        prop_assert!(decode(&key(), scope(&forged_for), &cursor).is_err());
        prop_assert!(decode(&key(), scope(&parts), &cursor).is_err());
    }

    #[test]
    fn a_cursor_decodes_only_for_its_scope_and_key(
        a in scope_parts(),
        b in scope_parts(),
        position in position(),
        other_key in prop::collection::vec(any::<u8>(), 32..48),
    ) {
        let cursor = encode(&key(), scope(&a), &position);
        prop_assert_eq!(decode(&key(), scope(&a), &cursor), Ok(position));
        if a != b {
            prop_assert!(decode(&key(), scope(&b), &cursor).is_err());
        }
        if other_key != [7; 32] {
            let other = CursorKey::new(&other_key).expect("a long key");
            prop_assert!(decode(&other, scope(&a), &cursor).is_err());
        }
    }

    #[test]
    fn any_changed_character_breaks_a_cursor(
        parts in scope_parts(),
        position in position(),
        at in any::<prop::sample::Index>(),
        replacement in prop_oneof![4 => base64url_char(), 1 => any::<char>()],
    ) {
        let scope = scope(&parts);
        let cursor = encode(&key(), scope, &position);
        let chars: Vec<char> = cursor.chars().collect();
        let at = at.index(chars.len());
        prop_assume!(chars[at] != replacement);
        let mut changed = chars.clone();
        changed[at] = replacement;
        let changed: String = changed.into_iter().collect();
        prop_assert!(decode(&key(), scope, &changed).is_err(), "{cursor} -> {changed}");
        // Dropping or adding a character breaks it too.
        let mut shorter = chars.clone();
        shorter.remove(at);
        let shorter: String = shorter.into_iter().collect();
        prop_assert!(decode(&key(), scope, &shorter).is_err());
        let mut longer = chars;
        longer.insert(at, replacement);
        let longer: String = longer.into_iter().collect();
        prop_assert!(decode(&key(), scope, &longer).is_err());
    }
}
