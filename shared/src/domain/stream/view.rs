//! The stream object of the API (`GET /v1/streams`, `GET /v1/streams/{id}`, and the answers of
//! creating and replaying): where it sends, how far its destination acknowledged the log, and
//! whether it is failing. Built from the stored stream only, so no secret can be in it: the
//! signing secret and the auth header's value are stored sealed elsewhere, and of the auth
//! header only its name is here.

use jiff::Timestamp;
use serde::Serialize;

use super::{DeliveryState, StreamFormat, StreamId, StreamTarget};

/// Whether a stream delivers (`active`) or its last attempt failed (`failing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStatus {
    Active,
    Failing,
}

#[derive(Debug, Serialize)]
pub struct AuthHeaderView<'a> {
    pub name: &'a str,
}

/// The target's members, beside `kind`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum TargetView<'a> {
    Webhook {
        url: &'a str,
        auth_header: Option<AuthHeaderView<'a>>,
    },
    S3 {
        bucket: &'a str,
        prefix: &'a str,
        role_arn: &'a str,
        region: &'a str,
        external_id: &'a str,
    },
}

#[derive(Debug, Serialize)]
pub struct StreamView<'a> {
    pub id: &'a StreamId,
    pub kind: &'static str,
    #[serde(flatten)]
    pub target: TargetView<'a>,
    pub format: StreamFormat,
    pub status: StreamStatus,
    /// What the last attempt met, while failing (else null).
    pub last_error: Option<&'a str>,
    /// Since when deliveries fail (else null).
    pub failing_since: Option<String>,
    /// True when the destination refused a delivery as wrong: nothing is sent until a replay.
    pub stopped: bool,
    /// The last `log_index` the destination acknowledged; null before the first.
    pub delivered_through: Option<u64>,
    /// Entries of the log not yet acknowledged.
    pub lag: u64,
    pub last_delivery_at: Option<String>,
    pub created_at: String,
}

impl<'a> StreamView<'a> {
    /// The view of a stream of an account whose log holds `log_size` entries.
    pub fn new(
        id: &'a StreamId,
        target: &'a StreamTarget,
        format: StreamFormat,
        created_at: Timestamp,
        state: &'a DeliveryState,
        log_size: u64,
    ) -> Self {
        let failing = state.failing.as_ref();
        Self {
            id,
            kind: target.kind(),
            target: match target {
                StreamTarget::Webhook { url, auth_header } => TargetView::Webhook {
                    url,
                    auth_header: auth_header.as_deref().map(|name| AuthHeaderView { name }),
                },
                StreamTarget::S3 {
                    bucket,
                    prefix,
                    role_arn,
                    region,
                    external_id,
                } => TargetView::S3 {
                    bucket,
                    prefix,
                    role_arn,
                    region,
                    external_id,
                },
            },
            format,
            status: match failing {
                Some(_) => StreamStatus::Failing,
                None => StreamStatus::Active,
            },
            last_error: failing.map(|f| f.last_error.as_str()),
            failing_since: failing.map(|f| f.since.to_string()),
            stopped: failing.is_some_and(super::Failing::is_stopped),
            delivered_through: state.delivered_through,
            lag: state.lag(log_size),
            last_delivery_at: state.last_delivery_at.map(|t| t.to_string()),
            created_at: created_at.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stream::Failing;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_fresh_webhook_stream_is_active_shows_only_its_header_s_name_and_lags_the_whole_log() {
        let id = StreamId::generate();
        let target = StreamTarget::Webhook {
            url: "https://siem.example.com/hook".into(),
            auth_header: Some("Authorization".into()),
        };
        let state = DeliveryState::default();
        let view = StreamView::new(
            &id,
            &target,
            StreamFormat::Ocsf,
            at("2026-12-07T09:00:00Z"),
            &state,
            12,
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json,
            json!({
                "id": id.as_str(),
                "kind": "webhook",
                "url": "https://siem.example.com/hook",
                "auth_header": {"name": "Authorization"},
                "format": "ocsf",
                "status": "active",
                "last_error": null,
                "failing_since": null,
                "stopped": false,
                "delivered_through": null,
                "lag": 12,
                "last_delivery_at": null,
                "created_at": "2026-12-07T09:00:00Z",
            })
        );
    }

    #[test]
    fn a_stopped_s3_stream_is_failing_with_its_reason_and_its_external_id() {
        let id = StreamId::generate();
        let target = StreamTarget::S3 {
            bucket: "siem-logs".into(),
            prefix: "security".into(),
            role_arn: "arn:aws:iam::123456789012:role/writer".into(),
            region: "eu-west-1".into(),
            external_id: "ext_01".into(),
        };
        let state = DeliveryState {
            delivered_through: Some(4),
            last_delivery_at: Some(at("2026-12-07T09:05:00Z")),
            failing: Some(Failing {
                since: at("2026-12-07T09:06:00Z"),
                last_error: "AccessDenied".into(),
                attempts: 3,
                retry_at: None,
            }),
        };
        let view = StreamView::new(
            &id,
            &target,
            StreamFormat::Native,
            at("2026-12-07T09:00:00Z"),
            &state,
            10,
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["kind"], "s3");
        assert_eq!(json["external_id"], "ext_01");
        assert_eq!(json["status"], "failing");
        assert_eq!(json["stopped"], true);
        assert_eq!(json["last_error"], "AccessDenied");
        assert_eq!(json["failing_since"], "2026-12-07T09:06:00Z");
        assert_eq!(json["delivered_through"], 4);
        assert_eq!(json["lag"], 5);
        assert!(json.get("url").is_none());
    }
}
