//! The masker (API.md "Never stored"): after `mask_secrets`, no planted API key or account
//! number shows in the stored details, the summary of any event type, or the CSV row; masking
//! is idempotent and total.

use jiff::Timestamp;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::config;
use super::strategies::{Secret, account_key, any_json, api_key_text, secret_document};
use crate::csv::{CsvEncoder, CsvStart};
use crate::domain::secrets::{is_account_number_key, mask_entry, mask_secrets};
use crate::domain::summary::summarize;
use crate::domain::{Actor, EntryId, EventType, Json, Location, LogEntry, ViewerZone};

/// The CSV row of an entry holding `details` and its `summary`, as the export writes it.
fn csv_row(event_type: EventType, details: &Json, summary: &str) -> String {
    let at: Timestamp = "2024-04-22T06:32:15Z".parse().expect("a timestamp");
    let entry = LogEntry {
        details: details.clone(),
        summary: summary.to_owned(),
        ..LogEntry::bare("e1".into(), event_type, "u1".into(), at)
    };
    let mut encoder = CsvEncoder::new(ViewerZone::utc(), CsvStart::Resumed);
    encoder.row(&entry);
    String::from_utf8(encoder.take()).expect("CSV is UTF-8")
}

/// Fails when `output` (named `what`) holds any text of `secrets`.
fn assert_no_secret(what: &str, output: &str, secrets: &[Secret]) -> Result<(), TestCaseError> {
    for secret in secrets {
        for needle in secret.needles() {
            prop_assert!(
                !output.contains(&needle),
                "{what} shows {needle:?} of {secret:?}:\n{output}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn masked_details_summaries_and_csv_rows_hold_no_secret((details, secrets) in secret_document()) {
        let mut masked = details;
        mask_secrets(&mut masked);
        assert_no_secret("details", &masked.to_text(), &secrets)?;
        for event_type in EventType::ALL {
            let summary = summarize(event_type, &masked, Some("Safari on macOS"), None);
            assert_no_secret(&format!("{event_type} summary"), &summary, &secrets)?;
            let row = csv_row(event_type, &masked, &summary);
            assert_no_secret(&format!("{event_type} CSV row"), &row, &secrets)?;
        }
    }

    #[test]
    fn masking_is_idempotent_and_total(details in any_json(6)) {
        let mut once = details;
        mask_secrets(&mut once);
        let mut twice = once.clone();
        mask_secrets(&mut twice);
        prop_assert_eq!(&twice, &once);
        // Masked numbers become strings and every text stays valid JSON.
        let text = once.to_text();
        prop_assert_eq!(Json::parse(&text).expect("masked JSON parses"), once);
    }

    #[test]
    fn masking_documents_with_secrets_is_idempotent((details, _) in secret_document()) {
        let mut once = details;
        mask_secrets(&mut once);
        let mut twice = once.clone();
        mask_secrets(&mut twice);
        prop_assert_eq!(twice, once);
    }

    /// Every stored text of an entry but the identifiers (which ingest refuses instead) holds a
    /// planted API key, and `details` a secret document: after `mask_entry` the stored entry and
    /// its CSV row show none of them.
    #[test]
    fn masked_entries_hold_no_api_key_in_any_text_field(
        (details, mut secrets) in secret_document(),
        texts in prop::collection::vec(api_key_text(), 9),
    ) {
        let mut texts: Vec<Option<String>> = texts
            .into_iter()
            .map(|(text, planted)| {
                secrets.extend(planted);
                Some(text)
            })
            .collect();
        let mut next = || texts.pop().flatten();
        let at: Timestamp = "2024-04-22T06:32:15Z".parse().expect("a timestamp");
        let mut entry = LogEntry {
            id: EntryId::from_stored("e1".into()),
            event_type: EventType::Login,
            occurred_at: at,
            actor: Actor { id: "u1".into(), name: next(), email: next() },
            ip: None,
            user_agent: next(),
            device: next(),
            location: Some(Location { country: next(), region: next(), city: next() }),
            details,
            summary: next().unwrap_or_default(),
            event_id: Some("evt-1".into()),
            received_at: at,
            producer: next(),
            unfamiliar: None,
            log_index: None,
        };
        mask_entry(&mut entry);
        let stored = serde_json::to_string(&entry).expect("an entry serializes");
        assert_no_secret("stored entry", &stored, &secrets)?;
        let mut encoder = CsvEncoder::new(ViewerZone::utc(), CsvStart::Resumed);
        encoder.row(&entry);
        let row = String::from_utf8(encoder.take()).expect("CSV is UTF-8");
        assert_no_secret("CSV row", &row, &secrets)?;
    }

    #[test]
    fn every_spelling_of_an_account_number_key_is_one(key in account_key()) {
        prop_assert!(is_account_number_key(&key), "{key:?}");
    }
}

/// The leak property is only as good as its generator: most planted secrets must really be in
/// the generated documents (a few are overwritten by a later entry with the same key).
#[test]
fn generated_documents_hold_their_secrets() {
    let mut runner = TestRunner::deterministic();
    let strategy = secret_document();
    let (mut planted, mut present, mut api_keys, mut accounts) = (0, 0, 0, 0);
    for _ in 0..200 {
        let (details, secrets) = strategy
            .new_tree(&mut runner)
            .expect("a document")
            .current();
        let text = details.to_text();
        for secret in &secrets {
            planted += 1;
            present += usize::from(text.contains(secret.as_sent()));
            match secret {
                Secret::ApiKey(_) => api_keys += 1,
                Secret::Account { .. } => accounts += 1,
            }
        }
    }
    assert!(
        api_keys > 100 && accounts > 100,
        "{api_keys} keys, {accounts} accounts"
    );
    assert!(
        present * 10 >= planted * 9,
        "{present} of {planted} planted"
    );
}
