//! The create body's rules, with a stub resolver: no test sends a DNS query.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use serde_json::{Value, json};

use super::*;

/// Answers from a fixed table; any other name fails as NXDOMAIN would.
struct StubResolver;

impl Resolve for StubResolver {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send {
        let ips: &[&str] = match host {
            "siem.example.com" => &["93.184.215.14"],
            "internal.example.com" => &["93.184.215.14", "10.0.0.7"],
            _ => &[],
        };
        let answer = if ips.is_empty() {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such name"))
        } else {
            Ok(ips
                .iter()
                .map(|ip| SocketAddr::new(ip.parse::<IpAddr>().expect("an address"), port))
                .collect())
        };
        std::future::ready(answer)
    }
}

/// Runs a future that never waits (the stub answers at once), without an async runtime.
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the stub resolver never waits"),
    }
}

fn parse(body: Value) -> Result<NewStream, ApiError> {
    NewStream::parse(body.to_string().as_bytes(), LoopbackHttp::Refused)
}

/// The fields a refused body names, in order.
fn refused_fields(body: Value) -> Vec<String> {
    match parse(body.clone()) {
        Err(ApiError::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
        other => panic!("{body}: expected field errors, got {other:?}"),
    }
}

fn webhook(url: &str) -> Value {
    json!({"kind": "webhook", "url": url, "format": "ocsf"})
}

fn s3() -> Value {
    json!({
        "kind": "s3",
        "bucket": "siem-logs",
        "prefix": "security/",
        "role_arn": "arn:aws:iam::123456789012:role/SecurityLogsWriter",
        "region": "eu-west-1",
    })
}

#[test]
fn a_webhook_with_an_auth_header_is_read_into_its_parts() {
    let mut body = webhook("https://siem.example.com/hec");
    body["auth_header"] = json!({"name": "Authorization", "value": "Splunk abc"});
    let stream = parse(body).unwrap();
    assert_eq!(stream.format, StreamFormat::Ocsf);
    let NewTarget::Webhook { url, auth_header } = &stream.target else {
        panic!("a webhook")
    };
    assert_eq!(url.as_str(), "https://siem.example.com/hec");
    let header = auth_header.as_ref().unwrap();
    assert_eq!(header.name.as_str(), "Authorization");
    assert_eq!(header.value.expose(), "Splunk abc");
    // The stored target keeps the header's name only.
    assert_eq!(
        stream.stored_target(),
        StreamTarget::Webhook {
            url: "https://siem.example.com/hec".into(),
            auth_header: Some("Authorization".into()),
        }
    );
}

#[test]
fn an_s3_stream_defaults_to_the_native_format_and_gets_an_external_id() {
    let stream = parse(s3()).unwrap();
    assert_eq!(stream.format, NewStream::DEFAULT_FORMAT);
    assert_eq!(stream.format, StreamFormat::Native);
    let StreamTarget::S3 {
        prefix,
        external_id,
        ..
    } = stream.stored_target()
    else {
        panic!("an s3 target")
    };
    assert_eq!(prefix, "security/");
    assert!(external_id.starts_with("ext_"), "{external_id}");
    let mut no_prefix = s3();
    no_prefix.as_object_mut().unwrap().remove("prefix");
    assert!(matches!(
        parse(no_prefix).unwrap().target,
        NewTarget::S3 { prefix, .. } if prefix.as_str().is_empty()
    ));
}

#[test]
fn each_bad_webhook_url_is_a_400_on_url() {
    for url in [
        "http://siem.example.com/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://10.0.0.1/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://siem.example.com@127.0.0.1/",
        "https://user:pass@siem.example.com/",
        "ftp://siem.example.com/",
        "not a url",
        // Loopback http is refused unless the local setting allows it.
        "http://127.0.0.1:9000/",
    ] {
        assert_eq!(refused_fields(webhook(url)), ["url"], "{url}");
    }
}

#[test]
fn loopback_http_is_admitted_only_under_the_local_setting() {
    let body = webhook("http://127.0.0.1:9000/hook").to_string();
    assert!(NewStream::parse(body.as_bytes(), LoopbackHttp::Refused).is_err());
    let stream = NewStream::parse(body.as_bytes(), LoopbackHttp::Allowed).unwrap();
    assert!(now(stream.vet(&StubResolver, LoopbackHttp::Allowed)).is_ok());
}

#[test]
fn a_name_resolving_to_any_private_address_or_to_none_is_a_400_on_url() {
    for url in [
        "https://internal.example.com/",
        "https://nowhere.example.com/",
    ] {
        let stream = parse(webhook(url)).unwrap();
        match now(stream.vet(&StubResolver, LoopbackHttp::Refused)) {
            Err(ApiError::Validation(list)) => {
                assert_eq!(list.len(), 1, "{url}");
                assert_eq!(list[0].field, "url", "{url}");
            }
            other => panic!("{url}: expected a 400 on url, got {other:?}"),
        }
    }
    let public = parse(webhook("https://siem.example.com/")).unwrap();
    assert!(now(public.vet(&StubResolver, LoopbackHttp::Refused)).is_ok());
}

#[test]
fn bad_auth_headers_name_their_member() {
    let with_header = |header: Value| {
        let mut body = webhook("https://siem.example.com/");
        body["auth_header"] = header;
        refused_fields(body)
    };
    assert_eq!(
        with_header(json!({"name": "Host", "value": "x"})),
        ["auth_header.name"]
    );
    assert_eq!(
        with_header(json!({"name": "Security-Logs-Signature", "value": "x"})),
        ["auth_header.name"]
    );
    assert_eq!(
        with_header(json!({"name": "Authorization", "value": "a\r\nX-Injected: 1"})),
        ["auth_header.value"]
    );
    assert_eq!(
        with_header(json!({"name": "Authorization", "value": "v".repeat(4097)})),
        ["auth_header.value"]
    );
    assert_eq!(
        with_header(json!({"name": "Authorization"})),
        ["auth_header.value"]
    );
    assert_eq!(
        with_header(json!({"name": "Authorization", "value": "x", "extra": 1})),
        ["auth_header.extra"]
    );
    assert_eq!(with_header(json!("Authorization: x")), ["auth_header"]);
}

#[test]
fn bad_s3_members_are_each_named() {
    let with = |name: &str, value: Value| {
        let mut body = s3();
        body[name] = value;
        refused_fields(body)
    };
    assert_eq!(with("bucket", json!("Bad_Bucket")), ["bucket"]);
    assert_eq!(with("prefix", json!("/abs")), ["prefix"]);
    assert_eq!(
        with("role_arn", json!("arn:aws:iam::123:role/x")),
        ["role_arn"]
    );
    assert_eq!(with("region", json!("Europe")), ["region"]);
    assert_eq!(with("format", json!("csv")), ["format"]);
    assert_eq!(with("url", json!("https://siem.example.com/")), ["url"]);
}

#[test]
fn every_missing_or_unknown_member_is_reported_at_once() {
    assert_eq!(
        refused_fields(json!({"kind": "webhook", "format": "ocsf", "secret": "mine"})),
        ["secret", "url"]
    );
    assert_eq!(
        refused_fields(json!({"kind": "s3"})),
        ["bucket", "role_arn", "region"]
    );
    assert_eq!(
        refused_fields(json!({"url": "https://siem.example.com/"})),
        ["kind"]
    );
    assert_eq!(refused_fields(json!({"kind": "syslog"})), ["kind"]);
    assert_eq!(refused_fields(json!([1])), ["body"]);
    assert!(matches!(
        NewStream::parse(b"{", LoopbackHttp::Refused),
        Err(ApiError::Validation(_))
    ));
}
