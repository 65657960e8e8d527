//! AWS SDK configuration, built once per process, and the HTTPS client every SDK client shares.

use std::fmt::Write as _;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// How long one call to DynamoDB, KMS or Secrets Manager may take, retries included, in the
/// cloud. They answer in milliseconds; a call still unanswered after seconds means the service
/// is unreachable, and the API should say so (503, so producers retry) well before API
/// Gateway's 30 s integration limit and the functions' own timeouts (ingest: 10 s).
const CLOUD_CALL_TIMEOUT: Duration = Duration::from_secs(8);

/// The same bound on the local stack, which serves one request at a time: under load a call
/// waits behind the queue for seconds. `LOCAL_STORAGE_TIMEOUT_SECS` overrides it (`make faults`
/// shortens it so that an outage turns into 503s within its run).
const LOCAL_CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// A call's bound, and half of it for each attempt (the SDK retries an attempt that timed out).
/// Connecting has its own, shorter bound from the SDK's defaults.
pub fn call_timeouts(call: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(3100).min(call / 2))
        .operation_attempt_timeout(call / 2)
        .operation_timeout(call)
        .build()
}

/// Configuration from the Lambda environment (role credentials, region), with the call bound
/// of [`CLOUD_CALL_TIMEOUT`]. `AWS_ENDPOINT_URL` is honoured by the SDK itself, which is how the
/// benchmark points a function at the local stack.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(call_timeouts(CLOUD_CALL_TIMEOUT))
        .load()
        .await
}

/// The same configuration for S3, without the call bound: a 5 MiB part upload is not a
/// millisecond call, and the export worker has its own deadline.
pub fn for_s3(config: &SdkConfig) -> SdkConfig {
    config
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .build(),
        )
        .build()
}

/// Configuration for a local stand-in of AWS at `endpoint` (static test credentials).
pub async fn local(endpoint: &str) -> SdkConfig {
    let call = std::env::var("LOCAL_STORAGE_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(LOCAL_CALL_TIMEOUT, Duration::from_secs);
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(call_timeouts(call))
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

/// The SDK's own hyper/rustls client (timeouts, pooling, retry classification, proxies), on
/// ring, trusting Mozilla's root set compiled into the binary rather than the OS store: reading
/// and parsing `/etc/ssl/certs` was most of our start-up. Plain `http://` endpoints (the local
/// stack) go through it unchanged.
fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(mozilla_roots_pem());
    // `build` cannot fail today (it only stores the trust store); were it to, the SDK's
    // default context (the OS store) is still a sound one.
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default();
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    SharedHttpClient::new(ConnectOnFirstUse(client))
}

/// The `webpki-root-certs` set (Mozilla's, as the rustls project publishes it) as PEM, the one
/// form the SDK's trust store takes.
fn mozilla_roots_pem() -> String {
    let mut pem = String::with_capacity(180 * 1024);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let _ = writeln!(pem, "{}", STANDARD.encode(cert.as_ref()));
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

/// The SDK's client, minus its eager connector build: `validate_base_client_config` builds
/// (and drops) a TLS connector for every SDK client made, to read the OS roots at start-up;
/// with compiled-in roots that is only work on the init path, repeated per client. The
/// connector is built, once per set of settings and cached, on the first request.
#[derive(Debug)]
struct ConnectOnFirstUse(SharedHttpClient);

impl HttpClient for ConnectOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn every_compiled_in_root_round_trips_through_pem() {
        let pem = mozilla_roots_pem();
        let parsed = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("valid PEM");
        assert_eq!(parsed, webpki_root_certs::TLS_SERVER_ROOT_CERTS);
        assert!(parsed.len() > 100, "Mozilla's set has well over 100 roots");
    }
}
