//! Which addresses a webhook may reach: public unicast only.
//!
//! A stream's URL is chosen by a merchant, and the delivery function runs inside the platform's
//! network, so an address that is not public is a way in (server-side request forgery): the
//! instance metadata service at 169.254.169.254, loopback services, private subnets. The tables
//! below are the IANA special-purpose registries (IPv4 and IPv6) plus multicast and reserved
//! space; every prefix in them is refused, whatever the registry says of its reachability,
//! because no merchant's SIEM lives there. Addresses that carry an IPv4 address inside them
//! (IPv4-mapped, NAT64, 6to4) are judged by that address, so `::ffff:127.0.0.1` is loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 prefixes no webhook may reach.
const REFUSED_V4: [Ipv4Net; 15] = [
    v4(0, 0, 0, 0, 8),       // "this network"
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // shared address space (carrier-grade NAT)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, the instance metadata service among them
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation (TEST-NET-1)
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast (deprecated)
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24),  // documentation (TEST-NET-3)
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, and the limited broadcast 255.255.255.255
];

/// IPv6 prefixes no webhook may reach. Whatever lies outside global unicast (2000::/3) is
/// refused as well (loopback, unspecified, unique-local, link-local, site-local, multicast,
/// the discard prefix 100::/64, SRv6 5f00::/16, the IPv4-compatible ::/96 and the local-use
/// NAT64 64:ff9b:1::/48), except the two forms judged by their IPv4 address below.
const REFUSED_V6_GLOBAL: [Ipv6Net; 3] = [
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments, Teredo 2001::/32 among them
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
];

const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
const IPV4_MAPPED: Ipv6Net = v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
const NAT64_WELL_KNOWN: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// Whether a webhook may connect to `ip`: a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

/// Loopback in either family, an IPv4-mapped loopback included: the only addresses the local
/// development setting adds.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !REFUSED_V4.iter().any(|net| net.contains(&ip))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(embedded) = embedded_v4(ip) {
        return is_public_v4(embedded);
    }
    GLOBAL_UNICAST.contains(&ip) && !REFUSED_V6_GLOBAL.iter().any(|net| net.contains(&ip))
}

/// The IPv4 address a translating form reaches: IPv4-mapped (`::ffff:a.b.c.d`), NAT64's
/// well-known prefix (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    if IPV4_MAPPED.contains(&ip) || NAT64_WELL_KNOWN.contains(&ip) {
        Some(Ipv4Addr::from(bits as u32))
    } else if SIX_TO_FOUR.contains(&ip) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("an address"))
    }

    #[test]
    fn refuses_every_special_purpose_ipv4_range_at_both_ends() {
        let refused = [
            ("0.0.0.0", "0.255.255.255"),
            ("10.0.0.0", "10.255.255.255"),
            ("100.64.0.0", "100.127.255.255"),
            ("127.0.0.0", "127.255.255.255"),
            ("169.254.0.0", "169.254.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.0.0.0", "192.0.0.255"),
            ("192.0.2.0", "192.0.2.255"),
            ("192.88.99.0", "192.88.99.255"),
            ("192.168.0.0", "192.168.255.255"),
            ("198.18.0.0", "198.19.255.255"),
            ("198.51.100.0", "198.51.100.255"),
            ("203.0.113.0", "203.0.113.255"),
            ("224.0.0.0", "239.255.255.255"),
            ("240.0.0.0", "255.255.255.255"),
        ];
        for (first, last) in refused {
            assert!(!public(first), "{first}");
            assert!(!public(last), "{last}");
        }
        assert!(!public("169.254.169.254"), "instance metadata");
    }

    #[test]
    fn accepts_public_ipv4_next_to_the_refused_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn refuses_special_purpose_ipv6() {
        for ip in [
            "::",
            "::1",
            "::ffff:0:0",
            "100::",
            "100::ffff:ffff:ffff:ffff",
            "2001::1",          // Teredo
            "2001:1ff:ffff::1", // end of 2001::/23
            "2001:db8::1",      // documentation
            "2001:db8:ffff::1",
            "3fff::1", // documentation
            "3fff:fff:ffff::1",
            "fc00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "ff0e::1",
            "64:ff9b:1::8.8.8.8", // local-use NAT64
            "5f00::1",            // SRv6 SIDs
            "::8.8.8.8",          // IPv4-compatible (deprecated)
            "4000::1",            // outside global unicast
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn judges_forms_carrying_ipv4_by_their_ipv4_address() {
        for inside in [
            "::ffff:127.0.0.1",
            "::ffff:a9fe:a9fe", // 169.254.169.254
            "::ffff:10.1.2.3",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.1.1",
            "2002:7f00:1::1",   // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::", // 6to4 of 169.254.169.254
            "2002:0a00:0001::1",
        ] {
            assert!(!public(inside), "{inside}");
        }
        for outside in ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:0808:0808::1"] {
            assert!(public(outside), "{outside}");
        }
    }

    #[test]
    fn accepts_global_unicast_ipv6() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1", // just past 2001::/23
            "2003::1",
            "3ffe:ffff::1",
            "3fff:1000::1", // just past 3fff::/20
        ] {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn loopback_includes_its_mapped_form_only() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["10.0.0.1", "::", "::ffff:10.0.0.1", "64:ff9b::127.0.0.1"] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
    }
}
