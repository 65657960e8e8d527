//! Where a stream's batches go ([`Destination`]): a webhook POST, signed, through the client that
//! enforces the address policy at every connection; or an object in the merchant's S3 bucket,
//! written through the merchant's role ([`StreamObjects`]). The stream's secrets are opened with
//! KMS once per stream and sealed value, then kept in memory for the process's next runs.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::stream::{StreamId, StreamTarget};
use crate::store::dynamodb::streams::SealedTarget;
use crate::store::kms::stream_secrets::{StreamSecrets, StreamSecretsKey};
use crate::store::s3::stream_objects::{S3Target, StreamObjects};
use crate::streams::address::{LoopbackHttp, Resolve, WebhookUrl};
use crate::streams::delivery::Delivery;
use crate::streams::outcome::SendError;
use crate::streams::ports::{Batch, Destination, LeasedStream};
use crate::streams::signature::{SigningSecret, sign};
use crate::streams::webhook_client::WebhookClient;

/// The signature header of every delivery.
pub const SIGNATURE_HEADER: &str = "security-logs-signature";
/// The delivery id header: the same for every attempt of a batch.
pub const DELIVERY_HEADER: &str = "security-logs-delivery";

pub struct StreamDestinations<R> {
    webhooks: WebhookClient<R>,
    objects: StreamObjects,
    loopback: LoopbackHttp,
    secrets_key: StreamSecretsKey,
    /// Opened secrets by stream, with the sealed bytes they came from (a replaced secret is
    /// opened again).
    opened: Mutex<HashMap<StreamId, (Vec<u8>, StreamSecrets)>>,
}

impl<R: Resolve + 'static> StreamDestinations<R> {
    pub fn new(
        webhooks: WebhookClient<R>,
        objects: StreamObjects,
        loopback: LoopbackHttp,
        secrets_key: StreamSecretsKey,
    ) -> Self {
        Self {
            webhooks,
            objects,
            loopback,
            secrets_key,
            opened: Mutex::new(HashMap::new()),
        }
    }

    async fn secrets(
        &self,
        stream: &LeasedStream<SealedTarget>,
    ) -> Result<StreamSecrets, SendError> {
        let sealed = &stream.target.secrets;
        if let Ok(opened) = self.opened.lock()
            && let Some((from, secrets)) = opened.get(&stream.id)
            && from == sealed
        {
            return Ok(secrets.clone());
        }
        let secrets = self
            .secrets_key
            .open(&stream.account, &stream.id, sealed)
            .await
            .map_err(|e| {
                tracing::error!(stream = %stream.id, error = %e, "opening a stream's secrets failed");
                SendError::retry("the service could not read the stream's secrets")
            })?;
        if let Ok(mut opened) = self.opened.lock() {
            opened.insert(stream.id.clone(), (sealed.clone(), secrets.clone()));
        }
        Ok(secrets)
    }

    async fn webhook(
        &self,
        stream: &LeasedStream<SealedTarget>,
        url: &str,
        auth_header: Option<&str>,
        batch: &Batch<'_>,
    ) -> Result<(), SendError> {
        // Vetted at creation; parsed again so a policy change since applies too.
        let url = WebhookUrl::parse(url, self.loopback)
            .map_err(|refused| SendError::stop(format!("the webhook URL {refused}")))?;
        let secrets = self.secrets(stream).await?;
        let secret = secrets
            .signing_secret
            .as_deref()
            .and_then(|text| SigningSecret::parse(text).ok())
            .ok_or_else(|| SendError::stop("the stream has no signing secret"))?;
        let body = Delivery {
            stream_id: stream.id.to_string(),
            delivery_id: batch.id.clone(),
            format: batch.format,
            records: batch.records.to_vec(),
            checkpoint: batch.checkpoint.to_owned(),
        }
        .to_body()
        .map_err(|e| SendError::retry(format!("the delivery could not be written: {e}")))?;
        let mut headers = HeaderMap::new();
        let signature = sign(&[&secret], jiff::Timestamp::now().as_second(), &body);
        headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&signature)
                .map_err(|_| SendError::retry("the signature is not a header value"))?,
        );
        headers.insert(
            DELIVERY_HEADER,
            HeaderValue::from_str(&batch.id)
                .map_err(|_| SendError::retry("the delivery id is not a header value"))?,
        );
        if let (Some(name), Some(value)) = (auth_header, secrets.auth_header_value.as_deref()) {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SendError::stop("the auth header's name is not a header name"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| SendError::stop("the auth header's value is not a header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        self.webhooks.send(&url, body, headers).await.map(|_| ())
    }
}

impl<R: Resolve + Send + Sync + 'static> Destination<SealedTarget> for StreamDestinations<R> {
    async fn send(
        &self,
        stream: &LeasedStream<SealedTarget>,
        batch: &Batch<'_>,
    ) -> Result<(), SendError> {
        match &stream.target.target {
            StreamTarget::Webhook { url, auth_header } => {
                self.webhook(stream, url, auth_header.as_deref(), batch)
                    .await
            }
            StreamTarget::S3 {
                bucket,
                prefix,
                role_arn,
                region,
                external_id,
            } => {
                let target = S3Target {
                    bucket,
                    prefix,
                    role_arn,
                    region,
                    external_id,
                };
                self.objects.put(&stream.id, &target, batch).await
            }
        }
    }
}
