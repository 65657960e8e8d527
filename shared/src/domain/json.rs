//! JSON that keeps numbers exactly as sent.
//!
//! `serde_json::Value` turns an integer beyond 64 bits into a float (a 23-digit account
//! reference loses its last digits). Its `arbitrary_precision` feature would fix that, but it is
//! global to the binary and breaks `#[serde(untagged)]` enums with numbers inside, which is how
//! `lambda_http` reads API Gateway events. So `details` uses this type instead: numbers are kept
//! as their decimal text, and written back verbatim through `serde_json`'s `RawValue`.
//!
//! Object keys are sorted (`BTreeMap`), so two documents that differ only in key order or
//! spacing serialize to the same text.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A valid JSON number, exactly as its decimal text was sent.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// Parses JSON text, keeping every number's digits.
    ///
    /// Each nested value is read as raw text and parsed again one level down, so the cost grows
    /// with size times depth: callers bound both (details: 8 KiB, 32 levels).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Result<Self, serde_json::Error> {
        let text = raw.get();
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let map: BTreeMap<String, &RawValue> = serde_json::from_str(text)?;
                Json::Object(
                    map.into_iter()
                        .map(|(k, v)| Ok((k, Self::from_raw(v)?)))
                        .collect::<Result<_, serde_json::Error>>()?,
                )
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)?;
                Json::Array(
                    items
                        .into_iter()
                        .map(Self::from_raw)
                        .collect::<Result<_, _>>()?,
                )
            }
            Some(b'"') => Json::String(serde_json::from_str(text)?),
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'n') => Json::Null,
            _ => Json::Number(text.to_owned()),
        })
    }

    /// An empty object (`{}`).
    pub fn object() -> Self {
        Json::Object(BTreeMap::new())
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(map) => map.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Levels of nesting: a scalar is 0, `{}` and `[]` are 1.
    pub fn depth(&self) -> usize {
        match self {
            Json::Array(items) => 1 + items.iter().map(Json::depth).max().unwrap_or(0),
            Json::Object(map) => 1 + map.values().map(Json::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// The compact serialization, keys sorted, numbers verbatim.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("JSON values serialize")
    }
}

/// Levels of nesting of valid JSON text, counted in one pass over its bytes (brackets inside
/// strings skipped), so deep documents are refused before the exact parse, whose cost grows
/// with depth. Agrees with [`Json::depth`].
pub fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

impl From<serde_json::Value> for Json {
    /// For values the service builds itself (its numbers fit `serde_json::Number`).
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(b),
            serde_json::Value::Number(n) => Json::Number(n.to_string()),
            serde_json::Value::String(s) => Json::String(s),
            serde_json::Value::Array(items) => {
                Json::Array(items.into_iter().map(Json::from).collect())
            }
            serde_json::Value::Object(map) => {
                Json::Object(map.into_iter().map(|(k, v)| (k, Json::from(v))).collect())
            }
        }
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(text) => {
                let raw = RawValue::from_string(text.clone()).map_err(serde::ser::Error::custom)?;
                raw.serialize(s)
            }
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => items.serialize(s),
            Json::Object(map) => map.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    /// Only from `serde_json` (the raw text is what keeps numbers exact).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Json::from_raw(&raw).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_integers_and_decimals_keep_every_digit() {
        let text = r#"{"ref":12345678901234567890123,"rate":1.10,"neg":-0.000000000000000000001,"e":1E+400}"#;
        let json = Json::parse(text).unwrap();
        assert_eq!(
            json.get("ref"),
            Some(&Json::Number("12345678901234567890123".into()))
        );
        assert_eq!(
            json.to_text(),
            r#"{"e":1E+400,"neg":-0.000000000000000000001,"rate":1.10,"ref":12345678901234567890123}"#
        );
    }

    #[test]
    fn key_order_and_spacing_do_not_change_the_text() {
        let a = Json::parse(r#"{"b": [1, {"y": true, "x": null}], "a": "é\n"}"#).unwrap();
        let b = Json::parse(r#"{"a":"é\n","b":[1,{"x":null,"y":true}]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_text(), r#"{"a":"é\n","b":[1,{"x":null,"y":true}]}"#);
    }

    #[test]
    fn round_trips_through_serde_inside_a_struct() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            details: Json,
        }
        let holder = Holder {
            details: Json::parse(r#"{"n":[99999999999999999999999,0.1]}"#).unwrap(),
        };
        let text = serde_json::to_string(&holder).unwrap();
        assert_eq!(text, r#"{"details":{"n":[99999999999999999999999,0.1]}}"#);
        assert_eq!(serde_json::from_str::<Holder>(&text).unwrap(), holder);
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(Json::parse("1").unwrap().depth(), 0);
        assert_eq!(Json::parse("{}").unwrap().depth(), 1);
        assert_eq!(Json::parse(r#"{"a":[{"b":[]}]}"#).unwrap().depth(), 4);
        for text in [
            "1",
            "{}",
            r#"{"a":[{"b":[]}]}"#,
            r#"{"a":"[[[\\\"{{","b":[[]],"c":{}}"#,
        ] {
            assert_eq!(
                nesting_depth(text),
                Json::parse(text).unwrap().depth(),
                "{text}"
            );
        }
    }

    #[test]
    fn converts_service_built_values() {
        let json = Json::from(serde_json::json!({"format": "csv", "n": 3}));
        assert_eq!(json.to_text(), r#"{"format":"csv","n":3}"#);
    }
}
