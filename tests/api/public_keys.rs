//! `GET /v1/integrity/public-keys`: the platform's signing keys for anyone, no token, so an
//! auditor's trust anchor does not come from the merchant being audited.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use integration_tests::{Options, TEST_LOG_SEED, TestApp, account, event, spawn_app_with, token};
use reqwest::Response;
use seclog::integrity::keys::{KeyHistory, PublicKeys, PublishedKey};
use seclog::integrity::note::{LocalSigner, Signer, VerifierKey, origin, verify_checkpoint};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ROTATED_AT: &str = "2024-06-01T00:00:00Z";

/// A stack whose current key took over at `ROTATED_AT` from a key now retired.
async fn rotated_app() -> (TestApp, PublishedKey) {
    let retired = PublishedKey {
        key: LocalSigner::from_seed(&[1; 32]).public_key(),
        from: "2023-01-01T00:00:00Z".parse().unwrap(),
        until: Some(ROTATED_AT.parse().unwrap()),
    };
    let app = spawn_app_with(Options {
        key_history: KeyHistory {
            current_from: ROTATED_AT.parse().unwrap(),
            retired: vec![retired.clone()],
        },
        ..Options::default()
    })
    .await;
    (app, retired)
}

async fn public_keys(app: &TestApp, authorization: Option<&str>) -> Response {
    let mut request = app
        .http
        .get(format!("{}/v1/integrity/public-keys", app.base));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("request")
}

/// The account's first signed checkpoint note (the sequencer signs within seconds).
async fn checkpoint_note(app: &TestApp, acct: &str) -> String {
    for _ in 0..300 {
        let (status, note) = app.get_text(acct, "/v1/integrity/checkpoint").await;
        if status == 200 {
            return note;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint for {acct}");
}

#[tokio::test]
async fn anyone_gets_the_keys_that_verify_the_accounts_checkpoints() {
    let (app, retired) = rotated_app().await;

    let response = public_keys(&app, None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let text = response.text().await.expect("body");

    // A bad token changes nothing: the route has no authorizer.
    for bad in ["Bearer not-a-jwt", "Basic Zm9vOmJhcg=="] {
        let response = public_keys(&app, Some(bad)).await;
        assert_eq!(response.status(), 200, "{bad}");
        assert_eq!(response.text().await.expect("body"), text, "{bad}");
    }

    // Every fingerprint is the SHA-256 of its key's 32 bytes.
    let json: Value = serde_json::from_str(&text).expect("JSON");
    let keys = json["keys"].as_array().expect("a key list");
    assert_eq!(keys.len(), 2, "{json}");
    for key in keys {
        let bytes = STANDARD.decode(key["key"].as_str().unwrap()).unwrap();
        assert_eq!(bytes.len(), 32);
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key["fingerprint"], digest);
    }
    // The current key first, since the rotation; then the retired one with its until.
    assert_eq!(keys[0]["from"], ROTATED_AT);
    assert_eq!(keys[0]["until"], Value::Null);
    assert_eq!(keys[1]["until"], ROTATED_AT);
    let published = PublicKeys::parse(&text).expect("strictly valid");
    assert_eq!(published.keys[1], retired);

    // The current key is the test signer's, and verifies the account's checkpoint.
    let current = published.keys[0].key;
    assert_eq!(current, LocalSigner::from_seed(&TEST_LOG_SEED).public_key());
    let acct = account();
    app.ingest(vec![event(&acct, "login", 0)]).await;
    let note = checkpoint_note(&app, &acct).await;
    let account = seclog::domain::AccountId::parse(&acct).unwrap();
    let key = VerifierKey::new(&origin(&account), &current).unwrap();
    let checkpoint = verify_checkpoint(&note, &key).expect("the published key verifies");
    assert_eq!(checkpoint.size, 1);
    let (status, served) = app.get_text(&acct, "/v1/integrity/key").await;
    assert_eq!(status, 200);
    assert_eq!(served, format!("{key}\n"), "the token's route agrees");
    let old = VerifierKey::new(&origin(&account), &retired.key).unwrap();
    assert!(verify_checkpoint(&note, &old).is_err());
}

#[tokio::test]
async fn other_methods_get_405_and_the_account_routes_still_need_a_token() {
    let (app, _) = rotated_app().await;
    let response = app
        .http
        .post(format!("{}/v1/integrity/public-keys", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");

    let (status, _) = app
        .get_with_token("/v1/integrity/public-keys?account_id=x", None)
        .await;
    assert_eq!(status, 400, "no query parameters");
    let (status, _) = app.get_with_token("/v1/integrity/key", None).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .get_with_token("/v1/integrity/key", Some(&token(&account())))
        .await;
    assert_eq!(status, 200);
}
