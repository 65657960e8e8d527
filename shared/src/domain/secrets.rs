//! Secrets that must never be stored: API key values and full bank account numbers or IBANs.
//!
//! Policy (docs/design/storage.md, "What is never stored"): the event is kept, the secret is not. Masking
//! instead of rejecting keeps the audit trail complete while the producing service is fixed.
//!
//! - An API key (`sk_`/`rk_`/`pk_` + `live_`/`test_` + 12 or more letters and digits) anywhere,
//!   inside longer strings and as object keys, becomes its prefix, `...` and its last 4.
//! - Under an account-number key ([`is_account_number_key`]), every string or number with 5 or
//!   more digits, at any depth and object keys included, becomes `****` and its last 4; so do
//!   `from`/`to` of an object whose `field` names an account number (a `changes` item). API
//!   keys under such a key are masked too, when the text is not an account number itself.
//! - Every stored text of an entry is masked for API keys ([`mask_entry`]), except the two
//!   identifiers, `event_id` and `actor.id`: masking would change what they identify, so an
//!   identifier holding an API key is refused instead ([`refuse_api_key_in_identifier`]).
//! - Masking is idempotent: what it writes (`sk_live_...4242`, `****7890`, `#b` suffixes of
//!   colliding keys) holds no key tail and at most 4 digits, so it is never masked again.

use std::collections::BTreeMap;

use super::LogEntry;
use super::json::Json;

const KEY_PREFIXES: [&str; 6] = [
    "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_",
];
/// Shorter tails than this are ids or already-masked forms, not key material.
const MIN_KEY_TAIL: usize = 12;
/// Fewer digits than this are a last-4 or a bank code, not an account number.
const MIN_ACCOUNT_DIGITS: usize = 5;
const ACCOUNT_KEY_PARTS: [&str; 5] = ["accountnumber", "accountno", "acctnumber", "acctno", "iban"];
const ACCOUNT_KEY_ENDINGS: [&str; 2] = ["bankaccount", "bankacct"];

/// Whether a field name holds an account number: lower-cased with `_`, `-`, `.` and spaces
/// removed, it contains `accountnumber`, `accountno`, `acctnumber`, `acctno` or `iban`, or is
/// or ends with `bankaccount` or `bankacct` (API.md "Never stored").
pub fn is_account_number_key(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    ACCOUNT_KEY_PARTS.iter().any(|part| folded.contains(part))
        || ACCOUNT_KEY_ENDINGS.iter().any(|end| folded.ends_with(end))
}

