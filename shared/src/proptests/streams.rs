//! Streams (API.md "Streams"): no URL text gets past the address rules to a place that is not
//! public, however its host is written; forms carrying an IPv4 address are judged as that
//! address; and a delivery signature verifies for exactly the body it was made for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::config;
use crate::streams::address::{LoopbackHttp, UrlRefused, WebhookUrl, admissible};
use crate::streams::public_ip::is_public;
use crate::streams::signature::{SignatureRefused, SigningSecret, sign, verify};

/// URL-ish text: schemes, userinfo, hosts in the forms WHATWG reads as numbers, ports, paths.
fn url_text() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("https://"),
        Just("http://"),
        Just("HTTPS://"),
        Just("ftp://"),
        Just(""),
    ];
    let userinfo = prop_oneof![Just(""), Just("user@"), Just("a:b@"), Just("x.com@")];
    let host = prop_oneof![
        any::<u32>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| format!("0x{n:x}")),
        any::<[u8; 4]>().prop_map(|b| format!("0{:o}.{}.0x{:x}.{}", b[0], b[1], b[2], b[3])),
        any::<[u8; 4]>().prop_map(|b| Ipv4Addr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", Ipv6Addr::from(s))),
        any::<u32>().prop_map(|n| format!("[::ffff:{}]", Ipv4Addr::from(n))),
        "[a-z0-9-]{1,12}(\\.[a-z]{2,6}){0,2}",
        "\\PC{0,20}",
    ];
    let port = prop_oneof![
        Just(String::new()),
        any::<u16>().prop_map(|p| format!(":{p}"))
    ];
    (scheme, userinfo, host, port, "(/\\PC{0,20})?")
        .prop_map(|(s, u, h, p, path)| format!("{s}{u}{h}{p}{path}"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn an_accepted_url_is_https_without_userinfo_and_a_literal_host_is_public(text in url_text()) {
        if let Ok(url) = WebhookUrl::parse(&text, LoopbackHttp::Refused) {
            prop_assert_eq!(url.url().scheme(), "https");
            prop_assert!(url.url().username().is_empty() && url.url().password().is_none());
            if let Some(ip) = url.literal_ip() {
                prop_assert!(is_public(ip), "{text} reaches {ip}");
            }
        }
    }

    #[test]
    fn a_host_written_as_one_number_is_judged_as_that_address(n in any::<u32>()) {
        let ip = IpAddr::V4(Ipv4Addr::from(n));
        for text in [format!("https://{n}/"), format!("https://0x{n:x}/")] {
            match WebhookUrl::parse(&text, LoopbackHttp::Refused) {
                Ok(url) => {
                    prop_assert_eq!(url.literal_ip(), Some(ip));
                    prop_assert!(is_public(ip));
                }
                Err(refused) => prop_assert_eq!(refused, UrlRefused::NotPublic(ip)),
            }
        }
    }

    #[test]
    fn forms_carrying_ipv4_are_judged_as_it(n in any::<u32>()) {
        let v4 = Ipv4Addr::from(n);
        let [a, b] = [(n >> 16) as u16, n as u16];
        let mapped = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, a, b);
        let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, a, b);
        let six_to_four = Ipv6Addr::new(0x2002, a, b, 0, 0, 0, 0, 1);
        for form in [mapped, nat64, six_to_four] {
            prop_assert_eq!(is_public(form.into()), is_public(v4.into()), "{}", form);
        }
        // The development setting adds loopback only.
        prop_assert_eq!(
            admissible(v4.into(), LoopbackHttp::Allowed),
            is_public(v4.into()) || v4.is_loopback()
        );
    }

    #[test]
    fn a_signature_verifies_its_body_only(
        body in prop::collection::vec(any::<u8>(), 0..200),
        flip in any::<prop::sample::Index>(),
        t in 0i64..4_000_000_000,
    ) {
        let secret = SigningSecret::parse(&format!("whsec_{}", "5a".repeat(32))).unwrap();
        let header = sign(&[&secret], t, &body);
        prop_assert_eq!(verify(&header, &secret, &body, t, 0), Ok(t));
        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 0x01;
            prop_assert_eq!(
                verify(&header, &secret, &tampered, t, 0),
                Err(SignatureRefused::NoMatch)
            );
        }
    }

    #[test]
    fn any_header_text_is_refused_or_verified_never_a_panic(header in "\\PC{0,120}") {
        let secret = SigningSecret::parse(&format!("whsec_{}", "5a".repeat(32))).unwrap();
        let _ = verify(&header, &secret, b"{}", 1_765_000_000, 300);
    }
}
