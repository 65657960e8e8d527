//! The setting that names the token claim holding the account. It lives with the settings, which
//! read it (`ACCOUNT_CLAIM`); the HTTP edge, which reads a request's claims through it, adds its
//! request-reading methods in `http::auth`. So the settings need nothing of the edge, and the
//! edge's serve helper can build the settings (no circle between `config` and `http`).

/// The name of the token claim that holds the account (`ACCOUNT_CLAIM` in [`crate::config`],
/// default `account_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountClaim(String);

impl AccountClaim {
    pub const DEFAULT: &'static str = "account_id";

    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn default_claim() -> Self {
        Self::new(Self::DEFAULT)
    }

    /// The claim's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}