/// Masks every secret in `details` in place; returns how many values were masked.
pub fn mask_secrets(details: &mut Json) -> usize {
    match details {
        Json::String(text) => mask_api_keys(text),
        Json::Array(items) => items.iter_mut().map(mask_secrets).sum(),
        Json::Object(map) => {
            let mut masked = mask_keys(map, mask_api_keys);
            let changes_account_field = map
                .get("field")
                .and_then(Json::as_str)
                .is_some_and(is_account_number_key);
            for (key, value) in map.iter_mut() {
                let holds_number = is_account_number_key(key)
                    || (changes_account_field && matches!(key.as_str(), "from" | "to"));
                masked += if holds_number {
                    mask_account_numbers(value)
                } else {
                    mask_secrets(value)
                };
            }
            masked
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => 0,
    }
}

/// Masks every secret of an entry in place: `details` ([`mask_secrets`]) and API keys in every
/// other stored text but the identifiers (`actor.name`, `actor.email`, `user_agent`, `device`,
/// `location.*`, `summary`, `producer`); returns how many values were masked.
///
/// `event_id` and `actor.id` are left alone: ingest refuses an identifier holding an API key
/// ([`refuse_api_key_in_identifier`]) before an entry is built.
pub fn mask_entry(entry: &mut LogEntry) -> usize {
    let LogEntry {
        id: _,
        event_type: _,
        occurred_at: _,
        actor,
        ip: _,
        user_agent,
        device,
        location,
        details,
        summary,
        event_id: _,
        received_at: _,
        producer,
        unfamiliar: _,
        log_index: _,
    } = entry;
    // Destructured without `..`: a text field added to `LogEntry` must be listed here.
    let texts = [
        actor.name.as_mut(),
        actor.email.as_mut(),
        user_agent.as_mut(),
        device.as_mut(),
        Some(summary),
        producer.as_mut(),
    ]
    .into_iter()
    .chain(
        location
            .iter_mut()
            .flat_map(|l| [l.country.as_mut(), l.region.as_mut(), l.city.as_mut()]),
    )
    .flatten();
    mask_secrets(details) + texts.map(mask_api_keys).sum::<usize>()
}

/// An identifier (`event_id`, `actor.id`) may not hold an API key: masking it would change what
/// it identifies (a re-send would no longer match, two actors could become one), and storing it
/// would keep the key. The request is refused instead (API.md "Never stored").
pub fn refuse_api_key_in_identifier(value: &str) -> Result<(), String> {
    match find_api_key(value) {
        Some(_) => Err(
            "may not contain an API key: identifiers are not masked, since masking would change what they identify"
                .into(),
        ),
        None => Ok(()),
    }
}

/// Under an account-number key: every value with enough digits, at any depth, is masked.
fn mask_account_numbers(value: &mut Json) -> usize {
    match value {
        Json::String(text) => mask_under_account_key(text),
        Json::Number(text) => {
            let mut text = text.clone();
            let masked = mask_account_number(&mut text);
            if masked > 0 {
                *value = Json::String(text);
            }
            masked
        }
        Json::Array(items) => items.iter_mut().map(mask_account_numbers).sum(),
        Json::Object(map) => {
            let keys = mask_keys(map, mask_under_account_key);
            keys + map.values_mut().map(mask_account_numbers).sum::<usize>()
        }
        Json::Null | Json::Bool(_) => 0,
    }
}

/// A text under an account-number key: an account number is masked whole; any other text may
/// still hold an API key (`{"iban": "sk_live_..."}`), which is masked wherever it is.
fn mask_under_account_key(text: &mut String) -> usize {
    match mask_account_number(text) {
        0 => mask_api_keys(text),
        masked => masked,
    }
}

/// Rewrites object keys with `mask`; a masked key that collides with another gets a `#b`, `#c`,
/// ... suffix, so no value is lost. Letters, not digits: `****6789#2` would hold 5 digits, so
/// masking the document again would mask the key again (`****7892`).
fn mask_keys(map: &mut BTreeMap<String, Json>, mask: impl Fn(&mut String) -> usize) -> usize {
    let mut masked = 0;
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let mut new_key = key.clone();
        let count = mask(&mut new_key);
        if count == 0 {
            continue;
        }
        masked += count;
        let value = map.remove(&key).expect("key was listed");
        let mut unique = new_key.clone();
        let mut n = 2;
        while map.contains_key(&unique) {
            unique = format!("{new_key}#{}", collision_letters(n));
            n += 1;
        }
        map.insert(unique, value);
    }
    masked
}

