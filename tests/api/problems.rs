//! Reading the RFC 9457 answers of the API, as the tests of several routes do.

use serde_json::Value;

/// The problem body of `response`, asserting its status (the body is shown when it differs)
/// and its content type.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> Value {
    let (got, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    body
}

/// The fields a 400 or 409 names, in order.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}
