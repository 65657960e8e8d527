//! SigV4 for API Gateway's `AWS_IAM` authorization (service `execute-api`), by the AWS SDK's
//! own signer, with credentials from any provider (the SDK's default chain, or given ones).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// The service name API Gateway's IAM authorization checks.
pub const SERVICE: &str = "execute-api";

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("no AWS credentials: {0}")]
    Credentials(#[from] aws_credential_types::provider::error::CredentialsError),
    #[error("the request cannot be signed: {0}")]
    Sign(String),
}

/// Signs requests for one region. Credentials are cached until shortly before they expire:
/// providers of the default chain (IMDS, ECS, STS) make a network call per fetch, and the SDK's
/// identity cache only serves SDK clients.
#[derive(Debug)]
pub struct RequestSigner {
    provider: SharedCredentialsProvider,
    region: String,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl RequestSigner {
    pub fn new(provider: SharedCredentialsProvider, region: impl Into<String>) -> Self {
        Self {
            provider,
            region: region.into(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The headers that sign this request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` for temporary credentials); `headers` and `host` are signed too.
    pub async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, SigningError> {
        let identity = self.credentials().await?.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SigningError::Sign(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SigningError::Sign(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| SigningError::Sign(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }

    async fn credentials(&self) -> Result<Credentials, SigningError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached
            .as_ref()
            .filter(|c| still_fresh(c, SystemTime::now()))
        {
            return Ok(credentials.clone());
        }
        let fresh = self.provider.provide_credentials().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }
}

/// Whether `credentials` may still be used at `now`: static ones always; expiring ones until
/// [`REFRESH_BEFORE_EXPIRY`] before their end.
fn still_fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| now + REFRESH_BEFORE_EXPIRY < expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring_at(expiry: SystemTime) -> Credentials {
        Credentials::new("key", "secret", None, Some(expiry), "test")
    }

    #[test]
    fn credentials_are_refreshed_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(still_fresh(
            &expiring_at(now + Duration::from_secs(3600)),
            now
        ));
        assert!(!still_fresh(
            &expiring_at(now + Duration::from_secs(60)),
            now
        ));
        assert!(!still_fresh(
            &expiring_at(now - Duration::from_secs(1)),
            now
        ));
        let permanent = Credentials::new("key", "secret", None, None, "test");
        assert!(still_fresh(&permanent, now));
    }

    #[tokio::test]
    async fn signs_for_execute_api_in_the_region_with_the_key() {
        let provider =
            SharedCredentialsProvider::new(Credentials::new("local", "local", None, None, "t"));
        let signer = RequestSigner::new(provider, "us-east-1");
        let headers = signer
            .sign(
                "POST",
                "http://127.0.0.1:3000/v1/events",
                &[("content-type", "application/json")],
                b"{}",
            )
            .await
            .expect("signs");
        let authorization = headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .map(|(_, value)| value.as_str())
            .expect("an authorization header");
        assert!(
            authorization.contains("Credential=local/")
                && authorization.contains("/us-east-1/execute-api/aws4_request"),
            "{authorization}"
        );
        assert!(
            authorization.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{authorization}"
        );
    }
}
