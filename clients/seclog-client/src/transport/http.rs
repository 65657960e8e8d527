//! `POST /v1/events`: a batch as `{"events": [...]}`, signed with SigV4, and the service's answer
//! classified (`docs/api.md`, "POST /v1/events" and "Errors").

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;

use super::{BatchLimits, EncodedEvent, FieldError, Problem, Receipt, SendError, Transport};
use crate::backoff::parse_retry_after;
use crate::signing::RequestSigner;

/// The contract's limits of one request: 1 to 100 events, a body of at most 1 MiB.
pub const MAX_EVENTS: usize = 100;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const ENVELOPE_START: &str = r#"{"events":["#;
const ENVELOPE_END: &str = "]}";
const CONTENT_TYPE: &str = "application/json";

/// The ingest route of one deployment (or of `make dev`).
#[derive(Debug)]
pub struct HttpTransport {
    http: reqwest::Client,
    url: String,
    signer: RequestSigner,
}

impl HttpTransport {
    /// `endpoint` is the API's base URL (`https://...execute-api...amazonaws.com`, or
    /// `http://127.0.0.1:3000` locally); each request waits at most `timeout` for its answer.
    pub fn new(
        endpoint: &str,
        signer: RequestSigner,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            url: format!("{}/v1/events", endpoint.trim_end_matches('/')),
            signer,
        })
    }
}

impl Transport for HttpTransport {
    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: MAX_EVENTS,
            max_bytes: MAX_BODY_BYTES,
            envelope_bytes: ENVELOPE_START.len() + ENVELOPE_END.len(),
            separator_bytes: 1,
        }
    }

    async fn send(&self, events: &[EncodedEvent]) -> Result<Vec<Receipt>, SendError> {
        let body = request_body(events);
        let signature = self
            .signer
            .sign("POST", &self.url, &[("content-type", CONTENT_TYPE)], &body)
            .await
            .map_err(|e| retryable(e.to_string()))?;
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", CONTENT_TYPE);
        for (name, value) in signature {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| failure(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, jiff::Timestamp::now()));
        let answer = response.bytes().await.map_err(|e| failure(&e))?;
        classify(status, retry_after, &answer, events.len())
    }
}

/// `{"events":[e1,e2,...]}` from the events' own JSON.
fn request_body(events: &[EncodedEvent]) -> Vec<u8> {
    let size = events.iter().map(|e| e.json().len() + 1).sum::<usize>();
    let mut body = Vec::with_capacity(ENVELOPE_START.len() + size + ENVELOPE_END.len());
    body.extend_from_slice(ENVELOPE_START.as_bytes());
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.json().as_bytes());
    }
    body.extend_from_slice(ENVELOPE_END.as_bytes());
    body
}

/// What an answer means for a batch of `sent` events.
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    sent: usize,
) -> Result<Vec<Receipt>, SendError> {
    match status.as_u16() {
        201 => receipts(body, sent),
        413 => Err(SendError::TooLarge),
        // 401/403: a signature refused, often for a moment (clock skew, rotated credentials);
        // retrying keeps the events while the cause is fixed, and every retry is logged.
        401 | 403 | 408 | 429 | 500..=599 => Err(SendError::Retryable {
            reason: format!("{status}: {}", problem(status, body).detail),
            retry_after,
        }),
        _ => Err(SendError::Rejected(problem(status, body))),
    }
}

#[derive(Deserialize)]
struct Created {
    events: Vec<CreatedEvent>,
}

#[derive(Deserialize)]
struct CreatedEvent {
    id: String,
    duplicate: bool,
}

/// A 201's receipts. One that cannot be read is retried: the events are then stored, and the
/// re-send answers them as duplicates.
fn receipts(body: &[u8], sent: usize) -> Result<Vec<Receipt>, SendError> {
    match serde_json::from_slice::<Created>(body) {
        Ok(created) if created.events.len() == sent => Ok(created
            .events
            .into_iter()
            .map(|e| Receipt {
                id: e.id,
                duplicate: e.duplicate,
            })
            .collect()),
        _ => Err(retryable(format!(
            "a 201 answer without one receipt per event ({sent} sent)"
        ))),
    }
}

/// The problem+json body; API Gateway's own answers carry `{"message": ...}` instead.
#[derive(Deserialize, Default)]
struct ProblemBody {
    title: Option<String>,
    detail: Option<String>,
    message: Option<String>,
    #[serde(default)]
    errors: Vec<FieldErrorBody>,
}

#[derive(Deserialize)]
struct FieldErrorBody {
    field: String,
    message: String,
}

fn problem(status: StatusCode, body: &[u8]) -> Problem {
    let parsed: ProblemBody = serde_json::from_slice(body).unwrap_or_default();
    let detail = parsed
        .detail
        .or(parsed.message)
        .or(parsed.title)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason").to_owned());
    Problem {
        status: status.as_u16(),
        detail,
        errors: parsed
            .errors
            .into_iter()
            .map(|e| field_error(e.field, e.message))
            .collect(),
    }
}

