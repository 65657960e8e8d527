//! Where an export's files live in the exports bucket: one CSV and one evidence file per export,
//! under the account's folder of `exports/`. The worker names the objects it uploads by these
//! rules (the upload port takes any key); the functions' IAM policies allow nothing outside
//! [`KEY_PREFIX`].

use crate::domain::AccountId;

/// The only key prefix the functions may touch.
pub const KEY_PREFIX: &str = "exports/";

/// The object key of an export file: `exports/<account>/<export id>.csv`.
///
/// The account is `A-Za-z0-9_-` by construction; the export id is service-generated (a ULID),
/// so neither can add a path segment.
pub fn export_key(account: &AccountId, export_id: &str) -> String {
    debug_assert!(
        !export_id.is_empty()
            && export_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "export ids are service-generated: {export_id:?}"
    );
    format!("{KEY_PREFIX}{}/{export_id}.csv", account.as_str())
}

/// The object key of an export's evidence file: `exports/<account>/<export id>.evidence.json`.
pub fn evidence_key(account: &AccountId, export_id: &str) -> String {
    export_key(account, export_id).replace(".csv", ".evidence.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_the_exports_prefix() {
        let account = AccountId::parse("acct_Demo-1").unwrap();
        assert_eq!(
            export_key(&account, "01HW3Z9V7Q4M8K2N5P6R7S8T9V"),
            "exports/acct_Demo-1/01HW3Z9V7Q4M8K2N5P6R7S8T9V.csv"
        );
        assert!(export_key(&account, "x").starts_with(KEY_PREFIX));
    }
}
