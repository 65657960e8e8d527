//! The service's webhook client delivering to this receiver, both on 127.0.0.1: a signed
//! delivery is acknowledged (204, delivered), a stale signature refused (401, which stops the
//! stream), so sender and receiver agree on the body, the headers and the signature.

use std::io;
use std::net::SocketAddr;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use seclog::domain::stream::StreamFormat;
use seclog::streams::address::{LoopbackHttp, Resolve, WebhookUrl};
use seclog::streams::delivery::Delivery;
use seclog::streams::outcome::{Delivered, SendError};
use seclog::streams::signature::{DELIVERY_HEADER, SIGNATURE_HEADER, SigningSecret, sign};
use seclog::streams::webhook_client::WebhookClient;
use serde_json::value::RawValue;
use stream_receiver::{DEFAULT_TOLERANCE_SECS, Receiver, router};

/// The URLs here are IP literals: nothing is ever resolved.
struct NoLookups;

impl Resolve for NoLookups {
    async fn resolve(&self, host: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        Err(io::Error::other(format!(
            "no lookups in this test ({host})"
        )))
    }
}

fn secret() -> SigningSecret {
    SigningSecret::parse(&format!("whsec_{}", "c3".repeat(32))).unwrap()
}

fn headers(body: &[u8], t: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let signature = HeaderValue::from_str(&sign(&[&secret()], t, body)).unwrap();
    headers.insert(
        HeaderName::from_static("security-logs-signature"),
        signature,
    );
    headers.insert(
        HeaderName::from_static("security-logs-delivery"),
        HeaderValue::from_static("dl_1"),
    );
    assert!(headers.contains_key(SIGNATURE_HEADER) && headers.contains_key(DELIVERY_HEADER));
    headers
}

#[tokio::test]
async fn the_client_s_signed_delivery_is_acknowledged_and_a_stale_one_stops_the_stream() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router(Receiver::new(secret(), DEFAULT_TOLERANCE_SECS)),
        )
        .await
        .unwrap();
    });
    let record = RawValue::from_string(r#"{"id":"e0","log_index":0}"#.to_owned()).unwrap();
    let body = Delivery {
        stream_id: "st_1".into(),
        delivery_id: "dl_1".into(),
        format: StreamFormat::Native,
        records: vec![record.as_ref()],
        checkpoint: "security-logs/acct_demo\n1\nroot=\n\n— sig\n".into(),
    }
    .to_body()
    .unwrap();
    let client = WebhookClient::new(NoLookups, LoopbackHttp::Allowed).unwrap();
    let url = WebhookUrl::parse(&url, LoopbackHttp::Allowed).unwrap();
    let now = jiff::Timestamp::now().as_second();

    let sent = client.send(&url, body.clone(), headers(&body, now)).await;
    assert_eq!(sent, Ok(Delivered { status: 204 }));

    let stale = client
        .send(&url, body.clone(), headers(&body, now - 3600))
        .await;
    match stale {
        Err(SendError::Stop { reason }) => assert!(reason.contains("401"), "{reason}"),
        other => panic!("{other:?}"),
    }
    server.abort();
}
