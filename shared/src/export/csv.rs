//! The export CSV: RFC 4180, UTF-8, CRLF line ends, header row first, columns as API.md lists
//! them, every cell guarded against formula injection.
//!
//! The encoder writes into memory only; the caller drains the buffer ([`CsvEncoder::take`]) when
//! it holds enough for an upload part, so memory stays flat however many rows an export has.

use crate::domain::{Actor, Location, LogEntry, ViewerZone};

/// The header row, in contract order (columns are only ever added at the end).
pub const COLUMNS: [&str; 10] = [
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
];

/// Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
const FORMULA_TRIGGERS: [char; 4] = ['=', '+', '-', '@'];

/// Guards one cell against formula injection: a cell that begins with `=`, `+`, `-`, `@` or any
/// control character (tab, carriage return, newline, NUL, ...) gets a leading `'`, which
/// spreadsheets show as text. Applied to every cell, including the ones the service formats
/// itself, so no column can be forgotten.
///
/// Per API.md this also prefixes cells such as `-5`; the `'` is visible in the raw file, which is
/// the price OWASP accepts for never evaluating attacker-controlled text (user agents, names,
/// emails, summaries built from event details).
pub fn neutralize_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_TRIGGERS) || cell.starts_with(char::is_control) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
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
    utc: ViewerZone,
    zone: ViewerZone,
    rows: u64,
}

impl CsvEncoder {
    /// An encoder that shows `Timestamp` in `zone`. With [`CsvStart::Fresh`] the header row is
    /// buffered at once; with [`CsvStart::Resumed`] it is never written.
    pub fn new(zone: ViewerZone, start: CsvStart) -> Self {
        let mut encoder = Self {
            writer: memory_writer(),
            utc: ViewerZone::utc(),
            zone,
            rows: 0,
        };
        if start == CsvStart::Fresh {
            encoder.write_cells(COLUMNS);
        }
        encoder
    }

    /// Appends one entry as a row (not counting the header).
    pub fn row(&mut self, entry: &LogEntry) {
        let location = entry
            .location
            .as_ref()
            .map(Location::display)
            .unwrap_or_default();
        let ip = entry.ip.map(|ip| ip.to_string()).unwrap_or_default();
        let cells = [
            self.zone.csv(entry.occurred_at),
            self.utc.csv(entry.occurred_at),
            entry.event_type.label().to_owned(),
            user_cell(&entry.actor),
            entry.device.clone().unwrap_or_default(),
            ip,
            location,
            entry.summary.clone(),
            entry.id.as_str().to_owned(),
            self.utc.csv(entry.received_at),
        ];
        self.write_cells(cells.iter().map(String::as_str));
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

    fn write_cells<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        let guarded = cells
            .into_iter()
            .map(|cell| neutralize_formula(cell).into_owned());
        // Writing to a Vec cannot fail, and every record has the same number of fields.
        self.writer
            .write_record(guarded)
            .expect("a CSV record always fits in memory");
        // Move the csv writer's internal buffer into the Vec, so `buffered` and `take` see
        // every row written so far.
        self.writer
            .flush()
            .expect("flushing into memory cannot fail");
    }
}

/// A CSV writer into memory: RFC 4180 quoting (only where needed) and CRLF line ends.
fn memory_writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

/// The `User` cell: `Name <email>` when both are known, else whichever of name or email is
/// known, else the actor id (the only field the ingest contract requires).
pub fn user_cell(actor: &Actor) -> String {
    match (actor.name.as_deref(), actor.email.as_deref()) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name.to_owned(),
        (None, Some(email)) => email.to_owned(),
        (None, None) => actor.id.clone(),
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
                "Received (UTC)"
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
        assert_eq!(rows[1].len(), 10);
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
