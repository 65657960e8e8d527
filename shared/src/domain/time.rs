//! Instants and the viewer's time zone.

use jiff::{Timestamp, ToSpan, tz::TimeZone};

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
        instant
            .to_zoned_datetime(self.zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S %:z")
            .to_string()
    }

    /// The calendar date in this zone (used in export file names).
    pub fn date(&self, instant: Timestamp) -> String {
        instant
            .to_zoned_datetime(self.zone.clone())
            .strftime("%Y-%m-%d")
            .to_string()
    }
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

    #[test]
    fn viewer_zone_rejects_unknown_names() {
        for bad in ["Mars/Olympus", "", "+08:00", "EST5EDT,M3.2.0,M11.1.0"] {
            assert!(ViewerZone::parse(bad).is_err(), "{bad}");
        }
        assert!(ViewerZone::parse("UTC").is_ok());
    }
}
