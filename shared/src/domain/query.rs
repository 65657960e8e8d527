//! `GET /v1/logs` query parameters and the filters shared with exports.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::actor::parse_actor_id;
use super::cursor::{self, CursorKey, Scope};
use super::time::parse_rfc3339;
use super::{AccountId, EventType, LogEntry, ViewerZone};
use crate::error::{ApiError, Errors, FieldError};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

/// Which entries of an account to read: a time window, some types, one actor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    /// Sorted and without repeats; empty means every type.
    #[serde(default)]
    pub types: Vec<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `true`: only sign-ins flagged unfamiliar; `false`: only entries that are not flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfamiliar: Option<bool>,
}

impl LogFilter {
    /// Builds a filter; `from` after `to` is an error named after `to_field`.
    pub fn new(
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        mut types: Vec<EventType>,
        actor: Option<String>,
        to_field: &str,
    ) -> Result<Self, FieldError> {
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(FieldError::new(to_field, "must not be before `from`"));
        }
        types.sort();
        types.dedup();
        Ok(Self {
            from,
            to,
            types,
            actor,
            unfamiliar: None,
        })
    }

    /// Whether a filter may skip most of what storage reads (an actor, the unfamiliar flag):
    /// pages then read within a bound and may end early.
    pub fn thins(&self) -> bool {
        self.actor.is_some() || self.unfamiliar.is_some()
    }

    /// Whether an entry of this type, time, actor and flag matches: `from <= occurred_at <= to`
    /// (inclusive, full precision), its type among `types` (all when empty), its actor `actor`,
    /// flagged unfamiliar or not as `unfamiliar` asks.
    /// Storage applies the same rule as key conditions and a filter expression
    /// (`store::dynamodb::events::merge::KeyRange`); export evidence is checked with this one.
    pub fn admits(
        &self,
        event_type: &str,
        occurred_at: Timestamp,
        actor_id: &str,
        unfamiliar: bool,
    ) -> bool {
        self.from.is_none_or(|from| from <= occurred_at)
            && self.to.is_none_or(|to| occurred_at <= to)
            && (self.types.is_empty() || self.types.iter().any(|t| t.as_str() == event_type))
            && self.actor.as_deref().is_none_or(|actor| actor == actor_id)
            && self.unfamiliar.is_none_or(|wanted| wanted == unfamiliar)
    }

    /// What a cursor of this filter, for this account, is bound to.
    pub fn scope(&self, account: &AccountId) -> Scope {
        let from = self.from.map(|t| t.to_string()).unwrap_or_default();
        let to = self.to.map(|t| t.to_string()).unwrap_or_default();
        let types = self
            .types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let actor = self.actor.as_deref().unwrap_or_default();
        match self.unfamiliar {
            // Cursors issued before the flag existed stay valid for the filters they had.
            None => Scope::of(&["logs", account.as_str(), &from, &to, &types, actor]),
            Some(flag) => Scope::of(&[
                "logs",
                account.as_str(),
                &from,
                &to,
                &types,
                actor,
                if flag { "unfamiliar" } else { "familiar" },
            ]),
        }
    }
}

/// A parsed `GET /v1/logs` request.
#[derive(Debug, Clone)]
pub struct LogQuery {
    pub filter: LogFilter,
    pub limit: usize,
    /// Sort key to continue after (exclusive), from a verified cursor.
    pub after: Option<String>,
    pub zone: ViewerZone,
}

/// A page of entries, newest first, and the sort key to resume after if more may follow: what
/// the events store answers a query (the list route's page, and an export's read).
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<LogEntry>,
    pub resume_after: Option<String>,
}

const PARAMS: [&str; 8] = [
    "from",
    "to",
    "type",
    "actor",
    "unfamiliar",
    "limit",
    "cursor",
    "tz",
];

/// Routes that take no query parameters (ingest, export creation, one export) reject every one,
/// so a misspelt filter or an `account` override is never silently ignored.
pub fn parse_no_params<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ApiError> {
    let mut errors = Errors::default();
    for (name, _) in params {
        errors.push(
            name,
            "unknown parameter; this route takes no query parameters",
        );
    }
    errors.into_result()
}

