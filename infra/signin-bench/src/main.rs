//! `make bench-signins`: what judging unfamiliar sign-ins adds to ingest, for batches of 100
//! sign-ins (`ROUNDS=...` batches each way, default 30).
//!
//! On the local stack (moto, as `make dev` runs it), each round on a fresh table: a batch of 100
//! sign-ins of 40 users teaches their profiles (untimed); then one batch is stored the way ingest
//! did before sign-ins were judged (`EventStore::record` alone) and one the way it does now
//! (`SignIns::flag`, `record`, `SignIns::learn`, against the known profiles). It prints the
//! median and 95th percentile of both and the difference. The JSON parsing and validation of a request are
//! the same either way and left out.

use std::time::{Duration, Instant};

use dev_server::LocalStack;
use seclog::domain::{IngestBatch, IngestContext, Producer};
use seclog::signins::SignIns;
use seclog::store::dynamodb::events::EventStore;
use seclog::store::{aws, dynamodb::schema};
use serde_json::{Value, json};

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn batch(account: &str, round: i64, producer: &Producer) -> IngestBatch {
    let events: Vec<Value> = (0..100i64)
        .map(|i| {
            let at = jiff::Timestamp::from_second(1_713_765_600 + round * 1000 + i).expect("time");
            json!({
                "account_id": account, "type": "login", "occurred_at": at.to_string(),
                "actor": {"id": format!("u_{}", i % 40), "name": "Alice Merchant"},
                "ip": format!("198.51.{}.{}", i % 7, round % 200),
                "user_agent": if i % 3 == 0 { CHROME } else { SAFARI },
                "location": {"country": if i % 11 == 0 { "SG" } else { "PH" }},
                "details": {}
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "events": events })).expect("json");
    let context = IngestContext {
        now: jiff::Timestamp::now(),
        producer,
    };
    IngestBatch::parse(&body, &context).expect("a valid batch")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: i64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let stack = LocalStack::start(0)?;
    let config = aws::local(&stack.dynamodb_endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let producer = Producer::parse("arn:aws:iam::123456789012:role/auth-service")?;

    let (mut before, mut after, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // A fresh table per round, so every round measures the same amount of stored data.
        let table = format!("bench-events-{round}");
        schema::create_events_table(&client, &table, false).await?;
        let store = EventStore::new(client.clone(), &table, 365);
        let signins = SignIns::new(store.clone());
        // The users' earlier sign-ins, so the timed batch is judged against known profiles.
        let mut seed = batch("acct_judged", round, &producer);
        let learning = signins.flag(&mut seed.events).await?;
        let recorded = store.record(&seed.events, jiff::Timestamp::now()).await?;
        signins.learn(learning, &recorded).await?;

        let plain = batch("acct_plain", round + 1, &producer);
        let started = Instant::now();
        store.record(&plain.events, jiff::Timestamp::now()).await?;
        before.push(started.elapsed());

        let mut judged = batch("acct_judged", round + 1, &producer);
        let started = Instant::now();
        let learning = signins.flag(&mut judged.events).await?;
        let judged_at = started.elapsed();
        let recorded = store.record(&judged.events, jiff::Timestamp::now()).await?;
        let stored_at = started.elapsed();
        signins.learn(learning, &recorded).await?;
        after.push(started.elapsed());
        parts.push((
            judged_at,
            stored_at - judged_at,
            started.elapsed() - stored_at,
        ));
    }
    before.sort();
    after.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("| batch of 100 sign-ins | median | p95 |");
    println!("|---|---:|---:|");
    println!(
        "| stored only (before) | {} | {} |",
        ms(percentile(&before, 0.5)),
        ms(percentile(&before, 0.95))
    );
    println!(
        "| judged, stored, learned (after) | {} | {} |",
        ms(percentile(&after, 0.5)),
        ms(percentile(&after, 0.95))
    );
    let median_of = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
        let mut all: Vec<Duration> = parts.iter().map(pick).collect();
        all.sort();
        percentile(&all, 0.5)
    };
    println!(
        "| of which: profiles read and judged / entries stored / profiles written | {} / {} / {} | |",
        ms(median_of(|p| p.0)),
        ms(median_of(|p| p.1)),
        ms(median_of(|p| p.2))
    );
    let increase =
        percentile(&after, 0.5).as_secs_f64() / percentile(&before, 0.5).as_secs_f64() - 1.0;
    println!(
        "\nmedian increase: {:+.0}% over {rounds} batches each way",
        increase * 100.0
    );
    Ok(())
}
