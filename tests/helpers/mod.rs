//! Test harness: one local stack (moto) per test binary, fresh tables per test, and the dev
//! server's router on a free loopback port, reached over real HTTP.

use std::sync::{Arc, OnceLock};

use dev_server::{App, LocalStack, Tables, jwt, router};
use reqwest::Response;
use seclog::domain::cursor::CursorKey;
use seclog::http::AccountClaim;
use seclog::store::{aws, schema};
use serde_json::{Value, json};

static STACK: OnceLock<LocalStack> = OnceLock::new();

/// The shared moto server; it dies with the test process (see `LocalStack`).
pub fn stack() -> &'static LocalStack {
    STACK.get_or_init(|| LocalStack::start(0).expect("local stack starts (run `make venv` first)"))
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub aws: aws_config::SdkConfig,
    pub tables: Tables,
}

pub struct Options {
    pub claim: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            claim: AccountClaim::DEFAULT,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let aws = aws::local(&stack().dynamodb_endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let tables = Tables {
        events: format!("events-{}", ulid::Ulid::generate()),
    };
    schema::create_events_table(&dynamodb, &tables.events)
        .await
        .expect("events table");
    let app = App::new(
        &aws,
        &tables,
        AccountClaim::new(options.claim),
        CursorKey::new(&[42; 32]).expect("key"),
        365,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, router(Arc::new(app)))
            .await
            .expect("serve");
    });
    TestApp {
        base,
        http: reqwest::Client::new(),
        dynamodb,
        aws,
        tables,
    }
}

/// A dashboard token for `account` (claims as API Gateway's JWT authorizer passes them).
pub fn token(account: &str) -> String {
    jwt::unsigned_token(&json!({"account_id": account, "sub": "u_1"}))
}

impl TestApp {
    pub async fn post_events(&self, body: &Value) -> Response {
        self.post_raw(body.to_string().into_bytes()).await
    }

    pub async fn post_raw(&self, body: Vec<u8>) -> Response {
        self.http
            .post(format!("{}/v1/events", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Ingests and asserts success; returns the ids in request order.
    pub async fn ingest(&self, events: Vec<Value>) -> Vec<String> {
        let response = self.post_events(&json!({ "events": events })).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "{body}");
        body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect()
    }

    pub async fn list(&self, account: &str, query: &str) -> (u16, Value) {
        self.get_with_token(&format!("/v1/logs?{query}"), Some(&token(account)))
            .await
    }

    pub async fn get_with_token(&self, path_and_query: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Every entry of every page, following `next_cursor`; also checks no page is empty
    /// while a cursor pointed at it.
    pub async fn list_all(&self, account: &str, query: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let q = match &cursor {
                Some(c) => format!("{query}&cursor={c}"),
                None => query.to_owned(),
            };
            let (status, body) = self.list(account, &q).await;
            assert_eq!(status, 200, "{body}");
            entries.extend(body["data"].as_array().expect("data").iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return entries,
            }
        }
        panic!("pagination did not end");
    }
}

/// A valid event for `account`, `minutes` after 2024-04-22T06:00:00Z.
pub fn event(account: &str, event_type: &str, minutes: i64) -> Value {
    let at = jiff::Timestamp::from_second(1_713_765_600 + minutes * 60).expect("time");
    json!({
        "account_id": account,
        "type": event_type,
        "occurred_at": at.to_string(),
        "actor": {"id": "u_1", "name": "Alice Merchant", "email": "alice@example.com"},
        "ip": "203.0.113.45",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
        "details": {}
    })
}

/// A unique account id per test, so tests never see each other's data.
pub fn account() -> String {
    format!("acct_{}", ulid::Ulid::generate())
}
