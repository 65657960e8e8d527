//! Settings read from the Lambda environment once, at start-up.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).map_err(|_| ConfigError::Missing(name))
}

pub fn number_or(name: &'static str, default: i64) -> Result<i64, ConfigError> {
    match std::env::var(name) {
        Ok(value) => value
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError::Invalid(name, "must be a positive integer".into())),
        Err(_) => Ok(default),
    }
}

/// Days an entry is kept before DynamoDB's TTL removes it (`RETENTION_DAYS`, default 365).
pub fn retention_days() -> Result<i64, ConfigError> {
    number_or("RETENTION_DAYS", 365)
}

/// Days an export (file and job) is kept (`EXPORT_EXPIRY_DAYS`, default 7).
pub fn export_expiry_days() -> Result<i64, ConfigError> {
    number_or("EXPORT_EXPIRY_DAYS", 7)
}

/// How long a download link lives (`DOWNLOAD_URL_TTL_SECONDS`, default and maximum 900).
pub fn download_url_ttl() -> Result<std::time::Duration, ConfigError> {
    let seconds = number_or("DOWNLOAD_URL_TTL_SECONDS", 900)?;
    if seconds > 900 {
        return Err(ConfigError::Invalid(
            "DOWNLOAD_URL_TTL_SECONDS",
            "must be at most 900".into(),
        ));
    }
    Ok(std::time::Duration::from_secs(seconds as u64))
}
