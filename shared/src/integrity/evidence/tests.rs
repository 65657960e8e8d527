//! Exports and their evidence built from small logs, verified, then forged the way an auditor's
//! adversary would: someone who holds the genuine CSV and evidence (and older checkpoints, and
//! other exports of the account), can edit every byte of both files, but not sign.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::csv::{CsvEncoder, CsvStart};
use crate::domain::export::{ExportFilters, ExportId, ExportJob, ExportRequest};
use crate::domain::{
    AccountId, Actor, EntryId, EventType, Json, Unfamiliar, UnfamiliarReason, ViewerZone,
};
use crate::integrity::canonical::{LeafData, canonical_entry};
use crate::integrity::merkle::{Hash, root};
use crate::integrity::note::{Checkpoint, LocalSigner, Signer, origin, sign_checkpoint};

/// Runs a future that never waits (the local signer's).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the future waited"),
    }
}

const ACCOUNT: &str = "acct_evidence";

fn account() -> AccountId {
    AccountId::parse(ACCOUNT).unwrap()
}

fn platform() -> LocalSigner {
    LocalSigner::from_seed(&[5; 32])
}

fn requested_at() -> Timestamp {
    "2024-04-22T06:00:00Z".parse().unwrap()
}

const TYPES: [EventType; 3] = [
    EventType::Login,
    EventType::ApiKeyViewed,
    EventType::PasswordChanged,
];

