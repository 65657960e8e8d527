//! What is known of each user's sign-ins (`domain::signin::Profile`), in the events table:
//! `pk` = `<account>#signin`, `sk` = the user's `actor.id`, the profile as JSON, a `version`
//! replaced only by a write conditional on the version read (so concurrent sign-ins of one user
//! never lose an update), and `expires_at` = the newest sign-in + 90 days (DynamoDB's TTL then
//! forgets a user who stopped signing in). These items have no type index key: the events
//! stream's filter keeps them from the sequencer, and no list or export reads them.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::EventStore;
use crate::domain::AccountId;
use crate::domain::signin::Profile;
use crate::signins::{ProfileStore, StoredProfile, User};
use crate::storage::StoreError;
use crate::storage::TRANSACTION_MAX;
use crate::store::dynamodb::item::{attr_s, text};
use crate::store::dynamodb::schema::{EXPIRES_AT, PK, SK};
use crate::store::dynamodb::transact::Outcome;

const PROFILE: &str = "profile";
const VERSION: &str = "version";

fn partition(account: &AccountId) -> String {
    format!("{account}#signin")
}

impl EventStore {
    /// The profiles of `users` (strongly consistent, 100 keys per BatchGetItem).
    pub async fn profiles(
        &self,
        users: &[User],
    ) -> Result<HashMap<User, StoredProfile>, StoreError> {
        let mut found = HashMap::new();
        for chunk in users.chunks(TRANSACTION_MAX) {
            let keys: Vec<(String, String)> = chunk
                .iter()
                .map(|(account, user)| (partition(account), user.clone()))
                .collect();
            let items = self.batch_get(&keys).await?;
            for ((account, user), key) in chunk.iter().zip(keys) {
                let stored = match items.get(&key) {
                    None => StoredProfile::default(),
                    Some(item) => StoredProfile {
                        profile: serde_json::from_str(&text(item, PROFILE)?)
                            .map_err(|e| StoreError::Corrupt(format!("profile of {user}: {e}")))?,
                        version: item
                            .get(VERSION)
                            .and_then(|v| v.as_n().ok())
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| {
                                StoreError::Corrupt(format!("profile of {user}: version"))
                            })?,
                    },
                };
                found.insert((account.clone(), user.clone()), stored);
            }
        }
        Ok(found)
    }

    /// Replaces each profile if its stored version is still the one read, in transactions of
    /// up to 100. Returns the users whose profile changed since it was read (nothing of their
    /// transaction was written; re-read and retry them), or an empty list when all were written.
    pub async fn write_profiles(
        &self,
        updates: &[(User, u64, Profile)],
    ) -> Result<Vec<User>, StoreError> {
        let mut conflicted = Vec::new();
        for chunk in updates.chunks(TRANSACTION_MAX) {
            let items = chunk
                .iter()
                .map(|(user, version, profile)| {
                    TransactWriteItem::builder()
                        .put(self.profile_put(user, *version, profile))
                        .build()
                })
                .collect();
            match self.transact(items).await? {
                Outcome::Written => {}
                // A cancelled transaction wrote nothing: every user of it is retried, the
                // ones whose condition failed after a fresh read.
                Outcome::ConditionsFailed(_) | Outcome::Conflict => {
                    conflicted.extend(chunk.iter().map(|(user, _, _)| user.clone()))
                }
            }
        }
        Ok(conflicted)
    }

    fn profile_put(&self, (account, user): &User, version: u64, profile: &Profile) -> Put {
        let mut item = HashMap::from([
            (PK.to_owned(), attr_s(&partition(account))),
            (SK.to_owned(), attr_s(user)),
            (
                PROFILE.to_owned(),
                attr_s(&serde_json::to_string(profile).expect("profiles serialize")),
            ),
            (
                VERSION.to_owned(),
                AttributeValue::N((version + 1).to_string()),
            ),
        ]);
        if let Some(expires) = profile.expires_at() {
            item.insert(
                EXPIRES_AT.to_owned(),
                AttributeValue::N(expires.as_second().to_string()),
            );
        }
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = if version == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            put.condition_expression("#version = :version")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
        };
        put.build().expect("table and item are set")
    }
}

/// The sign-ins use case's port, served by the inherent methods above.
impl ProfileStore for EventStore {
    fn profiles(
        &self,
        users: &[User],
    ) -> impl Future<Output = Result<HashMap<User, StoredProfile>, StoreError>> + Send {
        EventStore::profiles(self, users)
    }

    fn write_profiles(
        &self,
        updates: &[(User, u64, Profile)],
    ) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send {
        EventStore::write_profiles(self, updates)
    }
}
