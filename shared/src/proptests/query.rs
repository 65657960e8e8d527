//! `GET /v1/logs` parameters: any names and values give a query or a 400, never a panic or a
//! 5xx; a position comes only from a genuine cursor issued for the parsed query's own scope.

use proptest::prelude::*;

use super::strategies::tricky_text;
use super::{assert_client_error, config};
use crate::domain::cursor::{CursorKey, encode};
use crate::domain::query::MAX_LIMIT;
use crate::domain::{AccountId, EventType, LogFilter, LogQuery};

fn key() -> CursorKey {
    CursorKey::new(&[3; 32]).expect("a 32-byte key")
}

fn account() -> AccountId {
    AccountId::parse("acct_1").expect("an account id")
}

/// Filters a cursor may have been issued for; the position names which one.
fn issued_filters() -> Vec<LogFilter> {
    let at = |t: &str| Some(t.parse().expect("a timestamp"));
    vec![
        LogFilter::default(),
        LogFilter::new(None, None, vec![EventType::Login], None, "to").expect("a filter"),
        LogFilter::new(None, None, vec![], Some("u_1".into()), "to").expect("a filter"),
        LogFilter::new(
            at("2024-04-01T00:00:00Z"),
            at("2024-04-30T00:00:00Z"),
            vec![EventType::Login, EventType::LoginFailed],
            None,
            "to",
        )
        .expect("a filter"),
    ]
}

fn genuine_cursors() -> Vec<String> {
    issued_filters()
        .iter()
        .enumerate()
        .map(|(i, filter)| encode(&key(), filter.scope(&account()), &format!("pos-{i}")))
        .collect()
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "from", "to", "type", "actor", "limit", "cursor", "tz", "account_id", "account",
            "Type", "limit ", "unfamiliar", "",
        ])
        .prop_map(str::to_owned),
        1 => tricky_text(),
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    let cursors = genuine_cursors();
    let tampered = genuine_cursors();
    prop_oneof![
        2 => prop::sample::select(vec![
            "2024-04-01T00:00:00Z", "2024-04-30T00:00:00+08:00", "2024-04-22 06:32:15Z",
            "2024-04-22T06:32:15", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
            "-009999-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-04-22T06:32:15Z[UTC]",
            "2024-04-22T24:00:00Z", "2024-04-22T06:32:60Z", "2024-04-22t06:32:15z",
        ])
        .prop_map(str::to_owned),
        2 => "[-+]?[0-9]{0,22}",
        2 => prop::sample::select(vec![
            "UTC", "Asia/Manila", "America/New_York", "Etc/GMT+8", "../../etc/passwd",
            "/etc/localtime", "UTC0", "EST5EDT", "+08:00", "utc", "Asia/Manila\0", "posix/UTC",
            "right/UTC", "zone1970.tab", "tzdata.zi", ".", "..", "Asia/", "/",
        ])
        .prop_map(str::to_owned),
        2 => prop::collection::vec(
            prop_oneof![
                prop::sample::select(EventType::ALL.map(EventType::as_str).to_vec()).prop_map(str::to_owned),
                "[a-z_.]{0,16}",
            ],
            0..4,
        )
        .prop_map(|types| types.join(",")),
        2 => prop::sample::select(cursors),
        2 => (prop::sample::select(tampered), any::<prop::sample::Index>(), "[A-Za-z0-9_-]").prop_map(
            |(cursor, at, c)| {
                let mut chars: Vec<char> = cursor.chars().collect();
                let at = at.index(chars.len());
                chars[at] = c.chars().next().expect("one character");
                chars.into_iter().collect()
            },
        ),
        3 => tricky_text(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_parameters_give_a_query_or_a_400(
        params in prop::collection::vec((param_name(), param_value()), 0..8),
    ) {
        let pairs = params.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        match LogQuery::parse(pairs, &account(), &key()) {
            Ok(query) => {
                prop_assert!((1..=MAX_LIMIT).contains(&query.limit));
                if let (Some(from), Some(to)) = (query.filter.from, query.filter.to) {
                    prop_assert!(from <= to);
                }
                prop_assert!(query.filter.types.windows(2).all(|w| w[0] < w[1]));
                if let Some(position) = query.after {
                    // Only a genuine cursor of exactly this query's filters gives a position.
                    let scope = query.filter.scope(&account());
                    let issued = issued_filters();
                    let i: usize = position
                        .strip_prefix("pos-")
                        .and_then(|i| i.parse().ok())
                        .expect("a position we issued");
                    prop_assert_eq!(issued[i].scope(&account()), scope);
                }
            }
            Err(error) => assert_client_error(&error)?,
        }
    }
}
