//! Records a few events with the client and waits until they are stored.
//!
//! With `make dev` running (http://127.0.0.1:3000, SigV4 with access key `local`, secret
//! `local`, region `us-east-1`):
//!
//! ```sh
//! cargo run -p seclog-client --example record
//! ```
//!
//! `API_URL` points it elsewhere. Then see the entries on the demo page
//! (http://127.0.0.1:3000/, account `acct_example`) or with `GET /v1/logs`.

use std::process::ExitCode;
use std::time::Duration;

use seclog_client::{Actor, Client, Credentials, Event, EventType, Location};

const ACCOUNT: &str = "acct_example";

#[tokio::main]
async fn main() -> ExitCode {
    let endpoint = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let client = Client::builder()
        .endpoint(&endpoint)
        .region("us-east-1")
        .credentials(Credentials::new("local", "local", None, None, "make dev"))
        .on_rejected(|rejected| {
            eprintln!(
                "rejected {} ({:?}): {}",
                rejected.event.event_type(),
                rejected.status,
                rejected.detail
            );
            for error in &rejected.errors {
                eprintln!("  {}: {}", error.field, error.message);
            }
        })
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            eprintln!("cannot build the client: {error}");
            return ExitCode::FAILURE;
        }
    };

    let alice = || {
        Actor::new("u_1")
            .name("Alice Merchant")
            .email("alice@example.com")
    };
    let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";
    let events = [
        Event::new(ACCOUNT, EventType::Login, alice())
            .ip([203, 0, 113, 45].into())
            .user_agent(safari)
            .location(Location::new().country("PH").city("Makati"))
            .detail("method", "password"),
        Event::new(ACCOUNT, EventType::ApiKeyViewed, alice())
            .detail("key", "secret")
            .detail("key_id", "sk_live_...4242"),
        // The producer's own id: running the example again stores this one only once.
        Event::new(ACCOUNT, EventType::PayoutAccountUpdated, alice())
            .event_id("example-payout-1")
            .occurred_at("2024-04-22T06:40:00Z".parse().expect("a valid time"))
            .detail("bank", "BDO")
            .detail("account_last4", "6789"),
    ];
    for event in events {
        match client.record(event) {
            Ok(event_id) => println!("recorded {event_id}"),
            Err(error) => eprintln!("not recorded: {error}"),
        }
    }

    // Sending happens in the background; wait for it, but not forever.
    match tokio::time::timeout(Duration::from_secs(30), client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("flush: {error}"),
        Err(_) => eprintln!("not all stored within 30 s (is `make dev` running at {endpoint}?)"),
    }
    let stats = client.stats();
    println!(
        "stored {} new, {} already stored, {} rejected",
        stats.stored, stats.duplicates, stats.rejected
    );
    if let Err(error) = client.shutdown(Duration::from_secs(5)).await {
        eprintln!("shutdown: {error}");
        return ExitCode::FAILURE;
    }
    if stats.rejected > 0 || stats.stored + stats.duplicates < stats.recorded {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
