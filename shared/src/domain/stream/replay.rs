//! `POST /v1/streams/{id}/replay`'s body: from which log index the stream delivers again.

use serde_json::Value;

use crate::domain::fields::{Fields, json_body};
use crate::error::{ApiError, Errors};

/// The index a replay starts from, not yet held against the log's size (which the store
/// knows): [`ReplayFrom::within`] does that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayFrom(u64);

const FIELD: &str = "from_index";

impl ReplayFrom {
    /// `{"from_index": N}`, N a non-negative integer; nothing else.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value = json_body(body)?;
        let mut errors = Errors::default();
        let mut index = None;
        if let Some(mut fields) = Fields::object(&value, "", &mut errors) {
            fields.deny_unknown(&[FIELD]);
            index = match fields.required(FIELD) {
                Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
                Some(_) => {
                    fields.error(FIELD, "must be a non-negative integer");
                    None
                }
                None => None,
            };
        }
        errors.into_result()?;
        index
            .map(Self)
            .ok_or_else(|| ApiError::field(FIELD, "is required"))
    }

    /// The index, if the log of `log_size` entries reaches it: a replay may start anywhere from
    /// the first entry to just after the last (which skips whatever is not yet delivered).
    pub fn within(self, log_size: u64) -> Result<u64, ApiError> {
        if self.0 > log_size {
            return Err(ApiError::field(
                FIELD,
                format!("must be at most the log's size, {log_size}"),
            ));
        }
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(error: ApiError) -> Vec<String> {
        match error {
            ApiError::Validation(list) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_replay_takes_a_non_negative_integer_from_index_and_nothing_else() {
        assert_eq!(
            ReplayFrom::parse(br#"{"from_index": 0}"#).unwrap(),
            ReplayFrom(0)
        );
        assert_eq!(
            ReplayFrom::parse(br#"{"from_index": 42}"#).unwrap(),
            ReplayFrom(42)
        );
        for bad in [
            &br#"{}"#[..],
            br#"{"from_index": -1}"#,
            br#"{"from_index": 1.5}"#,
            br#"{"from_index": "3"}"#,
            br#"{"from_index": null}"#,
            br#"[1]"#,
        ] {
            let fields = fields_of(ReplayFrom::parse(bad).unwrap_err());
            assert!(
                fields == ["from_index"] || fields == ["body"],
                "{}: {fields:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let fields = fields_of(ReplayFrom::parse(br#"{"from_index": 1, "to": 2}"#).unwrap_err());
        assert_eq!(fields, ["to"]);
    }

    #[test]
    fn a_replay_may_start_at_most_just_after_the_log_s_last_entry() {
        assert_eq!(ReplayFrom(0).within(0).unwrap(), 0);
        assert_eq!(ReplayFrom(5).within(5).unwrap(), 5);
        assert_eq!(
            fields_of(ReplayFrom(6).within(5).unwrap_err()),
            ["from_index"]
        );
    }
}