/// Entry `i` of the log: types, actors and flags vary with `i`; it occurred `age_minutes`
/// before the request.
fn entry(i: usize, age_minutes: i64) -> LogEntry {
    let event_type = TYPES[i % 3];
    let actor = format!("u_{}", i % 4);
    LogEntry {
        id: EntryId::from_stored(format!("01HW3Z9V7Q4M8K2N5P6R7S{i:04}")),
        event_type,
        occurred_at: requested_at() - SignedDuration::from_mins(age_minutes),
        actor: Actor {
            id: actor.clone(),
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
        received_at: requested_at(),
        producer: Some("arn:aws:iam::123456789012:role/auth-service".into()),
        unfamiliar: (event_type == EventType::Login && i.is_multiple_of(2)).then(|| Unfamiliar {
            reasons: vec![UnfamiliarReason::NewDevice],
        }),
        log_index: Some(i as u64),
    }
}

/// An account's log with one export's request in it.
#[derive(Clone)]
struct Log {
    /// In index order; the export's own entry at `request`.
    entries: Vec<LogEntry>,
    request: u64,
    filters: ExportFilters,
    retention_days: u32,
}

/// The export's own entry, as the API records it.
fn request_entry(index: usize, filters: &ExportFilters, retention_days: u32) -> LogEntry {
    let mut job = ExportJob::new(filters.clone(), "u_admin".into(), requested_at());
    // Fixed, so the fixtures are the same at every run.
    job.id = ExportId::parse(&format!("01HW3Z9V7Q4M8K2N5P6R7E{index:04}")).unwrap();
    LogEntry {
        id: EntryId::from_stored(format!("01HW3Z9V7Q4M8K2N5P6R7E{index:04}")),
        event_type: EventType::SecurityLogsExported,
        occurred_at: requested_at(),
        actor: Actor {
            id: "u_admin".into(),
            name: Some("Ada Admin".into()),
            email: Some("ada@example.com".into()),
        },
        ip: None,
        user_agent: None,
        device: None,
        location: None,
        details: ExportRequest::details(&job, retention_days).into(),
        summary: "Security logs exported as CSV".into(),
        event_id: None,
        received_at: requested_at(),
        producer: Some(crate::domain::entry::SERVICE_PRODUCER.to_owned()),
        unfamiliar: None,
        log_index: Some(index as u64),
    }
}

impl Log {
    /// `before` entries recorded before the request (ages in minutes from `ages`, cycled), the
    /// request, then `after` entries recorded while the export ran.
    fn new(before: usize, after: usize, filters: ExportFilters, retention_days: u32) -> Self {
        const AGES: [i64; 7] = [5, 90, 3 * 1440, 2, 40 * 1440, 600, 1];
        let mut entries: Vec<LogEntry> = (0..before).map(|i| entry(i, AGES[i % 7])).collect();
        entries.push(request_entry(before, &filters, retention_days));
        for i in before + 1..before + 1 + after {
            entries.push(entry(i, -1));
        }
        Self {
            entries,
            request: before as u64,
            filters,
            retention_days,
        }
    }

    fn hashes(&self) -> Vec<Hash> {
        self.entries
            .iter()
            .map(|e| LeafData::of(e).unwrap().leaf_hash())
            .collect()
    }

    /// A checkpoint of the first `size` entries, signed by `signer`.
    fn checkpoint(&self, size: usize, signer: &LocalSigner) -> String {
        let checkpoint = Checkpoint {
            origin: origin(&account()),
            size: size as u64,
            root: root(&self.hashes()[..size]),
        };
        ready(sign_checkpoint(&checkpoint, signer)).unwrap()
    }

    /// Rows by an independent reading of the rules (not [`ExportScope`]): recorded before the
    /// request, matching every filter, and occurred within the retention less a day.
    fn expected_rows(&self) -> Vec<&LogEntry> {
        let f = &self.filters.filter;
        let reach =
            requested_at() - SignedDuration::from_hours(24 * (self.retention_days as i64 - 1));
        let mut rows: Vec<&LogEntry> = self.entries[..self.request as usize]
            .iter()
            .filter(|e| {
                f.from.is_none_or(|t| e.occurred_at >= t)
                    && f.to.is_none_or(|t| e.occurred_at <= t)
                    && (f.types.is_empty() || f.types.contains(&e.event_type))
                    && f.actor.as_ref().is_none_or(|a| *a == e.actor.id)
                    && f.unfamiliar.is_none_or(|u| u == e.unfamiliar.is_some())
                    && e.occurred_at >= reach
            })
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
        rows
    }

    /// The genuine CSV and evidence, with a checkpoint of the whole log, as the worker writes
    /// them (the writer resumed mid-file, as a later invocation continues it).
    fn export(&self) -> Files {
        self.export_at(self.entries.len(), &platform())
    }

    fn export_at(&self, size: usize, signer: &LocalSigner) -> Files {
        let note = self.checkpoint(size, signer);
        let scope = ExportScope::new(
            &self.filters,
            self.request,
            requested_at(),
            self.retention_days,
        );
        let request = &self.entries[self.request as usize];
        let mut writer = EvidenceWriter::start(&note, size as u64, self.request, request).unwrap();
        let mut bytes = Vec::new();
        for (k, e) in self.entries[..size].iter().enumerate() {
            let in_full = k as u64 == self.request || scope.holds(e);
            let data = String::from_utf8(LeafData::of(e).unwrap().to_bytes()).unwrap();
            writer.leaf((!in_full).then_some(data.as_str())).unwrap();
            if k == size / 2 {
                bytes.extend(writer.take());
                writer = EvidenceWriter::resume(writer.state());
            }
        }
        writer.leaves_done();
        let mut csv = CsvEncoder::new(self.filters.zone(), CsvStart::Fresh);
        for e in self.expected_rows() {
            writer.row(e.log_index.unwrap(), e).unwrap();
            csv.row(e);
        }
        writer.finish();
        bytes.extend(writer.take());
        Files {
            csv: String::from_utf8(csv.take()).unwrap(),
            evidence: String::from_utf8(bytes).unwrap(),
        }
    }
}

#[derive(Clone, Debug)]
struct Files {
    csv: String,
    evidence: String,
}

impl Files {
    fn check(&self) -> Result<Verified, VerifyError> {
        self.check_with(&[platform().public_key()], None)
    }

    fn check_with(&self, keys: &[[u8; 32]], pinned: Option<&str>) -> Result<Verified, VerifyError> {
        verify(
            self.csv.as_bytes(),
            self.evidence.as_bytes(),
            &account(),
            keys,
            pinned,
        )
    }

    fn csv_lines(&self) -> Vec<String> {
        self.csv
            .split_inclusive("\r\n")
            .map(str::to_owned)
            .collect()
    }

    fn evidence_lines(&self) -> Vec<String> {
        self.evidence
            .split_inclusive('\n')
            .map(str::to_owned)
            .collect()
    }

    fn with_csv(&self, lines: Vec<String>) -> Self {
        Self {
            csv: lines.concat(),
            evidence: self.evidence.clone(),
        }
    }

    fn with_evidence(&self, lines: Vec<String>) -> Self {
        Self {
            csv: self.csv.clone(),
            evidence: lines.concat(),
        }
    }

    /// The line numbers (from 0) of the `leaves` items and of the `rows` items.
    fn sections(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let lines = self.evidence_lines();
        let rows_open = lines
            .iter()
            .position(|l| l.starts_with("],\"rows\":["))
            .unwrap();
        (1..rows_open, rows_open + 1..lines.len() - 1)
    }

    /// Removes CSV row `row` (from 1) and its `rows` item; `leaves` item of its index becomes
    /// its leaf data (`as_leaf`) or stays null.
    fn without_row(&self, row: usize, as_leaf: bool) -> Self {
        let mut csv = self.csv_lines();
        csv.remove(row);
        let (leaves, rows) = self.sections();
        let mut lines = self.evidence_lines();
        let item = lines.remove(rows.start + row - 1);
        let (index, entry) = row_item(&item);
        if as_leaf {
            lines[leaves.start + index] = leaf_item(&entry, index);
        }
        fix_commas(&mut lines);
        Self {
            csv: csv.concat(),
            evidence: lines.concat(),
        }
    }
}

/// A `rows` item's index and entry.
fn row_item(line: &str) -> (usize, LogEntry) {
    let value: serde_json::Value = serde_json::from_str(line.trim_start_matches(',')).unwrap();
    let index = value["index"].as_u64().unwrap() as usize;
    (
        index,
        serde_json::from_value(value["entry"].clone()).unwrap(),
    )
}

/// The `leaves` item an adversary computes for an entry by the documented rule.
fn leaf_item(entry: &LogEntry, index: usize) -> String {
    let data = String::from_utf8(LeafData::of(entry).unwrap().to_bytes()).unwrap();
    let comma = if index == 0 { "" } else { "," };
    format!("{comma}{}\n", serde_json::to_string(&data).unwrap())
}

/// Each array's first item without a leading comma, every later one with.
fn fix_commas(lines: &mut [String]) {
    let mut first = false;
    for line in lines.iter_mut() {
        if line.ends_with("[\n") {
            first = true;
            continue;
        }
        if line.starts_with("]") {
            continue;
        }
        let bare = line.trim_start_matches(',').to_owned();
        *line = if first { bare } else { format!(",{bare}") };
        first = false;
    }
}

/// The header line with its export entry replaced by `entry` (its canonical JSON).
fn with_request(files: &Files, entry: &LogEntry) -> Files {
    let mut lines = files.evidence_lines();
    let start = lines[0].find(r#""entry":"#).unwrap() + 8;
    let end = lines[0].rfind(r#"},"leaves":["#).unwrap();
    lines[0] = format!(
        "{}{}{}",
        &lines[0][..start],
        canonical_entry(entry).unwrap(),
        &lines[0][end..]
    );
    files.with_evidence(lines)
}

fn filters(body: &str) -> ExportFilters {
    ExportFilters::parse(body.as_bytes()).unwrap()
}

fn all() -> ExportFilters {
    ExportFilters {
        filter: LogFilter::default(),
        tz: ViewerZone::parse("Asia/Manila").unwrap(),
    }
}

// ---- genuine exports -------------------------------------------------------------------------

#[test]
fn a_genuine_export_verifies_and_says_what_it_proved() {
    let log = Log::new(
        20,
        3,
        filters(r#"{"types":["login"],"tz":"Asia/Manila"}"#),
        30,
    );
    let files = log.export();
    let verified = files.check().unwrap();
    assert_eq!(verified.rows, log.expected_rows().len() as u64);
    assert!(verified.rows > 0);
    assert_eq!((verified.size, verified.request_index), (24, 20));
    // Logins 40 days old had expired under 30 days of retention; they are listed.
    let expired: Vec<u64> = verified.expired.iter().map(|e| e.index).collect();
    assert_eq!(expired, [18]);
    let line = verified.to_string();
    for part in [
        "OK: account acct_evidence",
        "key fingerprint ",
        "requested 2024-04-22T06:00:00Z by u_admin <ada@example.com>",
        r#""types":["login"]"#,
        "retention 30 days",
        "checkpoint size 24",
        &format!("{} rows", verified.rows),
        "1 matching entries had expired",
        "expired: log entry 18, login at",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
}

#[test]
fn an_export_of_nothing_verifies() {
    let log = Log::new(0, 0, all(), 30);
    let verified = log.export().check().unwrap();
    assert_eq!((verified.rows, verified.size), (0, 1));
}

#[test]
fn a_later_checkpoint_covering_the_request_verifies_too() {
    let log = Log::new(12, 4, all(), 365);
    let at_request = log.export_at(13, &platform());
    let later = log.export();
    assert_eq!(at_request.check().unwrap().size, 13);
    assert_eq!(later.check().unwrap().size, 17);
    assert_eq!(at_request.csv, later.csv);
}

// ---- the attacks of the issue ----------------------------------------------------------------

#[test]
fn a_row_deleted_from_both_files_fails_however_the_index_is_written() {
    let log = Log::new(20, 2, all(), 365);
    let files = log.export();
    for row in [1, 4, log.expected_rows().len()] {
        // The index left as null: unaccounted for.
        let error = files.without_row(row, false).check().unwrap_err();
        assert!(
            matches!(&error, VerifyError::Leaf { problem, .. } if problem.contains("unaccounted")),
            "{error}"
        );
        // The index written as its leaf data: a matching entry, so a missing row.
        let error = files.without_row(row, true).check().unwrap_err();
        assert!(
            matches!(&error, VerifyError::Leaf { problem, .. } if problem.contains("a row is missing")),
            "{error}"
        );
    }
}

#[test]
fn every_row_deleted_fails() {
    let log = Log::new(9, 0, all(), 365);
    let mut files = log.export();
    let rows = log.expected_rows().len();
    for _ in 0..rows {
        files = files.without_row(1, true);
    }
    assert_eq!(files.csv_lines().len(), 1, "only the header is left");
    assert!(files.check().is_err());
}

#[test]
fn narrowed_filters_fail_for_every_filter() {
    let wide = all();
    let log = Log::new(21, 0, wide.clone(), 365);
    let files = log.export();
    let narrow = [
        r#"{"from":"2024-04-22T05:00:00Z","tz":"Asia/Manila"}"#,
        r#"{"to":"2024-04-22T05:00:00Z","tz":"Asia/Manila"}"#,
        r#"{"types":["api_key.viewed"],"tz":"Asia/Manila"}"#,
        r#"{"actor":"u_1","tz":"Asia/Manila"}"#,
        r#"{"unfamiliar":true,"tz":"Asia/Manila"}"#,
        r#"{"unfamiliar":false,"tz":"Asia/Manila"}"#,
    ];
    for body in narrow {
        let narrowed = filters(body);
        // The adversary rewrites the export's entry with the narrow filters, turns the rows
        // to hide into leaf data, and drops them from the CSV: what the narrow export would be.
        let request = request_entry(log.request as usize, &narrowed, 365);
        let mut forged = with_request(&files, &request);
        let hidden: Vec<usize> = log
            .expected_rows()
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                !narrowed.filter.admits(
                    e.event_type.as_str(),
                    e.occurred_at,
                    &e.actor.id,
                    e.unfamiliar.is_some(),
                )
            })
            .map(|(row, _)| row + 1)
            .collect();
        assert!(!hidden.is_empty(), "{body} hides some rows");
        for row in hidden.into_iter().rev() {
            forged = forged.without_row(row, true);
        }
        let error = forged.check().unwrap_err();
        assert_eq!(error, VerifyError::RootMismatch, "{body}");
        // Without the rewrite the hidden rows are missing rows.
        let mut kept = files.clone();
        kept = kept.without_row(1, true);
        assert!(kept.check().is_err());
    }
}

#[test]
fn a_copy_of_the_filters_in_the_header_is_not_read() {
    // The header carries no filters of its own: an added member is malformed, not believed.
    let files = Log::new(6, 0, all(), 365).export();
    let mut lines = files.evidence_lines();
    lines[0] = lines[0].replacen(
        r#""size":"#,
        r#""filters":{"types":["password.changed"]},"size":"#,
        1,
    );
    let error = files.with_evidence(lines).check().unwrap_err();
    assert!(matches!(error, VerifyError::Malformed(_)), "{error}");
}

#[test]
fn an_older_checkpoint_cannot_stand_in() {
    let log = Log::new(15, 3, all(), 365);
    let files = log.export();
    // A genuine checkpoint from before the request (say, an earlier export's), with the leaves
    // and rows cut to its size: the export's entry is not in it.
    for size in [15, 10] {
        let older = serde_json::to_string(&log.checkpoint(size, &platform())).unwrap();
        let current = serde_json::to_string(&log.checkpoint(19, &platform())).unwrap();
        let mut lines = files.evidence_lines();
        lines[0] = lines[0].replacen(&current, &older, 1).replacen(
            r#""size":19,"#,
            &format!(r#""size":{size},"#),
            1,
        );
        let error = files.with_evidence(lines).check().unwrap_err();
        assert!(
            matches!(&error, VerifyError::Request { problem, .. } if problem.contains("older than the export")),
            "{error}"
        );
    }
}

#[test]
fn a_key_of_the_audited_party_does_not_verify_against_the_platforms() {
    let log = Log::new(8, 0, all(), 365);
    let merchant = LocalSigner::from_seed(&[9; 32]);
    let self_signed = log.export_at(9, &merchant);
    // With the merchant's own key it verifies, and says whose key that is: the auditor
    // compares the fingerprint with the published one.
    let verified = self_signed
        .check_with(&[merchant.public_key()], None)
        .unwrap();
    assert_eq!(verified.public_key, merchant.public_key());
    let error = self_signed.check().unwrap_err();
    assert!(
        matches!(&error, VerifyError::Checkpoint(m) if m.contains("not signed for account acct_evidence")),
        "{error}"
    );
}

#[test]
fn a_rotated_key_still_verifies_older_exports() {
    let log = Log::new(8, 0, all(), 365);
    let files = log.export();
    let next = LocalSigner::from_seed(&[6; 32]);
    let verified = files
        .check_with(&[next.public_key(), platform().public_key()], None)
        .unwrap();
    assert_eq!(verified.public_key, platform().public_key());
}

#[test]
fn another_exports_evidence_or_checkpoint_fails() {
    let log = Log::new(14, 0, all(), 365);
    let logins = Log {
        filters: filters(r#"{"types":["login"],"tz":"Asia/Manila"}"#),
        ..log.clone()
    };
    // The same log, but the request is another export's: its filters differ.
    let mut other = logins.clone();
    other.entries[other.request as usize] =
        request_entry(other.request as usize, &other.filters, 365);
    let a = log.export();
    let b = other.export();
    assert!(b.check().is_ok());
    let mixed = Files {
        csv: a.csv.clone(),
        evidence: b.evidence.clone(),
    };
    assert!(mixed.check().is_err());
    let mixed = Files {
        csv: b.csv.clone(),
        evidence: a.evidence.clone(),
    };
    assert!(mixed.check().is_err());
}

#[test]
fn reordered_leaves_fail() {
    let files = Log::new(10, 0, filters(r#"{"types":["login"]}"#), 365).export();
    let (leaves, _) = files.sections();
    let mut lines = files.evidence_lines();
    // Two leaf-data items (both outside the filters) swapped.
    let outside: Vec<usize> = leaves
        .clone()
        .filter(|&l| lines[l].trim_start_matches(',').starts_with('"'))
        .take(2)
        .collect();
    lines.swap(outside[0], outside[1]);
    fix_commas(&mut lines);
    assert_eq!(
        files.with_evidence(lines).check().unwrap_err(),
        VerifyError::RootMismatch
    );
}

#[test]
fn a_size_that_disagrees_with_the_note_fails() {
    let files = Log::new(10, 2, all(), 365).export();
    for size in ["12", "14", "0"] {
        let mut lines = files.evidence_lines();
        lines[0] = lines[0].replacen(r#""size":13"#, &format!(r#""size":{size}"#), 1);
        let error = files.with_evidence(lines).check().unwrap_err();
        assert!(matches!(error, VerifyError::Malformed(_)), "{error}");
    }
    // Leaves cut short or padded.
    let (leaves, _) = files.sections();
    let mut lines = files.evidence_lines();
    lines.remove(leaves.end - 1);
    assert!(files.with_evidence(lines).check().is_err());
    let mut lines = files.evidence_lines();
    let extra = lines[leaves.end - 1].clone();
    lines.insert(leaves.end, extra);
    assert!(files.with_evidence(lines).check().is_err());
}

#[test]
fn evidence_of_another_account_is_refused() {
    let log = Log::new(6, 0, all(), 365);
    let files = log.export();
    let error = verify(
        files.csv.as_bytes(),
        files.evidence.as_bytes(),
        &AccountId::parse("acct_other").unwrap(),
        &[platform().public_key()],
        None,
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::Checkpoint(_)), "{error}");
}

#[test]
fn an_entry_not_recorded_by_the_service_cannot_be_the_request() {
    let log = Log::new(6, 0, all(), 365);
    let mut forged = log.clone();
    let request = &mut forged.entries[log.request as usize];
    request.producer = Some("arn:aws:iam::123456789012:role/auth-service".into());
    let error = forged.export().check().unwrap_err();
    assert!(
        matches!(&error, VerifyError::Request { problem, .. } if problem.contains("not recorded by the service")),
        "{error}"
    );
    // Nor can any other entry of the log.
    let files = log.export();
    let error = with_request(&files, &log.entries[2]).check().unwrap_err();
    assert!(matches!(error, VerifyError::Request { .. }), "{error}");
}

#[test]
fn an_entry_claimed_expired_that_had_not_fails() {
    // The adversary cannot move a row into the expired list: its time is in its leaf.
    let log = Log::new(14, 0, all(), 30);
    let files = log.export();
    let mut hidden = log.expected_rows()[0].clone();
    hidden.occurred_at = requested_at() - SignedDuration::from_hours(24 * 60);
    let (_, rows) = files.sections();
    let mut lines = files.evidence_lines();
    let (index, _) = row_item(&lines[rows.start]);
    lines.remove(rows.start);
    let (leaves, _) = files.sections();
    lines[leaves.start + index] = leaf_item(&hidden, index);
    fix_commas(&mut lines);
    let mut csv = files.csv_lines();
    csv.remove(1);
    let forged = Files {
        csv: csv.concat(),
        evidence: lines.concat(),
    };
    assert_eq!(forged.check().unwrap_err(), VerifyError::RootMismatch);
}

#[test]
fn rows_added_edited_or_reordered_fail() {
    let log = Log::new(12, 2, all(), 365);
    let files = log.export();
    let lines = files.csv_lines();
    let mut edited = lines.clone();
    edited[2] = edited[2].replacen("entry", "entrée", 1);
    let error = files.with_csv(edited).check().unwrap_err();
    assert!(
        matches!(&error, VerifyError::Row { row: 2, problem } if problem.contains("\"Details\"")),
        "{error}"
    );
    let mut added = lines.clone();
    added.push(lines[1].clone());
    assert!(files.with_csv(added).check().is_err());
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    assert!(files.with_csv(reordered).check().is_err());
    // An entry recorded after the request, added as a row in both files.
    let (leaves, rows) = files.sections();
    let mut evidence = files.evidence_lines();
    let late = &log.entries[13];
    evidence[leaves.start + 13] = ",null\n".into();
    evidence.insert(
        rows.start,
        format!(
            "{{\"index\":13,\"entry\":{}}}\n",
            canonical_entry(late).unwrap()
        ),
    );
    fix_commas(&mut evidence);
    let mut csv = CsvEncoder::new(log.filters.zone(), CsvStart::Resumed);
    csv.row(late);
    let mut with_late = lines.clone();
    with_late.insert(1, String::from_utf8(csv.take()).unwrap());
    let forged = Files {
        csv: with_late.concat(),
        evidence: evidence.concat(),
    };
    let error = forged.check().unwrap_err();
    assert!(
        matches!(&error, VerifyError::Row { row: 1, problem } if problem.contains("not one the export holds")),
        "{error}"
    );
}

#[test]
fn a_pinned_checkpoint_must_be_extended() {
    let log = Log::new(10, 0, all(), 365);
    let files = log.export();
    let earlier = log.checkpoint(6, &platform());
    assert_eq!(
        files
            .check_with(&[platform().public_key()], Some(&earlier))
            .unwrap()
            .pinned,
        Some(6)
    );
    // A pinned checkpoint of a different history (an entry changed since).
    let mut rewritten = log.clone();
    rewritten.entries[3].summary = "rewritten".into();
    let forked = rewritten.checkpoint(6, &platform());
    let error = files
        .check_with(&[platform().public_key()], Some(&forked))
        .unwrap_err();
    assert!(matches!(error, VerifyError::Pinned(_)), "{error}");
}

#[test]
fn version_1_evidence_is_refused_with_its_reason() {
    let v1 = "{\"format\":\"security-logs-evidence\",\"version\":1,\"checkpoint\":\"x\",\"export\":{\"id\":\"x\",\"filters\":{}},\"size\":0,\"leaf_hashes\":[\n],\"leaves\":[\n]}\n";
    let files = Files {
        csv: Log::new(0, 0, all(), 365).export().csv,
        evidence: v1.into(),
    };
    let error = files.check().unwrap_err();
    assert_eq!(error, VerifyError::Version(1));
    assert!(
        error
            .to_string()
            .contains("does not bind the export's filters")
    );
}

#[test]
fn malformed_evidence_is_an_error_not_a_panic() {
    let files = Log::new(5, 0, all(), 365).export();
    let text = files.evidence.clone();
    for cut in [0, 1, 10, text.len() / 2, text.len() - 2] {
        let truncated = Files {
            csv: files.csv.clone(),
            evidence: text[..cut].to_owned(),
        };
        assert!(truncated.check().is_err());
    }
    for junk in ["{}", "[]\n", "null\n", "{\"format\":1}\n"] {
        let junk = Files {
            csv: files.csv.clone(),
            evidence: junk.into(),
        };
        assert!(junk.check().is_err());
    }
}

// ---- the property: genuine always verifies, any change never does ----------------------------

fn arb_filters() -> impl Strategy<Value = ExportFilters> {
    let types = proptest::sample::subsequence(TYPES.to_vec(), 0..=2);
    let actor = proptest::option::of(0..4usize);
    let from = proptest::option::of(0..3000i64);
    let to = proptest::option::of(0..3000i64);
    let unfamiliar = proptest::option::of(any::<bool>());
    (types, actor, from, to, unfamiliar).prop_map(|(types, actor, from, to, unfamiliar)| {
        let at = |m: i64| requested_at() - SignedDuration::from_mins(m);
        let (from, to) = match (from, to) {
            (Some(a), Some(b)) => (Some(at(a.max(b))), Some(at(a.min(b)))),
            (a, b) => (a.map(at), b.map(at)),
        };
        let mut filter =
            LogFilter::new(from, to, types, actor.map(|a| format!("u_{a}")), "to").unwrap();
        filter.unfamiliar = unfamiliar;
        ExportFilters {
            filter,
            tz: ViewerZone::parse("Asia/Manila").unwrap(),
        }
    })
}

/// One change an adversary makes to a genuine pair of files.
#[derive(Debug, Clone)]
enum Forgery {
    RemoveRow { row: usize, as_leaf: bool },
    DuplicateRow { row: usize },
    EditCell { row: usize },
    OtherFilters(ExportFilters),
    SwapLeaves { a: usize, b: usize },
}

fn apply(log: &Log, files: &Files, forgery: &Forgery) -> Option<Files> {
    forge(log, files, forgery).filter(|f| f.csv != files.csv || f.evidence != files.evidence)
}

fn forge(log: &Log, files: &Files, forgery: &Forgery) -> Option<Files> {
    let rows = files.csv_lines().len() - 1;
    match forgery {
        Forgery::RemoveRow { row, as_leaf } if rows > 0 => {
            Some(files.without_row(row % rows + 1, *as_leaf))
        }
        Forgery::DuplicateRow { row } if rows > 0 => {
            let mut csv = files.csv_lines();
            csv.insert(row % rows + 1, csv[row % rows + 1].clone());
            Some(files.with_csv(csv))
        }
        Forgery::EditCell { row } if rows > 0 => {
            let mut csv = files.csv_lines();
            let line = &mut csv[row % rows + 1];
            *line = line.replacen("entry ", "entry  ", 1);
            Some(files.with_csv(csv))
        }
        Forgery::OtherFilters(other) if *other != log.filters => {
            let request = request_entry(log.request as usize, other, log.retention_days);
            // The files of the other filters' export, but the genuine log's checkpoint.
            let mut forged_log = log.clone();
            forged_log.filters = other.clone();
            let forged = forged_log.export();
            Some(with_request(
                &Files {
                    csv: forged.csv,
                    evidence: forged.evidence,
                },
                &request,
            ))
            .map(|f| {
                // The forged export's checkpoint signs the forged request; swap in the
                // genuine one, which signs the real request.
                let mut lines = f.evidence_lines();
                let genuine = files.evidence_lines();
                let cut = |l: &str| l.find(r#","size":"#).unwrap();
                lines[0] = format!(
                    "{}{}",
                    &genuine[0][..cut(&genuine[0])],
                    &lines[0][cut(&lines[0])..]
                );
                f.with_evidence(lines)
            })
        }
        Forgery::SwapLeaves { a, b } => {
            let (leaves, _) = files.sections();
            let n = leaves.len();
            let (a, b) = (leaves.start + a % n, leaves.start + b % n);
            let lines = files.evidence_lines();
            if lines[a].trim_start_matches(',') == lines[b].trim_start_matches(',') {
                return None;
            }
            let mut lines = lines;
            lines.swap(a, b);
            fix_commas(&mut lines);
            Some(files.with_evidence(lines))
        }
        _ => None,
    }
}

fn arb_forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        (any::<usize>(), any::<bool>())
            .prop_map(|(row, as_leaf)| Forgery::RemoveRow { row, as_leaf }),
        any::<usize>().prop_map(|row| Forgery::DuplicateRow { row }),
        any::<usize>().prop_map(|row| Forgery::EditCell { row }),
        arb_filters().prop_map(Forgery::OtherFilters),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Forgery::SwapLeaves { a, b }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn genuine_exports_verify_and_forged_ones_never_do(
        before in 0..40usize,
        after in 0..4usize,
        retention in prop_oneof![Just(2u32), Just(30), Just(365)],
        filters in arb_filters(),
        forgery in arb_forgery(),
    ) {
        let log = Log::new(before, after, filters, retention);
        let files = log.export();
        let verified = files.check();
        prop_assert!(verified.is_ok(), "{:?}", verified);
        prop_assert_eq!(verified.unwrap().rows, log.expected_rows().len() as u64);
        if let Some(forged) = apply(&log, &files, &forgery) {
            prop_assert!(forged.check().is_err(), "{:?} verified", forgery);
        }
    }
}

// ---- fixtures for a second implementation ----------------------------------------------------

/// A genuine export and the issue's forgeries of it, each named, for the independent verifier
/// (`tools/verify-py`, written from docs/design/integrity.md alone) and the CLI to agree on.
fn fixtures() -> Vec<(&'static str, Files)> {
    let log = Log::new(
        16,
        2,
        filters(r#"{"types":["login","password.changed"],"tz":"Asia/Manila"}"#),
        30,
    );
    let genuine = log.export();
    let mut fixtures = vec![("genuine", genuine.clone())];
    fixtures.push(("genuine-all", Log::new(9, 1, all(), 365).export()));
    fixtures.push(("genuine-unfamiliar", {
        Log::new(12, 0, filters(r#"{"unfamiliar":true,"actor":"u_0"}"#), 365).export()
    }));
    fixtures.push(("forged-row-deleted-as-leaf", genuine.without_row(2, true)));
    fixtures.push((
        "forged-row-deleted-null-left",
        genuine.without_row(2, false),
    ));
    let narrowed = filters(r#"{"types":["password.changed"],"tz":"Asia/Manila"}"#);
    let mut forged = with_request(&genuine, &request_entry(16, &narrowed, 30));
    for (row, e) in log.expected_rows().iter().enumerate().rev() {
        if e.event_type == EventType::Login {
            forged = forged.without_row(row + 1, true);
        }
    }
    fixtures.push(("forged-filters-narrowed", forged));
    let mut lines = genuine.evidence_lines();
    let current = serde_json::to_string(&log.checkpoint(19, &platform())).unwrap();
    let older = serde_json::to_string(&log.checkpoint(16, &platform())).unwrap();
    lines[0] = lines[0]
        .replacen(&current, &older, 1)
        .replacen(r#""size":19,"#, r#""size":16,"#, 1);
    let (leaves, _) = genuine.sections();
    lines.drain(leaves.start + 16..leaves.end);
    fixtures.push(("forged-older-checkpoint", genuine.with_evidence(lines)));
    fixtures.push((
        "forged-self-signed",
        log.export_at(19, &LocalSigner::from_seed(&[9; 32])),
    ));
    let mut lines = genuine.evidence_lines();
    let outside: Vec<usize> = leaves
        .clone()
        .filter(|&l| lines[l].trim_start_matches(',').starts_with('"'))
        .take(2)
        .collect();
    lines.swap(outside[0], outside[1]);
    fix_commas(&mut lines);
    fixtures.push(("forged-leaves-reordered", genuine.with_evidence(lines)));
    let mut lines = genuine.evidence_lines();
    lines[0] = lines[0].replacen(r#""size":19,"#, r#""size":18,"#, 1);
    fixtures.push(("forged-size", genuine.with_evidence(lines)));
    let mut csv = genuine.csv_lines();
    csv[1] = csv[1].replacen("entry", "entree", 1);
    fixtures.push(("forged-cell-edited", genuine.with_csv(csv)));
    let mut csv = genuine.csv_lines();
    csv.swap(1, 2);
    fixtures.push(("forged-rows-reordered", genuine.with_csv(csv)));
    fixtures
}

/// `tools/seclog-verify/testdata/` holds exactly [`fixtures`] (written there when
/// `REGENERATE_FIXTURES=1`), with each one's verdict in `verdicts.txt`.
#[test]
fn the_committed_fixtures_are_the_generated_ones() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/seclog-verify/testdata");
    let regenerate = std::env::var_os("REGENERATE_FIXTURES").is_some();
    let mut verdicts = String::new();
    for (name, files) in fixtures() {
        let verdict = match files.check() {
            Ok(_) => "ok",
            Err(_) => "fail",
        };
        assert_eq!(verdict == "ok", name.starts_with("genuine"), "{name}");
        verdicts.push_str(&format!("{name} {verdict}\n"));
        let files = [("export.csv", files.csv), ("evidence.json", files.evidence)];
        for (file, text) in files {
            let path = dir.join(name).join(file);
            if regenerate {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else {
                let committed = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e} (REGENERATE_FIXTURES=1)", path.display()));
                assert!(
                    committed == text,
                    "{} differs from the generated file",
                    path.display()
                );
            }
        }
    }
    let key = format!(
        "{}\n",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            platform().public_key()
        )
    );
    for (file, text) in [("verdicts.txt", verdicts), ("platform-key.txt", key)] {
        let path = dir.join(file);
        if regenerate {
            std::fs::write(&path, &text).unwrap();
        } else {
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{file}");
        }
    }
}
