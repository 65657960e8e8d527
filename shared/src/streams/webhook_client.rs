//! The HTTP client of webhook deliveries, which enforces the address policy at every connection.
//!
//! Checking a URL when the stream is created is not enough: its name can later resolve inside
//! (DNS rebinding), and a redirect can point anywhere. So the client resolves names through
//! [`GuardedResolver`], which answers only with vetted addresses (reqwest asks it for every new
//! connection), follows no redirect, uses no proxy (a proxy would resolve the name itself), and
//! vets an IP-literal URL before each send (reqwest connects to literals without resolving).
//! TLS is rustls on ring with the Mozilla roots compiled in, the set the AWS SDK client already
//! carries (`store::aws`), so no second copy of the roots is linked.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use thiserror::Error;

use super::address::{LoopbackHttp, Refused, Resolve, WebhookUrl, vet, vet_resolved};
use super::outcome::{Delivered, SendError, classify_status};

/// A delivery's whole time budget: connecting, sending and the answer's status (API.md).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The system's resolver (`getaddrinfo` on a blocking thread, as reqwest's own default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// reqwest's resolver: resolves through the port, then answers only if every address is
/// admissible; otherwise the connection fails with the [`Refused`] reason.
struct GuardedResolver<R> {
    inner: Arc<R>,
    loopback: LoopbackHttp,
}

impl<R: Resolve + 'static> reqwest::dns::Resolve for GuardedResolver<R> {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = Arc::clone(&self.inner);
        let loopback = self.loopback;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: the connector puts the URL's port on each address.
            let addresses = inner
                .resolve(&host, 0)
                .await
                .map_err(|source| Refused::Lookup {
                    host: host.clone(),
                    source,
                })?;
            let vetted = vet_resolved(&host, addresses, loopback)?;
            Ok(Box::new(vetted.into_iter()) as Addrs)
        })
    }
}

/// Why the client could not be built (its TLS roots).
#[derive(Debug, Error)]
#[error("the webhook HTTP client could not be built: {0}")]
pub struct ClientBuildError(#[source] reqwest::Error);

/// Sends webhook deliveries under the address policy.
pub struct WebhookClient<R> {
    http: reqwest::Client,
    resolver: Arc<R>,
    loopback: LoopbackHttp,
    timeout: Duration,
}

impl<R: Resolve + 'static> WebhookClient<R> {
    pub fn new(resolver: R, loopback: LoopbackHttp) -> Result<Self, ClientBuildError> {
        Self::with_timeout(resolver, loopback, TIMEOUT)
    }

    /// As [`new`](Self::new), with another time budget (tests).
    pub fn with_timeout(
        resolver: R,
        loopback: LoopbackHttp,
        timeout: Duration,
    ) -> Result<Self, ClientBuildError> {
        let resolver = Arc::new(resolver);
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .https_only(loopback == LoopbackHttp::Refused)
            .tls_built_in_root_certs(false)
            .dns_resolver(Arc::new(GuardedResolver {
                inner: Arc::clone(&resolver),
                loopback,
            }));
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let cert = reqwest::Certificate::from_der(root).map_err(ClientBuildError)?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            http: builder.build().map_err(ClientBuildError)?,
            resolver,
            loopback,
            timeout,
        })
    }

    /// POSTs `body` (JSON) with `headers` (signature, delivery id, the merchant's auth header)
    /// and classifies the outcome.
    pub async fn send(
        &self,
        url: &WebhookUrl,
        body: Vec<u8>,
        mut headers: HeaderMap,
    ) -> Result<Delivered, SendError> {
        if url.literal_ip().is_some() {
            vet(url, self.resolver.as_ref(), self.loopback)
                .await
                .map_err(|refused| refusal_of(&refused))?;
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let answer = self
            .http
            .post(url.url().clone())
            .headers(headers)
            .body(body)
            .send()
            .await;
        match answer {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                classify_status(
                    response.status().as_u16(),
                    retry_after,
                    jiff::Timestamp::now(),
                )
            }
            Err(error) => Err(classify_failure(&error, self.timeout)),
        }
    }
}

/// A request that got no answer: refused by the address policy (stop), or a network failure
/// (retry). The text names the kind of failure, not the URL nor any header.
fn classify_failure(error: &reqwest::Error, timeout: Duration) -> SendError {
    if let Some(refused) = find_source::<Refused>(error) {
        return refusal_of(refused);
    }
    if error.is_timeout() {
        return SendError::retry(format!("no answer within {} s", timeout.as_secs()));
    }
    if let Some(io) = find_source::<io::Error>(error)
        && io.kind() == io::ErrorKind::ConnectionRefused
    {
        return SendError::retry("the receiver refused the connection");
    }
    if error.is_connect() {
        return SendError::retry(format!("could not connect: {}", innermost(error)));
    }
    SendError::retry(format!("the request failed: {}", innermost(error)))
}

fn refusal_of(refused: &Refused) -> SendError {
    if refused.is_transient() {
        SendError::retry(refused.to_string())
    } else {
        SendError::stop(format!("address refused: {refused}"))
    }
}

fn find_source<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The deepest cause's text: reqwest's own wraps the URL.
fn innermost(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests;
