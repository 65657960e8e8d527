//! The export CSV: RFC 4180, UTF-8, CRLF line ends, header row first, columns as API.md lists
//! them, every cell guarded against formula injection.
//!
//! The encoder writes into memory only; the caller drains the buffer ([`CsvEncoder::take`]) when
//! it holds enough for an upload part, so memory stays flat however many rows an export has.
//!
//! Part of the pure core, beside `domain/` (the only module it uses): the export worker writes
//! its files with it and `integrity::evidence` re-renders rows with it to verify them, so the
//! exporter and the offline verifier cannot disagree on a row. Paths to the `csv` crate are
//! written `::csv::`, as this module bears its name.

use std::io::Write as _;
use std::net::IpAddr;

use crate::domain::signin::reasons_text;
use crate::domain::time::CsvTimes;
use crate::domain::{Actor, Location, LogEntry, ViewerZone};

/// The header row, in contract order (columns are only ever added at the end).
pub const COLUMNS: [&str; 11] = [
    "Timestamp",
    "Timestamp (UTC)",
    "Event Type",
    "User",
    "Device",
    "IP Address",
    "Location",
    "Details",
    "Event ID",
    "Received (UTC)",
    "Unfamiliar",
];

/// Guards one cell against formula injection: a cell that begins with `=`, `+`, `-`, `@` or any
/// control character (tab, carriage return, newline, NUL, ...) gets a leading `'`, which
/// spreadsheets show as text. Applied to every cell, including the ones the service formats
/// itself, so no column can be forgotten.
///
/// Per API.md this also prefixes cells such as `-5`; the `'` is visible in the raw file, which is
/// the price OWASP accepts for never evaluating attacker-controlled text (user agents, names,
/// emails, summaries built from event details).
pub fn neutralize_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_guard(cell.as_bytes()) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Whether [`neutralize_formula`] prefixes `cell`, read from its first bytes: a formula trigger,
/// or a control character (C0 and DEL are single bytes; C1, U+0080-U+009F, is `C2 80`-`C2 9F`).
fn needs_guard(cell: &[u8]) -> bool {
    matches!(
        cell,
        [b'=' | b'+' | b'-' | b'@' | 0x00..=0x1f | 0x7f, ..] | [0xc2, 0x80..=0x9f, ..]
    )
}

/// Whether an encoder starts a file or continues one whose header was already written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvStart {
    /// A new export: the header row is the first thing buffered.
    Fresh,
    /// An export resumed in a later invocation: its header is already in an uploaded part,
    /// so only rows are written.
    Resumed,
}

/// Appends CSV rows for log entries to an in-memory buffer that the caller drains in chunks.
///
/// The buffer always ends on a row boundary (each call writes whole rows), so every chunk
/// returned by [`take`](Self::take) is a sequence of complete lines and an upload can stop and
/// resume between any two chunks.
pub struct CsvEncoder {
    writer: ::csv::Writer<Vec<u8>>,
    utc: CsvTimes,
    zone: CsvTimes,
    /// Reused for the cells built from parts (times, user, IP, location).
    cell: Vec<u8>,
    /// Reused for a cell with its formula guard.
    guarded: Vec<u8>,
    rows: u64,
}

impl CsvEncoder {
    /// An encoder that shows `Timestamp` in `zone`. With [`CsvStart::Fresh`] the header row is
    /// buffered at once; with [`CsvStart::Resumed`] it is never written.
    pub fn new(zone: ViewerZone, start: CsvStart) -> Self {
        let mut encoder = Self {
            writer: memory_writer(),
            utc: ViewerZone::utc().csv_times(),
            zone: zone.csv_times(),
            cell: Vec::new(),
            guarded: Vec::new(),
            rows: 0,
        };
        if start == CsvStart::Fresh {
            for column in COLUMNS {
                encoder.field(column);
            }
            encoder.end_row();
        }
        encoder
    }

