//! The cursor signing secret on the local stack, made the way the stack's
//! `GenerateSecretString` makes it in the cloud: random, never typed in, read back by id.

use aws_config::SdkConfig;

/// Creates a secret `name` holding 64 random letters and digits; returns its ARN.
pub async fn create_cursor_secret(
    config: &SdkConfig,
    name: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let output = client
        .create_secret()
        .name(name)
        .secret_string(random_secret())
        .send()
        .await
        .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())?;
    output
        .arn()
        .map(str::to_owned)
        .ok_or_else(|| "Secrets Manager returned no ARN".into())
}

/// 64 characters from four ULIDs' random parts: 320 bits, more than a cursor key needs.
fn random_secret() -> String {
    (0..4)
        .map(|_| format!("{:016x}", ulid::Ulid::generate().random() as u64))
        .collect()
}
