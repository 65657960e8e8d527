//! Where a webhook stream may deliver: the URL rules checked when a stream is created, and the
//! address check repeated at every connection.
//!
//! A URL alone proves nothing about where it leads: a name can resolve to a private address,
//! today or after the stream was accepted (DNS rebinding), so [`vet`] resolves through a port
//! and refuses when any answer is not public ([`super::public_ip`]). Parsing is WHATWG's (the
//! `url` crate), the same a browser applies, so the hosts `2130706433`, `0177.0.0.1` and
//! `0x7f.1` are read as the 127.0.0.1 they are, and are refused as such.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};

use thiserror::Error;
use url::{Host, Url};

use super::public_ip::{is_loopback, is_public};
use crate::error::FieldError;

/// Whether plain `http://` to a loopback address is allowed: only for local development, where
/// a merchant's receiver runs on the same machine (`make dev`); the stack never allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopbackHttp {
    Allowed,
    Refused,
}

/// A webhook URL that passed every rule that can be checked without resolving its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

/// Why a webhook URL is refused at creation (400, field [`WebhookUrl::FIELD`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlRefused {
    #[error("must be at most {max} characters", max = WebhookUrl::MAX_LEN)]
    TooLong,
    #[error("must be an absolute URL ({0})")]
    Malformed(url::ParseError),
    #[error("must use https")]
    NotHttps,
    #[error("must not contain a user name or password")]
    Userinfo,
    #[error("must name a host")]
    NoHost,
    #[error("must not point to {0}, which is not a public address")]
    NotPublic(IpAddr),
}

impl From<UrlRefused> for FieldError {
    fn from(refused: UrlRefused) -> Self {
        FieldError::new(WebhookUrl::FIELD, refused.to_string())
    }
}

impl WebhookUrl {
    /// The request field a refusal names.
    pub const FIELD: &'static str = "url";
    pub const MAX_LEN: usize = 2048;

    pub fn parse(text: &str, loopback: LoopbackHttp) -> Result<Self, UrlRefused> {
        if text.len() > Self::MAX_LEN {
            return Err(UrlRefused::TooLong);
        }
        let url = Url::parse(text).map_err(UrlRefused::Malformed)?;
        // Internationalized names grow when written as punycode.
        if url.as_str().len() > Self::MAX_LEN {
            return Err(UrlRefused::TooLong);
        }
        let plain_http = match url.scheme() {
            "https" => false,
            "http" => true,
            _ => return Err(UrlRefused::NotHttps),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefused::Userinfo);
        }
        let host = url.host().ok_or(UrlRefused::NoHost)?;
        let loopback_host = match host {
            Host::Domain(name) => is_localhost(name),
            Host::Ipv4(ip) => is_loopback(ip.into()),
            Host::Ipv6(ip) => is_loopback(ip.into()),
        };
        if plain_http && !(loopback == LoopbackHttp::Allowed && loopback_host) {
            return Err(UrlRefused::NotHttps);
        }
        if let Some(ip) = literal_ip(&host)
            && !admissible(ip, loopback)
        {
            return Err(UrlRefused::NotPublic(ip));
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host as written (a name, or an address in its normal form).
    pub fn host(&self) -> Host<&str> {
        // `parse` refused URLs without a host.
        self.0.host().unwrap_or(Host::Domain(""))
    }

    /// The port, the scheme's default when none is written.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// The address when the host is an IP literal, which is connected to without resolving.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        literal_ip(&self.host())
    }
}

fn literal_ip(host: &Host<&str>) -> Option<IpAddr> {
    match *host {
        Host::Domain(_) => None,
        Host::Ipv4(ip) => Some(ip.into()),
        Host::Ipv6(ip) => Some(ip.into()),
    }
}

/// `localhost` and its subdomains, which always mean loopback (RFC 6761).
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .len()
            .checked_sub(".localhost".len())
            .and_then(|start| name.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
}

/// Whether a connection may go to `ip`: a public address, or loopback in local development.
pub fn admissible(ip: IpAddr, loopback: LoopbackHttp) -> bool {
    is_public(ip) || (loopback == LoopbackHttp::Allowed && is_loopback(ip))
}

/// Resolves host names: the system's resolver in the delivery function, a stub in tests (which
/// must never send a DNS query).
pub trait Resolve: Send + Sync {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
}

/// Why a connection to a webhook is not made.
#[derive(Debug, Error)]
pub enum Refused {
    #[error("{host} resolves to {address}, which is not a public address")]
    NotPublic { host: String, address: IpAddr },
    #[error("plain http is allowed to loopback only, and {host} resolves to {address}")]
    PlainHttpOffLoopback { host: String, address: IpAddr },
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
    #[error("{host} could not be resolved: {source}")]
    Lookup {
        host: String,
        #[source]
        source: io::Error,
    },
}

impl Refused {
    /// A failed lookup may succeed later; an answer the policy refuses is the merchant's to fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, Refused::Lookup { .. })
    }
}

/// The addresses a delivery to `url` may connect to: every address its host resolves to, and
/// only if every one of them is admissible (one private answer among public ones refuses them
/// all: a connection could pick it).
pub async fn vet(
    url: &WebhookUrl,
    resolver: &impl Resolve,
    loopback: LoopbackHttp,
) -> Result<Vec<SocketAddr>, Refused> {
    let port = url.port();
    let (host, addresses) = match url.host() {
        Host::Domain(name) => {
            let addresses =
                resolver
                    .resolve(name, port)
                    .await
                    .map_err(|source| Refused::Lookup {
                        host: name.to_owned(),
                        source,
                    })?;
            (name.to_owned(), addresses)
        }
        Host::Ipv4(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Host::Ipv6(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
    };
    let addresses = vet_resolved(&host, addresses, loopback)?;
    // Plain http was accepted for a loopback host only: it must stay on loopback.
    if url.url().scheme() == "http"
        && let Some(off) = addresses.iter().find(|a| !is_loopback(a.ip()))
    {
        return Err(Refused::PlainHttpOffLoopback {
            host,
            address: off.ip(),
        });
    }
    Ok(addresses)
}

/// Checks the addresses a host resolved to, each of which must be admissible; also what the
/// HTTP client's resolver applies at every connection (it sees names, not URLs).
pub fn vet_resolved(
    host: &str,
    addresses: Vec<SocketAddr>,
    loopback: LoopbackHttp,
) -> Result<Vec<SocketAddr>, Refused> {
    if addresses.is_empty() {
        return Err(Refused::NoAddress {
            host: host.to_owned(),
        });
    }
    match addresses.iter().find(|a| !admissible(a.ip(), loopback)) {
        Some(bad) => Err(Refused::NotPublic {
            host: host.to_owned(),
            address: bad.ip(),
        }),
        None => Ok(addresses),
    }
}

#[cfg(test)]
mod tests;
