//! Unfamiliar sign-ins (API.md, "Unfamiliar sign-ins"): the rule, and what is known per user.
//!
//! A successful `login` is compared with the same user's recent successful sign-ins: device
//! (browser family + OS family, so a browser update is not new), network (IPv4 /24, IPv6 /48)
//! and country. It is unfamiliar when the user has signed in before (within the window) and its
//! device is new and also its network or its country is new. A signal the sign-in lacks is never
//! new and is not learned. The window is measured back from the sign-in's `occurred_at`.

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{EventType, LogEntry, Unfamiliar, UnfamiliarReason};

/// How far back known sign-ins count.
pub const WINDOW: SignedDuration = SignedDuration::from_hours(90 * 24);
/// How many sign-ins are known per user at most (the most recent).
pub const MAX_KNOWN: usize = 20;

/// What a sign-in shows of where it came from; `None` where it lacks the signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Signals {
    /// The signals of a successful sign-in; `None` for any other entry (failed logins are never
    /// judged and never teach the profile).
    pub fn of(entry: &LogEntry) -> Option<Self> {
        (entry.event_type == EventType::Login).then(|| Self {
            // The entry's device is `device::describe` of its user agent, made at ingest (a
            // producer cannot set it): browser and OS families, no versions.
            device: entry.device.clone(),
            network: entry.ip.map(network),
            country: entry.location.as_ref().and_then(|l| l.country.clone()),
        })
    }
}

/// The network of an address: its IPv4 /24 or IPv6 /48 (an IPv4-mapped IPv6 address counts as
/// IPv4).
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            network(IpAddr::V4(v6.to_ipv4_mapped().expect("checked")))
        }
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// One sign-in as the profile keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownSignIn {
    pub at: Timestamp,
    #[serde(flatten)]
    pub signals: Signals,
}

/// What is known of one user's recent successful sign-ins: at most [`MAX_KNOWN`], oldest first,
/// none older than [`WINDOW`] before the newest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub sign_ins: Vec<KnownSignIn>,
}

impl Profile {
    /// The verdict on a sign-in at `at` with `signals`, against what the profile knows: the
    /// known sign-ins in the 90 days up to `at`, the last 20 of them.
    pub fn judge(&self, signals: &Signals, at: Timestamp) -> Option<Unfamiliar> {
        let from = at.checked_sub(WINDOW).unwrap_or(Timestamp::MIN);
        let in_window: Vec<&KnownSignIn> = self
            .sign_ins
            .iter()
            .filter(|k| from <= k.at && k.at <= at)
            .collect();
        let known = &in_window[in_window.len().saturating_sub(MAX_KNOWN)..];
        if known.is_empty() {
            return None;
        }
        let is_new = |signal: &Option<String>, of: fn(&Signals) -> &Option<String>| {
            signal
                .as_ref()
                .is_some_and(|value| known.iter().all(|k| of(&k.signals).as_ref() != Some(value)))
        };
        if !is_new(&signals.device, |s| &s.device) {
            return None;
        }
        let new_network = is_new(&signals.network, |s| &s.network);
        let new_country = is_new(&signals.country, |s| &s.country);
        if !new_network && !new_country {
            return None;
        }
        let mut reasons = vec![UnfamiliarReason::NewDevice];
        if new_network {
            reasons.push(UnfamiliarReason::NewNetwork);
        }
        if new_country {
            reasons.push(UnfamiliarReason::NewCountry);
        }
        Some(Unfamiliar { reasons })
    }

    /// Learns a successful sign-in (in time order, whatever order they arrive in), keeping the
    /// bound. A repeat of a sign-in already known (same time and signals) is not added twice.
    pub fn learn(&mut self, signals: Signals, at: Timestamp) {
        let known = KnownSignIn { at, signals };
        if self.sign_ins.contains(&known) {
            return;
        }
        let position = self.sign_ins.partition_point(|k| k.at <= at);
        self.sign_ins.insert(position, known);
        let newest = self.sign_ins.last().expect("just inserted").at;
        let from = newest.checked_sub(WINDOW).unwrap_or(Timestamp::MIN);
        self.sign_ins.retain(|k| k.at >= from);
        let excess = self.sign_ins.len().saturating_sub(MAX_KNOWN);
        self.sign_ins.drain(..excess);
    }

    /// When the profile can be forgotten: when its newest sign-in leaves the window.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.sign_ins
            .last()
            .and_then(|k| k.at.checked_add(WINDOW).ok())
    }
}

/// The summary line of a flagged sign-in: "Login from Chrome on Windows, unfamiliar: new device,
/// new network".
pub fn flagged_summary(summary: &str, unfamiliar: &Unfamiliar) -> String {
    format!(
        "{summary}, unfamiliar: {}",
        reasons_text(unfamiliar).to_lowercase()
    )
}

/// "New device, new network": the `Unfamiliar` CSV cell.
pub fn reasons_text(unfamiliar: &Unfamiliar) -> String {
    let text: Vec<&str> = unfamiliar
        .reasons
        .iter()
        .map(|r| match r {
            UnfamiliarReason::NewDevice => "new device",
            UnfamiliarReason::NewNetwork => "new network",
            UnfamiliarReason::NewCountry => "new country",
        })
        .collect();
    let joined = text.join(", ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => joined,
    }
}

#[cfg(test)]
mod tests;
