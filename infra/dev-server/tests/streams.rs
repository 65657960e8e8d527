//! The local event source mapping against moto's stream: a backlog is consumed in full batches,
//! as Lambda hands a function that fell behind, even when each stream page holds only a few of
//! the records the mapping accepts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodbstreams::types::Record;
use dev_server::stack::LocalStack;
use dev_server::streams::{Mapping, StreamConsumer, StreamTrigger};
use export_worker::StreamEvent;
use lambda_runtime::LambdaEvent;

/// Records one batch size per invocation.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<usize>>>);

fn accepted(record: &Record) -> bool {
    record
        .dynamodb()
        .and_then(|d| d.new_image())
        .is_some_and(|image| image.contains_key("accepted"))
}

impl StreamConsumer for Recorder {
    const MAPPING: Mapping = Mapping {
        accepts: accepted,
        batch_size: 1000,
        batching_window: Duration::ZERO,
        max_retries: None,
        parallelization: 1,
    };

    async fn invoke(&self, event: LambdaEvent<StreamEvent>) -> Result<(), String> {
        self.0.lock().unwrap().push(event.payload.records.len());
        Ok(())
    }
}

#[tokio::test]
async fn a_backlog_of_thousands_is_consumed_in_full_batches() {
    let stack = LocalStack::start(0).expect("moto");
    let config = seclog::store::aws::local(&stack.dynamodb_endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = "backlog";
    seclog::store::dynamodb::schema::create_streamed_table(&dynamodb, table)
        .await
        .unwrap();
    // 3,000 accepted records between 3,000 others (as entry inserts share the events stream
    // with idempotency markers and stamps): a stream page of 1,000 holds about 500 accepted.
    let items: Vec<WriteRequest> = (0..6000)
        .map(|n| {
            let mut item = std::collections::HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("p{}", n % 7))),
                ("sk".to_owned(), AttributeValue::S(format!("{n:06}"))),
            ]);
            if n % 2 == 0 {
                item.insert("accepted".into(), AttributeValue::Bool(true));
            }
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in items.chunks(25) {
        dynamodb
            .batch_write_item()
            .request_items(table, chunk.to_vec())
            .send()
            .await
            .unwrap();
    }

    let recorder = Recorder::default();
    let trigger = StreamTrigger {
        streams: aws_sdk_dynamodbstreams::Client::new(&config),
        dynamodb,
        table: table.into(),
        consumer: Arc::new(recorder.clone()),
        timeout: Duration::from_secs(60),
    };
    let running = tokio::spawn(trigger.run());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while recorder.0.lock().unwrap().iter().sum::<usize>() < 3000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not consumed in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.abort();
    let sizes = recorder.0.lock().unwrap().clone();
    assert_eq!(sizes, [1000, 1000, 1000], "full batches from the backlog");
}
