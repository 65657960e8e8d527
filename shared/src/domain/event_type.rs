use std::fmt;

use super::summary::{self, Line};

/// The event catalogue of the API contract. Each type is declared once, here: its variant,
/// wire name, the label shown to merchants, who may record it, and the rule of its summary
/// line. `ALL`, parsing, labels and summaries all follow from this list, so a new type needs
/// one line here (and its summary rule in `summary.rs`); `openapi.yaml`'s enums are checked
/// against it by a test.
macro_rules! catalogue {
    ($($variant:ident => $name:literal, $label:literal, $recorder:ident, $summary:path;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $($variant,)+
        }

        impl EventType {
            pub const ALL: [EventType; [$($name),+].len()] = [$(EventType::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }

            pub fn label(self) -> &'static str {
                match self {
                    $(EventType::$variant => $label,)+
                }
            }

            /// Types the service records itself: no producer may send them (API.md "Event
            /// types").
            pub fn recorded_by_service(self) -> bool {
                match self {
                    $(EventType::$variant => Recorder::$recorder == Recorder::Service,)+
                }
            }

            /// The entry's one-line summary (dashboard and CSV `Details`).
            pub(super) fn summary_rule(self) -> fn(&Line<'_>) -> String {
                match self {
                    $(EventType::$variant => $summary,)+
                }
            }
        }
    };
}

/// Who may record a type.
#[derive(PartialEq, Eq)]
enum Recorder {
    Producer,
    Service,
}

catalogue! {
    Login => "login", "Login", Producer, summary::login;
    LoginFailed => "login.failed", "Failed Login", Producer, summary::login_failed;
    PasswordChanged => "password.changed", "Password Changed", Producer, summary::password_changed;
    ApiKeyViewed => "api_key.viewed", "API Key Viewed", Producer, summary::api_key_viewed;
    ApiKeyRegenerated => "api_key.regenerated", "API Key Regenerated", Producer, summary::api_key_regenerated;
    AccountSettingsChanged => "account_settings.changed", "Account Settings Changed", Producer, summary::settings_changed;
    PayoutAccountUpdated => "payout_account.updated", "Payout Account Updated", Producer, summary::payout_account_updated;
    KycDocumentChanged => "kyc_document.changed", "KYC/KYB Document Changed", Producer, summary::kyc_document_changed;
    SecurityLogsExported => "security_logs.exported", "Security Logs Exported", Service, summary::logs_exported;
    SecurityLogsStreamCreated => "security_logs.stream_created", "Security Log Stream Created", Service, summary::stream_created;
    SecurityLogsStreamDeleted => "security_logs.stream_deleted", "Security Log Stream Deleted", Service, summary::stream_deleted;
    SecurityLogsStreamReplayed => "security_logs.stream_replayed", "Security Log Stream Replayed", Service, summary::stream_replayed;
}

impl EventType {
    /// Parses a wire name; the error lists every valid one, as the contract asks.
    pub fn parse(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| {
                format!(
                    "unknown event type {value:?}; valid types: {}",
                    Self::valid_list()
                )
            })
    }

    pub fn valid_list() -> String {
        Self::ALL.map(EventType::as_str).join(", ")
    }

    /// Parses the `type` of an ingested event: a known type that producers may send. The
    /// error lists only those.
    pub fn parse_producible(value: &str) -> Result<Self, String> {
        let producible: Vec<&str> = Self::ALL
            .into_iter()
            .filter(|t| !t.recorded_by_service())
            .map(EventType::as_str)
            .collect();
        match Self::ALL.into_iter().find(|t| t.as_str() == value) {
            Some(parsed) if !parsed.recorded_by_service() => Ok(parsed),
            Some(_) => Err(format!(
                "{value:?} is recorded by the service itself and cannot be sent; valid types: {}",
                producible.join(", ")
            )),
            None => Err(format!(
                "unknown event type {value:?}; valid types: {}",
                producible.join(", ")
            )),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_wire_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Ok(t));
        }
    }

    #[test]
    fn labels_match_the_contract() {
        assert_eq!(EventType::LoginFailed.label(), "Failed Login");
        assert_eq!(
            EventType::KycDocumentChanged.label(),
            "KYC/KYB Document Changed"
        );
        assert_eq!(EventType::ApiKeyViewed.label(), "API Key Viewed");
    }

    #[test]
    fn service_recorded_types_cannot_be_produced() {
        for service in [
            "security_logs.exported",
            "security_logs.stream_created",
            "security_logs.stream_deleted",
            "security_logs.stream_replayed",
        ] {
            let err = EventType::parse_producible(service).unwrap_err();
            assert!(err.contains("recorded by the service"), "{err}");
            let listed = err.split("valid types:").nth(1).unwrap_or_default();
            assert!(!listed.contains("security_logs."), "{service}: {err}");
        }
        let err = EventType::parse_producible("security_logs.exported").unwrap_err();
        assert!(!err.contains("valid types: login, login.failed, password.changed, api_key.viewed, api_key.regenerated, account_settings.changed, payout_account.updated, kyc_document.changed, security_logs"), "{err}");
        assert_eq!(EventType::parse_producible("login"), Ok(EventType::Login));
        let unknown = EventType::parse_producible("logout").unwrap_err();
        assert!(unknown.contains("unknown event type"), "{unknown}");
        assert!(!unknown.contains("security_logs.exported"), "{unknown}");
        assert_eq!(
            EventType::parse("security_logs.exported"),
            Ok(EventType::SecurityLogsExported)
        );
    }

    #[test]
    fn unknown_type_error_lists_the_valid_ones() {
        let err = EventType::parse("logout").unwrap_err();
        assert!(err.contains("\"logout\""), "{err}");
        for t in EventType::ALL {
            assert!(err.contains(t.as_str()), "{err} lacks {t}");
        }
    }
}
