//! Signing the log's checkpoints: the KMS signer ([`kms_signer`]), and which signer a process
//! uses, KMS or an in-process key where the stack has no KMS key ([`log_keys`]). And sealing
//! streams' secrets ([`stream_secrets`]).

pub mod kms_signer;
pub mod log_keys;
pub mod stream_secrets;
