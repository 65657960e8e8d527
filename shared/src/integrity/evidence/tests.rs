//! An export and its evidence built from a small log, verified, then tampered with in every
//! way the verifier must catch.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::domain::export::ExportFilters;
use crate::domain::{Actor, EntryId, EventType, Json, LogFilter, ViewerZone};
use crate::export::csv::{CsvEncoder, CsvStart};
use crate::integrity::merkle::root;
use crate::integrity::note::{
    Checkpoint, LocalSigner, Signer, VerifierKey, origin, sign_checkpoint,
};

/// Runs a future that never waits (the local signer's).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the future waited"),
    }
}

fn entry(i: usize) -> LogEntry {
    let (event_type, actor) = if i.is_multiple_of(2) {
        (EventType::Login, "u_1")
    } else {
        (EventType::ApiKeyViewed, "u_2")
    };
    LogEntry {
        id: EntryId::from_stored(format!("01HW3Z9V7Q4M8K2N5P6R7S8T{:02}", i)),
        event_type,
        // Not in log order: log order is the order of recording.
        occurred_at: jiff::Timestamp::from_second(1_713_767_535 + ((i * 7) % 10) as i64 * 60)
            .unwrap(),
        actor: Actor {
            id: actor.into(),
            name: Some(format!("=HYPERLINK(\"x\") {actor}")),
            email: None,
        },
        ip: Some("203.0.113.45".parse().unwrap()),
        user_agent: None,
        device: Some("Safari on macOS".into()),
        location: None,
        details: Json::parse(r#"{"n":12345678901234567890}"#).unwrap(),
        summary: format!("entry {i}"),
        event_id: None,
        received_at: jiff::Timestamp::from_second(1_713_770_000 + i as i64).unwrap(),
        producer: Some("arn:aws:iam::123456789012:role/auth-service".into()),
        unfamiliar: None,
        log_index: Some(i as u64),
    }
}

const ACCOUNT: &str = "acct_evidence";

fn key_of(account: &str) -> (LocalSigner, VerifierKey) {
    let signer = LocalSigner::from_seed(&[5; 32]);
    let name = origin(&crate::domain::AccountId::parse(account).unwrap());
    let key = VerifierKey::new(&name, &signer.public_key()).unwrap();
    (signer, key)
}

struct Export {
    csv: Vec<u8>,
    evidence: Vec<u8>,
    key: VerifierKey,
    note: String,
}

/// The log of `count` entries; the export of its logins (`types: [login]`); `skip` entries
/// (by log index) are left out of the evidence as expired.
fn export(count: usize, skip: &[u64]) -> Export {
    let (signer, key) = key_of(ACCOUNT);
    let log: Vec<LogEntry> = (0..count).map(entry).collect();
    let hashes: Vec<Hash> = log
        .iter()
        .map(|e| LeafData::of(e).unwrap().leaf_hash())
        .collect();
    let checkpoint = Checkpoint {
        origin: key.name().to_owned(),
        size: count as u64,
        root: root(&hashes),
    };
    let note = ready(sign_checkpoint(&checkpoint, &signer)).unwrap();
    let filters = ExportFilters {
        filter: LogFilter::new(None, None, vec![EventType::Login], None, "to").unwrap(),
        tz: ViewerZone::parse("Asia/Manila").unwrap(),
    };
    let mut newest_first = log.clone();
    newest_first.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));

    let mut csv = CsvEncoder::new(filters.zone(), CsvStart::Fresh);
    let mut evidence =
        EvidenceWriter::start(&note, "01JEXPORT0000000000000000", &filters, count as u64);
    for tile in hashes.chunks(4) {
        evidence.leaf_hashes(tile);
    }
    let mut bytes = evidence.take();
    // A writer resumed from the state, as a later invocation continues the file.
    let mut evidence = EvidenceWriter::resume(evidence.state());
    for e in &newest_first {
        let index = e.log_index.unwrap();
        if skip.contains(&index) {
            continue;
        }
        if filters.filter.admits(
            e.event_type.as_str(),
            e.occurred_at,
            &e.actor.id,
            e.unfamiliar.is_some(),
        ) {
            csv.row(e);
            evidence.entry(index, e).unwrap();
        } else {
            evidence.other(index, &LeafData::of(e).unwrap());
        }
    }
    evidence.finish();
    bytes.extend(evidence.take());
    Export {
        csv: csv.take(),
        evidence: bytes,
        key,
        note,
    }
}

fn check(export: &Export) -> Result<Verified, VerifyError> {
    verify(
        export.csv.as_slice(),
        export.evidence.as_slice(),
        &export.key,
        None,
    )
}

