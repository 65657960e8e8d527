//! Producer coverage on the local stack: the sequencer counts what it appends per producer and
//! type (the producer being the signed request's IAM principal), and `seclog-coverage` reads it.

use std::time::Duration;

use integration_tests::{account, event, spawn_app};
use seclog::coverage::ports::CoverageStore;
use seclog::domain::EventType;
use seclog::store::dynamodb::coverage::DynamoCoverage;

/// The principal the local signer's requests map to (the dev server's SigV4 check).
const LOCAL_PRODUCER: &str = "arn:aws:iam::000000000000:user/local";

#[tokio::test]
async fn the_sequencer_counts_each_producers_types_once_with_the_last_arrival() {
    let app = spawn_app().await;
    let (first, second) = (account(), account());
    let before = jiff::Timestamp::now();
    app.ingest(vec![
        event(&first, "login", 0),
        event(&first, "login", 1),
        event(&second, "login", 2),
        event(&first, "api_key.viewed", 3),
    ])
    .await;
    // The same events again with ids: stored once, counted once.
    let with_id = |mut e: serde_json::Value, id: &str| {
        e["event_id"] = id.into();
        e
    };
    let twice = vec![
        with_id(event(&second, "payout_account.updated", 4), "evt_cov_1"),
        with_id(event(&second, "payout_account.updated", 5), "evt_cov_2"),
    ];
    app.ingest(twice.clone()).await;
    app.ingest(twice).await;

    let coverage = DynamoCoverage::new(app.dynamodb.clone(), &app.tables.log);
    let want = [
        (EventType::Login, 3),
        (EventType::ApiKeyViewed, 1),
        (EventType::PayoutAccountUpdated, 2),
    ];
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = coverage.all().await.unwrap();
        let total: u64 = rows.iter().map(|row| row.count).sum();
        if total >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), want.len(), "{rows:?}");
    for (event_type, count) in want {
        let row = rows
            .iter()
            .find(|row| row.event_type == event_type)
            .unwrap_or_else(|| panic!("no row of {event_type}: {rows:?}"));
        assert_eq!(row.producer, LOCAL_PRODUCER);
        assert_eq!(row.count, count, "{event_type}");
        assert!(row.last_received_at >= before && row.last_received_at <= jiff::Timestamp::now());
    }
}
