//! The sign-ins use case's port: reading and conditionally writing users' profiles. The events
//! store serves it in the cloud (`store::dynamodb::events::signins`); the tests serve it from
//! memory.

use std::collections::HashMap;
use std::future::Future;

use crate::domain::AccountId;
use crate::domain::signin::Profile;
use crate::storage::StoreError;

/// A user of an account: whose profile.
pub type User = (AccountId, String);

/// A profile as read: `version` 0 when the user has none yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredProfile {
    pub profile: Profile,
    pub version: u64,
}

/// Where users' profiles are kept.
pub trait ProfileStore: Send + Sync {
    /// The profiles of `users` (strongly consistent); a user with none gets the default.
    fn profiles(
        &self,
        users: &[User],
    ) -> impl Future<Output = Result<HashMap<User, StoredProfile>, StoreError>> + Send;

    /// Writes each `(user, version read, profile)` if the stored version is still the one read;
    /// answers the users whose version had moved (nothing of theirs written).
    fn write_profiles(
        &self,
        updates: &[(User, u64, Profile)],
    ) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;
}
