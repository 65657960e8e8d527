//! `openapi.yaml` against the code's own catalogue, so neither can drift from the other.

use std::collections::BTreeSet;

use integration_tests::repository_file;
use seclog::domain::EventType;
use serde_norway::Value as Yaml;

fn openapi() -> Yaml {
    serde_norway::from_str(&repository_file("openapi.yaml")).expect("valid YAML")
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
    use seclog::store::dynamodb::schema::{EXPIRES_AT, PK, SK, TYPE_INDEX, TYPE_INDEX_PK};
    let template = template();
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

pub(crate) fn template() -> Yaml {
    serde_norway::from_str(&repository_file("template.yaml")).expect("valid YAML")
}

/// A scalar or list of scalars as text; a CloudFormation tag keeps its name
/// (`!GetAtt SequencerRole.Arn`).
pub(crate) fn texts(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().flat_map(texts).collect(),
        Yaml::Tagged(tagged) => texts(&tagged.value)
            .into_iter()
            .map(|v| format!("{} {v}", tagged.tag))
            .collect(),
        Yaml::String(s) => vec![s.clone()],
        other => panic!("not text: {other:?}"),
    }
}

/// Whether an IAM action pattern (`kms:Get*`, `kms:*`) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(action),
        Some((head, tail)) => {
            action.len() >= head.len()
                && action[..head.len()].eq_ignore_ascii_case(head)
                && (0..=action.len() - head.len())
                    .any(|skip| covers(tail, &action[head.len() + skip..]))
        }
    }
}

/// The statements of every IAM role's inline policies, with the role's name.
fn role_statements(template: &Yaml) -> Vec<(String, Yaml)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().expect("resources") {
        if resource["Type"].as_str() != Some("AWS::IAM::Role") {
            continue;
        }
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for statement in policy["PolicyDocument"]["Statement"]
                .as_sequence()
                .expect("statements")
            {
                found.push((name.as_str().unwrap().to_owned(), statement.clone()));
            }
        }
    }
    found
}

/// The principals a key policy's statements allow `action` to.
fn allowed_principals(statements: &[Yaml], action: &str) -> BTreeSet<String> {
    statements
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .filter(|s| texts(&s["Action"]).iter().any(|p| covers(p, action)))
        .flat_map(|s| texts(&s["Principal"]["AWS"]))
        .collect()
}

/// Least privilege on the checkpoint signing key: only the sequencer's and the export
/// worker's roles may Sign; the integrity function's role only reads the public key; the
/// account root administers the key but no cryptographic action (nor kms:CreateGrant, which
/// could hand Sign to anyone) is delegated to IAM; and no role grants itself a kms action.
#[test]
fn only_the_checkpoint_signers_may_use_the_signing_key() {
    let template = template();
    let policy = &template["Resources"]["LogSigningKey"]["Properties"]["KeyPolicy"];
    let statements = policy["Statement"].as_sequence().expect("statements");
    let allowed = |action: &str| allowed_principals(statements, action);
    let roles = |names: &[&str]| -> BTreeSet<String> {
        names.iter().map(|n| format!("!GetAtt {n}.Arn")).collect()
    };
    assert_eq!(
        allowed("kms:Sign"),
        roles(&["SequencerRole", "ExportWorkerRole", "StreamDeliveryRole"])
    );
    let readers = allowed("kms:GetPublicKey");
    assert!(
        roles(&["SequencerRole", "ExportWorkerRole", "IntegrityRole"]).is_subset(&readers),
        "{readers:?}"
    );
    for action in [
        "kms:Verify",
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyPair",
        "kms:GenerateMac",
        "kms:CreateGrant",
    ] {
        assert_eq!(allowed(action), BTreeSet::new(), "{action}");
    }
    // The account still administers the key (else it could never be managed or deleted).
    for action in [
        "kms:DescribeKey",
        "kms:PutKeyPolicy",
        "kms:ScheduleKeyDeletion",
        "kms:TagResource",
    ] {
        let admins = allowed(action);
        assert!(
            admins.iter().any(|p| p.ends_with(":root")),
            "{action}: {admins:?}"
        );
    }
    for statement in statements {
        assert!(statement["Principal"].as_str().is_none(), "{statement:?}");
    }
    for (role, statement) in role_statements(&template) {
        let actions = texts(&statement["Action"]);
        assert!(
            !actions
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("kms:")),
            "{role} grants itself {actions:?}: kms use is the key policy's to grant"
        );
    }
}

