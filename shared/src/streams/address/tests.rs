//! The URL rules and the address check, with a stub resolver: no test sends a DNS query.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::domain::fields::Fields;
use crate::error::{ApiError, Errors};

/// Answers from a fixed table; a name missing from it fails as NXDOMAIN would.
struct StubResolver(HashMap<&'static str, Vec<&'static str>>);

impl StubResolver {
    fn new(answers: &[(&'static str, &[&'static str])]) -> Self {
        Self(
            answers
                .iter()
                .map(|(name, ips)| (*name, ips.to_vec()))
                .collect(),
        )
    }
}

impl Resolve for StubResolver {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send {
        let answer = match self.0.get(host) {
            Some(ips) => Ok(ips
                .iter()
                .map(|ip| SocketAddr::new(ip.parse::<IpAddr>().expect("an address"), port))
                .collect()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such name")),
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

fn refused(text: &str) -> UrlRefused {
    WebhookUrl::parse(text, LoopbackHttp::Refused).expect_err(text)
}

fn resolver() -> StubResolver {
    StubResolver::new(&[
        (
            "siem.example.com",
            &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        ),
        ("localhost", &["127.0.0.1", "::1"]),
        ("rebind.example.com", &["10.0.0.7"]),
        ("metadata.example.com", &["169.254.169.254"]),
        ("mixed.example.com", &["93.184.215.14", "192.168.1.10"]),
        ("mapped.example.com", &["::ffff:127.0.0.1"]),
        ("empty.example.com", &[]),
        ("public-localhost.localhost", &["93.184.215.14"]),
    ])
}

fn vet_text(text: &str, loopback: LoopbackHttp) -> Result<Vec<SocketAddr>, Refused> {
    let url = WebhookUrl::parse(text, loopback).expect(text);
    now(vet(&url, &resolver(), loopback))
}

#[test]
fn accepts_an_https_url_with_a_public_host() {
    let url = WebhookUrl::parse("https://siem.example.com/hook?x=1", LoopbackHttp::Refused)
        .expect("a valid URL");
    assert_eq!(url.port(), 443);
    assert_eq!(url.host(), Host::Domain("siem.example.com"));
    let literal = WebhookUrl::parse("https://93.184.215.14:8443/", LoopbackHttp::Refused).unwrap();
    assert_eq!(literal.literal_ip(), Some("93.184.215.14".parse().unwrap()));
    assert_eq!(literal.port(), 8443);
}

#[test]
fn refuses_other_schemes_and_plain_http() {
    for text in [
        "http://siem.example.com/",
        "ftp://siem.example.com/",
        "file:///etc/passwd",
        "gopher://siem.example.com/",
        "http://127.0.0.1:9000/",
        "http://localhost/",
    ] {
        assert_eq!(refused(text), UrlRefused::NotHttps, "{text}");
    }
    assert!(matches!(
        refused("siem.example.com/hook"),
        UrlRefused::Malformed(_)
    ));
    assert!(matches!(refused("https://"), UrlRefused::Malformed(_)));
    assert_eq!(refused("data:text/plain,hi"), UrlRefused::NotHttps);
}

#[test]
fn refuses_userinfo_including_the_at_sign_trick() {
    for text in [
        "https://example.com@127.0.0.1/",
        "https://user:pass@siem.example.com/",
        "https://user@siem.example.com/",
        "https://:pass@siem.example.com/",
    ] {
        assert_eq!(refused(text), UrlRefused::Userinfo, "{text}");
    }
}

#[test]
fn reads_numeric_hosts_as_the_addresses_they_are() {
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    for text in [
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://0x7f.0.0.1/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://0177.1/",
    ] {
        assert_eq!(refused(text), UrlRefused::NotPublic(loopback), "{text}");
    }
    assert_eq!(
        refused("https://0xa9fea9fe/latest/meta-data/"),
        UrlRefused::NotPublic("169.254.169.254".parse().unwrap())
    );
}

#[test]
fn refuses_private_literals_in_both_families() {
    for (text, ip) in [
        ("https://10.0.0.1/", "10.0.0.1"),
        ("https://169.254.169.254/", "169.254.169.254"),
        ("https://[::1]/", "::1"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("https://[::ffff:a9fe:a9fe]/", "::ffff:169.254.169.254"),
        ("https://[fd00::1]/", "fd00::1"),
        ("https://[fe80::1]/", "fe80::1"),
        ("https://0.0.0.0/", "0.0.0.0"),
    ] {
        assert_eq!(
            refused(text),
            UrlRefused::NotPublic(ip.parse().unwrap()),
            "{text}"
        );
    }
}

#[test]
fn bounds_the_length() {
    let long = format!(
        "https://siem.example.com/{}",
        "a".repeat(WebhookUrl::MAX_LEN)
    );
    assert_eq!(refused(&long), UrlRefused::TooLong);
    let fits = format!("https://siem.example.com/{}", "a".repeat(1000));
    assert!(WebhookUrl::parse(&fits, LoopbackHttp::Refused).is_ok());
}

#[test]
fn local_development_allows_http_to_loopback_only() {
    let allowed = LoopbackHttp::Allowed;
    for text in [
        "http://127.0.0.1:9000/hook",
        "http://[::1]:9000/",
        "http://localhost:9000/",
        "https://127.0.0.1/",
    ] {
        assert!(WebhookUrl::parse(text, allowed).is_ok(), "{text}");
    }
    for text in ["http://siem.example.com/", "http://93.184.215.14/"] {
        assert_eq!(
            WebhookUrl::parse(text, allowed),
            Err(UrlRefused::NotHttps),
            "{text}"
        );
    }
    assert_eq!(
        WebhookUrl::parse("https://10.0.0.1/", allowed),
        Err(UrlRefused::NotPublic("10.0.0.1".parse().unwrap()))
    );
    assert!(vet_text("http://localhost:9000/", allowed).is_ok());
    assert!(matches!(
        vet_text("http://public-localhost.localhost/", allowed),
        Err(Refused::PlainHttpOffLoopback { .. })
    ));
}

#[test]
fn a_refusal_is_a_field_error_on_url() {
    let body = serde_json::json!({"url": "https://10.0.0.1/"});
    let mut errors = Errors::default();
    let mut fields = Fields::object(&body, "", &mut errors).expect("an object");
    let parsed = fields.required_parsed(WebhookUrl::FIELD, |text| {
        WebhookUrl::parse(text, LoopbackHttp::Refused).map_err(|e| e.to_string())
    });
    assert!(parsed.is_none());
    match errors.into_result() {
        Err(ApiError::Validation(list)) => {
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].field, "url");
            assert!(list[0].message.contains("not a public address"), "{list:?}");
        }
        other => panic!("{other:?}"),
    }
    let direct = FieldError::from(UrlRefused::NotHttps);
    assert_eq!(direct, FieldError::new("url", "must use https"));
}

#[test]
fn vet_accepts_a_name_resolving_only_to_public_addresses() {
    let addresses = vet_text("https://siem.example.com/", LoopbackHttp::Refused).unwrap();
    assert_eq!(addresses.len(), 2);
    assert!(addresses.iter().all(|a| a.port() == 443));
}

#[test]
fn vet_refuses_names_resolving_inside() {
    for (text, inside) in [
        ("https://localhost/", "127.0.0.1"),
        ("https://rebind.example.com/", "10.0.0.7"),
        ("https://metadata.example.com/", "169.254.169.254"),
        ("https://mixed.example.com/", "192.168.1.10"),
        ("https://mapped.example.com/", "::ffff:127.0.0.1"),
    ] {
        match vet_text(text, LoopbackHttp::Refused) {
            Err(Refused::NotPublic { address, .. }) => {
                assert_eq!(address, inside.parse::<IpAddr>().unwrap(), "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn vet_refuses_names_resolving_to_nothing_and_reports_failed_lookups() {
    let empty = vet_text("https://empty.example.com/", LoopbackHttp::Refused).unwrap_err();
    assert!(matches!(empty, Refused::NoAddress { .. }), "{empty:?}");
    assert!(!empty.is_transient());
    let unknown = vet_text("https://nowhere.example.com/", LoopbackHttp::Refused).unwrap_err();
    assert!(matches!(unknown, Refused::Lookup { .. }), "{unknown:?}");
    assert!(unknown.is_transient());
}

#[test]
fn vet_checks_literals_without_resolving() {
    // The stub knows no address literals: a lookup would fail with `Lookup`.
    let ok = vet_text("https://93.184.215.14/", LoopbackHttp::Refused).unwrap();
    assert_eq!(ok, vec!["93.184.215.14:443".parse().unwrap()]);
    let local = vet_text("http://127.0.0.1:9000/", LoopbackHttp::Allowed).unwrap();
    assert_eq!(local, vec!["127.0.0.1:9000".parse().unwrap()]);
}

#[test]
fn the_loopback_setting_still_refuses_other_private_answers() {
    assert!(vet_text("https://localhost/", LoopbackHttp::Allowed).is_ok());
    assert!(matches!(
        vet_text("https://rebind.example.com/", LoopbackHttp::Allowed),
        Err(Refused::NotPublic { .. })
    ));
}