impl LogQuery {
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        account: &AccountId,
        key: &CursorKey,
    ) -> Result<Self, ApiError> {
        let mut errors = Errors::default();
        let mut single: std::collections::BTreeMap<&str, &str> = Default::default();
        let mut types = Vec::new();
        for (name, value) in params {
            match name {
                "type" => {
                    for raw in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                        if let Some(t) = errors
                            .take(EventType::parse(raw).map_err(|m| FieldError::new("type", m)))
                        {
                            types.push(t);
                        }
                    }
                }
                _ if PARAMS.contains(&name) => {
                    if single.insert(name, value).is_some() {
                        errors.push(name, "must be given at most once");
                    }
                }
                "account_id" | "account" => {
                    errors.push(name, "is not accepted: the account comes from your token")
                }
                _ => errors.push(
                    name,
                    format!("unknown parameter; allowed: {}", PARAMS.join(", ")),
                ),
            }
        }

        let from = single
            .get("from")
            .and_then(|v| errors.take(field("from", parse_rfc3339(v))));
        let to = single
            .get("to")
            .and_then(|v| errors.take(field("to", parse_rfc3339(v))));
        let actor = single
            .get("actor")
            .and_then(|v| errors.take(field("actor", parse_actor_id(v))));
        let limit = match single.get("limit") {
            Some(v) => errors.take(field("limit", parse_limit(v))),
            None => Some(DEFAULT_LIMIT),
        };
        let zone = match single.get("tz") {
            Some(v) => errors.take(field("tz", ViewerZone::parse(v))),
            None => Some(ViewerZone::utc()),
        };
        let unfamiliar = single
            .get("unfamiliar")
            .and_then(|v| errors.take(field("unfamiliar", parse_flag(v))));
        let filter = errors
            .take(LogFilter::new(from, to, types, actor, "to"))
            .map(|f| LogFilter { unfamiliar, ..f });
        errors.into_result()?;
        let (filter, limit, zone) = (
            filter.expect("no errors means a filter"),
            limit.expect("no errors means a limit"),
            zone.expect("no errors means a zone"),
        );
        let after = match single.get("cursor") {
            Some(c) => Some(
                cursor::decode(key, filter.scope(account), c)
                    .map_err(|m| ApiError::field("cursor", m))?,
            ),
            None => None,
        };
        Ok(Self {
            filter,
            limit,
            after,
            zone,
        })
    }
}

fn field<T>(name: &str, result: Result<T, String>) -> Result<T, FieldError> {
    result.map_err(|message| FieldError::new(name, message))
}

/// `unfamiliar`: `true` or `false`.
fn parse_flag(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

/// `limit`: an integer from 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!("must be an integer from 1 to {MAX_LIMIT}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new(&[3; 32]).unwrap()
    }

    fn account() -> AccountId {
        AccountId::parse("acct_1").unwrap()
    }

    fn parse(params: &[(&str, &str)]) -> Result<LogQuery, ApiError> {
        LogQuery::parse(params.iter().copied(), &account(), &key())
    }

    fn error_fields(params: &[(&str, &str)]) -> Vec<String> {
        match parse(params) {
            Err(ApiError::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn routes_without_parameters_name_each_one_given() {
        assert!(parse_no_params([]).is_ok());
        match parse_no_params([("account", "acct_2"), ("x", "")]) {
            Err(ApiError::Validation(list)) => {
                let fields: Vec<_> = list.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["account", "x"]);
            }
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let q = parse(&[]).unwrap();
        assert_eq!(q.limit, 50);
        assert_eq!(q.zone.name(), "UTC");
        assert_eq!(q.filter, LogFilter::default());
        assert!(q.after.is_none());
    }

    #[test]
    fn types_repeat_or_comma_separate_and_dedupe() {
        let q = parse(&[("type", "login,api_key.viewed"), ("type", "login")]).unwrap();
        assert_eq!(q.filter.types, [EventType::Login, EventType::ApiKeyViewed]);
    }

    #[test]
    fn rejects_bad_values_with_their_names() {
        assert_eq!(error_fields(&[("limit", "0")]), ["limit"]);
        assert_eq!(error_fields(&[("limit", "101")]), ["limit"]);
        assert_eq!(error_fields(&[("limit", "ten")]), ["limit"]);
        assert_eq!(error_fields(&[("tz", "Mars/Base")]), ["tz"]);
        assert_eq!(error_fields(&[("type", "logout")]), ["type"]);
        assert_eq!(error_fields(&[("from", "yesterday")]), ["from"]);
        assert_eq!(
            error_fields(&[
                ("from", "2024-05-01T00:00:00Z"),
                ("to", "2024-04-01T00:00:00Z")
            ]),
            ["to"]
        );
        assert_eq!(error_fields(&[("account_id", "acct_2")]), ["account_id"]);
        assert_eq!(error_fields(&[("limt", "5")]), ["limt"]);
        assert_eq!(error_fields(&[("limit", "5"), ("limit", "6")]), ["limit"]);
    }

    #[test]
    fn cursor_is_bound_to_account_and_filters() {
        let filter = LogFilter::new(None, None, vec![EventType::Login], None, "to").unwrap();
        let cursor = cursor::encode(&key(), filter.scope(&account()), "pos");
        let q = parse(&[("type", "login"), ("cursor", &cursor)]).unwrap();
        assert_eq!(q.after.as_deref(), Some("pos"));
        assert_eq!(error_fields(&[("cursor", &cursor)]), ["cursor"]);
        let other = AccountId::parse("acct_2").unwrap();
        assert!(
            LogQuery::parse(
                [("type", "login"), ("cursor", cursor.as_str())],
                &other,
                &key()
            )
            .is_err()
        );
    }
}
