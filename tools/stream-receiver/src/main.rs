//! `stream-receiver [PORT]`: receive a webhook stream on http://127.0.0.1:PORT/ (default 9000),
//! checking signatures with the secret in `STREAM_SECRET` (the `whsec_...` the service showed
//! when the stream was created). `STREAM_TOLERANCE_SECS` sets how old a signature may be (300).
//! Records go to stdout, one per line; repeats, gaps and refusals to stderr. Exit 2 on a usage
//! error.

use std::process::ExitCode;

use seclog::streams::signature::SigningSecret;
use stream_receiver::{DEFAULT_TOLERANCE_SECS, Receiver, router};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stream-receiver: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let secret = std::env::var("STREAM_SECRET")
        .map_err(|_| "set STREAM_SECRET to the stream's signing secret (whsec_...)".to_owned())?;
    let secret = SigningSecret::parse(secret.trim()).map_err(|e| e.to_string())?;
    let tolerance = match std::env::var("STREAM_TOLERANCE_SECS") {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("STREAM_TOLERANCE_SECS {text:?} is not a number of seconds"))?,
        Err(_) => DEFAULT_TOLERANCE_SECS,
    };
    let port: u16 = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("{text:?} is not a port number"))?,
        None => 9000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    eprintln!("stream-receiver: listening on http://127.0.0.1:{port}/");
    axum::serve(listener, router(Receiver::new(secret, tolerance)))
        .await
        .map_err(|e| e.to_string())
}
