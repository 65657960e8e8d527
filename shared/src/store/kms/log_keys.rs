//! The key that signs checkpoints, behind one type for every function: an in-process Ed25519
//! key on a local stack, or the KMS key in the cloud (the private key never leaves KMS). The KMS
//! key's public half is fetched once, on first use, not at start-up (cold starts stay flat).

use tokio::sync::OnceCell;

use super::kms_signer::KmsSigner;
use crate::integrity::note::{LocalSigner, SignError, Signer};

/// A connected signer: either adapter of the [`Signer`] port.
#[derive(Debug)]
pub enum LogSigner {
    Local(LocalSigner),
    Kms(KmsSigner),
}

impl Signer for LogSigner {
    fn public_key(&self) -> [u8; 32] {
        match self {
            Self::Local(key) => key.public_key(),
            Self::Kms(key) => key.public_key(),
        }
    }

    async fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        match self {
            Self::Local(key) => key.sign(message).await,
            Self::Kms(key) => key.sign(message).await,
        }
    }
}

/// The signer, connected on first use.
pub struct LogKeys {
    signer: OnceCell<LogSigner>,
    kms: Option<(aws_sdk_kms::Client, String)>,
}

impl LogKeys {
    pub fn local(key: LocalSigner) -> Self {
        Self {
            signer: OnceCell::new_with(Some(LogSigner::Local(key))),
            kms: None,
        }
    }

    pub fn kms(config: &aws_config::SdkConfig, key_id: &str) -> Self {
        Self {
            signer: OnceCell::new(),
            kms: Some((aws_sdk_kms::Client::new(config), key_id.to_owned())),
        }
    }

    pub async fn signer(&self) -> Result<&LogSigner, SignError> {
        self.signer
            .get_or_try_init(|| async {
                let (client, key_id) = self
                    .kms
                    .clone()
                    .ok_or_else(|| SignError("no signing key configured".into()))?;
                Ok(LogSigner::Kms(KmsSigner::connect(client, key_id).await?))
            })
            .await
    }
}
