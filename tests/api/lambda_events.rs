//! The sample payloads in `events/` through the handlers, as the Lambda runtime delivers them.

use integration_tests::spawn_app;
use seclog::config::AccountClaim;
use seclog::domain::cursor::CursorKey;
use seclog::http::Endpoint;
use seclog::store::dynamodb::events::EventStore;
use seclog::store::secrets::cursor_keys::CursorKeys;
use serde_json::Value;

fn sample(name: &str) -> String {
    integration_tests::repository_file(&format!("events/{name}"))
}

#[tokio::test]
async fn sample_ingest_and_list_events_run_through_the_handlers() {
    let app = spawn_app().await;
    let store = EventStore::from_config(&app.aws, &app.tables.events, 365);
    let ingest = ingest::Ingest::new(store.clone());
    let list = list_logs::ListLogs::new(
        store,
        AccountClaim::default_claim(),
        CursorKeys::fixed(CursorKey::new(&[1; 32]).unwrap()),
    );

    let request =
        lambda_http::request::from_str(&sample("ingest.json")).expect("API Gateway v2 event");
    let response = ingest.handle(request).await;
    assert_eq!(response.status(), 201);
    let created: Value = serde_json::from_slice(response.body().as_ref()).unwrap();

    let request =
        lambda_http::request::from_str(&sample("list-logs.json")).expect("API Gateway v2 event");
    let response = list.handle(request).await;
    assert_eq!(response.status(), 200);
    let page: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(page["data"][0]["id"], created["events"][0]["id"]);
    assert_eq!(
        page["data"][0]["occurred_at_local"],
        "2024-04-22T14:32:15+08:00"
    );
    assert_eq!(page["data"][0]["device"], "Safari on macOS");
    assert_eq!(
        page["data"][0]["unfamiliar"],
        Value::Null,
        "a first sign-in"
    );

    // The same user from a new device and network: listed by the `unfamiliar=true` sample.
    let mut odd: Value = serde_json::from_str(&sample("ingest.json")).unwrap();
    let mut body: Value = serde_json::from_str(odd["body"].as_str().unwrap()).unwrap();
    body["event_id"] = "evt-sample-2".into();
    body["occurred_at"] = "2024-04-22T07:00:00Z".into();
    body["ip"] = "198.51.100.7".into();
    body["user_agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36".into();
    odd["body"] = body.to_string().into();
    let response = ingest
        .handle(lambda_http::request::from_str(&odd.to_string()).unwrap())
        .await;
    assert_eq!(response.status(), 201);
    let request = lambda_http::request::from_str(&sample("list-logs-unfamiliar.json"))
        .expect("API Gateway v2 event");
    let page: Value = serde_json::from_slice(list.handle(request).await.body().as_ref()).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(
        page["data"][0]["unfamiliar"],
        serde_json::json!({"reasons": ["new_device", "new_network"]})
    );
}

/// `events/streams.json` (`GET /v1/streams`, also the cold-start benchmark's invocation), and
/// the same event turned into a create, through the streams handler as Lambda runs it.
#[tokio::test]
async fn the_sample_streams_event_runs_through_the_handler() {
    let app = spawn_app().await;
    let handler = app.app.streams();
    let list = |text: &str| lambda_http::request::from_str(text).expect("API Gateway v2 event");
    let response = handler.handle(list(&sample("streams.json"))).await;
    assert_eq!(response.status(), 200);
    let page: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(page, serde_json::json!({"data": []}));

    let mut create: Value = serde_json::from_str(&sample("streams.json")).unwrap();
    create["routeKey"] = "POST /v1/streams".into();
    create["requestContext"]["routeKey"] = "POST /v1/streams".into();
    create["requestContext"]["http"]["method"] = "POST".into();
    create["body"] = serde_json::json!({
        "kind": "s3",
        "bucket": "acme-security-logs",
        "role_arn": "arn:aws:iam::123456789012:role/SecurityLogsWriter",
        "region": "eu-west-1",
    })
    .to_string()
    .into();
    let response = handler.handle(list(&create.to_string())).await;
    assert_eq!(response.status(), 201);
    let response = handler.handle(list(&sample("streams.json"))).await;
    let page: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(page["data"][0]["bucket"], "acme-security-logs", "{page}");
}

/// `events/ingest-queue.json` (an SQS event of the ingest queue, also the cold-start
/// benchmark's invocation) through the consumer as Lambda runs it, twice: one entry, produced
/// by the record's `SenderId`, no batch item failure.
#[tokio::test]
async fn the_sample_ingest_queue_event_runs_through_the_consumer() {
    let app = spawn_app().await;
    let consumer = app.app.ingest_queue();
    for _ in 0..2 {
        let event: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_str(&sample("ingest-queue.json")).expect("an SQS event");
        let response = consumer
            .handle(lambda_runtime::LambdaEvent::new(event, Default::default()))
            .await
            .expect("handled");
        assert!(response.batch_item_failures.is_empty());
    }
    let (status, page) = app.list("acct_demo", "").await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["data"][0]["event_id"], "payout-7781");
    let raw = format!("{:?}", app.raw_items().await);
    assert!(raw.contains("AROAEXAMPLEPAYOUTS:payouts-service"), "{raw}");
}
