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

const RFC3339_HINT: &str =
    "must be an RFC 3339 timestamp with an offset, e.g. 2024-04-22T06:32:15Z";

/// Parses RFC 3339 text (section 5.6): `YYYY-MM-DDTHH:MM:SS[.f{1,9}]` then `Z` or `±hh:mm`,
/// `T` and `Z` in either case. Nothing looser: no space for `T`, no `+08` or `+0800`, no comma
/// fraction, no annotation. A leap second (`:60`) is accepted only where one can be, at
/// 23:59:60 UTC, and read as 23:59:59.999999999. Instants past the last one representable (late
/// on 9999-12-31 UTC) are clamped to it, so an open-ended `to=9999-12-31T23:59:59Z` works.
pub fn parse_rfc3339(value: &str) -> Result<Timestamp, String> {
    let text = Rfc3339Text::split(value.as_bytes()).ok_or(RFC3339_HINT)?;
    let date = jiff::civil::Date::new(text.year, text.month, text.day).map_err(|_| RFC3339_HINT)?;
    let leap = text.second == 60;
    let time = jiff::civil::Time::new(
        text.hour,
        text.minute,
        if leap { 59 } else { text.second },
        if leap { 999_999_999 } else { text.nanosecond },
    )
    .map_err(|_| RFC3339_HINT)?;
    let offset_seconds = text.offset_minutes * 60;
    if leap {
        let utc_minute_of_day = (i32::from(text.hour) * 60 + i32::from(text.minute)
            - text.offset_minutes)
            .rem_euclid(24 * 60);
        if utc_minute_of_day != 23 * 60 + 59 {
            return Err("has second 60, which only a leap second at 23:59:60 UTC can have".into());
        }
    }
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).map_err(|_| RFC3339_HINT)?;
    match offset.to_timestamp(date.to_datetime(time)) {
        Ok(instant) => Ok(instant),
        Err(_) if text.year >= 9999 => Ok(Timestamp::MAX),
        Err(_) => Err(RFC3339_HINT.into()),
    }
}

/// The fields of text that follows RFC 3339's grammar; ranges beyond two digits are checked
/// by the calendar types that receive them.
struct Rfc3339Text {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    nanosecond: i32,
    offset_minutes: i32,
}

impl Rfc3339Text {
    fn split(b: &[u8]) -> Option<Self> {
        let digits = |from: usize, len: usize| -> Option<i32> {
            let part = b.get(from..from + len)?;
            part.iter().try_fold(0i32, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + i32::from(d - b'0'))
            })
        };
        let is = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
        if !(is(4, b"-") && is(7, b"-") && is(10, b"Tt") && is(13, b":") && is(16, b":")) {
            return None;
        }
        let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut at = 19;
        let mut nanosecond = 0;
        if is(at, b".") {
            let count = b[at + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if !(1..=9).contains(&count) {
                return None;
            }
            nanosecond = digits(at + 1, count)? * 10i32.pow(9 - count as u32);
            at += 1 + count;
        }
        let offset_minutes = match b.get(at..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (h, m) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                if *sign == b'-' {
                    -(h * 60 + m)
                } else {
                    h * 60 + m
                }
            }
            _ => return None,
        };
        Some(Self {
            year: i16::try_from(digits(0, 4)?).ok()?,
            month: i8::try_from(digits(5, 2)?).ok()?,
            day: i8::try_from(digits(8, 2)?).ok()?,
            hour: hour as i8,
            minute: minute as i8,
            second: second as i8,
            nanosecond,
            offset_minutes,
        })
    }
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
        // Names match without regard to case; the database's spelling is what is kept and shown.
        let name = zone.iana_name().unwrap_or(value).to_owned();
        Ok(Self { name, zone })
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
    fn rfc3339_follows_the_grammar_and_nothing_looser() {
        let at = |text: &str| parse_rfc3339(text).map(|t| t.to_string());
        assert_eq!(at("2024-04-22t06:32:15z").unwrap(), "2024-04-22T06:32:15Z");
        assert_eq!(
            at("2024-04-22T14:32:15.5+08:00").unwrap(),
            "2024-04-22T06:32:15.5Z"
        );
        assert_eq!(
            at("2024-04-22T06:32:15.123456789-00:30").unwrap(),
            "2024-04-22T07:02:15.123456789Z"
        );
        assert_eq!(at("0000-01-01T00:00:00Z").unwrap(), "0000-01-01T00:00:00Z");
        for bad in [
            "2024-04-22 06:32:15Z",
            "2024-04-22T06:32:15+0800",
            "2024-04-22T06:32:15+08",
            "2024-04-22T06:32:15,5Z",
            "2024-04-22T06:32:15.Z",
            "2024-04-22T06:32:15.1234567890Z",
            "2024-04-22T06:32:15+24:30",
            "2024-04-22T06:32:15+08:60",
            "2024-04-22T24:00:00Z",
            "2024-04-22T06:60:00Z",
            "2024-04-22T06:32:61Z",
            "2024-02-30T06:32:15Z",
            "2024-04-22T06:32:15ZZ",
            "2024-04-22T06:32:15Z ",
            "+2024-04-22T06:32:15Z",
            "2024-4-22T06:32:15Z",
            "２０２4-04-22T06:32:15Z",
        ] {
            assert!(at(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_leap_second_only_where_one_can_be() {
        let last = "2016-12-31T23:59:59.999999999Z";
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z").unwrap().to_string(),
            last
        );
        assert_eq!(
            parse_rfc3339("2017-01-01T08:59:60+09:00")
                .unwrap()
                .to_string(),
            last
        );
        for bad in [
            "2016-12-31T12:00:60Z",
            "2016-12-31T23:59:60+09:00",
            "2016-12-31T23:58:60Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn instants_past_the_last_representable_are_clamped_to_it() {
        for text in [
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59.999999999-23:59",
        ] {
            assert_eq!(parse_rfc3339(text).unwrap(), Timestamp::MAX, "{text}");
        }
        assert!(OccurredAt::parse("9999-12-31T23:59:59Z", now()).is_err());
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

    #[test]
    fn viewer_zone_names_are_kept_as_the_database_spells_them() {
        assert_eq!(ViewerZone::parse("utc").unwrap().name(), "UTC");
        assert_eq!(
            ViewerZone::parse("america/NEW_YORK").unwrap().name(),
            "America/New_York"
        );
    }
}