fn csv_lines(export: &Export) -> Vec<String> {
    String::from_utf8(export.csv.clone())
        .unwrap()
        .split_inclusive("\r\n")
        .map(str::to_owned)
        .collect()
}

fn with_lines(export: &Export, lines: Vec<String>) -> Export {
    Export {
        csv: lines.concat().into_bytes(),
        evidence: export.evidence.clone(),
        key: export.key.clone(),
        note: export.note.clone(),
    }
}

#[test]
fn a_genuine_export_verifies() {
    let genuine = export(10, &[]);
    let verified = check(&genuine).unwrap();
    assert_eq!(
        verified,
        Verified {
            rows: 5,
            size: 10,
            origin: format!("security-logs/{ACCOUNT}"),
            expired: 0,
            pinned: None
        }
    );
    assert!(verified.to_string().starts_with("OK: 5 rows"), "{verified}");
}

#[test]
fn an_edited_cell_is_named() {
    let genuine = export(10, &[]);
    let mut lines = csv_lines(&genuine);
    lines[2] = lines[2].replacen("entry", "entrée", 1);
    let error = check(&with_lines(&genuine, lines)).unwrap_err();
    assert!(
        matches!(&error, VerifyError::Row { row: 2, problem } if problem.contains("\"Details\"")),
        "{error}"
    );
}