/// `events[3].ip` names event 3's `ip`; any other path names no event.
fn field_error(path: String, message: String) -> FieldError {
    let named = path.strip_prefix("events[").and_then(|rest| {
        let (index, field) = rest.split_once(']')?;
        Some((
            index.parse().ok()?,
            field.trim_start_matches('.').to_owned(),
        ))
    });
    match named {
        Some((index, field)) => FieldError {
            event: Some(index),
            field,
            message,
        },
        None => FieldError {
            event: None,
            field: path,
            message,
        },
    }
}

fn retryable(reason: String) -> SendError {
    SendError::Retryable {
        reason,
        retry_after: None,
    }
}

/// No (complete) answer: the request may or may not have been stored, so it is sent again.
fn failure(error: &reqwest::Error) -> SendError {
    let kind = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    retryable(format!("{kind}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Event, EventType};
    use serde_json::json;

    fn encoded(n: usize) -> Vec<EncodedEvent> {
        (0..n)
            .map(|i| {
                let event = Event::new("acct_1", EventType::Login, Actor::new(format!("u_{i}")));
                EncodedEvent::new(event).expect("encodes")
            })
            .collect()
    }

    #[test]
    fn the_body_is_a_batch_and_its_size_is_what_the_limits_count() {
        let events = encoded(3);
        let body = request_body(&events);
        let parsed: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(parsed["events"].as_array().map(Vec::len), Some(3));
        assert_eq!(parsed["events"][2]["actor"]["id"], "u_2");
        let limits = BatchLimits {
            max_events: MAX_EVENTS,
            max_bytes: MAX_BODY_BYTES,
            envelope_bytes: ENVELOPE_START.len() + ENVELOPE_END.len(),
            separator_bytes: 1,
        };
        let event_bytes = events.iter().map(|e| e.json().len()).sum();
        assert_eq!(limits.request_bytes(3, event_bytes), body.len());
    }

    #[test]
    fn a_201_gives_receipts_in_order() {
        let body =
            json!({"events": [{"id": "A", "duplicate": false}, {"id": "B", "duplicate": true}]});
        let receipts =
            classify(StatusCode::CREATED, None, body.to_string().as_bytes(), 2).expect("stored");
        assert_eq!(receipts[1].id, "B");
        assert!(receipts[1].duplicate && !receipts[0].duplicate);
        let short = classify(StatusCode::CREATED, None, body.to_string().as_bytes(), 3);
        assert!(
            matches!(short, Err(SendError::Retryable { .. })),
            "{short:?}"
        );
    }

    #[test]
    fn a_400_names_each_event_and_field() {
        let body = json!({
            "type": "urn:security-logs:problem:validation-error", "status": 400,
            "title": "Bad Request", "detail": "2 invalid fields",
            "errors": [
                {"field": "events[1].ip", "message": "is not an IP address"},
                {"field": "events[12].details.changes[0].to", "message": "control character"},
                {"field": "body", "message": "is not valid JSON"}
            ]
        });
        let Err(SendError::Rejected(problem)) = classify(
            StatusCode::BAD_REQUEST,
            None,
            body.to_string().as_bytes(),
            20,
        ) else {
            panic!("a 400 rejects");
        };
        assert_eq!(problem.detail, "2 invalid fields");
        let named: Vec<(Option<usize>, &str)> = problem
            .errors
            .iter()
            .map(|e| (e.event, e.field.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (Some(1), "ip"),
                (Some(12), "details.changes[0].to"),
                (None, "body")
            ]
        );
    }

    #[test]
    fn faults_and_throttling_are_retried_with_the_service_wish() {
        for status in [500, 502, 503, 504, 429, 408, 403] {
            let status = StatusCode::from_u16(status).expect("status");
            let answer = classify(status, Some(Duration::from_secs(7)), b"{}", 1);
            assert_eq!(
                answer.err().and_then(|e| match e {
                    SendError::Retryable { retry_after, .. } => retry_after,
                    _ => None,
                }),
                Some(Duration::from_secs(7)),
                "{status}"
            );
        }
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None, b"", 100),
            Err(SendError::TooLarge)
        );
    }

    #[test]
    fn other_client_errors_reject_with_the_gateway_message() {
        let answer = classify(
            StatusCode::NOT_FOUND,
            None,
            br#"{"message":"Not Found"}"#,
            5,
        );
        let Err(SendError::Rejected(problem)) = answer else {
            panic!("a 404 rejects: {answer:?}");
        };
        assert_eq!(
            (problem.status, problem.detail.as_str()),
            (404, "Not Found")
        );
        assert!(problem.errors.is_empty());
    }
}
