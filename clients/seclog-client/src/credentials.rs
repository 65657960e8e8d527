//! The AWS SDK's default credentials chain and region, loaded with the SDK's own HTTPS client
//! (rustls on ring) for the providers that call AWS (instance metadata, ECS, STS).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

pub(crate) async fn load_default() -> SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}
