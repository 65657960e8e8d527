//! One human line per event ("Email changed from a@x.com to b@x.com"), shown in the dashboard
//! and used as the CSV `Details` column. Every `details` field is optional: a line degrades to
//! what is known, it never fails.

use super::EventType;
use super::json::Json;

pub fn summarize(
    event_type: EventType,
    details: &Json,
    device: Option<&str>,
    ip: Option<&str>,
) -> String {
    let line = Line {
        details,
        origin: device
            .or(ip)
            .map(|d| format!(" from {d}"))
            .unwrap_or_default(),
    };
    (event_type.summary_rule())(&line)
}

/// What a summary rule reads: the (masked) details, and where the action came from.
pub struct Line<'a> {
    details: &'a Json,
    /// ` from Safari on macOS` (the device, else the IP), or empty.
    origin: String,
}

impl Line<'_> {
    fn text(&self, key: &str) -> Option<String> {
        self.details.get(key).and_then(value_text)
    }
}

pub(super) fn login(line: &Line<'_>) -> String {
    let origin = &line.origin;
    match line.text("method") {
        Some(method) if method != "password" => format!("Login{origin} ({})", humanize(&method)),
        _ => format!("Login{origin}"),
    }
}

pub(super) fn login_failed(line: &Line<'_>) -> String {
    let origin = &line.origin;
    match line.text("reason") {
        Some(reason) => format!("Failed login{origin}: {}", humanize(&reason)),
        None => format!("Failed login{origin}"),
    }
}

pub(super) fn password_changed(_: &Line<'_>) -> String {
    "Password changed".to_owned()
}

pub(super) fn api_key_viewed(line: &Line<'_>) -> String {
    api_key_line("viewed", line.text("key"), line.text("key_id"))
}

pub(super) fn api_key_regenerated(line: &Line<'_>) -> String {
    api_key_line("regenerated", line.text("key"), line.text("key_id"))
}

pub(super) fn settings_changed(line: &Line<'_>) -> String {
    settings_line(line.details)
}

pub(super) fn payout_account_updated(line: &Line<'_>) -> String {
    let bank = line.text("bank");
    let last4 = line.text("account_last4").map(|l| format!("****{l}"));
    match [bank, last4].into_iter().flatten().collect::<Vec<_>>() {
        parts if parts.is_empty() => "Payout account changed".to_owned(),
        parts => format!("Payout account changed to {}", parts.join(" ")),
    }
}

pub(super) fn kyc_document_changed(line: &Line<'_>) -> String {
    let document = line
        .text("document")
        .map(|d| humanize(&d))
        .unwrap_or_else(|| "KYC/KYB document".into());
    match (line.text("status_from"), line.text("status_to")) {
        (Some(from), Some(to)) => format!("{document} changed from {from} to {to}"),
        (None, Some(to)) => format!("{document} changed to {to}"),
        _ => format!("{document} changed"),
    }
}

pub(super) fn logs_exported(line: &Line<'_>) -> String {
    match line.text("format") {
        Some(format) => format!("Security logs exported as {}", format.to_uppercase()),
        None => "Security logs exported".to_owned(),
    }
}

pub(super) fn stream_created(line: &Line<'_>) -> String {
    let kind = line.text("kind").map(|k| humanize(&k));
    let format = line.text("format").map(|f| f.to_uppercase());
    match [kind, format].into_iter().flatten().collect::<Vec<_>>() {
        parts if parts.is_empty() => "Security log stream created".to_owned(),
        parts => format!("Security log stream created ({})", parts.join(", ")),
    }
}

pub(super) fn stream_deleted(_: &Line<'_>) -> String {
    "Security log stream deleted".to_owned()
}

pub(super) fn stream_replayed(line: &Line<'_>) -> String {
    match line.text("from_index") {
        Some(index) => format!("Security log stream replayed from entry {index}"),
        None => "Security log stream replayed".to_owned(),
    }
}