#[test]
fn deleted_added_duplicated_and_reordered_rows_fail() {
    let genuine = export(10, &[]);
    let lines = csv_lines(&genuine);
    let mut deleted = lines.clone();
    deleted.remove(3);
    let mut added = lines.clone();
    added.push(lines[1].clone());
    let mut duplicated = lines.clone();
    duplicated.insert(2, lines[2].clone());
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    let mut last_deleted = lines.clone();
    last_deleted.pop();
    for (what, lines, row) in [
        ("deleted", deleted, 3),
        ("added", added, 6),
        ("duplicated", duplicated, 3),
        ("reordered", reordered, 1),
        ("last deleted", last_deleted, 5),
    ] {
        match check(&with_lines(&genuine, lines)) {
            Err(VerifyError::Row { row: got, .. }) => assert_eq!(got, row, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn another_accounts_key_or_a_bad_signature_fails() {
    let genuine = export(6, &[]);
    let (_, other_key) = key_of("acct_other");
    let error = verify(
        genuine.csv.as_slice(),
        genuine.evidence.as_slice(),
        &other_key,
        None,
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::Checkpoint(_)), "{error}");

    let (stranger, _) = (LocalSigner::from_seed(&[6; 32]), ());
    let forged_key = VerifierKey::new(genuine.key.name(), &stranger.public_key()).unwrap();
    let error = verify(
        genuine.csv.as_slice(),
        genuine.evidence.as_slice(),
        &forged_key,
        None,
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::Checkpoint(_)), "{error}");
}

#[test]
fn evidence_that_does_not_match_its_checkpoint_fails() {
    let genuine = export(6, &[]);
    let text = String::from_utf8(genuine.evidence.clone()).unwrap();
    // Swap two leaf hashes' base64 characters: the root changes.
    let start = text.find("\"leaf_hashes\":[\n\"").unwrap() + 17;
    let mut bytes = text.into_bytes();
    bytes.swap(start, start + 1);
    let tampered = Export {
        evidence: bytes,
        ..with_lines(&genuine, csv_lines(&genuine))
    };
    assert_eq!(check(&tampered).unwrap_err(), VerifyError::RootMismatch);
}

#[test]
fn an_entry_changed_in_both_files_is_not_the_logs() {
    let genuine = export(6, &[]);
    let evidence = String::from_utf8(genuine.evidence.clone())
        .unwrap()
        .replace("entry 4", "entry X");
    let csv = String::from_utf8(genuine.csv.clone())
        .unwrap()
        .replace("entry 4", "entry X");
    let tampered = Export {
        csv: csv.into_bytes(),
        evidence: evidence.into_bytes(),
        key: genuine.key.clone(),
        note: genuine.note.clone(),
    };
    let error = check(&tampered).unwrap_err();
    assert!(
        matches!(error, VerifyError::Leaf { index: 4, .. }),
        "{error}"
    );
}

#[test]
fn a_matching_entry_left_out_of_the_csv_is_a_missing_row() {
    // The evidence shows leaf 2 (a login) only as leaf data, the CSV lacks its row.
    let genuine = export(6, &[]);
    let leaf = String::from_utf8(LeafData::of(&entry(2)).unwrap().to_bytes()).unwrap();
    let text = String::from_utf8(genuine.evidence.clone()).unwrap();
    // Its line, with or without the leading comma, becomes the leaf data line.
    let evidence: String = text
        .split_inclusive('\n')
        .map(|line| match line.find(r#"{"index":2,"entry":"#) {
            Some(at) => format!(
                "{}{{\"index\":2,\"leaf\":{}}}\n",
                &line[..at],
                serde_json::to_string(&leaf).unwrap()
            ),
            None => line.to_owned(),
        })
        .collect();
    let row = csv_lines(&genuine)
        .iter()
        .position(|l| l.contains("entry 2"))
        .unwrap();
    let mut lines = csv_lines(&genuine);
    lines.remove(row);
    let tampered = Export {
        evidence: evidence.into_bytes(),
        ..with_lines(&genuine, lines)
    };
    let error = check(&tampered).unwrap_err();
    assert!(
        matches!(&error, VerifyError::Leaf { index: 2, problem } if problem.contains("missing")),
        "{error}"
    );
}

#[test]
fn expired_leaves_are_reported_not_failed() {
    let with_expired = export(10, &[0, 1]);
    let verified = check(&with_expired).unwrap();
    assert_eq!((verified.rows, verified.expired), (4, 2));
    assert!(
        verified.to_string().contains("2 leaves had expired"),
        "{verified}"
    );
}

#[test]
fn a_pinned_checkpoint_must_be_extended() {
    let (signer, key) = key_of(ACCOUNT);
    let genuine = export(10, &[]);
    let hashes: Vec<Hash> = (0..10)
        .map(|i| LeafData::of(&entry(i)).unwrap().leaf_hash())
        .collect();
    let pin_at = |size: usize, hashes: &[Hash]| {
        let checkpoint = Checkpoint {
            origin: key.name().to_owned(),
            size: size as u64,
            root: root(&hashes[..size]),
        };
        ready(sign_checkpoint(&checkpoint, &signer)).unwrap()
    };
    let ok = verify(
        genuine.csv.as_slice(),
        genuine.evidence.as_slice(),
        &key,
        Some(&pin_at(7, &hashes)),
    )
    .unwrap();
    assert_eq!(ok.pinned, Some(7));
    // A log whose early entry was different when pinned: the new log does not extend it.
    let mut rewritten = hashes.clone();
    rewritten[3] = [0; 32];
    let error = verify(
        genuine.csv.as_slice(),
        genuine.evidence.as_slice(),
        &key,
        Some(&pin_at(7, &rewritten)),
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::Pinned(_)), "{error}");
    assert_eq!(genuine.note.lines().nth(1), Some("10"));
}

#[test]
fn malformed_evidence_is_an_error_not_a_panic() {
    let genuine = export(4, &[]);
    for evidence in ["", "{}", "[]", r#"{"format":"x"}"#, "not json"] {
        let error = verify(
            genuine.csv.as_slice(),
            evidence.as_bytes(),
            &genuine.key,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(error, VerifyError::Malformed(_)),
            "{evidence:?}: {error}"
        );
    }
    let truncated = &genuine.evidence[..genuine.evidence.len() - 3];
    assert!(verify(genuine.csv.as_slice(), truncated, &genuine.key, None).is_err());
}

#[test]
fn an_entry_not_in_canonical_form_is_not_the_logs() {
    // The same entry with one space added: its digest differs, so it is refused.
    let genuine = export(6, &[]);
    let evidence = String::from_utf8(genuine.evidence.clone())
        .unwrap()
        .replace(
            r#"{"index":4,"entry":{"actor""#,
            r#"{"index":4,"entry":{ "actor""#,
        );
    assert_ne!(evidence.as_bytes(), genuine.evidence.as_slice());
    let tampered = Export {
        evidence: evidence.into_bytes(),
        ..with_lines(&genuine, csv_lines(&genuine))
    };
    let error = check(&tampered).unwrap_err();
    assert!(
        matches!(error, VerifyError::Leaf { index: 4, .. }),
        "{error}"
    );
}

#[test]
fn a_row_from_another_accounts_log_is_refused() {
    // An entry of another log, rendered as the service renders rows, slipped into the CSV.
    let genuine = export(6, &[]);
    let mut foreign = entry(2);
    foreign.id = EntryId::from_stored("01HW3Z9V7Q4M8K2N5P6R7S8TZZ".into());
    foreign.summary = "entry of acct_other".into();
    let mut encoder = CsvEncoder::new(ViewerZone::parse("Asia/Manila").unwrap(), CsvStart::Resumed);
    encoder.row(&foreign);
    let row = String::from_utf8(encoder.take()).unwrap();
    let mut lines = csv_lines(&genuine);
    lines.insert(2, row);
    match check(&with_lines(&genuine, lines)) {
        Err(VerifyError::Row { row: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
}
