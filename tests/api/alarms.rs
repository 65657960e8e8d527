//! `template.yaml`'s alarms against its own resources: every function, failure queue and
//! stream consumer has its alarms, each notifies the alarm topic, and docs/runbook.md has a
//! section for each. A function or queue added without its alarms fails here.

use std::collections::BTreeSet;

use integration_tests::repository_file;
use serde_norway::Value as Yaml;

use super::contract::{template, texts};

/// One alarm: its logical id, the metric it watches and that metric's one dimension (its
/// value as `texts` writes it: `!Ref IngestFunction`).
#[derive(Debug)]
struct Alarm {
    name: String,
    namespace: String,
    metric: String,
    dimension: (String, String),
    properties: Yaml,
}

impl Alarm {
    fn watches(&self, namespace: &str, metric: &str, dimension: (&str, &str)) -> bool {
        self.namespace == namespace
            && self.metric == metric
            && self.dimension.0 == dimension.0
            && self.dimension.1 == dimension.1
    }
}

fn alarms(template: &Yaml) -> Vec<Alarm> {
    resources(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, resource)| {
            let properties = resource["Properties"].clone();
            let text = |key: &str| properties[key].as_str().unwrap_or_default().to_owned();
            let dimensions = properties["Dimensions"].as_sequence().cloned();
            let [dimension] = dimensions.as_deref().unwrap_or_default() else {
                panic!("{name}: expected exactly one dimension");
            };
            Alarm {
                namespace: text("Namespace"),
                metric: text("MetricName"),
                dimension: (
                    dimension["Name"].as_str().unwrap_or_default().to_owned(),
                    texts(&dimension["Value"]).join(" "),
                ),
                properties,
                name,
            }
        })
        .collect()
}

/// The resources of `kind`, by logical id.
fn resources(template: &Yaml, kind: &str) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(name, resource)| (name.as_str().unwrap().to_owned(), resource.clone()))
        .collect()
}

/// The logical id a `!GetAtt Name.Arn` names; `None` for anything else, or nothing.
fn arn_of(value: &Yaml) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let text = texts(value).join(" ");
    let name = text.strip_prefix("!GetAtt ")?.strip_suffix(".Arn")?;
    Some(name.to_owned())
}

