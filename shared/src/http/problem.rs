//! The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::{ApiError, FieldError};

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

/// What a client is told about one kind of error: status, problem type, title.
struct Kind {
    status: u16,
    uri: &'static str,
    title: &'static str,
}

/// Each error variant's problem, in one table (types documented in docs/api.md and docs/design/overview.md, "Errors").
fn kind(error: &ApiError) -> Kind {
    let (status, uri, title) = match error {
        ApiError::Validation(_) => (
            400,
            "urn:security-logs:problem:validation-error",
            "Your request is not valid",
        ),
        ApiError::Unauthorized(_) => (
            401,
            "urn:security-logs:problem:unauthorized",
            "Authentication required",
        ),
        ApiError::Forbidden(_) => (403, "urn:security-logs:problem:forbidden", "Not allowed"),
        ApiError::NotFound(_) => (404, "urn:security-logs:problem:not-found", "Not found"),
        ApiError::MethodNotAllowed { .. } => (
            405,
            "urn:security-logs:problem:method-not-allowed",
            "Method not allowed",
        ),
        ApiError::Conflict(_) => (
            409,
            "urn:security-logs:problem:idempotency-conflict",
            "An event_id was re-used for different content",
        ),
        ApiError::LimitReached(_) => (
            409,
            "urn:security-logs:problem:limit-reached",
            "A limit of the account is reached",
        ),
        ApiError::PayloadTooLarge { .. } => (
            413,
            "urn:security-logs:problem:payload-too-large",
            "Request body too large",
        ),
        ApiError::TooManyRequests { .. } => (
            429,
            "urn:security-logs:problem:too-many-requests",
            "Too many requests in flight",
        ),
        ApiError::Storage(_) => (
            503,
            "urn:security-logs:problem:storage-unavailable",
            "Service temporarily unavailable",
        ),
        ApiError::Internal(_) => (
            500,
            "urn:security-logs:problem:internal-error",
            "Internal error",
        ),
    };
    Kind { status, uri, title }
}

/// The error and every cause under it, for the log: `storage is unavailable: DynamoDB call
/// failed: dispatch failure: ...`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

pub fn problem(error: &ApiError) -> Response<Body> {
    let kind = kind(error);
    if kind.status >= 500 {
        // The whole chain goes to the log, once (never to the caller).
        tracing::error!(error = %chain(error), "request failed");
    }
    let errors: &[FieldError] = match error {
        ApiError::Validation(errors) | ApiError::Conflict(errors) => errors,
        _ => &[],
    };
    let detail = match errors {
        [one] => format!("`{}` {}", one.field, one.message),
        [] => error.to_string(),
        many => format!("{} fields are invalid; see `errors`", many.len()),
    };
    let body = Problem {
        kind: kind.uri,
        title: kind.title,
        status: kind.status,
        detail,
        errors,
    };
    let mut response = Response::builder()
        .status(kind.status)
        .header("content-type", "application/problem+json")
        .body(Body::Text(
            serde_json::to_string(&body).expect("problems serialize"),
        ))
        .expect("status and header are valid");
    let headers = response.headers_mut();
    match error {
        ApiError::Unauthorized(_) => {
            headers.insert("www-authenticate", http::HeaderValue::from_static("Bearer"));
        }
        ApiError::MethodNotAllowed { allow, .. } => {
            headers.insert("allow", http::HeaderValue::from_static(allow));
        }
        ApiError::TooManyRequests { retry_after, .. } => {
            headers.insert("retry-after", http::HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn validation_errors_list_each_field() {
        let err = ApiError::Validation(vec![
            FieldError::new("events[0].ip", "must be an IPv4 or IPv6 address"),
            FieldError::new("events[2].type", "unknown"),
        ]);
        let response = problem(&err);
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let json = body(&response);
        assert_eq!(json["status"], 400);
        assert_eq!(json["errors"][0]["field"], "events[0].ip");
        assert_eq!(json["errors"][1]["field"], "events[2].type");
        assert!(json["type"].as_str().unwrap().starts_with("urn:"));
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(
            problem(&ApiError::Unauthorized("no token".into())).status(),
            401
        );
        assert_eq!(problem(&ApiError::NotFound("no".into())).status(), 404);
        assert_eq!(
            problem(&ApiError::Forbidden("unsigned".into())).status(),
            403
        );
        let not_allowed = problem(&ApiError::MethodNotAllowed {
            path: "/v1/exports".into(),
            allow: "GET, POST",
        });
        assert_eq!(not_allowed.status(), 405);
        assert_eq!(not_allowed.headers()["allow"], "GET, POST");
        let conflict = problem(&ApiError::Conflict(vec![FieldError::new(
            "events[2].event_id",
            "was already used",
        )]));
        assert_eq!(conflict.status(), 409);
        assert_eq!(body(&conflict)["errors"][0]["field"], "events[2].event_id");
        let limit = problem(&ApiError::LimitReached("5 streams".into()));
        assert_eq!(limit.status(), 409);
        assert_eq!(
            body(&limit)["type"],
            "urn:security-logs:problem:limit-reached"
        );
        assert_eq!(
            problem(&ApiError::PayloadTooLarge { limit: 1 }).status(),
            413
        );
        let storage = problem(&ApiError::Storage("boom".into()));
        assert_eq!(storage.status(), 503);
        assert!(!body(&storage)["detail"].as_str().unwrap().contains("boom"));
    }
}
