//! Instants and the viewer's time zone.

use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// When an event happened: an RFC 3339 timestamp with an explicit offset, not in the future by
/// more than [`OccurredAt::MAX_CLOCK_SKEW_MINUTES`], not before 1970.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OccurredAt(Timestamp);

impl OccurredAt {
    pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;

    pub fn parse(value: &str, now: Timestamp) -> Result<Self, String> {
        let instant = parse_rfc3339(value)?;
        if instant < Timestamp::UNIX_EPOCH {
            return Err("must not be before 1970-01-01T00:00:00Z".into());
        }
        let latest = now
            .checked_add(Self::MAX_CLOCK_SKEW_MINUTES.minutes())
            .map_err(|_| "cannot be checked against the clock".to_owned())?;
        if instant > latest {
            return Err(format!(
                "must not be more than {} minutes in the future",
                Self::MAX_CLOCK_SKEW_MINUTES
            ));
        }
        Ok(Self(instant))
    }

    pub fn from_timestamp(instant: Timestamp) -> Self {
        Self(instant)
    }

    pub fn timestamp(self) -> Timestamp {
        self.0
    }

    /// Fixed-width UTC text (nanosecond precision), so that text order is time order: the basis
    /// of every storage sort key.
    pub fn sort_key_prefix(self) -> String {
        sortable(self.0)
    }
}

/// Fixed-width UTC text of an instant; lexical order equals chronological order from 1970 on.
pub fn sortable(instant: Timestamp) -> String {
    format!(
        "{}.{:09}Z",
        instant.strftime("%Y-%m-%dT%H:%M:%S"),
        instant.subsec_nanosecond()
    )
}

/// Parses RFC 3339 text that carries an offset (`Z` or `±hh:mm`); a bare local time is rejected.
pub fn parse_rfc3339(value: &str) -> Result<Timestamp, String> {
    let has_date_time = value.len() >= 20
        && value
            .as_bytes()
            .get(10)
            .is_some_and(|b| matches!(b, b'T' | b't' | b' '));
    let has_annotation = value.contains('[');
    if !has_date_time || has_annotation {
        return Err(
            "must be an RFC 3339 timestamp with an offset, e.g. 2024-04-22T06:32:15Z".into(),
        );
    }
    value.parse::<Timestamp>().map_err(|_| {
        "must be an RFC 3339 timestamp with an offset, e.g. 2024-04-22T06:32:15Z".into()
    })
}

/// The viewer's IANA time zone, in which `occurred_at_local` and CSV timestamps are shown.
#[derive(Debug, Clone)]
pub struct ViewerZone {
    name: String,
    zone: TimeZone,
}

