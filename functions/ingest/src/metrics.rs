//! Ingest's metrics, as EMF lines printed once per request (no API call): the entries it
//! stored, by event type (`EventsIngested`), and how many of them were unfamiliar sign-ins
//! (`UnfamiliarSignIns`). A duplicate (a producer's retry of a stored `event_id`) stored
//! nothing, so it is not counted again.

use std::collections::BTreeMap;

use seclog::domain::{EventType, NewEvent, Recorded};
use seclog::telemetry::emf::{Dimension, Metric, lines, lines_by};

const FUNCTION: &str = "ingest";

/// The request's lines: one per event type it stored (the catalogue is fixed, so the
/// `EventType` dimension stays bounded), and one with the unfamiliar sign-ins. `recorded` is
/// in request order, as the store answers.
pub fn request_lines(events: &[NewEvent], recorded: &[Recorded], timestamp_ms: i64) -> Vec<String> {
    let mut by_type: BTreeMap<EventType, usize> = BTreeMap::new();
    let mut unfamiliar: u32 = 0;
    for (event, _) in events.iter().zip(recorded).filter(|(_, r)| !r.duplicate) {
        *by_type.entry(event.entry.event_type).or_default() += 1;
        if event.entry.unfamiliar.is_some() {
            unfamiliar += 1;
        }
    }
    let mut out: Vec<String> = by_type
        .into_iter()
        .flat_map(|(event_type, count)| {
            let dimension = Dimension {
                name: "EventType",
                value: event_type.as_str(),
            };
            let ingested = Metric {
                name: "EventsIngested",
                unit: "Count",
                values: &[count as f64],
            };
            lines_by(FUNCTION, &[dimension], timestamp_ms, &[ingested])
        })
        .collect();
    let flagged = Metric {
        name: "UnfamiliarSignIns",
        unit: "Count",
        values: &[f64::from(unfamiliar)],
    };
    out.extend(lines(FUNCTION, timestamp_ms, &[flagged]));
    out
}

/// Prints [`request_lines`] on stdout (CloudWatch in Lambda, the server's log locally).
pub fn emit(events: &[NewEvent], recorded: &[Recorded]) {
    let now = jiff::Timestamp::now().as_millisecond();
    for line in request_lines(events, recorded, now) {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seclog::domain::{AccountId, Actor, EntryId, Json, Unfamiliar};
    use serde_json::Value;

    fn event(event_type: EventType, unfamiliar: bool) -> NewEvent {
        let mut event = NewEvent::internal(
            AccountId::parse("acct_1").unwrap(),
            event_type,
            Actor {
                id: "u_1".into(),
                name: None,
                email: None,
            },
            None,
            Json::parse("{}").unwrap(),
            jiff::Timestamp::UNIX_EPOCH,
        );
        event.entry.unfamiliar = unfamiliar.then(|| Unfamiliar { reasons: vec![] });
        event
    }

    fn recorded(duplicate: bool) -> Recorded {
        Recorded {
            id: EntryId::generate(),
            duplicate,
        }
    }

    /// Each line's `EventType` (none on the sign-ins line) and its value of `metric`.
    fn read(lines: &[String], metric: &str) -> Vec<(Option<String>, f64)> {
        lines
            .iter()
            .filter_map(|line| {
                let line: Value = serde_json::from_str(line).unwrap();
                let value = line[metric].as_array()?[0].as_f64()?;
                Some((line["EventType"].as_str().map(str::to_owned), value))
            })
            .collect()
    }

    #[test]
    fn stored_entries_are_counted_by_type_and_duplicates_are_not() {
        let events = [
            event(EventType::Login, true),
            event(EventType::Login, false),
            event(EventType::Login, true),
            event(EventType::ApiKeyViewed, false),
        ];
        let lines = request_lines(
            &events,
            &[
                recorded(false),
                recorded(false),
                recorded(true),
                recorded(false),
            ],
            0,
        );
        assert_eq!(
            read(&lines, "EventsIngested"),
            [
                (Some("login".into()), 2.0),
                (Some("api_key.viewed".into()), 1.0)
            ]
        );
        // The third sign-in was flagged too, but it was a retry: stored once, counted once.
        assert_eq!(read(&lines, "UnfamiliarSignIns"), [(None, 1.0)]);
    }

    #[test]
    fn a_request_of_duplicates_only_reports_no_types_and_no_sign_ins() {
        let lines = request_lines(&[event(EventType::Login, true)], &[recorded(true)], 0);
        assert!(read(&lines, "EventsIngested").is_empty());
        assert_eq!(read(&lines, "UnfamiliarSignIns"), [(None, 0.0)]);
    }
}
