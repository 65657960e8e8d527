//! HTTP in, API Gateway HTTP API (payload 2.0) event out, through the real handlers.
//!
//! Each request becomes the event JSON API Gateway would send, including the request context:
//! `authorizer.iam` with the signer's principal for the ingest route, whose SigV4 signature is
//! checked first as API Gateway's `AWS_IAM` authorization does (see `sigv4`: 403 before the
//! function runs), and `authorizer.jwt.claims` from the bearer token for dashboard routes; the
//! public keys route has no authorizer (`Authorizer: NONE`), so a token there is not even read.
//! `lambda_http::request::from_str` then builds the very `Request` the Lambda runtime would, so
//! handlers run unchanged.

use std::sync::Arc;

use ::streams::{HostResolver, Streams};
use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request as AxumRequest, State};
use axum::response::Response as AxumResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use create_export::CreateExport;
use export_worker::Worker;
use get_export::GetExport;
use ingest::Ingest;
use ingest_queue::IngestQueue;
use integrity::Integrity;
use lambda_http::{Body, Response};
use list_logs::ListLogs;
use seclog::ApiError;
use seclog::config::{ConfigError, Stack};
use seclog::http::{Endpoint, problem};
use sequencer::SequencerFunction;
use serde_json::{Value, json};
use stream_delivery::StreamDelivery;
use stream_fanout::StreamFanout;

use crate::jwt;
use crate::sigv4::{self, Principal};

/// API Gateway HTTP APIs accept payloads up to 10 MB; the functions enforce their own limits.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Tables {
    pub events: String,
    pub exports: String,
    pub log: String,
}

/// Every function's handler, built once like each Lambda's `main` does, through the same
/// composition roots (`build`).
pub struct App {
    ingest: Ingest,
    ingest_queue: Arc<IngestQueue>,
    list_logs: ListLogs,
    create_export: CreateExport,
    get_export: GetExport,
    worker: Arc<Worker>,
    sequencer: Arc<SequencerFunction>,
    integrity: Integrity,
    stream_fanout: Arc<StreamFanout>,
    stream_delivery: Arc<StreamDelivery>,
    streams: Streams,
}

impl App {
    /// `stack.aws` points at the local DynamoDB and Secrets Manager, `stack.s3` at the local S3.
    pub fn new(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            ingest: Ingest::build(stack)?,
            ingest_queue: Arc::new(IngestQueue::build(stack)?),
            list_logs: ListLogs::build(stack)?,
            create_export: CreateExport::build(stack)?,
            get_export: GetExport::build(stack)?,
            worker: Arc::new(Worker::build(stack)?),
            sequencer: Arc::new(SequencerFunction::build(stack)?),
            integrity: Integrity::build(stack)?,
            stream_fanout: Arc::new(StreamFanout::build(stack)?),
            stream_delivery: Arc::new(StreamDelivery::build(stack)?),
            streams: Streams::build(stack)?,
        })
    }

    /// The ingest queue's consumer, for the local queue trigger.
    pub fn ingest_queue(&self) -> Arc<IngestQueue> {
        self.ingest_queue.clone()
    }

    /// The stream fan-out handler, for the local log table stream trigger.
    pub fn stream_fanout(&self) -> Arc<StreamFanout> {
        self.stream_fanout.clone()
    }

    /// The stream delivery handler, for the local queue trigger.
    pub fn stream_delivery(&self) -> Arc<StreamDelivery> {
        self.stream_delivery.clone()
    }

    /// The streams routes' handler, to run an event through it as Lambda does.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// The same app with the streams routes resolving webhook hosts through `resolver` (the
    /// tests' stub: no test sends a DNS query).
    pub fn with_stream_resolver(
        mut self,
        stack: &Stack,
        resolver: HostResolver,
    ) -> Result<Self, ConfigError> {
        self.streams = Streams::with_resolver(stack, resolver)?;
        Ok(self)
    }

    /// The sequencer handler, for the local events stream trigger.
    pub fn sequencer(&self) -> Arc<SequencerFunction> {
        self.sequencer.clone()
    }

    /// The export worker handler, for the local stream trigger.
    pub fn worker(&self) -> Arc<Worker> {
        self.worker.clone()
    }

    /// One API request through the gateway, as if it came over HTTP (the demo data is recorded
    /// this way, SigV4 check included).
    pub async fn serve(&self, request: AxumRequest) -> AxumResponse {
        let response = match handle(self, request).await {
            Ok(response) => response,
            Err(error) => problem(&error),
        };
        into_axum(response)
    }
}