impl ViewerZone {
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            zone: TimeZone::UTC,
        }
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        let unknown =
            || format!("unknown time zone {value:?}; use an IANA name such as UTC or Asia/Manila");
        // Only names from the time zone database: no POSIX TZ strings, no fixed offsets.
        if value.is_empty() || value.len() > 64 || value.starts_with(['+', '-', ':']) {
            return Err(unknown());
        }
        let zone = TimeZone::get(value).map_err(|_| unknown())?;
        Ok(Self {
            name: value.to_owned(),
            zone,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl PartialEq for ViewerZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Stored and shown by name; a stored name that no longer parses is an error, never UTC.
impl serde::Serialize for ViewerZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for ViewerZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl ViewerZone {
    /// RFC 3339 in this zone: `2024-04-22T14:32:15+08:00`.
    pub fn rfc3339(&self, instant: Timestamp) -> String {
        let offset = self.zone.to_offset(instant);
        instant.display_with_offset(offset).to_string()
    }

    /// The CSV form: `2024-04-22 14:32:15 +08:00`.
    pub fn csv(&self, instant: Timestamp) -> String {
        let mut text = String::new();
        jiff_csv(&self.zone, instant, &mut text);
        text
    }

    /// A formatter of [`csv`](Self::csv) text for many instants (an export's rows).
    pub fn csv_times(&self) -> CsvTimes {
        CsvTimes {
            zone: self.zone.clone(),
            span: None,
        }
    }

    /// The calendar date in this zone (used in export file names).
    pub fn date(&self, instant: Timestamp) -> String {
        instant
            .to_zoned_datetime(self.zone.clone())
            .strftime("%Y-%m-%d")
            .to_string()
    }
}

/// The CSV form as jiff's `strftime` writes it: the reference [`CsvTimes`] must equal.
fn jiff_csv(zone: &TimeZone, instant: Timestamp, out: &mut String) {
    use std::fmt::Write;
    let zoned = instant.to_zoned_datetime(zone.clone());
    write!(out, "{}", zoned.strftime("%Y-%m-%d %H:%M:%S %:z"))
        .expect("every part of the format exists for a zoned datetime");
}

/// Appends [`ViewerZone::csv`] text to a byte buffer. An export formats three timestamps a row,
/// and `csv` builds a zoned datetime (a zone lookup: a search of the transitions, or the POSIX
/// DST rule past the last one), runs jiff's format interpreter and allocates a `String` for
/// each; this looks the offset up once per transition and writes the digits itself.
#[derive(Debug, Clone)]
pub struct CsvTimes {
    zone: TimeZone,
    span: Option<OffsetSpan>,
}

/// An offset and the instants it holds for, `[from, until)`: an export's rows come in time
/// order, so one lookup lasts until the zone's next transition.
#[derive(Debug, Clone, Copy)]
struct OffsetSpan {
    from: Timestamp,
    until: Option<Timestamp>,
    offset: Offset,
}

impl CsvTimes {
    /// Appends `instant` in the zone, as `2024-04-22 14:32:15 +08:00`: byte for byte jiff's
    /// `%Y-%m-%d %H:%M:%S %:z`.
    pub fn push(&mut self, instant: Timestamp, out: &mut Vec<u8>) {
        let offset = self.offset(instant);
        let local = offset.to_datetime(instant);
        let year = u16::try_from(local.year()).ok().filter(|y| *y <= 9999);
        let Some(year) = year.filter(|_| offset.seconds() % 60 == 0) else {
            // Years outside 0-9999 and offsets with seconds (Africa/Monrovia until 1972).
            let mut text = String::new();
            jiff_csv(&self.zone, instant, &mut text);
            out.extend_from_slice(text.as_bytes());
            return;
        };
        let minutes = offset.seconds().unsigned_abs() / 60;
        let sign = if offset.is_negative() { b'-' } else { b'+' };
        let [c1, c2] = digits(year / 100);
        let [y1, y2] = digits(year % 100);
        let [mo1, mo2] = digits(local.month().unsigned_abs().into());
        let [d1, d2] = digits(local.day().unsigned_abs().into());
        let [h1, h2] = digits(local.hour().unsigned_abs().into());
        let [mi1, mi2] = digits(local.minute().unsigned_abs().into());
        let [s1, s2] = digits(local.second().unsigned_abs().into());
        let [oh1, oh2] = digits((minutes / 60) as u16);
        let [om1, om2] = digits((minutes % 60) as u16);
        let text = [
            c1, c2, y1, y2, b'-', mo1, mo2, b'-', d1, d2, b' ', h1, h2, b':', mi1, mi2, b':', s1,
            s2, b' ', sign, oh1, oh2, b':', om1, om2,
        ];
        out.extend_from_slice(&text);
    }

    fn offset(&mut self, instant: Timestamp) -> Offset {
        if let Some(span) = self.span
            && span.from <= instant
            && span.until.is_none_or(|until| instant < until)
        {
            return span.offset;
        }
        let offset = self.zone.to_offset(instant);
        // The offset holds back to the previous transition unless one happens at `instant`.
        let previous = self.zone.preceding(instant).next();
        let offset_before = previous.as_ref().map_or_else(
            || self.zone.to_offset(Timestamp::MIN),
            |transition| transition.offset(),
        );
        let from = match previous {
            _ if offset_before != offset => instant,
            Some(transition) => transition.timestamp(),
            None => Timestamp::MIN,
        };
        let until = self.zone.following(instant).next().map(|t| t.timestamp());
        self.span = Some(OffsetSpan {
            from,
            until,
            offset,
        });
        offset
    }
}

/// The two decimal digits of `value` (below 100), from a table: a digit-by-digit loop of
/// divisions was a quarter of a timestamp's cost.
fn digits(value: u16) -> [u8; 2] {
    const PAIRS: [[u8; 2]; 100] = {
        let mut pairs = [[0; 2]; 100];
        let mut n = 0;
        while n < 100 {
            pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
            n += 1;
        }
        pairs
    };
    PAIRS[usize::from(value) % 100]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-04-22T06:32:15Z".parse().unwrap()
    }

    #[test]
    fn occurred_at_needs_an_offset() {
        assert!(OccurredAt::parse("2024-04-22T06:32:15Z", now()).is_ok());
        assert!(OccurredAt::parse("2024-04-22T14:32:15+08:00", now()).is_ok());
        assert!(OccurredAt::parse("2024-04-22T06:32:15.123456Z", now()).is_ok());
        for bad in [
            "2024-04-22T06:32:15",
            "2024-04-22",
            "yesterday",
            "",
            "2024-04-22T06:32:15Z[Asia/Manila]",
            "2024-13-22T06:32:15Z",
        ] {
            assert!(OccurredAt::parse(bad, now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn occurred_at_allows_five_minutes_of_clock_skew_and_no_more() {
        assert!(OccurredAt::parse("2024-04-22T06:37:15Z", now()).is_ok());
        let err = OccurredAt::parse("2024-04-22T06:37:16Z", now()).unwrap_err();
        assert!(err.contains("5 minutes in the future"), "{err}");
        assert!(OccurredAt::parse("1969-12-31T23:59:59Z", now()).is_err());
    }

    #[test]
    fn sort_keys_order_like_time() {
        let a = OccurredAt::parse("2024-04-22T06:32:15.5Z", now()).unwrap();
        let b = OccurredAt::parse("2024-04-22T14:32:16+08:00", now()).unwrap();
        assert_eq!(a.sort_key_prefix(), "2024-04-22T06:32:15.500000000Z");
        assert!(a.sort_key_prefix() < b.sort_key_prefix());
    }

    #[test]
    fn viewer_zone_formats_local_time_with_offset() {
        let zone = ViewerZone::parse("Asia/Manila").unwrap();
        assert_eq!(zone.rfc3339(now()), "2024-04-22T14:32:15+08:00");
        assert_eq!(zone.csv(now()), "2024-04-22 14:32:15 +08:00");
        let ny = ViewerZone::parse("America/New_York").unwrap();
        assert_eq!(ny.rfc3339(now()), "2024-04-22T02:32:15-04:00");
    }

    /// Every instant `step` apart in `[from, to)`, in order, then the same instants backwards
    /// (a fresh formatter each way: export rows come in either order).
    fn assert_csv_times_match_jiff(zone: &str, from: &str, to: &str, step: i64) {
        let viewer = ViewerZone::parse(zone).unwrap();
        let (from, to): (Timestamp, Timestamp) = (from.parse().unwrap(), to.parse().unwrap());
        let instants: Vec<Timestamp> = std::iter::successors(Some(from), |t| {
            Some(*t + jiff::SignedDuration::from_secs(step))
        })
        .take_while(|t| *t < to)
        .collect();
        for order in [instants.clone(), instants.into_iter().rev().collect()] {
            let mut times = viewer.csv_times();
            let mut text = Vec::new();
            for instant in order {
                let mut expected = String::new();
                jiff_csv(&viewer.zone, instant, &mut expected);
                text.clear();
                times.push(instant, &mut text);
                assert_eq!(text, expected.as_bytes(), "{zone} {instant}");
            }
        }
    }

    #[test]
    fn csv_times_equal_jiff_across_dst_transitions() {
        // Spring forward and fall back, a second apart around each transition.
        for (zone, around) in [
            ("America/New_York", "2024-03-10T07:00:00Z"),
            ("America/New_York", "2024-11-03T06:00:00Z"),
            ("Europe/London", "2024-03-31T01:00:00Z"),
            ("Europe/London", "2024-10-27T01:00:00Z"),
            ("Australia/Lord_Howe", "2024-04-06T15:00:00Z"),
            ("Australia/Lord_Howe", "2024-10-05T15:30:00Z"),
            ("America/Santiago", "2024-04-07T03:00:00Z"),
        ] {
            let t: Timestamp = around.parse().unwrap();
            let span = jiff::SignedDuration::from_secs(90);
            assert_csv_times_match_jiff(zone, &(t - span).to_string(), &(t + span).to_string(), 1);
        }
    }

    #[test]
    fn csv_times_equal_jiff_over_years_in_many_zones() {
        for zone in [
            "UTC",
            "Asia/Manila",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "America/St_Johns",
            "America/Sao_Paulo",
            "Pacific/Chatham",
            "Pacific/Kiritimati",
            "Africa/Casablanca",
            "Europe/Dublin",
            // Offsets with seconds until 1972: jiff's own text.
            "Africa/Monrovia",
        ] {
            // A day and an hour (and 13 s) apart, 1970-2040: every hour of the day, both sides
            // of every transition.
            assert_csv_times_match_jiff(
                zone,
                "1970-01-01T00:00:00Z",
                "2040-01-01T00:00:00Z",
                90_013,
            );
        }
    }

    #[test]
    fn csv_times_cover_the_ends_of_the_range() {
        for zone in ["UTC", "Asia/Manila", "America/New_York"] {
            let viewer = ViewerZone::parse(zone).unwrap();
            let mut times = viewer.csv_times();
            for instant in [Timestamp::MIN, Timestamp::UNIX_EPOCH, Timestamp::MAX] {
                let mut text = Vec::new();
                times.push(instant, &mut text);
                assert_eq!(text, viewer.csv(instant).as_bytes(), "{zone} {instant}");
            }
        }
    }

    #[test]
    fn viewer_zone_rejects_unknown_names() {
        for bad in ["Mars/Olympus", "", "+08:00", "EST5EDT,M3.2.0,M11.1.0"] {
            assert!(ViewerZone::parse(bad).is_err(), "{bad}");
        }
        assert!(ViewerZone::parse("UTC").is_ok());
    }
}
