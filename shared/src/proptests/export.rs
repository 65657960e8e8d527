//! `POST /v1/exports` bodies: any bytes or JSON give filters or a 4xx, never a panic or a 5xx.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::strategies::{any_json, tricky_text};
use super::{assert_client_error, config};
use crate::domain::export::ExportFilters;
use crate::domain::{EventType, Json, ViewerZone};

/// A value for one export field: valid, near-valid or anything.
fn field_value() -> impl Strategy<Value = Json> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "2024-04-01T00:00:00Z", "2024-04-30T00:00:00+08:00", "2024-04-22 06:32:15",
            "UTC", "Asia/Manila", "Mars/Base", "../../etc/passwd", "u_1", " ", "",
        ])
        .prop_map(|s| Json::String(s.to_owned())),
        2 => prop::collection::vec(
            prop_oneof![
                prop::sample::select(EventType::ALL.map(EventType::as_str).to_vec())
                    .prop_map(|s| Json::String(s.to_owned())),
                any_json(1),
            ],
            0..5,
        )
        .prop_map(Json::Array),
        2 => tricky_text().prop_map(Json::String),
        1 => any::<bool>().prop_map(Json::Bool),
        2 => any_json(3),
    ]
}

fn export_body() -> impl Strategy<Value = Json> {
    let name = prop_oneof![
        6 => prop::sample::select(vec!["from", "to", "types", "actor", "tz", "unfamiliar", "format"])
            .prop_map(str::to_owned),
        1 => tricky_text(),
    ];
    prop::collection::btree_map(name, field_value(), 0..7)
        .prop_map(|map: BTreeMap<String, Json>| Json::Object(map))
}

fn check(body: &[u8]) -> Result<(), TestCaseError> {
    match ExportFilters::parse(body) {
        Ok(filters) => {
            prop_assert!(
                ViewerZone::parse(filters.tz.name()).is_ok(),
                "{:?}",
                filters.tz
            );
            if let (Some(from), Some(to)) = (filters.filter.from, filters.filter.to) {
                prop_assert!(from <= to);
            }
            prop_assert!(filters.filter.types.windows(2).all(|w| w[0] < w[1]));
            let _ = filters.view();
        }
        Err(error) => assert_client_error(&error)?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_give_filters_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&body)?;
    }

    #[test]
    fn any_json_gives_filters_or_a_4xx(body in any_json(5)) {
        check(body.to_text().as_bytes())?;
    }

    #[test]
    fn any_export_object_gives_filters_or_a_400(body in export_body()) {
        check(body.to_text().as_bytes())?;
    }
}
