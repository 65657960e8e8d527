use std::fmt;

/// The event catalogue of the API contract: wire name and the label shown to merchants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Login,
    LoginFailed,
    PasswordChanged,
    ApiKeyViewed,
    ApiKeyRegenerated,
    AccountSettingsChanged,
    PayoutAccountUpdated,
    KycDocumentChanged,
    SecurityLogsExported,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::Login,
        EventType::LoginFailed,
        EventType::PasswordChanged,
        EventType::ApiKeyViewed,
        EventType::ApiKeyRegenerated,
        EventType::AccountSettingsChanged,
        EventType::PayoutAccountUpdated,
        EventType::KycDocumentChanged,
        EventType::SecurityLogsExported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Login => "login",
            EventType::LoginFailed => "login.failed",
            EventType::PasswordChanged => "password.changed",
            EventType::ApiKeyViewed => "api_key.viewed",
            EventType::ApiKeyRegenerated => "api_key.regenerated",
            EventType::AccountSettingsChanged => "account_settings.changed",
            EventType::PayoutAccountUpdated => "payout_account.updated",
            EventType::KycDocumentChanged => "kyc_document.changed",
            EventType::SecurityLogsExported => "security_logs.exported",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EventType::Login => "Login",
            EventType::LoginFailed => "Failed Login",
            EventType::PasswordChanged => "Password Changed",
            EventType::ApiKeyViewed => "API Key Viewed",
            EventType::ApiKeyRegenerated => "API Key Regenerated",
            EventType::AccountSettingsChanged => "Account Settings Changed",
            EventType::PayoutAccountUpdated => "Payout Account Updated",
            EventType::KycDocumentChanged => "KYC/KYB Document Changed",
            EventType::SecurityLogsExported => "Security Logs Exported",
        }
    }

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

    /// Types the service records itself: no producer may send them (API.md "Event types").
    pub fn recorded_by_service(self) -> bool {
        matches!(self, EventType::SecurityLogsExported)
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
        let err = EventType::parse_producible("security_logs.exported").unwrap_err();
        assert!(err.contains("recorded by the service"), "{err}");
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