/// The demo page and the web component's files (`crate::web`), then every API route.
pub fn router(app: Arc<App>) -> Router {
    crate::web::routes().fallback(dispatch).with_state(app)
}

enum Route {
    Ingest,
    ListLogs,
    CreateExport,
    ListExports,
    GetExport(String),
    /// One of `GET /v1/integrity/...`.
    Integrity(&'static str),
    CreateStream,
    ListStreams,
    GetStream(String),
    DeleteStream(String),
    ReplayStream(String),
}

/// The one route without any authorizer (`Auth: Authorizer: NONE` in `template.yaml`).
const PUBLIC_KEYS: &str = "GET /v1/integrity/public-keys";

/// The integrity function's routes.
const INTEGRITY_ROUTES: [&str; 5] = [
    PUBLIC_KEYS,
    "GET /v1/integrity/key",
    "GET /v1/integrity/checkpoint",
    "GET /v1/integrity/proof/inclusion",
    "GET /v1/integrity/proof/consistency",
];

impl Route {
    fn key(&self) -> &'static str {
        match self {
            Route::Ingest => "POST /v1/events",
            Route::ListLogs => "GET /v1/logs",
            Route::CreateExport => "POST /v1/exports",
            Route::ListExports => "GET /v1/exports",
            Route::GetExport(_) => "GET /v1/exports/{id}",
            Route::Integrity(key) => key,
            Route::CreateStream => "POST /v1/streams",
            Route::ListStreams => "GET /v1/streams",
            Route::GetStream(_) => "GET /v1/streams/{id}",
            Route::DeleteStream(_) => "DELETE /v1/streams/{id}",
            Route::ReplayStream(_) => "POST /v1/streams/{id}/replay",
        }
    }

    fn dashboard(&self) -> bool {
        !matches!(self, Route::Ingest | Route::Integrity(PUBLIC_KEYS))
    }

    fn path_parameters(&self) -> Value {
        match self {
            Route::GetExport(id)
            | Route::GetStream(id)
            | Route::DeleteStream(id)
            | Route::ReplayStream(id) => json!({ "id": id }),
            _ => Value::Null,
        }
    }
}

/// The routes of `template.yaml`'s HTTP API.
fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let export_id = path
        .strip_prefix("/v1/exports/")
        .filter(|id| !id.is_empty() && !id.contains('/'));
    if let Some(key) = INTEGRITY_ROUTES.iter().find(|key| key[4..] == *path) {
        return match method {
            "GET" => Ok(Route::Integrity(key)),
            _ => Err(ApiError::MethodNotAllowed {
                path: path.to_owned(),
                allow: "GET",
            }),
        };
    }
    if let Some(found) = stream_route(method, path) {
        return found;
    }
    let (allowed, route) = match (path, export_id) {
        ("/v1/events", _) => ("POST", (method == "POST").then_some(Route::Ingest)),
        ("/v1/logs", _) => ("GET", (method == "GET").then_some(Route::ListLogs)),
        ("/v1/exports", _) => (
            "GET, POST",
            match method {
                "GET" => Some(Route::ListExports),
                "POST" => Some(Route::CreateExport),
                _ => None,
            },
        ),
        (_, Some(id)) => (
            "GET",
            (method == "GET").then(|| Route::GetExport(id.to_owned())),
        ),
        _ => return Err(ApiError::NotFound(format!("no route for {path}"))),
    };
    route.ok_or_else(|| ApiError::MethodNotAllowed {
        path: path.to_owned(),
        allow: allowed,
    })
}

