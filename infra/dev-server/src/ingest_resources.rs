//! The ingest queue on the local stack, made as the template makes it in the cloud: the queue
//! (moto's SQS) with a redrive policy to its dead-letter queue, which the consumer also sends
//! the messages that can never be stored to, with their reason.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

/// As the template's `IngestQueue`: 6x the consumer's timeout (30 s), as Lambda advises.
pub const VISIBILITY_TIMEOUT_SECS: u32 = 180;
/// As the template's redrive policy: receives before a message moves to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// What the ingest queue's consumer is configured with (`Settings::with_ingest_dead_letters`),
/// and where producers send.
#[derive(Debug, Clone)]
pub struct IngestQueueResources {
    pub queue_url: String,
    pub dead_letters_url: String,
}

/// Creates the queue `queue` and its dead-letter queue `<queue>-dead-letters`.
pub async fn create(
    config: &SdkConfig,
    queue: &str,
) -> Result<IngestQueueResources, Box<dyn std::error::Error>> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let dead_letters_url = sqs
        .create_queue()
        .queue_name(format!("{queue}-dead-letters"))
        .send()
        .await
        .map_err(sqs_error)?
        .queue_url
        .ok_or("SQS returned no queue URL")?;
    let dead_letters_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_letters_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(sqs_error)?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("SQS returned no queue ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letters_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    });
    let queue_url = sqs
        .create_queue()
        .queue_name(queue)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_SECS.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(sqs_error)?
        .queue_url
        .ok_or("SQS returned no queue URL")?;
    Ok(IngestQueueResources {
        queue_url,
        dead_letters_url,
    })
}

fn sqs_error(error: impl std::error::Error) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(error).to_string()
}
