use super::*;
use crate::domain::device;

const CHROME_124_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const CHROME_125_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.60 Safari/537.36";
const SAFARI_MACOS: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";

fn t(day: i64) -> Timestamp {
    Timestamp::from_second(1_713_744_000 + day * 86_400).unwrap()
}

fn signals(ua: Option<&str>, ip: Option<&str>, country: Option<&str>) -> Signals {
    Signals {
        device: ua.and_then(device::describe),
        network: ip.map(|ip| network(ip.parse().unwrap())),
        country: country.map(str::to_owned),
    }
}

fn usual() -> Signals {
    signals(Some(CHROME_124_WINDOWS), Some("203.0.113.45"), Some("PH"))
}

/// A user who signed in twice from the usual device, network and country.
fn profile() -> Profile {
    let mut p = Profile::default();
    p.learn(usual(), t(0));
    p.learn(usual(), t(1));
    p
}

fn reasons(verdict: Option<Unfamiliar>) -> Vec<UnfamiliarReason> {
    verdict.map(|u| u.reasons).unwrap_or_default()
}

#[test]
fn a_first_sign_in_is_not_flagged() {
    let stranger = signals(Some(SAFARI_MACOS), Some("198.51.100.7"), Some("US"));
    assert_eq!(Profile::default().judge(&stranger, t(0)), None);
}

#[test]
fn the_same_device_from_a_new_network_is_not_flagged() {
    let travel = signals(Some(CHROME_124_WINDOWS), Some("198.51.100.7"), Some("SG"));
    assert_eq!(profile().judge(&travel, t(2)), None);
}

#[test]
fn a_new_device_on_the_usual_network_and_country_is_not_flagged() {
    let new_laptop = signals(Some(SAFARI_MACOS), Some("203.0.113.99"), Some("PH"));
    assert_eq!(profile().judge(&new_laptop, t(2)), None);
}

#[test]
fn a_new_device_and_a_new_network_are_flagged_with_both_reasons() {
    let odd = signals(Some(SAFARI_MACOS), Some("198.51.100.7"), Some("PH"));
    assert_eq!(
        reasons(profile().judge(&odd, t(2))),
        [UnfamiliarReason::NewDevice, UnfamiliarReason::NewNetwork]
    );
}

#[test]
fn a_new_device_and_a_new_country_are_flagged() {
    // Same /24, new country (a VPN exit, say) and a new device.
    let odd = signals(Some(SAFARI_MACOS), Some("203.0.113.200"), Some("RU"));
    assert_eq!(
        reasons(profile().judge(&odd, t(2))),
        [UnfamiliarReason::NewDevice, UnfamiliarReason::NewCountry]
    );
    let everything = signals(Some(SAFARI_MACOS), Some("2001:db8:aa::1"), Some("RU"));
    assert_eq!(
        reasons(profile().judge(&everything, t(2))),
        [
            UnfamiliarReason::NewDevice,
            UnfamiliarReason::NewNetwork,
            UnfamiliarReason::NewCountry
        ]
    );
}

#[test]
fn a_browser_version_bump_is_not_a_new_device() {
    let updated = signals(Some(CHROME_125_WINDOWS), Some("198.51.100.7"), Some("SG"));
    assert_eq!(updated.device.as_deref(), Some("Chrome on Windows"));
    assert_eq!(profile().judge(&updated, t(2)), None);
}

#[test]
fn a_signal_the_sign_in_lacks_is_never_new_and_never_learned() {
    let no_agent = signals(None, Some("198.51.100.7"), Some("US"));
    assert_eq!(
        profile().judge(&no_agent, t(2)),
        None,
        "no device: never new"
    );
    let no_ip_no_country = signals(Some(SAFARI_MACOS), None, None);
    assert_eq!(profile().judge(&no_ip_no_country, t(2)), None);
    // Learned without a device, it does not make a later device look known or unknown.
    let mut p = Profile::default();
    p.learn(signals(None, Some("203.0.113.45"), Some("PH")), t(0));
    let odd = signals(Some(SAFARI_MACOS), Some("198.51.100.7"), None);
    assert_eq!(
        reasons(p.judge(&odd, t(1))),
        [UnfamiliarReason::NewDevice, UnfamiliarReason::NewNetwork]
    );
}

#[test]
fn an_empty_window_is_like_a_first_sign_in() {
    // The only known sign-ins are over 90 days before this one.
    let odd = signals(Some(SAFARI_MACOS), Some("198.51.100.7"), Some("US"));
    assert_eq!(profile().judge(&odd, t(92)), None);
    assert!(profile().judge(&odd, t(89)).is_some());
    // Known sign-ins after this one (it arrived late) do not count either.
    assert_eq!(profile().judge(&odd, t(-1)), None);
}

#[test]
fn failed_logins_have_no_signals() {
    use crate::domain::{Actor, EntryId, Json};
    let mut entry = LogEntry {
        id: EntryId::from_stored("01HW3Z9V7Q4M8K2N5P6R7S8T9V".into()),
        event_type: EventType::LoginFailed,
        occurred_at: t(0),
        actor: Actor {
            id: "u_1".into(),
            name: None,
            email: None,
        },
        ip: Some("203.0.113.45".parse().unwrap()),
        user_agent: Some(SAFARI_MACOS.into()),
        device: device::describe(SAFARI_MACOS),
        location: None,
        details: Json::object(),
        summary: String::new(),
        event_id: None,
        received_at: t(0),
        producer: None,
        unfamiliar: None,
        log_index: None,
    };
    assert_eq!(Signals::of(&entry), None);
    entry.event_type = EventType::Login;
    assert_eq!(
        Signals::of(&entry),
        Some(signals(Some(SAFARI_MACOS), Some("203.0.113.45"), None))
    );
}

#[test]
fn the_profile_keeps_the_last_20_within_90_days_in_time_order() {
    let mut p = Profile::default();
    for day in (0..30).rev() {
        p.learn(usual(), t(day));
    }
    assert_eq!(p.sign_ins.len(), MAX_KNOWN);
    assert_eq!(p.sign_ins.first().unwrap().at, t(10));
    assert_eq!(p.sign_ins.last().unwrap().at, t(29));
    p.learn(usual(), t(29));
    assert_eq!(p.sign_ins.len(), MAX_KNOWN, "a repeat is not learned twice");
    p.learn(usual(), t(200));
    assert_eq!(
        p.sign_ins.len(),
        1,
        "older than 90 days before the newest: forgotten"
    );
    assert_eq!(p.expires_at(), Some(t(290)));
}

#[test]
fn networks_are_ipv4_24_and_ipv6_48() {
    assert_eq!(network("203.0.113.45".parse().unwrap()), "203.0.113.0/24");
    assert_eq!(
        network("::ffff:203.0.113.45".parse().unwrap()),
        "203.0.113.0/24"
    );
    assert_eq!(
        network("2001:db8:aa:bb::1".parse().unwrap()),
        "2001:db8:aa::/48"
    );
}

#[test]
fn the_summary_and_the_csv_cell_name_the_reasons() {
    let flag = Unfamiliar {
        reasons: vec![UnfamiliarReason::NewDevice, UnfamiliarReason::NewNetwork],
    };
    assert_eq!(
        flagged_summary("Login from Chrome on Windows", &flag),
        "Login from Chrome on Windows, unfamiliar: new device, new network"
    );
    assert_eq!(reasons_text(&flag), "New device, new network");
}