/// `/v1/streams`, `/v1/streams/{id}` and `/v1/streams/{id}/replay`; `None` for other paths.
fn stream_route(method: &str, path: &str) -> Option<Result<Route, ApiError>> {
    let rest = path.strip_prefix("/v1/streams")?;
    let segment = |s: &str| !s.is_empty() && !s.contains('/');
    let (allowed, route) = match rest.strip_prefix('/') {
        None if rest.is_empty() => (
            "GET, POST",
            match method {
                "GET" => Some(Route::ListStreams),
                "POST" => Some(Route::CreateStream),
                _ => None,
            },
        ),
        Some(rest) => match rest.split_once('/') {
            None if segment(rest) => (
                "DELETE, GET",
                match method {
                    "GET" => Some(Route::GetStream(rest.to_owned())),
                    "DELETE" => Some(Route::DeleteStream(rest.to_owned())),
                    _ => None,
                },
            ),
            Some((id, "replay")) if segment(id) => (
                "POST",
                (method == "POST").then(|| Route::ReplayStream(id.to_owned())),
            ),
            _ => return None,
        },
        None => return None,
    };
    Some(route.ok_or_else(|| ApiError::MethodNotAllowed {
        path: path.to_owned(),
        allow: allowed,
    }))
}

async fn dispatch(State(app): State<Arc<App>>, request: AxumRequest) -> AxumResponse {
    app.serve(request).await
}

async fn handle(app: &App, request: AxumRequest) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let route = route(parts.method.as_str(), &path)?;
    let body = to_bytes(body, GATEWAY_MAX_BODY)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: GATEWAY_MAX_BODY,
        })?;
    let principal = match route {
        Route::Ingest => match sigv4::verify(&parts, &body, jiff::Timestamp::now()) {
            Ok(principal) => Some(principal),
            Err(denied) => {
                tracing::info!(detail = %denied.0, "ingest request refused (SigV4)");
                return Ok(denied.into_response());
            }
        },
        _ => None,
    };
    let event = gateway_event(&route, &parts, &body, principal.as_ref());
    let lambda_request = lambda_http::request::from_str(&event.to_string())
        .map_err(|e| ApiError::Internal(format!("event conversion failed: {e}")))?;
    Ok(match route {
        Route::Ingest => app.ingest.handle(lambda_request).await,
        Route::ListLogs => app.list_logs.handle(lambda_request).await,
        Route::CreateExport => app.create_export.handle(lambda_request).await,
        Route::ListExports | Route::GetExport(_) => app.get_export.handle(lambda_request).await,
        Route::Integrity(_) => app.integrity.handle(lambda_request).await,
        Route::CreateStream
        | Route::ListStreams
        | Route::GetStream(_)
        | Route::DeleteStream(_)
        | Route::ReplayStream(_) => app.streams.handle(lambda_request).await,
    })
}

/// The API Gateway HTTP API v2 event for this request; `principal` is the verified signer of an
/// ingest request.
fn gateway_event(
    route: &Route,
    parts: &http::request::Parts,
    body: &[u8],
    principal: Option<&Principal>,
) -> Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if name == http::header::COOKIE {
            cookies.push(value.to_owned());
            continue;
        }
        // API Gateway joins repeated headers with commas.
        headers
            .entry(name.as_str())
            .and_modify(|v| {
                *v = Value::String(format!("{},{value}", v.as_str().unwrap_or_default()))
            })
            .or_insert_with(|| Value::String(value.to_owned()));
    }
    let raw_query = parts.uri.query().unwrap_or_default();
    let query = query_parameters(raw_query);
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorizer = if route.dashboard() {
        jwt::claims(authorization).map(|claims| json!({"jwt": {"claims": claims, "scopes": null}}))
    } else {
        principal.map(|p| {
            json!({"iam": {
                "accessKey": p.access_key, "accountId": p.account_id, "callerId": p.user_id,
                "principalOrgId": null, "userArn": p.user_arn, "userId": p.user_id
            }})
        })
    };
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (STANDARD.encode(body), true),
    };
    let now = jiff::Timestamp::now();
    json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": route.path_parameters(),
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "authorizer": authorizer,
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::Null),
            },
            "requestId": ulid::Ulid::generate().to_string(),
            "routeKey": route.key(),
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.as_millisecond(),
        },
        "body": if body.is_empty() { Value::Null } else { Value::String(body) },
        "isBase64Encoded": encoded,
    })
}

