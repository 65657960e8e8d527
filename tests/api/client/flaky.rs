//! A flaky front of the dev server for the client's tests: each request takes the next fault of
//! a script (refuse with 503 or 429, forward but lose the answer, forward then stall past the
//! client's timeout), then every request is forwarded untouched, signature and `Host` included,
//! so the dev server checks the client's own SigV4.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// 503 without storing anything.
    Unavailable,
    /// 429 with `Retry-After: 1`.
    Throttled,
    /// Forwarded (so stored), then answered 502: the client never sees the receipts.
    LoseAnswer,
    /// Forwarded (so stored), then no answer for longer than the client waits.
    Stall,
}

struct Flaky {
    upstream: String,
    http: reqwest::Client,
    faults: Mutex<VecDeque<Fault>>,
}

/// Serves on `listener`, in front of `upstream` (`http://127.0.0.1:port`), with `faults` first.
pub fn serve(listener: tokio::net::TcpListener, upstream: &str, faults: &[Fault]) {
    let flaky = Arc::new(Flaky {
        upstream: upstream.to_owned(),
        http: reqwest::Client::new(),
        faults: Mutex::new(faults.iter().copied().collect()),
    });
    let app = axum::Router::new().fallback(handle).with_state(flaky);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
}

async fn handle(
    State(flaky): State<Arc<Flaky>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = flaky.faults.lock().expect("not poisoned").pop_front();
    match fault {
        Some(Fault::Unavailable) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Some(Fault::Throttled) => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response();
        }
        Some(Fault::LoseAnswer | Fault::Stall) | None => {}
    }
    let forwarded = flaky
        .http
        .request(method, format!("{}{uri}", flaky.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect("the dev server answers");
    match fault {
        Some(Fault::LoseAnswer) => return StatusCode::BAD_GATEWAY.into_response(),
        Some(Fault::Stall) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        _ => {}
    }
    let status = forwarded.status();
    let content_type = forwarded.headers().get("content-type").cloned();
    let body = forwarded.bytes().await.expect("the answer's body");
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}
