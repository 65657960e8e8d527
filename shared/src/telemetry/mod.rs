//! Structured logs: JSON lines in Lambda (CloudWatch parses them), level from `RUST_LOG`.
//! Request bodies, tokens and presigned URLs are never logged.

pub mod emf;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// JSON lines at the level `RUST_LOG` sets, in the form the template writes
/// (`level,target=level,...`). Read by `Targets`, not `EnvFilter`: `EnvFilter`'s span and
/// field-value directives, which the template never sets, would link a regex engine into
/// every Lambda (about 0.8 MB).
pub fn init_json() {
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(lambda_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .with(json)
        .try_init();
}

/// `RUST_LOG`'s directives; `info` when it is unset or not in that form.
fn lambda_filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Human-readable logs for the local dev server.
pub fn init_pretty() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn the_templates_directives_set_the_level_and_quiet_the_runtime() {
        let filter = lambda_filter(Some(
            "debug,lambda_runtime=info,lambda_runtime_api_client=info,lambda_http=info",
        ));
        assert!(filter.would_enable("export_worker", &Level::DEBUG));
        assert!(!filter.would_enable("lambda_runtime", &Level::DEBUG));
        assert!(filter.would_enable("lambda_runtime", &Level::INFO));
    }

    #[test]
    fn unset_or_unreadable_means_info() {
        for rust_log in [None, Some("not a level=at all=")] {
            let filter = lambda_filter(rust_log);
            assert!(filter.would_enable("seclog", &Level::INFO));
            assert!(!filter.would_enable("seclog", &Level::DEBUG));
        }
    }
}
