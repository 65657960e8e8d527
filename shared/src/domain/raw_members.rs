//! An ingest body's objects read with `events` and `details` kept as raw text.
//!
//! `details` may hold numbers no float can carry (`1e400`, a 400-digit integer). Parsing it into
//! a `serde_json::Value` would fail on them ("number out of range") or round them, so those
//! members never pass through `Value`: `details` is read exactly by [`super::Json`], and each
//! of `events`' items is read here again.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A JSON object: its other members as a `Value::Object`, with a `null` standing in for each
/// raw member (so that unknown-field checks still see it), and the raw members themselves.
#[derive(Debug)]
pub struct RawMembers<'a> {
    pub members: Value,
    pub events: Option<&'a RawValue>,
    pub details: Option<&'a RawValue>,
}

impl<'a> RawMembers<'a> {
    /// Reads `text` when it is an object; `Ok(None)` for any other JSON value.
    pub fn parse(text: &'a str) -> Result<Option<Self>, serde_json::Error> {
        if !text.trim_start().starts_with('{') {
            return Ok(None);
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let parts = ObjectSeed.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(Some(parts))
    }
}

/// `details` given as JSON `null` counts as absent, as every other optional member does.
pub fn present(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|raw| raw.get() != "null")
}

struct ObjectSeed;

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = RawMembers<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed {
    type Value = RawMembers<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        let (mut events, mut details) = (None, None);
        // A repeated key keeps its last value, as `serde_json::Value` does.
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "events" => events = Some(map.next_value::<&'de RawValue>()?),
                "details" => details = Some(map.next_value::<&'de RawValue>()?),
                _ => {
                    members.insert(key, map.next_value::<Value>()?);
                    continue;
                }
            }
            members.insert(key, Value::Null);
        }
        Ok(RawMembers {
            members: Value::Object(members),
            events,
            details,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_and_events_stay_raw_and_out_of_range_numbers_pass() {
        let text = r#"{"type":"login","details":{"big":1e400, "n": 123456789012345678901234},"events":[1]}"#;
        let parts = RawMembers::parse(text).unwrap().unwrap();
        assert_eq!(
            parts.details.unwrap().get(),
            r#"{"big":1e400, "n": 123456789012345678901234}"#
        );
        assert_eq!(parts.events.unwrap().get(), "[1]");
        assert_eq!(
            parts.members,
            serde_json::json!({"type": "login", "details": null, "events": null})
        );
    }

    #[test]
    fn other_values_and_bad_json() {
        assert!(RawMembers::parse(" [1]").unwrap().is_none());
        assert!(RawMembers::parse("{\"a\":1} x").is_err());
        assert!(RawMembers::parse("{\"a\":1e400}").is_err());
        let parts = RawMembers::parse(r#"{"details":null}"#).unwrap().unwrap();
        assert!(present(parts.details).is_none());
    }
}
