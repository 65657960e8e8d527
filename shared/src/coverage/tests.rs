use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + seconds).unwrap()
}

fn entry(event_type: EventType, producer: Option<&str>, received: i64) -> LogEntry {
    LogEntry {
        producer: producer.map(str::to_owned),
        ..LogEntry::bare(
            "01HW3Z9V7Q4M8K2N5P00000001".into(),
            event_type,
            "u_1".into(),
            at(received),
        )
    }
}

const PAYOUTS: &str = "arn:aws:sts::123456789012:assumed-role/payouts/i-1";
const AUTH: &str = "arn:aws:sts::123456789012:assumed-role/auth/i-2";

#[test]
fn a_tally_counts_per_producer_and_type_and_keeps_the_newest_time() {
    let mut tally = Tally::default();
    for (event_type, producer, received) in [
        (EventType::PayoutAccountUpdated, Some(PAYOUTS), 5),
        (EventType::PayoutAccountUpdated, Some(PAYOUTS), 9),
        (EventType::PayoutAccountUpdated, Some(PAYOUTS), 7),
        (EventType::Login, Some(AUTH), 3),
        (EventType::SecurityLogsExported, None, 4),
    ] {
        tally.count(&entry(event_type, producer, received));
    }
    let rows = tally.rows();
    assert_eq!(rows.len(), 3);
    let payouts = rows
        .iter()
        .find(|row| row.producer == PAYOUTS)
        .expect("the payout service's row");
    assert_eq!(
        (payouts.event_type, payouts.count, payouts.last_received_at),
        (EventType::PayoutAccountUpdated, 3, at(9))
    );
    assert!(
        rows.iter()
            .any(|row| row.producer == SERVICE_PRODUCER && row.count == 1),
        "the service's own entries under its name"
    );
}

#[test]
fn the_report_marks_a_producer_silent_past_the_threshold_only() {
    let rows = [
        Coverage {
            producer: PAYOUTS.into(),
            event_type: EventType::PayoutAccountUpdated,
            count: 40,
            last_received_at: at(0),
        },
        Coverage {
            producer: AUTH.into(),
            event_type: EventType::Login,
            count: 9000,
            last_received_at: at(86_000),
        },
    ];
    let report = report(&rows, at(90_000), SignedDuration::from_hours(24));
    let line = |producer: &str| {
        report
            .lines()
            .find(|line| line.starts_with(producer))
            .unwrap()
            .to_owned()
    };
    assert!(line(PAYOUTS).contains("payout_account.updated\t40\t"));
    assert!(line(PAYOUTS).ends_with("SILENT for 25.0 h"), "{report}");
    assert!(!line(AUTH).contains("SILENT"), "{report}");
}