/// The sequencer may update an events-table item only to stamp its `log_index` (the attribute
/// names `LogStore::stamp` sends), reading nothing back.
#[test]
fn the_sequencer_may_only_stamp_log_index_on_events() {
    use seclog::store::dynamodb::schema::LOG_INDEX;
    use seclog::store::dynamodb::schema::{PK, SK};
    let template = template();
    let updates: Vec<Yaml> = role_statements(&template)
        .into_iter()
        .filter(|(role, _)| role == "SequencerRole")
        .map(|(_, statement)| statement)
        .filter(|s| {
            texts(&s["Action"])
                .iter()
                .any(|a| covers(a, "dynamodb:UpdateItem"))
        })
        // The log table is the sequencer's own (the sweep marks an edge signed there).
        .filter(|s| texts(&s["Resource"]) != ["!GetAtt LogTable.Arn"])
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    let update = &updates[0];
    assert_eq!(texts(&update["Resource"]), ["!GetAtt EventsTable.Arn"]);
    let attributes: BTreeSet<String> =
        texts(&update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"])
            .into_iter()
            .collect();
    let expected: BTreeSet<String> = [PK, SK, LOG_INDEX].map(str::to_owned).into();
    assert_eq!(attributes, expected);
    assert_eq!(
        texts(&update["Condition"]["StringEqualsIfExists"]["dynamodb:ReturnValues"]),
        ["NONE"]
    );
}

/// The page's filter lists the catalogue's types with their labels, in order: its copy in
/// `web/security-logs.js` (a static file, no build step) may not drift from the code's.
#[test]
fn the_page_lists_the_catalogue_s_event_types() {
    let script = repository_file("web/security-logs.js");
    let start = script
        .find("const EVENT_TYPES = [")
        .expect("EVENT_TYPES in web/security-logs.js");
    let list = &script[start..start + script[start..].find("];").expect("end of EVENT_TYPES")];
    // Lines `["type", "Label"],`: the type and the label are the 2nd and 4th quoted pieces.
    let on_page: Vec<(String, String)> = list
        .lines()
        .filter(|line| line.trim_start().starts_with("[\""))
        .map(|line| {
            let pieces: Vec<&str> = line.split('"').collect();
            (pieces[1].to_owned(), pieces[3].to_owned())
        })
        .collect();
    let catalogue: Vec<(String, String)> = EventType::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), t.label().to_owned()))
        .collect();
    assert_eq!(on_page, catalogue);
}

/// The filter members docs/design/integrity.md tells a verifier to read from an export's entry
/// are exactly those the service writes there (`ExportFilters`, every member set).
#[test]
fn the_documented_filter_members_are_those_of_export_filters() {
    use seclog::domain::export::ExportFilters;
    use seclog::domain::{LogFilter, ViewerZone};
    let doc = repository_file("docs/design/integrity.md");
    let start = doc
        .find("only the\n   members")
        .expect("the filter members' sentence in docs/design/integrity.md");
    let sentence = &doc[start..start + doc[start..].find("This gives").expect("its end")];
    // The members are the sentence's code spans that are names; its values (`null`, `true`,
    // `false`) and expressions (`from <= to`) are not.
    let documented: BTreeSet<String> = sentence
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .filter(|span| !["null", "true", "false"].contains(span))
        .map(str::to_owned)
        .collect();
    let filters = ExportFilters {
        filter: LogFilter {
            from: Some(jiff::Timestamp::UNIX_EPOCH),
            to: Some(jiff::Timestamp::UNIX_EPOCH),
            types: vec![EventType::ALL[0]],
            actor: Some("u_1".into()),
            unfamiliar: Some(true),
        },
        tz: ViewerZone::parse("UTC").unwrap(),
    };
    let written = serde_json::to_value(filters.view()).unwrap();
    let members: BTreeSet<String> = written.as_object().unwrap().keys().cloned().collect();
    assert_eq!(documented, members);
}

/// Every route of `template.yaml`'s HTTP API (`METHOD /path`), from its functions' events.
fn template_routes(template: &Yaml) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"].as_str() == Some("HttpApi") {
                let properties = &event["Properties"];
                routes.insert(format!(
                    "{} {}",
                    properties["Method"].as_str().expect("a method"),
                    properties["Path"].as_str().expect("a path")
                ));
            }
        }
    }
    routes
}

/// The stack serves exactly the operations `openapi.yaml` documents: a route added to one
/// and not the other (the stream routes were) fails here.
#[test]
fn the_template_serves_exactly_the_documented_routes() {
    let documented: BTreeSet<String> = openapi()["paths"]
        .as_mapping()
        .expect("paths")
        .iter()
        .flat_map(|(path, operations)| {
            let path = path.as_str().expect("a path").to_owned();
            operations
                .as_mapping()
                .expect("operations")
                .keys()
                .filter_map(|method| method.as_str())
                .filter(|method| ["get", "post", "put", "patch", "delete"].contains(method))
                .map(move |method| format!("{} {path}", method.to_ascii_uppercase()))
                .collect::<Vec<_>>()
        })
        .collect();
    let served = template_routes(&template());
    assert!(served.contains("DELETE /v1/streams/{id}"), "{served:?}");
    assert_eq!(served, documented);
}

/// Stream secrets: only the streams routes seal (Encrypt) and only the delivery opens
/// (Decrypt); nobody else has either, and no role grants itself a kms action (checked above).
#[test]
fn only_the_routes_seal_and_only_delivery_opens_stream_secrets() {
    let template = template();
    let policy = &template["Resources"]["StreamSecretsKey"]["Properties"]["KeyPolicy"];
    let statements = policy["Statement"].as_sequence().expect("statements");
    let allowed = |action: &str| allowed_principals(statements, action);
    let role = |name: &str| BTreeSet::from([format!("!GetAtt {name}.Arn")]);
    assert_eq!(allowed("kms:Encrypt"), role("StreamsRole"));
    assert_eq!(allowed("kms:Decrypt"), role("StreamDeliveryRole"));
    for action in [
        "kms:ReEncryptFrom",
        "kms:GenerateDataKey",
        "kms:CreateGrant",
    ] {
        assert_eq!(allowed(action), BTreeSet::new(), "{action}");
    }
}
