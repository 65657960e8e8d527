//! The name resolver the create route vets webhook hosts with, as one concrete type whatever
//! resolves behind it: the system's in the stack and `make dev`, a stub in the tests (which
//! must never send a DNS query). The port ([`Resolve`]) returns an `impl Future`, which cannot
//! be boxed as a trait object directly; this wraps it once, so the handler and the dev server's
//! `App` need no type parameter.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use seclog::streams::address::Resolve;

type Lookup<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

trait BoxedResolve: Send + Sync {
    fn resolve_boxed(&self, host: String, port: u16) -> Lookup<'_>;
}

impl<R: Resolve> BoxedResolve for R {
    fn resolve_boxed(&self, host: String, port: u16) -> Lookup<'_> {
        Box::pin(async move { self.resolve(&host, port).await })
    }
}

/// Any [`Resolve`], shared.
#[derive(Clone)]
pub struct HostResolver(Arc<dyn BoxedResolve>);

impl HostResolver {
    pub fn new(resolver: impl Resolve + 'static) -> Self {
        Self(Arc::new(resolver))
    }
}

impl Resolve for HostResolver {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send {
        // Owned, so the lookup borrows only the resolver.
        self.0.resolve_boxed(host.to_owned(), port)
    }
}
