//! Serving an API function: the one place that turns a handler's typed errors into responses
//! and runs it under the Lambda runtime.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use tracing::Instrument;

use super::{no_store, problem};
use crate::config::{ConfigError, Stack};
use crate::error::ApiError;

/// An API function: a request in, a response or a typed error out.
pub trait Endpoint: Send + Sync {
    /// Responses carry account data or download links: never cacheable (unless a handler set
    /// its own `Cache-Control`, as for the public keys, which hold no account data).
    const NO_STORE: bool = false;

    fn run(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;

    /// The response, errors included (RFC 9457), inside a span naming the request.
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send {
        let span = request_span(&request);
        async move {
            let response = self
                .run(request)
                .await
                .unwrap_or_else(|error| problem(&error));
            if Self::NO_STORE && !response.headers().contains_key(http::header::CACHE_CONTROL) {
                no_store(response)
            } else {
                response
            }
        }
        .instrument(span)
    }
}

/// `request_id` and `route` of an API Gateway request, for every log line it causes; the
/// dashboard's `account` is recorded once the token is read ([`super::AccountClaim`]).
fn request_span(request: &Request) -> tracing::Span {
    let (request_id, route) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => (
            context.request_id.clone().unwrap_or_default(),
            context.route_key.clone().unwrap_or_default(),
        ),
        _ => Default::default(),
    };
    tracing::info_span!(
        "request",
        request_id,
        route,
        account = tracing::field::Empty
    )
}

/// A Lambda `main` for an API function: JSON logs, the stack read from the environment once,
/// the handler built once (outside the handler), then served. A sandbox serves one request at
/// a time and the handlers wait on I/O, so one thread does: no worker threads to start.
pub fn serve<E: Endpoint>(
    build: impl FnOnce(&Stack) -> Result<E, ConfigError>,
) -> Result<(), lambda_http::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            crate::telemetry::init_json();
            let stack = Stack::from_env().await?;
            let endpoint = build(&stack)?;
            let endpoint = &endpoint;
            lambda_http::run(service_fn(move |request| async move {
                Ok::<_, Infallible>(endpoint.handle(request).await)
            }))
            .await
        })
}
