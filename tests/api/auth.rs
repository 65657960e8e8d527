//! `POST /v1/events` is for internal services: SigV4-signed as API Gateway's `AWS_IAM`
//! authorization requires (locally `local`/`local`, `execute-api`, `us-east-1`), else 403.

use std::time::Duration;

use integration_tests::{Signer, TestApp, account, event, spawn_app};
use reqwest::Response;
use serde_json::Value;

fn body(acct: &str) -> Vec<u8> {
    event(acct, "login", 0).to_string().into_bytes()
}

/// A 403 problem whose detail mentions `mention`.
async fn assert_forbidden(response: Response, mention: &str) -> Value {
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["type"], "urn:security-logs:problem:forbidden");
    assert_eq!(problem["status"], 403);
    assert!(problem["title"].is_string(), "{problem}");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains(mention), "{detail}");
    problem
}

async fn assert_nothing_stored(app: &TestApp, acct: &str) {
    let (status, page) = app.list(acct, "").await;
    assert_eq!(status, 200);
    assert_eq!(page["data"], serde_json::json!([]), "nothing listed");
    assert!(app.raw_items().await.is_empty(), "nothing written");
}

#[tokio::test]
async fn a_signed_request_is_accepted() {
    let app = spawn_app().await;
    let acct = account();
    let response = app
        .ingest_request(body(&acct), &Signer::local())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201);
    assert_eq!(app.list_all(&acct, "limit=100").await.len(), 1);
}

#[tokio::test]
async fn an_unsigned_request_gets_403_and_stores_nothing() {
    let app = spawn_app().await;
    let acct = account();
    let response = app
        .http
        .post(app.events_url())
        .header("content-type", "application/json")
        .body(body(&acct))
        .send()
        .await
        .expect("request");
    assert_forbidden(response, "must be signed with SigV4").await;

    // A dashboard token is no substitute.
    let response = app
        .http
        .post(app.events_url())
        .bearer_auth(integration_tests::token(&acct))
        .body(body(&acct))
        .send()
        .await
        .expect("request");
    assert_forbidden(response, "not a SigV4 signature").await;
    assert_nothing_stored(&app, &acct).await;
}

#[tokio::test]
async fn a_wrong_secret_gets_403() {
    let app = spawn_app().await;
    let acct = account();
    let signer = Signer {
        secret: "not-the-secret",
        ..Signer::local()
    };
    let response = app
        .ingest_request(body(&acct), &signer)
        .send()
        .await
        .expect("request");
    let problem = assert_forbidden(response, "signature does not match").await;
    assert!(!problem.to_string().contains("not-the-secret"));
    assert_nothing_stored(&app, &acct).await;
}

#[tokio::test]
async fn an_unknown_access_key_or_scope_gets_403() {
    let app = spawn_app().await;
    let acct = account();
    let cases = [
        (
            Signer {
                access_key: "AKIAIOSFODNN7EXAMPLE",
                ..Signer::local()
            },
            "access key id",
        ),
        (
            Signer {
                service: "lambda",
                ..Signer::local()
            },
            "wrong service",
        ),
        (
            Signer {
                region: "eu-west-1",
                ..Signer::local()
            },
            "wrong region",
        ),
    ];
    for (signer, mention) in cases {
        let response = app
            .ingest_request(body(&acct), &signer)
            .send()
            .await
            .expect("request");
        assert_forbidden(response, mention).await;
    }
    assert_nothing_stored(&app, &acct).await;
}

#[tokio::test]
async fn a_body_changed_after_signing_gets_403() {
    let app = spawn_app().await;
    let acct = account();
    let other = account();
    let response = app
        .ingest_request(body(&acct), &Signer::local())
        .body(body(&other))
        .send()
        .await
        .expect("request");
    assert_forbidden(response, "signature does not match").await;
    assert_nothing_stored(&app, &other).await;
}

#[tokio::test]
async fn an_x_amz_date_ten_minutes_old_gets_403() {
    let app = spawn_app().await;
    let acct = account();
    let signer = Signer {
        time: std::time::SystemTime::now() - Duration::from_secs(10 * 60),
        ..Signer::local()
    };
    let response = app
        .ingest_request(body(&acct), &signer)
        .send()
        .await
        .expect("request");
    assert_forbidden(response, "within 5 minutes").await;
    assert_nothing_stored(&app, &acct).await;
}