/// The functions and their events of `kind` (`DynamoDB`, `SQS`, ...).
fn function_events(template: &Yaml, kind: &str) -> Vec<(String, Yaml)> {
    resources(template, "AWS::Serverless::Function")
        .into_iter()
        .flat_map(|(name, function)| {
            function["Properties"]["Events"]
                .as_mapping()
                .into_iter()
                .flatten()
                .filter(|(_, event)| event["Type"].as_str() == Some(kind))
                .map(|(_, event)| (name.clone(), event.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_function_has_an_errors_and_a_throttles_alarm() {
    let template = template();
    let alarms = alarms(&template);
    let functions = resources(&template, "AWS::Serverless::Function");
    assert!(functions.len() >= 10, "{functions:?}");
    for (function, _) in &functions {
        for metric in ["Errors", "Throttles"] {
            let reference = format!("!Ref {function}");
            assert!(
                alarms.iter().any(|a| a.watches(
                    "AWS/Lambda",
                    metric,
                    ("FunctionName", &reference)
                )),
                "{function} has no {metric} alarm"
            );
        }
    }
}

/// Dead-letter queues (a queue's `RedrivePolicy`) and event source mappings' `OnFailure`
/// destinations hold what failed all its retries: each has an alarm on its depth above 0.
#[test]
fn every_failure_queue_has_a_depth_alarm() {
    let template = template();
    let alarms = alarms(&template);
    let queues = resources(&template, "AWS::SQS::Queue");
    let mut failure_queues: BTreeSet<String> = queues
        .iter()
        .filter_map(|(_, queue)| {
            arn_of(&queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        })
        .collect();
    for kind in ["DynamoDB", "SQS"] {
        failure_queues.extend(
            function_events(&template, kind)
                .iter()
                .filter_map(|(_, event)| {
                    arn_of(&event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
                }),
        );
    }
    assert!(
        failure_queues.len() >= 3,
        "expected the sequencer's, the export worker's and the stream runs' failure queues: {failure_queues:?}"
    );
    for queue in &failure_queues {
        let name = format!("!GetAtt {queue}.QueueName");
        let alarm = alarms
            .iter()
            .find(|a| {
                a.watches(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    ("QueueName", &name),
                )
            })
            .unwrap_or_else(|| panic!("{queue} has no depth alarm"));
        assert_eq!(alarm.properties["Threshold"].as_i64(), Some(0), "{alarm:?}");
        assert_eq!(
            alarm.properties["ComparisonOperator"].as_str(),
            Some("GreaterThanThreshold"),
            "{alarm:?}"
        );
    }
    // The other queues (the stream runs' work queue) are watched too, on their age.
    for (queue, _) in &queues {
        let name = format!("!GetAtt {queue}.QueueName");
        assert!(
            alarms
                .iter()
                .any(|a| a.namespace == "AWS/SQS" && a.dimension.1 == name),
            "{queue} has no alarm"
        );
    }
}

#[test]
fn every_stream_consumer_has_an_iterator_age_alarm() {
    let template = template();
    let alarms = alarms(&template);
    let consumers: BTreeSet<String> = function_events(&template, "DynamoDB")
        .into_iter()
        .map(|(function, _)| function)
        .collect();
    assert!(
        consumers.len() >= 3,
        "expected the sequencer, the export worker and the stream fan-out: {consumers:?}"
    );
    for function in &consumers {
        let reference = format!("!Ref {function}");
        assert!(
            alarms.iter().any(|a| a.watches(
                "AWS/Lambda",
                "IteratorAge",
                ("FunctionName", &reference)
            )),
            "{function} has no IteratorAge alarm"
        );
    }
}

/// Every alarm notifies `AlarmTopicArn` on alarm and on recovery, and nothing when it is empty.
#[test]
fn every_alarm_notifies_the_alarm_topic_when_it_is_set() {
    let template = template();
    assert_eq!(
        texts(&template["Conditions"]["HasAlarmTopic"]),
        ["!Not !Equals !Ref AlarmTopicArn", "!Not !Equals "]
    );
    let expected = [
        "!If HasAlarmTopic",
        "!If !Ref AlarmTopicArn",
        "!If !Ref AWS::NoValue",
    ];
    let alarms = alarms(&template);
    assert!(!alarms.is_empty());
    for alarm in &alarms {
        for actions in ["AlarmActions", "OKActions"] {
            assert!(
                !alarm.properties[actions].is_null(),
                "{} has no {actions}",
                alarm.name
            );
            assert_eq!(
                texts(&alarm.properties[actions]),
                expected,
                "{}: {actions}",
                alarm.name
            );
        }
    }
}

/// A heading's anchor as GitHub makes it (as `infra/check-links.py` does): lower case,
/// punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Each alarm has its section in docs/runbook.md (a heading naming it), and the section its
/// description links to exists; the functions' Errors and Throttles alarms share one section
/// each (`<Function>ErrorsAlarm`).
#[test]
fn every_alarm_has_a_runbook_section() {
    let runbook = repository_file("docs/runbook.md");
    let headings: Vec<&str> = runbook.lines().filter(|l| l.starts_with('#')).collect();
    let anchors: BTreeSet<String> = headings.iter().map(|h| anchor(h)).collect();
    let template = template();
    let functions: BTreeSet<String> = resources(&template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for alarm in alarms(&template) {
        let per_function = ["Errors", "Throttles"].into_iter().find(|metric| {
            alarm
                .name
                .strip_suffix(&format!("{metric}Alarm"))
                .is_some_and(|f| functions.contains(&format!("{f}Function")))
        });
        let section = match per_function {
            Some(metric) => format!("<Function>{metric}Alarm"),
            None => alarm.name.clone(),
        };
        assert!(
            headings.iter().any(|h| h.contains(&format!("`{section}`"))),
            "docs/runbook.md has no section on {} (a heading with `{section}`)",
            alarm.name
        );
        let description = alarm.properties["AlarmDescription"].as_str().unwrap_or("");
        if let Some((_, link)) = description.split_once("docs/runbook.md#") {
            assert!(
                anchors.contains(link),
                "{}: docs/runbook.md has no #{link}",
                alarm.name
            );
        }
    }
}