/// Query parameters as API Gateway v2 passes them: repeated names joined with commas.
fn query_parameters(raw: &str) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        map.entry(name.into_owned())
            .and_modify(|v| {
                *v = Value::String(format!("{},{value}", v.as_str().unwrap_or_default()))
            })
            .or_insert_with(|| Value::String(value.into_owned()));
    }
    map
}

fn into_axum(response: Response<Body>) -> AxumResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    AxumResponse::from_parts(parts, AxumBody::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;

    fn ingest_parts() -> http::request::Parts {
        http::Request::post("/v1/events")
            .header("host", "127.0.0.1:3000")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn the_ingest_event_carries_the_signers_principal() {
        let event = gateway_event(&Route::Ingest, &ingest_parts(), b"{}", Some(&sigv4::LOCAL));
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let RequestContext::ApiGatewayV2(context) = request.request_context() else {
            panic!("an HTTP API v2 context");
        };
        let iam = context.authorizer.unwrap().iam.unwrap();
        assert_eq!(iam.access_key.as_deref(), Some("local"));
        assert_eq!(
            iam.user_arn.as_deref(),
            Some("arn:aws:iam::000000000000:user/local")
        );
        assert_eq!(iam.account_id.as_deref(), Some("000000000000"));
    }

    #[test]
    fn the_public_keys_route_has_no_authorizer_even_with_a_token() {
        let token = jwt::unsigned_token(&json!({"account_id": "acct_1", "sub": "u_1"}));
        let parts = http::Request::get("/v1/integrity/public-keys")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let route = route("GET", "/v1/integrity/public-keys").unwrap();
        let event = gateway_event(&route, &parts, b"", None);
        assert_eq!(event["routeKey"], PUBLIC_KEYS);
        assert_eq!(event["requestContext"]["authorizer"], Value::Null);
        assert!(matches!(
            route_error("POST", "/v1/integrity/public-keys"),
            ApiError::MethodNotAllowed { allow: "GET", .. }
        ));
    }

    #[test]
    fn the_stream_routes_are_routed_and_other_methods_get_405_with_allow() {
        assert_eq!(
            route("POST", "/v1/streams").unwrap().key(),
            "POST /v1/streams"
        );
        assert_eq!(
            route("GET", "/v1/streams").unwrap().key(),
            "GET /v1/streams"
        );
        assert_eq!(
            route("GET", "/v1/streams/st_1").unwrap().key(),
            "GET /v1/streams/{id}"
        );
        assert_eq!(
            route("DELETE", "/v1/streams/st_1").unwrap().key(),
            "DELETE /v1/streams/{id}"
        );
        let replay = route("POST", "/v1/streams/st_1/replay").unwrap();
        assert_eq!(replay.key(), "POST /v1/streams/{id}/replay");
        assert_eq!(replay.path_parameters(), json!({"id": "st_1"}));
        for (method, path, allowed) in [
            ("DELETE", "/v1/streams", "GET, POST"),
            ("POST", "/v1/streams/st_1", "DELETE, GET"),
            ("GET", "/v1/streams/st_1/replay", "POST"),
        ] {
            match route_error(method, path) {
                ApiError::MethodNotAllowed { allow, .. } => assert_eq!(allow, allowed),
                other => panic!("{method} {path}: {other:?}"),
            }
        }
        for path in [
            "/v1/streams/",
            "/v1/streams/st_1/other",
            "/v1/streamsx",
            "/v1/streams//replay",
        ] {
            assert!(
                matches!(route_error("GET", path), ApiError::NotFound(_)),
                "{path}"
            );
        }
    }

    fn route_error(method: &str, path: &str) -> ApiError {
        match route(method, path) {
            Err(error) => error,
            Ok(route) => panic!("{} is routed", route.key()),
        }
    }
}