/// The `n`th copy of a key, in letters: 2 -> `b`, 26 -> `z`, 27 -> `aa`, 28 -> `ab`, ...
fn collision_letters(mut n: usize) -> String {
    let mut letters = Vec::new();
    while n > 0 {
        n -= 1;
        letters.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

/// `0012-3456-6789` -> `****6789`; values with fewer than 5 digits are left alone.
fn mask_account_number(text: &mut String) -> usize {
    if text.chars().filter(char::is_ascii_digit).count() < MIN_ACCOUNT_DIGITS {
        return 0;
    }
    let alphanumerics: Vec<char> = text.chars().filter(char::is_ascii_alphanumeric).collect();
    let last4: String = alphanumerics[alphanumerics.len().saturating_sub(4)..]
        .iter()
        .collect();
    *text = format!("****{last4}");
    1
}

/// Replaces each full API key inside `text` by its prefix, `...` and its last four characters.
fn mask_api_keys(text: &mut String) -> usize {
    let mut masked = 0;
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(key) = find_api_key(rest) {
        out.push_str(&rest[..key.tail.start]);
        out.push_str("...");
        out.push_str(&rest[key.tail.end - 4..key.tail.end]);
        masked += 1;
        rest = &rest[key.tail.end..];
    }
    if masked > 0 {
        out.push_str(rest);
        *text = out;
    }
    masked
}

/// Where an API key sits in a text: its tail (the letters and digits after the prefix) is
/// `tail`, its prefix ends where the tail starts.
struct ApiKeyAt {
    tail: std::ops::Range<usize>,
}

/// The first API key in `text`: one of [`KEY_PREFIXES`] followed by at least [`MIN_KEY_TAIL`]
/// ASCII letters and digits. The one definition of "an API key" (masking and identifiers).
fn find_api_key(text: &str) -> Option<ApiKeyAt> {
    let mut from = 0;
    while let Some((start, prefix)) = find_key_prefix(&text[from..]) {
        let tail_start = from + start + prefix.len();
        let after = &text[tail_start..];
        let tail_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        if tail_len >= MIN_KEY_TAIL {
            return Some(ApiKeyAt {
                tail: tail_start..tail_start + tail_len,
            });
        }
        // Not a key; a key may still start inside this tail (`sk_live_sk_live_...`).
        from = tail_start;
    }
    None
}

fn find_key_prefix(text: &str) -> Option<(usize, &'static str)> {
    KEY_PREFIXES
        .iter()
        .filter_map(|p| text.find(p).map(|i| (i, *p)))
        .min_by_key(|(i, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json::parse(text).unwrap()
    }

    #[test]
    fn masks_full_api_keys_anywhere_in_details() {
        let mut details = json(
            r#"{"key": "secret", "key_id": "sk_live_51HxAbCdEfGhIjKlMnOp4242",
                "nested": [{"note": "rotated rk_test_abcdefghijklmnop9999 today"}],
                "pk_live_abcdefghijklmnopqrst1111": "as a key"}"#,
        );
        assert_eq!(mask_secrets(&mut details), 3);
        assert_eq!(
            details.to_text(),
            r#"{"key":"secret","key_id":"sk_live_...4242","nested":[{"note":"rotated rk_test_...9999 today"}],"pk_live_...1111":"as a key"}"#
        );
    }

    #[test]
    fn a_key_starting_inside_a_short_tail_is_found() {
        let mut text = "sk_live_sk_live_abcdefghijklmnop1234".to_owned();
        assert_eq!(mask_api_keys(&mut text), 1);
        assert_eq!(text, "sk_live_sk_live_...1234");
    }

    #[test]
    fn leaves_masked_ids_alone() {
        let mut details = json(r#"{"key_id": "sk_live_...4242", "other": "sk_live_abc"}"#);
        let before = details.clone();
        assert_eq!(mask_secrets(&mut details), 0);
        assert_eq!(details, before);
    }

    #[test]
    fn account_number_keys_ignore_case_and_separators() {
        for key in [
            "account_number",
            "accountNumber",
            "bank-account-number",
            "Bank Account No",
            "acct.no",
            "payout_acctNumber",
            "iban",
            "IBAN",
            "payoutIban",
            "payout_iban_value",
            "ibanx",
            "IBAN-masked",
            "bank_account",
            "primaryBankAccount",
            "bankacct",
            "payout.bank-acct",
            "OLD_BANKACCT",
        ] {
            assert!(is_account_number_key(key), "{key}");
        }
        for key in [
            "account_last4",
            "bank",
            "bank_accounts_count",
            "bank_acct_holder",
            "ibn",
            "note",
        ] {
            assert!(!is_account_number_key(key), "{key}");
        }
    }

    #[test]
    fn masks_every_shape_under_an_account_key() {
        let mut details = json(
            r#"{"bank": "BDO", "accountNumber": "0012-3456-6789", "IBAN": 12345678901234567890123,
                "account_last4": "6789",
                "bank_account": {"primary": {"number": "PH12 3456 7890 1234"}, "list": ["98765432", 4321],
                                 "by_number": {"555566667777": "savings"}}}"#,
        );
        mask_secrets(&mut details);
        assert_eq!(
            details.to_text(),
            r#"{"IBAN":"****0123","accountNumber":"****6789","account_last4":"6789","bank":"BDO","bank_account":{"by_number":{"****7777":"savings"},"list":["****5432",4321],"primary":{"number":"****1234"}}}"#
        );
    }

    /// Found by the masking property (`proptests::masking`): under an account-number key a
    /// string with fewer than 5 digits was left alone, API key included.
    #[test]
    fn api_keys_under_account_number_keys_are_masked() {
        let mut details = json(
            r#"{"changes": [{"accountnumber": ["sk_live_A0aAaaAaAAa0"]}],
                "a": {"field": "accountnumber", "to": [{"é": "sk_live_Aaa0Aa0AAaa0"}]},
                "iban": {"note": "rotated sk_test_abcdefghijklmnop9999 today"}}"#,
        );
        assert_eq!(mask_secrets(&mut details), 3);
        assert_eq!(
            details.to_text(),
            r#"{"a":{"field":"accountnumber","to":[{"é":"sk_live_...Aaa0"}]},"changes":[{"accountnumber":["sk_live_...AAa0"]}],"iban":{"note":"rotated sk_test_...9999 today"}}"#
        );
    }

    /// Found by the idempotency property: masked keys that collided got `#2`, and
    /// `****2112#2` has 5 digits, so masking again turned it into `****1122`.
    #[test]
    fn colliding_masked_keys_stay_masked_when_masked_again() {
        let mut details =
            json(r#"{"field": "accountnumber", "to": {"112112": null, "12112": 1, "2112": 2}}"#);
        assert_eq!(mask_secrets(&mut details), 2);
        let once = details.clone();
        assert_eq!(
            once.to_text(),
            r#"{"field":"accountnumber","to":{"****2112":null,"****2112#b":1,"2112":2}}"#
        );
        assert_eq!(mask_secrets(&mut details), 0);
        assert_eq!(details, once);
        assert_eq!(
            [2, 3, 26, 27, 28, 702, 703].map(collision_letters),
            ["b", "c", "z", "aa", "ab", "zz", "aaa"]
        );
    }

    #[test]
    fn identifiers_are_refused_exactly_when_masking_would_change_them() {
        for id in [
            "sk_live_51HxAbCdEfGhIjKlMnOp4242",
            "evt:rk_test_abcdefghijkl",
            "u sk_live_sk_live_abcdefghijklmnop1234",
        ] {
            assert!(refuse_api_key_in_identifier(id).is_err(), "{id}");
            let mut masked = id.to_owned();
            assert!(mask_api_keys(&mut masked) > 0, "{id}");
        }
        for id in ["u_1", "sk_live_...4242", "sk_live_abcdefghijk", "pk_live_"] {
            assert_eq!(refuse_api_key_in_identifier(id), Ok(()), "{id}");
            let mut masked = id.to_owned();
            assert_eq!(mask_api_keys(&mut masked), 0, "{id}");
        }
    }

    #[test]
    fn masks_from_and_to_of_account_number_changes() {
        let mut details = json(
            r#"{"changes": [{"field": "bank_account_number", "from": "111122223333", "to": 444455556666},
                            {"field": "email", "from": "a@x.com", "to": "b@x.com"}]}"#,
        );
        assert_eq!(mask_secrets(&mut details), 2);
        assert_eq!(
            details.to_text(),
            r#"{"changes":[{"field":"bank_account_number","from":"****3333","to":"****6666"},{"field":"email","from":"a@x.com","to":"b@x.com"}]}"#
        );
    }
}
