//! The Security Logs page as `make dev` serves it: the demo page at `/` and the web component's
//! files, read from the repository's `web/` folder on each request, so an edit shows on reload.
//! Only the files listed here are served: nothing in a request's path reaches the file system.

use std::path::PathBuf;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Route, file under `web/`, content type.
const FILES: [(&str, &str, &str); 6] = [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/demo.js", "demo.js", "text/javascript; charset=utf-8"),
    ("/demo.css", "demo.css", "text/css; charset=utf-8"),
    (
        "/security-logs.js",
        "security-logs.js",
        "text/javascript; charset=utf-8",
    ),
    (
        "/security-logs-streams.js",
        "security-logs-streams.js",
        "text/javascript; charset=utf-8",
    ),
    (
        "/security-logs.css",
        "security-logs.css",
        "text/css; charset=utf-8",
    ),
];

/// Same-origin scripts, styles and API calls only; no inline script, no framing. The component
/// itself never needs more (it renders text through DOM APIs, its styles are a file).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `WEB_DIR`, else the repository's `web/` folder.
pub fn web_dir() -> PathBuf {
    std::env::var_os("WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web")))
}

/// The page's routes; everything else falls through to the API.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let dir = web_dir();
    FILES
        .iter()
        .fold(Router::new(), |router, &(path, file, content_type)| {
            let file = dir.join(file);
            router.route(path, get(move || serve_file(file.clone(), content_type)))
        })
}

async fn serve_file(file: PathBuf, content_type: &'static str) -> Response {
    match tokio::fs::read(&file).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            ],
            bytes,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(file = %file.display(), %error, "web file unreadable (WEB_DIR?)");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{} is unreadable: {error}\n", file.display()),
            )
                .into_response()
        }
    }
}
