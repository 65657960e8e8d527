//! Streams' secrets sealed with a KMS key: the webhook's signing secret and the auth header's
//! value are stored only as ciphertext, bound to their stream by the encryption context
//! (account and stream id), so a ciphertext copied onto another stream does not open. Only the
//! streams routes (seal) and the delivery (open) may use the key.

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use serde::{Deserialize, Serialize};

use crate::domain::AccountId;
use crate::domain::stream::StreamId;

/// What a stream keeps secret. Debug never shows the values.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamSecrets {
    /// The HMAC key of the `Security-Logs-Signature` header (webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// The value of the webhook's auth header (Splunk HEC's `Splunk <token>`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_header_value: Option<String>,
}

impl std::fmt::Debug for StreamSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamSecrets(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stream secrets: {0}")]
pub struct SecretsError(String);

#[derive(Clone)]
pub struct StreamSecretsKey {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl StreamSecretsKey {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    pub async fn seal(
        &self,
        account: &AccountId,
        stream: &StreamId,
        secrets: &StreamSecrets,
    ) -> Result<Vec<u8>, SecretsError> {
        let plaintext = serde_json::to_vec(secrets).map_err(|e| SecretsError(e.to_string()))?;
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context("account", account.as_str())
            .encryption_context("stream", stream.as_str())
            .send()
            .await
            .map_err(|e| SecretsError(format!("Encrypt: {}", DisplayErrorContext(&e))))?;
        output
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| SecretsError("Encrypt returned no ciphertext".into()))
    }

    pub async fn open(
        &self,
        account: &AccountId,
        stream: &StreamId,
        sealed: &[u8],
    ) -> Result<StreamSecrets, SecretsError> {
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed))
            .encryption_context("account", account.as_str())
            .encryption_context("stream", stream.as_str())
            .send()
            .await
            .map_err(|e| SecretsError(format!("Decrypt: {}", DisplayErrorContext(&e))))?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| SecretsError("Decrypt returned no plaintext".into()))?;
        serde_json::from_slice(plaintext.as_ref()).map_err(|e| SecretsError(e.to_string()))
    }
}
