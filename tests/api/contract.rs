//! `openapi.yaml` against the code's own catalogue, so neither can drift from the other.

use std::collections::BTreeSet;

use seclog::domain::EventType;
use serde_norway::Value as Yaml;

fn openapi() -> Yaml {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml");
    serde_norway::from_str(&text).expect("valid YAML")
}

/// Every `enum` list anywhere in the document that names an event type.
fn event_type_enums(node: &Yaml, path: &str, found: &mut Vec<(String, BTreeSet<String>)>) {
    match node {
        Yaml::Mapping(map) => {
            for (key, value) in map {
                let key = key.as_str().unwrap_or("?");
                if key == "enum"
                    && let Some(items) = value.as_sequence()
                {
                    let values: BTreeSet<String> = items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                    if values.contains("login") {
                        found.push((path.to_owned(), values));
                    }
                }
                event_type_enums(value, &format!("{path}/{key}"), found);
            }
        }
        Yaml::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                event_type_enums(item, &format!("{path}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn openapi_event_type_enums_equal_the_catalogue() {
    let all: BTreeSet<String> = EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let producible: BTreeSet<String> = EventType::ALL
        .iter()
        .filter(|t| !t.recorded_by_service())
        .map(|t| t.as_str().to_owned())
        .collect();
    let mut found = Vec::new();
    event_type_enums(&openapi(), "", &mut found);
    assert!(
        found.len() >= 2,
        "expected the ingest enum and the filter enum, found {found:?}"
    );
    assert!(
        found.iter().any(|(_, values)| *values == producible),
        "no enum lists exactly what producers may send: {found:?}"
    );
    assert!(
        found.iter().any(|(_, values)| *values == all),
        "no enum lists every type (filters): {found:?}"
    );
    for (path, values) in &found {
        assert!(
            *values == all || *values == producible,
            "{path}: {values:?} is neither the catalogue {all:?} nor its producible part"
        );
    }
}

/// The events table of `template.yaml` has the key names the code writes and queries.
#[test]
fn the_template_declares_the_key_names_the_code_uses() {
    use seclog::store::schema::{EXPIRES_AT, PK, SK, TYPE_INDEX, TYPE_INDEX_PK};
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml");
    let template: Yaml = serde_norway::from_str(&text).expect("valid YAML");
    let table = &template["Resources"]["EventsTable"]["Properties"];
    let names = |schema: &Yaml| -> Vec<(String, String)> {
        schema
            .as_sequence()
            .expect("a key schema")
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_owned(),
                    k["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |name: &str, kind: &str| (name.to_owned(), kind.to_owned());
    assert_eq!(
        names(&table["KeySchema"]),
        [pair(PK, "HASH"), pair(SK, "RANGE")]
    );
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"].as_str(), Some(TYPE_INDEX));
    assert_eq!(
        names(&index["KeySchema"]),
        [pair(TYPE_INDEX_PK, "HASH"), pair(SK, "RANGE")]
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(EXPIRES_AT)
    );
}
