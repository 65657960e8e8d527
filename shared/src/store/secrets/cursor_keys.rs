//! The cursor signing key, read once per process from Secrets Manager, off the cold-start path.
//!
//! The stack generates the secret (`GenerateSecretString`): no person types it and no
//! function's configuration holds it, only its id (`CURSOR_KEY_SECRET_ID`). The first request
//! that needs the key reads it, then it is kept for the process. It is not read in the
//! background during init: that work (request signing, the TLS connector) ran before the
//! first `next` on a current-thread runtime, or competed with init for the CPU on a worker
//! thread, about 1.5-3 ms of init either way, while the handlers await the key first thing,
//! so it never overlapped their own work (docs/performance.md, cold starts). A failed read is not cached:
//! the next request tries again, and meanwhile requests get 503.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::domain::cursor::CursorKey;
use crate::storage::StoreError;

#[derive(Clone)]
pub struct CursorKeys {
    inner: Arc<Inner>,
}

struct Inner {
    key: OnceCell<CursorKey>,
    source: Option<Source>,
}

struct Source {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl CursorKeys {
    /// The secret `secret_id`, read on first use.
    pub fn secrets_manager(config: &SdkConfig, secret_id: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                key: OnceCell::new(),
                source: Some(Source {
                    client: aws_sdk_secretsmanager::Client::new(config),
                    secret_id: secret_id.into(),
                }),
            }),
        }
    }

    /// A key known up front (unit tests of the layers above).
    pub fn fixed(key: CursorKey) -> Self {
        Self {
            inner: Arc::new(Inner {
                key: OnceCell::new_with(Some(key)),
                source: None,
            }),
        }
    }

    /// The key, read on first call (concurrent first calls share one read).
    pub async fn get(&self) -> Result<&CursorKey, StoreError> {
        self.inner
            .key
            .get_or_try_init(|| async {
                let source = self.inner.source.as_ref().ok_or_else(|| {
                    StoreError::Secret("no cursor signing key is configured".into())
                })?;
                source.read().await
            })
            .await
    }
}

impl Source {
    async fn read(&self) -> Result<CursorKey, StoreError> {
        let started = Instant::now();
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| StoreError::Secret(Box::new(e)))?;
        let secret = output
            .secret_string()
            .ok_or_else(|| StoreError::Secret("the secret has no SecretString".into()))?;
        let key = CursorKey::new(secret.as_bytes()).map_err(|e| StoreError::Secret(e.into()))?;
        // Measured by `make bench` (infra/coldstart reads this line from the function's log).
        tracing::info!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "cursor signing key loaded"
        );
        Ok(key)
    }
}

impl std::fmt::Debug for CursorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKeys(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_key_is_ready_and_no_source_is_an_error() {
        let key = CursorKey::new(&[7; 32]).unwrap();
        let keys = CursorKeys::fixed(key);
        assert!(keys.get().await.is_ok());
        let missing = CursorKeys {
            inner: Arc::new(Inner {
                key: OnceCell::new(),
                source: None,
            }),
        };
        assert!(matches!(missing.get().await, Err(StoreError::Secret(_))));
    }
}
