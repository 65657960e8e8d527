//! The event types a producer may send: the service's catalogue without the types it records
//! itself (`security_logs.*`). The workspace test `client::event_types_match_the_service`
//! (`tests/api/client.rs`) fails on any difference from the service's catalogue, so this list
//! cannot drift from `shared/src/domain/event_type.rs`.

use std::fmt;

macro_rules! event_types {
    ($($variant:ident => $name:literal;)+) => {
        /// A producer-sendable event type; serialized as its wire name (`"login.failed"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        pub enum EventType {
            $(#[doc = concat!("`", $name, "`")] #[serde(rename = $name)] $variant,)+
        }

        impl EventType {
            /// Every type, in the catalogue's order.
            pub const ALL: [EventType; [$($name),+].len()] = [$(EventType::$variant),+];

            /// The wire name, as `POST /v1/events` takes it in `type`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }
        }
    };
}

event_types! {
    Login => "login";
    LoginFailed => "login.failed";
    PasswordChanged => "password.changed";
    ApiKeyViewed => "api_key.viewed";
    ApiKeyRegenerated => "api_key.regenerated";
    AccountSettingsChanged => "account_settings.changed";
    PayoutAccountUpdated => "payout_account.updated";
    KycDocumentChanged => "kyc_document.changed";
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_wire_name() {
        for event_type in EventType::ALL {
            let json = serde_json::to_value(event_type).expect("serializes");
            assert_eq!(json, event_type.as_str());
        }
    }

    #[test]
    fn wire_names_are_distinct() {
        let mut names: Vec<&str> = EventType::ALL.map(EventType::as_str).to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
    }
}
