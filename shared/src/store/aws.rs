//! AWS SDK configuration, built once per process.

use aws_config::{BehaviorVersion, SdkConfig};

/// Configuration from the Lambda environment (role credentials, region). `AWS_ENDPOINT_URL`
/// is honoured by the SDK itself, which is how the benchmark points a function at the local stack.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Configuration for a local stand-in of AWS at `endpoint` (static test credentials).
pub async fn local(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-stack",
        ))
        .load()
        .await
}
