//! Reading a JSON object field by field, naming each failure by its path (`events[2].actor.id`).
//!
//! Request bodies are parsed as `serde_json::Value` first (an ingest body's `events` and
//! `details` excepted: they stay raw text, see `raw_members`) so that every rule can report the
//! exact field it rejects, and all of a request's errors are reported together.

use serde_json::{Map, Value};

use super::new_event::MAX_BODY_BYTES;
use crate::error::{ApiError, Errors};

/// A request body as JSON: 413 over the body limit, 400 on `body` when it is not JSON.
pub fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))
}

pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    errors: &'a mut Errors,
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object; records an error and returns `None` when it is not one.
    pub fn object(value: &'a Value, prefix: &str, errors: &'a mut Errors) -> Option<Self> {
        match value {
            Value::Object(object) => Some(Self {
                object,
                prefix: prefix.to_owned(),
                errors,
            }),
            _ => {
                errors.push(display_path(prefix), "must be a JSON object");
                None
            }
        }
    }

    /// The path of a field of this object.
    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        self.errors.push(path, message);
    }

    pub fn errors(&mut self) -> &mut Errors {
        self.errors
    }

    /// Rejects fields the contract does not define, so a typo is reported rather than ignored.
    pub fn deny_unknown(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            let message = format!("unknown field; allowed: {}", allowed.join(", "));
            self.error(&key, message);
        }
    }

    /// A present, non-null value.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    pub fn required(&mut self, name: &str) -> Option<&'a Value> {
        let value = self.get(name);
        if value.is_none() {
            self.error(name, "is required");
        }
        value
    }

    fn as_str(&mut self, name: &str, value: &'a Value) -> Option<&'a str> {
        match value {
            Value::String(s) => Some(s),
            _ => {
                self.error(name, "must be a string");
                None
            }
        }
    }

    /// A required string field turned into a domain type by `parse`.
    pub fn required_parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.required(name)?;
        let raw = self.as_str(name, value)?;
        self.parse_with(name, raw, parse)
    }

    /// An optional string field turned into a domain type by `parse`; absent or null is `None`.
    pub fn optional_parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.get(name)?;
        let raw = self.as_str(name, value)?;
        self.parse_with(name, raw, parse)
    }

    fn parse_with<T>(
        &mut self,
        name: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(name, message);
                None
            }
        }
    }
}

/// The whole body is addressed as `body` when it has no path of its own.
pub fn display_path(prefix: &str) -> String {
    if prefix.is_empty() {
        "body".to_owned()
    } else {
        prefix.to_owned()
    }
}

/// A bounded, printable text field: 1..=max characters after trimming, and [`check_text`].
pub fn bounded_text(value: &str, max: usize) -> Result<String, String> {
    // Checked before trimming: a trailing newline or carriage return is refused, not dropped.
    check_text(value, TextKind::Line)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(trimmed.to_owned())
}

/// Where a text appears: a one-line field, or a string inside `details` (tab and newline allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    Line,
    Details,
}

/// The text rule of API.md ("Ingest"): no control characters (tab and newline are allowed inside
/// `details`), no bidirectional overrides or isolates (U+202A-U+202E, U+2066-U+2069), so that a
/// value displays as what it is in logs, the dashboard and spreadsheets. Joiners (U+200D) stay
/// legal: real names use them.
pub fn check_text(value: &str, kind: TextKind) -> Result<(), String> {
    let allowed = |c: char| kind == TextKind::Details && matches!(c, '\t' | '\n');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(match kind {
            TextKind::Line => "must not contain control characters".into(),
            TextKind::Details => {
                "must not contain control characters other than tab and newline".into()
            }
        });
    }
    if value.chars().any(is_bidi_control) {
        return Err(
            "must not contain bidirectional override or isolate characters (U+202A-U+202E, U+2066-U+2069)"
                .into(),
        );
    }
    Ok(())
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_fields_by_path_and_collects_every_error() {
        let value = json!({"a": 1, "b": "x", "zzz": true});
        let mut errors = Errors::default();
        let mut fields = Fields::object(&value, "events[2]", &mut errors).unwrap();
        fields.deny_unknown(&["a", "b", "c"]);
        assert_eq!(fields.required_parsed("a", |s| Ok(s.to_owned())), None);
        assert_eq!(fields.required_parsed("c", |s| Ok(s.to_owned())), None);
        assert_eq!(
            fields.optional_parsed("b", |s| Ok(s.to_uppercase())),
            Some("X".to_owned())
        );
        let err = errors.into_result().unwrap_err();
        let crate::ApiError::Validation(list) = err else {
            panic!("expected validation error")
        };
        let paths: Vec<_> = list.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(paths, ["events[2].zzz", "events[2].a", "events[2].c"]);
    }

    #[test]
    fn bounded_text_trims_and_rejects_control_characters() {
        assert_eq!(bounded_text("  Alice ", 10), Ok("Alice".into()));
        assert!(bounded_text("   ", 10).is_err());
        assert!(bounded_text("a\u{7}b", 10).is_err());
        assert!(bounded_text("abcdef", 5).is_err());
    }

    #[test]
    fn text_rule_refuses_controls_and_bidi_but_keeps_joiners() {
        for bad in [
            "a\u{0}b",
            "a\rb",
            "a\u{1b}[31m",
            "a\u{85}b",
            "x\u{202E}gpj.exe",
            "\u{2066}x",
        ] {
            assert!(check_text(bad, TextKind::Details).is_err(), "{bad:?}");
            assert!(check_text(bad, TextKind::Line).is_err(), "{bad:?}");
        }
        assert!(check_text("line\tone\nline two", TextKind::Details).is_ok());
        assert!(check_text("line\tone", TextKind::Line).is_err());
        assert!(check_text("a\nb", TextKind::Line).is_err());
        // A family emoji and a Persian name with a zero-width non-joiner/joiner.
        assert!(
            check_text(
                "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
                TextKind::Line
            )
            .is_ok()
        );
        assert!(
            check_text(
                "\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}",
                TextKind::Line
            )
            .is_ok()
        );
    }
}
