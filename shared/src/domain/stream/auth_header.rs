//! The header a webhook stream sends with every delivery (Splunk HEC's `Authorization:
//! Splunk <token>`, Datadog's `DD-API-KEY`): its name is shown, its value is a secret.
//!
//! The merchant chooses both, and they go into the service's own requests, so the name may not
//! be one that changes how the request is framed or routed (`Host`, `Content-Length`,
//! hop-by-hop headers) nor one of the service's own (`Security-Logs-*`, the signature), and the
//! value may not carry a line break that would start another header.

use std::fmt;

/// A header name the merchant may set: an HTTP token, not reserved by HTTP or the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeaderName(String);

/// Names that frame or route the request, or belong to a single connection: the HTTP client
/// sets them, and a merchant's value would change what is sent where.
const RESERVED: [&str; 9] = [
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "cookie",
];
/// Prefixes of reserved names: proxies' headers, the body's own, and the service's (its
/// signature and delivery id).
const RESERVED_PREFIXES: [&str; 3] = ["proxy-", "content-", "security-logs-"];

impl AuthHeaderName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > Self::MAX_LEN {
            return Err(format!(
                "must be 1 to {} characters of an HTTP header name",
                Self::MAX_LEN
            ));
        }
        if !text.bytes().all(is_tchar) {
            return Err(
                "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)".to_owned(),
            );
        }
        let lower = text.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str())
            || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
        {
            return Err(format!(
                "must not be {text}: the service sets it (hop-by-hop, Host, Cookie, Expect, Proxy-*, Content-* and Security-Logs-* headers are reserved)"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 9110's `tchar`: what a header name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The header's value: a secret (stored sealed, never shown again, never logged).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeaderValue(String);

impl AuthHeaderValue {
    /// 4 KiB: far above any SIEM token, far below what servers accept in one header.
    pub const MAX_LEN: usize = 4096;

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > Self::MAX_LEN {
            return Err(format!("must be 1 to {} characters", Self::MAX_LEN));
        }
        // Printable ASCII: no control characters (a line break would start another header)
        // and nothing an HTTP client would refuse to send.
        if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err("must be printable ASCII, without control characters".to_owned());
        }
        if text.starts_with(' ') || text.ends_with(' ') {
            return Err("must not begin or end with a space".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    /// The value, to seal and to send; never to show.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthHeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthHeaderValue(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_siem_s_auth_header_names_are_accepted() {
        for name in ["Authorization", "DD-API-KEY", "X-Api-Key", "x-splunk-token"] {
            assert_eq!(AuthHeaderName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn reserved_hop_by_hop_and_malformed_names_are_refused() {
        for name in [
            "Host",
            "HOST",
            "Content-Length",
            "content-type",
            "Content-Encoding",
            "Transfer-Encoding",
            "Connection",
            "TE",
            "Upgrade",
            "Proxy-Authorization",
            "proxy-anything",
            "Cookie",
            "Security-Logs-Signature",
            "security-logs-delivery",
            "",
            "X Api",
            "X-Api:",
            "X-Ä",
            "X\r\nInjected",
        ] {
            assert!(AuthHeaderName::parse(name).is_err(), "{name:?}");
        }
        assert!(AuthHeaderName::parse(&"a".repeat(AuthHeaderName::MAX_LEN + 1)).is_err());
    }

    #[test]
    fn a_header_value_is_bounded_printable_and_hidden_from_debug() {
        let value = AuthHeaderValue::parse("Splunk 0a1b-2c3d").unwrap();
        assert_eq!(value.expose(), "Splunk 0a1b-2c3d");
        assert!(!format!("{value:?}").contains("0a1b"));
        assert!(AuthHeaderValue::parse(&"v".repeat(AuthHeaderValue::MAX_LEN)).is_ok());
        for bad in [
            String::new(),
            "v".repeat(AuthHeaderValue::MAX_LEN + 1),
            "token\r\nX-Injected: 1".to_owned(),
            "tab\there".to_owned(),
            "nul\0".to_owned(),
            "caf\u{e9}".to_owned(),
            " padded".to_owned(),
        ] {
            assert!(AuthHeaderValue::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
