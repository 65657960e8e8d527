//! Secrets that must never be stored: API key values and full bank account numbers.
//!
//! Policy (README, "What is never stored"): the event is kept, the secret is not. A full API key
//! anywhere in `details` becomes `sk_live_...4242`; the value of a bank-account-number field
//! becomes `****6789`. Masking instead of rejecting keeps the audit trail complete while the
//! producing service is being fixed.

use serde_json::Value;

const KEY_PREFIXES: [&str; 6] = [
    "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_",
];
/// Shorter tails than this are ids or already-masked forms, not key material.
const MIN_KEY_TAIL: usize = 12;
const ACCOUNT_NUMBER_FIELDS: [&str; 7] = [
    "account_number",
    "bank_account_number",
    "account_no",
    "acct_number",
    "bank_account",
    "iban",
    "routing_and_account",
];

/// Masks every secret in `details` in place; returns how many values were masked.
pub fn mask_secrets(details: &mut Value) -> usize {
    match details {
        Value::String(text) => mask_api_keys(text),
        Value::Array(items) => items.iter_mut().map(mask_secrets).sum(),
        Value::Object(map) => map
            .iter_mut()
            .map(|(key, value)| {
                if is_account_number_field(key) {
                    mask_account_number(value)
                } else {
                    mask_secrets(value)
                }
            })
            .sum(),
        _ => 0,
    }
}

fn is_account_number_field(key: &str) -> bool {
    ACCOUNT_NUMBER_FIELDS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(key))
}

fn mask_account_number(value: &mut Value) -> usize {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return mask_secrets(other),
    };
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_alphanumeric).collect();
    if digits.len() <= 4 {
        return 0;
    }
    let last4: String = digits[digits.len() - 4..].iter().collect();
    *value = Value::String(format!("****{last4}"));
    1
}

/// Replaces each full API key inside `text` by its prefix and last four characters.
fn mask_api_keys(text: &mut String) -> usize {
    let mut masked = 0;
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some((start, prefix)) = find_key_prefix(rest) {
        let after = &rest[start + prefix.len()..];
        let tail_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        out.push_str(&rest[..start + prefix.len()]);
        if tail_len >= MIN_KEY_TAIL {
            out.push_str("...");
            out.push_str(&after[tail_len - 4..tail_len]);
            masked += 1;
        } else {
            out.push_str(&after[..tail_len]);
        }
        rest = &after[tail_len..];
    }
    if masked > 0 {
        out.push_str(rest);
        *text = out;
    }
    masked
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
    use serde_json::json;

    #[test]
    fn masks_full_api_keys_anywhere_in_details() {
        let mut details = json!({
            "key": "secret",
            "key_id": "sk_live_51HxAbCdEfGhIjKlMnOp4242",
            "nested": [{"note": "rotated rk_test_abcdefghijklmnop9999 today"}]
        });
        assert_eq!(mask_secrets(&mut details), 2);
        assert_eq!(details["key_id"], "sk_live_...4242");
        assert_eq!(
            details["nested"][0]["note"],
            "rotated rk_test_...9999 today"
        );
        assert_eq!(details["key"], "secret");
    }

    #[test]
    fn leaves_masked_ids_alone() {
        let mut details = json!({"key_id": "sk_live_...4242", "other": "sk_live_abc"});
        let before = details.clone();
        assert_eq!(mask_secrets(&mut details), 0);
        assert_eq!(details, before);
    }

    #[test]
    fn keeps_only_last_four_of_bank_account_numbers() {
        let mut details = json!({"bank": "BDO", "account_number": "0012-3456-6789", "IBAN": 12345678901_u64, "account_last4": "6789"});
        assert_eq!(mask_secrets(&mut details), 2);
        assert_eq!(details["account_number"], "****6789");
        assert_eq!(details["IBAN"], "****8901");
        assert_eq!(details["account_last4"], "6789");
    }
}