    /// Appends one entry as a row (not counting the header).
    pub fn row(&mut self, entry: &LogEntry) {
        // Each cell goes straight into the csv writer as bytes; the cells built from parts
        // (times, user, IP, location) reuse one buffer, so a row allocates nothing.
        let Self {
            writer,
            utc,
            zone,
            cell,
            guarded,
            ..
        } = self;
        cell.clear();
        zone.push(entry.occurred_at, cell);
        write_field(writer, guarded, cell);
        cell.clear();
        utc.push(entry.occurred_at, cell);
        write_field(writer, guarded, cell);
        write_field(writer, guarded, entry.event_type.label().as_bytes());
        write_field(writer, guarded, user_text(&entry.actor, cell));
        let device = entry.device.as_deref().unwrap_or_default();
        write_field(writer, guarded, device.as_bytes());
        cell.clear();
        if let Some(ip) = entry.ip {
            push_ip(ip, cell);
        }
        write_field(writer, guarded, cell);
        cell.clear();
        for (n, part) in entry.location.iter().flat_map(Location::parts).enumerate() {
            if n > 0 {
                cell.extend_from_slice(b", ");
            }
            cell.extend_from_slice(part.as_bytes());
        }
        write_field(writer, guarded, cell);
        write_field(writer, guarded, entry.summary.as_bytes());
        write_field(writer, guarded, entry.id.as_str().as_bytes());
        cell.clear();
        utc.push(entry.received_at, cell);
        write_field(writer, guarded, cell);
        let unfamiliar = entry
            .unfamiliar
            .as_ref()
            .map(reasons_text)
            .unwrap_or_default();
        write_field(writer, guarded, unfamiliar.as_bytes());
        self.end_row();
        self.rows += 1;
    }

    /// Bytes buffered and not yet taken.
    pub fn buffered(&self) -> usize {
        self.writer.get_ref().len()
    }

    /// Rows written by this encoder (the header is not a row).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Drains the buffer: everything written since the last call, whole rows only.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.writer, memory_writer())
            .into_inner()
            .expect("flushing into memory cannot fail")
    }

    fn field(&mut self, cell: &str) {
        write_field(&mut self.writer, &mut self.guarded, cell.as_bytes());
    }

    fn end_row(&mut self) {
        // An empty record after the fields ends the row. Writing to a Vec cannot fail, and
        // every row has the same number of fields.
        self.writer
            .write_record(None::<&[u8]>)
            .expect("a CSV record always fits in memory");
        // Move the csv writer's internal buffer into the Vec, so `buffered` and `take` see
        // every row written so far.
        self.writer
            .flush()
            .expect("flushing into memory cannot fail");
    }
}

/// Writes one cell, guarded against formula injection ([`neutralize_formula`]); `guarded` is
/// the reused buffer for the rare cell that needs the prefix.
fn write_field(writer: &mut ::csv::Writer<Vec<u8>>, guarded: &mut Vec<u8>, cell: &[u8]) {
    let cell = if needs_guard(cell) {
        guarded.clear();
        guarded.push(b'\'');
        guarded.extend_from_slice(cell);
        guarded.as_slice()
    } else {
        cell
    };
    writer
        .write_field(cell)
        .expect("a CSV field always fits in memory");
}

