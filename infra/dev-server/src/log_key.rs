//! The local checkpoint key of `make dev`: an Ed25519 seed generated on first start and kept in
//! a file (mode 0600) under the local state directory, so checkpoints stay verifiable across
//! restarts. In the cloud the key lives in KMS instead (`LOG_SIGNING_KEY_ID`).

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use seclog::config::LocalLogKey;
use seclog::integrity::note::{LocalSigner, Signer};

/// Reads the seed at `path`, or creates it from the OS's CSPRNG.
pub fn load_or_create(path: &Path) -> io::Result<LocalLogKey> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map(LocalLogKey)
            .map_err(|_| io::Error::other(format!("{} is not a 32-byte key", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?
                .write_all(&seed)?;
            Ok(LocalLogKey(seed))
        }
        Err(e) => Err(e),
    }
}

/// The Ed25519 public key of the local seed (the one `GET /v1/integrity/public-keys` lists).
pub fn public_key(key: &LocalLogKey) -> [u8; 32] {
    LocalSigner::from_seed(&key.0).public_key()
}

/// The verifier key of every account's log with `<account>` in place of the account id (the
/// key id depends on the name, so each account's exact key comes from `GET /v1/integrity/key`).
pub fn verifier_key_template(key: &LocalLogKey) -> String {
    use base64::Engine as _;
    let public = public_key(key);
    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&public);
    format!(
        "security-logs/<account>+<key id>+{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The verifier key of `account`'s log, as `GET /v1/integrity/key` serves it.
pub fn verifier_key(key: &LocalLogKey, account: &str) -> io::Result<String> {
    let account = seclog::domain::AccountId::parse(account).map_err(io::Error::other)?;
    let public = public_key(key);
    seclog::integrity::note::VerifierKey::new(&seclog::integrity::note::origin(&account), &public)
        .map(|k| k.to_string())
        .map_err(|e| io::Error::other(e.to_string()))
}
