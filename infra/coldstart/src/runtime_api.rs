//! A minimal Lambda Runtime API (the 2018-06-01 interface a custom runtime polls), on loopback.
//!
//! It serves one invocation per run: the first `GET .../invocation/next` gets the event, later
//! ones are held open (as Lambda freezes a sandbox between events).
//! Each request is stamped with [`Instant::now`] as it arrives, which is what the benchmark
//! measures against the moment it executed the binary.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// What the function sent back for the run's invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST /runtime/invocation/{id}/response`.
    Response(Bytes),
    /// `POST /runtime/invocation/{id}/error`.
    Error(Bytes),
    /// `POST /runtime/init/error`.
    InitError(Bytes),
}

/// One invocation to serve and what happened to it.
pub struct Invocation {
    pub request_id: String,
    pub function_arn: String,
    pub event: Bytes,
    pub timeout: Duration,
}

#[derive(Default)]
struct Run {
    invocation: Option<Invocation>,
    served: bool,
    next_at: Option<Instant>,
    done_at: Option<Instant>,
    outcome: Option<Outcome>,
    /// Requests that named another request id (a bug in the runtime client or a stale child).
    strays: u32,
}

pub struct RuntimeApi {
    run: Mutex<Run>,
    changed: Condvar,
}

/// The timestamps and outcome of one run, once it finished (or timed out).
pub struct Observed {
    pub next_at: Option<Instant>,
    pub done_at: Option<Instant>,
    pub outcome: Option<Outcome>,
    pub strays: u32,
}

impl RuntimeApi {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            run: Mutex::new(Run::default()),
            changed: Condvar::new(),
        })
    }

    /// Serves on 127.0.0.1 at a free port; returns the `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub async fn serve(self: &Arc<Self>) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(self));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(address)
    }

    /// Arms the API for a new run (call before executing the binary).
    pub fn begin(&self, invocation: Invocation) {
        let mut run = self.run.lock().unwrap();
        *run = Run {
            invocation: Some(invocation),
            ..Run::default()
        };
    }

    /// Waits until the run has an outcome, `alive` says the child is gone, or `timeout` passes.
    pub fn wait(&self, timeout: Duration, mut alive: impl FnMut() -> bool) -> Observed {
        let deadline = Instant::now() + timeout;
        let mut run = self.run.lock().unwrap();
        loop {
            if run.outcome.is_some() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let slice = (deadline - now).min(Duration::from_millis(20));
            run = self.changed.wait_timeout(run, slice).unwrap().0;
            if run.outcome.is_none() && !alive() {
                break;
            }
        }
        Observed {
            next_at: run.next_at,
            done_at: run.done_at,
            outcome: run.outcome.clone(),
            strays: run.strays,
        }
    }

    fn finish(&self, id: Option<&str>, at: Instant, outcome: Outcome) -> Response {
        let mut run = self.run.lock().unwrap();
        let current = run.invocation.as_ref().map(|i| i.request_id.as_str());
        let matches = match id {
            Some(id) => current == Some(id) && run.served,
            None => current.is_some(),
        };
        if !matches || run.outcome.is_some() {
            run.strays += 1;
            return (StatusCode::BAD_REQUEST, "unknown request id").into_response();
        }
        run.done_at = Some(at);
        run.outcome = Some(outcome);
        drop(run);
        self.changed.notify_all();
        (
            StatusCode::ACCEPTED,
            [("content-type", "application/json")],
            r#"{"status":"OK"}"#,
        )
            .into_response()
    }
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    let at = Instant::now();
    let served = {
        let mut run = api.run.lock().unwrap();
        if run.served || run.invocation.is_none() {
            None
        } else {
            run.served = true;
            run.next_at = Some(at);
            let invocation = run.invocation.as_ref().expect("checked above");
            Some((
                invocation.request_id.clone(),
                invocation.function_arn.clone(),
                invocation.event.clone(),
                invocation.timeout,
            ))
        }
    };
    let Some((request_id, arn, event, timeout)) = served else {
        // Lambda freezes the sandbox here: hold the poll for good, so that a process that
        // outlived its run can never take a later run's event (the benchmark kills it anyway).
        std::future::pending::<()>().await;
        unreachable!()
    };
    api.changed.notify_all();
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(timeout)
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", request_id.clone());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set("lambda-runtime-invoked-function-arn", arn);
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{:08x}-{:0>24};Parent={:0>16};Sampled=0",
            deadline / 1000,
            hex_tail(&request_id, 24),
            hex_tail(&request_id, 16)
        ),
    );
    (StatusCode::OK, headers, event).into_response()
}

async fn response(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    api.finish(Some(&id), at, Outcome::Response(body))
}

async fn error(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    api.finish(Some(&id), at, Outcome::Error(body))
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> Response {
    let at = Instant::now();
    api.finish(None, at, Outcome::InitError(body))
}

/// The last `n` hex digits of the request id's bytes, for a well-formed X-Ray trace id.
fn hex_tail(id: &str, n: usize) -> String {
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    hex[hex.len().saturating_sub(n)..].to_string()
}
