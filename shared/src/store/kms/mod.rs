//! Signing the log's checkpoints: the KMS signer ([`kms_signer`]), and which signer a process
//! uses, KMS or an in-process key where the stack has no KMS key ([`log_keys`]).

pub mod kms_signer;
pub mod log_keys;
