//! The streams' resources on the local stack, made as the template makes them in the cloud:
//! the streams table, the queue of delivery runs (moto's SQS) and the symmetric KMS key that
//! seals stream secrets (moto's KMS).

use aws_config::SdkConfig;
use seclog::store::dynamodb::schema;

/// What the streams functions are configured with (`Settings::with_streams`).
#[derive(Debug, Clone)]
pub struct StreamResources {
    pub table: String,
    pub queue_url: String,
    pub secrets_key_id: String,
}

/// Creates the streams table `table`, the queue `queue` and a KMS key.
pub async fn create(
    config: &SdkConfig,
    table: &str,
    queue: &str,
) -> Result<StreamResources, Box<dyn std::error::Error>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    schema::create_streams_table(&dynamodb, table).await?;
    let queue_url = aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(queue)
        // As the template's: longer than a run's lease, so a failed run's message comes back
        // to a stream whose lease has ended (`seclog::streams::run`).
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "720",
        )
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?
        .queue_url
        .ok_or("SQS returned no queue URL")?;
    let key = aws_sdk_kms::Client::new(config)
        .create_key()
        .description("seals stream secrets (local)")
        .send()
        .await
        .map_err(|e| aws_sdk_kms::error::DisplayErrorContext(e).to_string())?;
    let secrets_key_id = key
        .key_metadata
        .map(|metadata| metadata.key_id)
        .ok_or("KMS returned no key")?;
    Ok(StreamResources {
        table: table.to_owned(),
        queue_url,
        secrets_key_id,
    })
}