/// Appends the `IP Address` cell: IPv4 digits directly (std's `Display` goes through the
/// formatting machinery, a third of a row's cost), IPv6 as std writes it.
fn push_ip(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => {
            for (n, octet) in v4.octets().into_iter().enumerate() {
                if n > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        IpAddr::V6(v6) => write!(out, "{v6}").expect("writing to a Vec cannot fail"),
    }
}

/// A CSV writer into memory: RFC 4180 quoting (only where needed) and CRLF line ends.
/// Writes records read back from an export file exactly as [`CsvEncoder`] writes rows, so that a
/// verifier can compare a row with the service's rendering of its entry byte for byte.
pub struct RowWriter(::csv::Writer<Vec<u8>>);

impl Default for RowWriter {
    fn default() -> Self {
        Self(memory_writer())
    }
}

impl RowWriter {
    /// The bytes of `record` as one export row (cells as they are: already guarded).
    pub fn encode(&mut self, record: &::csv::ByteRecord) -> Vec<u8> {
        self.0
            .write_byte_record(record)
            .expect("a CSV record always fits in memory");
        std::mem::replace(&mut self.0, memory_writer())
            .into_inner()
            .expect("flushing into memory cannot fail")
    }
}

fn memory_writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

/// The `User` cell: `Name <email>` when both are known, else whichever of name or email is
/// known, else the actor id (the only field the ingest contract requires).
pub fn user_cell(actor: &Actor) -> String {
    String::from_utf8_lossy(user_text(actor, &mut Vec::new())).into_owned()
}

/// The `User` cell's text, borrowed from `actor` or (name and email) built in `buffer`.
fn user_text<'a>(actor: &'a Actor, buffer: &'a mut Vec<u8>) -> &'a [u8] {
    match (actor.name.as_deref(), actor.email.as_deref()) {
        (Some(name), Some(email)) => {
            buffer.clear();
            for part in [name, " <", email, ">"] {
                buffer.extend_from_slice(part.as_bytes());
            }
            buffer
        }
        (Some(name), None) => name.as_bytes(),
        (None, Some(email)) => email.as_bytes(),
        (None, None) => actor.id.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EntryId, EventType};
    use serde_json::json;

    fn entry() -> LogEntry {
        LogEntry {
            id: EntryId::from_stored("01HW3Z9V7Q4M8K2N5P6R7S8T9V".into()),
            event_type: EventType::LoginFailed,
            occurred_at: "2024-04-22T06:32:15Z".parse().unwrap(),
            actor: Actor {
                id: "u_1".into(),
                name: Some("Alice Merchant".into()),
                email: Some("alice@example.com".into()),
            },
            ip: Some("203.0.113.45".parse().unwrap()),
            user_agent: Some("Mozilla/5.0".into()),
            device: Some("Safari on macOS".into()),
            location: Some(Location {
                country: Some("PH".into()),
                region: Some("Metro Manila".into()),
                city: Some("Makati".into()),
            }),
            details: json!({"reason": "bad_password"}).into(),
            summary: "Failed login: bad password".into(),
            event_id: None,
            received_at: "2024-04-22T06:32:16Z".parse().unwrap(),
            producer: None,
            unfamiliar: None,
            log_index: None,
        }
    }

    fn manila() -> ViewerZone {
        ViewerZone::parse("Asia/Manila").unwrap()
    }

    /// Parses CSV bytes back into records with the csv crate, header included.
    fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn encode(entries: &[LogEntry]) -> Vec<Vec<String>> {
        let mut encoder = CsvEncoder::new(manila(), CsvStart::Fresh);
        for e in entries {
            encoder.row(e);
        }
        parse(&encoder.take())
    }

    #[test]
    fn each_dangerous_prefix_gets_a_quote() {
        for cell in [
            "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "-", "\nx", "\0=1+1", "\u{1b}x",
            "\u{7f}x", "\u{85}x",
        ] {
            assert_eq!(neutralize_formula(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn the_byte_guard_is_the_char_rule_for_every_first_character() {
        let rule = |cell: &str| {
            cell.starts_with(['=', '+', '-', '@']) || cell.starts_with(char::is_control)
        };
        for first in (0..=char::MAX as u32).filter_map(char::from_u32) {
            for cell in [first.to_string(), format!("{first}=x")] {
                assert_eq!(needs_guard(cell.as_bytes()), rule(&cell), "{cell:?}");
            }
        }
        assert!(!needs_guard(b""));
    }

    #[test]
    fn ip_cells_are_std_text() {
        let mut cell = Vec::new();
        let mut check = |ip: IpAddr| {
            cell.clear();
            push_ip(ip, &mut cell);
            assert_eq!(cell, ip.to_string().as_bytes());
        };
        for octet in 0..=255u8 {
            for at in 0..4 {
                let mut octets = [1, 22, 203, 9];
                octets[at] = octet;
                check(IpAddr::from(octets));
            }
        }
        for v6 in ["2001:db8::1", "::", "::ffff:203.0.113.45", "fe80::1:2:3:4"] {
            check(v6.parse().unwrap());
        }
    }

    #[test]
    fn safe_cells_are_unchanged() {
        for cell in [
            "",
            "Alice",
            "2024-04-22 14:32:15 +08:00",
            "a=b",
            " =1",
            "'already",
            "1-2",
            "x\n=1",
            "\u{200D}x",
        ] {
            assert_eq!(neutralize_formula(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn a_flagged_sign_in_names_its_reasons_in_the_unfamiliar_column() {
        use crate::domain::{Unfamiliar, UnfamiliarReason};
        let mut e = entry();
        e.unfamiliar = Some(Unfamiliar {
            reasons: vec![UnfamiliarReason::NewDevice, UnfamiliarReason::NewNetwork],
        });
        assert_eq!(encode(&[e])[1][10], "New device, new network");
    }

    #[test]
    fn header_comes_first_in_contract_order() {
        let rows = encode(&[entry()]);
        assert_eq!(
            rows[0],
            [
                "Timestamp",
                "Timestamp (UTC)",
                "Event Type",
                "User",
                "Device",
                "IP Address",
                "Location",
                "Details",
                "Event ID",
                "Received (UTC)",
                "Unfamiliar"
            ]
        );
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn row_columns_in_order_with_local_and_utc_timestamps() {
        let rows = encode(&[entry()]);
        assert_eq!(
            rows[1],
            [
                "2024-04-22 14:32:15 +08:00",
                "2024-04-22 06:32:15 +00:00",
                "Failed Login",
                "Alice Merchant <alice@example.com>",
                "Safari on macOS",
                "203.0.113.45",
                "Makati, Metro Manila, PH",
                "Failed login: bad password",
                "01HW3Z9V7Q4M8K2N5P6R7S8T9V",
                "2024-04-22 06:32:16 +00:00",
                "",
            ]
        );
    }

    #[test]
    fn negative_offsets_keep_the_timestamp_unquoted() {
        let mut encoder = CsvEncoder::new(
            ViewerZone::parse("America/New_York").unwrap(),
            CsvStart::Resumed,
        );
        encoder.row(&entry());
        let rows = parse(&encoder.take());
        assert_eq!(rows[0][0], "2024-04-22 02:32:15 -04:00");
    }

    #[test]
    fn file_uses_crlf_and_utf8() {
        let mut e = entry();
        e.actor.name = Some("José Ñúñez".into());
        let mut encoder = CsvEncoder::new(manila(), CsvStart::Fresh);
        encoder.row(&e);
        let text = String::from_utf8(encoder.take()).unwrap();
        assert!(text.starts_with("Timestamp,Timestamp (UTC),Event Type,"));
        assert_eq!(text.matches("\r\n").count(), 2, "{text:?}");
        assert!(text.ends_with("\r\n"));
        assert!(text.contains("José Ñúñez <alice@example.com>"));
    }

    #[test]
    fn commas_quotes_and_newlines_are_quoted_and_round_trip() {
        let mut e = entry();
        e.summary = "Email changed from \"a@x.com\", to b@x.com\r\nand more".into();
        e.device = Some("Chrome, on Linux".into());
        let mut encoder = CsvEncoder::new(manila(), CsvStart::Resumed);
        encoder.row(&e);
        let bytes = encoder.take();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains("\"Email changed from \"\"a@x.com\"\", to b@x.com\r\nand more\""),
            "{text:?}"
        );
        assert!(text.contains("\"Chrome, on Linux\""));
        let rows = parse(&bytes);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][7], e.summary);
        assert_eq!(rows[0][4], "Chrome, on Linux");
    }

    #[test]
    fn attacker_controlled_cells_are_neutralized() {
        let mut e = entry();
        e.device = Some("=cmd|' /C calc'!A0".into());
        e.actor.name = Some("@SUM(1+1)*cmd|' /C calc'!A0".into());
        e.actor.email = None;
        e.summary = "+HYPERLINK(\"http://evil.example\",\"x\")".into();
        e.location = Some(Location {
            country: None,
            region: None,
            city: Some("-2+3".into()),
        });
        let rows = encode(&[e]);
        assert_eq!(rows[1][4], "'=cmd|' /C calc'!A0");
        assert_eq!(rows[1][3], "'@SUM(1+1)*cmd|' /C calc'!A0");
        assert_eq!(rows[1][7], "'+HYPERLINK(\"http://evil.example\",\"x\")");
        assert_eq!(rows[1][6], "'-2+3");
        // Cells that the service formats keep their text.
        assert_eq!(rows[1][0], "2024-04-22 14:32:15 +08:00");
    }

    #[test]
    fn tab_and_carriage_return_prefixes_are_neutralized_inside_the_file() {
        let mut e = entry();
        e.device = Some("\t=1+1".into());
        e.summary = "\r=1+1".into();
        let rows = encode(&[e]);
        assert_eq!(rows[1][4], "'\t=1+1");
        assert_eq!(rows[1][7], "'\r=1+1");
    }

    #[test]
    fn control_characters_from_details_text_are_neutralized() {
        let mut e = entry();
        e.summary = "\0=HYPERLINK(\"http://evil.example\")".into();
        e.actor.name = Some("\n@SUM(1)".into());
        e.actor.email = None;
        let rows = encode(&[e]);
        assert_eq!(rows[1][7], "'\0=HYPERLINK(\"http://evil.example\")");
        assert_eq!(rows[1][3], "'\n@SUM(1)");
    }

    #[test]
    fn user_cell_falls_back_to_what_is_known() {
        let mut actor = entry().actor;
        assert_eq!(user_cell(&actor), "Alice Merchant <alice@example.com>");
        actor.email = None;
        assert_eq!(user_cell(&actor), "Alice Merchant");
        actor.name = None;
        actor.email = Some("alice@example.com".into());
        assert_eq!(user_cell(&actor), "alice@example.com");
        actor.email = None;
        assert_eq!(user_cell(&actor), "u_1");
    }

    #[test]
    fn missing_optional_fields_are_empty_cells() {
        let mut e = entry();
        e.device = None;
        e.ip = None;
        e.location = None;
        let rows = encode(&[e]);
        assert_eq!(rows[1][4], "");
        assert_eq!(rows[1][5], "");
        assert_eq!(rows[1][6], "");
        assert_eq!(rows[1][10], "", "not flagged: an empty Unfamiliar cell");
        assert_eq!(rows[1].len(), 11);
    }

    #[test]
    fn ipv6_addresses_are_written_as_text() {
        let mut e = entry();
        e.ip = Some("2001:db8::1".parse().unwrap());
        assert_eq!(encode(&[e])[1][5], "2001:db8::1");
    }

    #[test]
    fn take_drains_whole_rows_and_a_resumed_encoder_writes_no_header() {
        let mut first = CsvEncoder::new(manila(), CsvStart::Fresh);
        first.row(&entry());
        let header_and_row = first.buffered();
        let part1 = first.take();
        assert_eq!(part1.len(), header_and_row);
        assert_eq!(first.buffered(), 0);
        assert!(first.take().is_empty());
        first.row(&entry());
        let part2 = first.take();
        assert!(part2.ends_with(b"\r\n"));

        // A later invocation continues the same file.
        let mut resumed = CsvEncoder::new(manila(), CsvStart::Resumed);
        assert_eq!(resumed.buffered(), 0);
        resumed.row(&entry());
        assert_eq!(resumed.rows(), 1);
        let part3 = resumed.take();
        assert_eq!(
            part3, part2,
            "a resumed encoder writes rows exactly like the first"
        );

        let whole = [part1, part2, part3].concat();
        let rows = parse(&whole);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0][0], "Timestamp");
        assert!(rows[1..].iter().all(|r| r[0] != "Timestamp"));
    }

    #[test]
    fn buffered_grows_with_each_row() {
        let mut encoder = CsvEncoder::new(manila(), CsvStart::Resumed);
        let mut last = 0;
        for n in 1..=100 {
            encoder.row(&entry());
            assert!(encoder.buffered() > last);
            last = encoder.buffered();
            assert_eq!(encoder.rows(), n);
        }
        assert_eq!(parse(&encoder.take()).len(), 100);
    }
}