fn api_key_line(verb: &str, key: Option<String>, key_id: Option<String>) -> String {
    let what = match key {
        Some(kind) => format!("{} API key", capitalize(&humanize(&kind))),
        None => "API key".to_owned(),
    };
    match key_id {
        Some(id) => format!("{what} {id} {verb}"),
        None => format!("{what} {verb}"),
    }
}

fn settings_line(details: &Json) -> String {
    let changes: Vec<String> = details
        .get("changes")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|change| {
            let field = change.get("field").and_then(value_text)?;
            let field = capitalize(&humanize(&field));
            let from = change.get("from").and_then(value_text);
            let to = change.get("to").and_then(value_text);
            Some(match (from, to) {
                (Some(from), Some(to)) => format!("{field} changed from {from} to {to}"),
                (None, Some(to)) => format!("{field} set to {to}"),
                (Some(from), None) => format!("{field} cleared (was {from})"),
                (None, None) => format!("{field} changed"),
            })
        })
        .collect();
    if changes.is_empty() {
        "Account settings changed".to_owned()
    } else {
        changes.join("; ")
    }
}

fn value_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.clone()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `business_permit` -> `business permit`
fn humanize(text: &str) -> String {
    text.replace(['_', '.'], " ")
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summarize(
        t: EventType,
        details: &serde_json::Value,
        device: Option<&str>,
        ip: Option<&str>,
    ) -> String {
        super::summarize(t, &Json::from(details.clone()), device, ip)
    }

    #[test]
    fn lines_from_the_contract_examples() {
        let cases = [
            (
                EventType::Login,
                json!({"method": "password"}),
                "Login from Safari on macOS",
            ),
            (
                EventType::AccountSettingsChanged,
                json!({"changes": [{"field": "email", "from": "a@x.com", "to": "b@x.com"}]}),
                "Email changed from a@x.com to b@x.com",
            ),
            (
                EventType::PayoutAccountUpdated,
                json!({"bank": "BDO", "account_last4": "6789"}),
                "Payout account changed to BDO ****6789",
            ),
            (
                EventType::KycDocumentChanged,
                json!({"document": "business_permit", "status_from": "pending", "status_to": "verified"}),
                "business permit changed from pending to verified",
            ),
            (
                EventType::ApiKeyViewed,
                json!({"key": "secret", "key_id": "sk_live_...4242"}),
                "Secret API key sk_live_...4242 viewed",
            ),
            (
                EventType::LoginFailed,
                json!({"reason": "bad_password"}),
                "Failed login from Safari on macOS: bad password",
            ),
            (EventType::PasswordChanged, json!({}), "Password changed"),
            (
                EventType::SecurityLogsStreamCreated,
                json!({"stream_id": "st_1", "kind": "webhook", "format": "ocsf"}),
                "Security log stream created (webhook, OCSF)",
            ),
            (
                EventType::SecurityLogsStreamReplayed,
                json!({"stream_id": "st_1", "from_index": 42}),
                "Security log stream replayed from entry 42",
            ),
            (
                EventType::SecurityLogsStreamDeleted,
                json!({"stream_id": "st_1"}),
                "Security log stream deleted",
            ),
        ];
        for (event_type, details, expected) in cases {
            assert_eq!(
                summarize(event_type, &details, Some("Safari on macOS"), None),
                expected
            );
        }
    }

    #[test]
    fn degrades_without_details() {
        assert_eq!(
            summarize(EventType::Login, &json!({}), None, Some("203.0.113.45")),
            "Login from 203.0.113.45"
        );
        assert_eq!(
            summarize(
                EventType::AccountSettingsChanged,
                &json!({"changes": "x"}),
                None,
                None
            ),
            "Account settings changed"
        );
        assert_eq!(
            summarize(EventType::PayoutAccountUpdated, &json!({}), None, None),
            "Payout account changed"
        );
        assert_eq!(
            summarize(
                EventType::AccountSettingsChanged,
                &json!({"changes": [{"field": "business_name", "to": "Acme"}, {"field": "phone"}]}),
                None,
                None
            ),
            "Business name set to Acme; Phone changed"
        );
    }
}
