//! The receiver against deliveries signed with the service's own `sign`.

use axum::http::HeaderValue;
use seclog::streams::signature::sign;
use serde_json::json;

use super::*;

const NOW: i64 = 1_765_000_000;

fn secret() -> SigningSecret {
    SigningSecret::parse(&format!("whsec_{}", "ab".repeat(32))).unwrap()
}

fn body(delivery: &str, records: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "stream_id": "st_1",
        "delivery_id": delivery,
        "format": "native",
        "records": records,
        "checkpoint": "security-logs/acct_demo\n12\nroot=\n\n— sig\n",
    }))
    .unwrap()
}

fn native(index: u64) -> serde_json::Value {
    json!({"id": format!("e{index}"), "type": "login", "log_index": index})
}

fn signed(delivery: &str, body: &[u8], t: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let signature = sign(&[&secret()], t, body);
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).unwrap());
    headers.insert(DELIVERY_HEADER, HeaderValue::from_str(delivery).unwrap());
    headers
}

fn receiver() -> Receiver {
    Receiver::new(secret(), DEFAULT_TOLERANCE_SECS)
}

#[test]
fn prints_each_record_on_one_line_and_the_delivery() {
    let body = body("d_1", json!([native(0), native(1)]));
    let printed = receiver()
        .receive(&signed("d_1", &body, NOW), &body, NOW + 5)
        .unwrap();
    assert_eq!(printed.records.len(), 2);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed.records[1]).unwrap(),
        native(1)
    );
    assert_eq!(
        printed.reports,
        ["delivery d_1 of stream st_1: 2 native records, checkpoint size 12"]
    );
}

#[test]
fn reports_repeats_and_gaps_across_deliveries() {
    let receiver = receiver();
    let first = body("d_1", json!([native(0), native(1)]));
    receiver
        .receive(&signed("d_1", &first, NOW), &first, NOW)
        .unwrap();
    let again = body("d_2", json!([native(1), native(4)]));
    let printed = receiver
        .receive(&signed("d_2", &again, NOW), &again, NOW)
        .unwrap();
    assert_eq!(
        printed.reports[1..],
        [
            "repeat: stream st_1 log_index 1".to_owned(),
            "gap: stream st_1 log_index 2..3 missing before 4".to_owned(),
        ]
    );
}

#[test]
fn reads_the_index_of_ocsf_records_from_metadata_sequence() {
    let mut value: serde_json::Value =
        serde_json::from_slice(&body("d_1", json!([{"metadata": {"sequence": 3}}]))).unwrap();
    value["format"] = json!("ocsf");
    let body = serde_json::to_vec(&value).unwrap();
    let receiver = receiver();
    receiver
        .receive(&signed("d_1", &body, NOW), &body, NOW)
        .unwrap();
    let printed = receiver
        .receive(&signed("d_1", &body, NOW), &body, NOW)
        .unwrap();
    assert!(
        printed
            .reports
            .contains(&"repeat: stream st_1 log_index 3".to_owned())
    );
}

#[test]
fn refuses_unsigned_badly_signed_and_stale_deliveries_with_401() {
    let body = body("d_1", json!([native(0)]));
    let receiver = receiver();
    let unsigned = receiver.receive(&HeaderMap::new(), &body, NOW).unwrap_err();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let mut tampered = body.clone();
    tampered[5] ^= 1;
    let bad = receiver
        .receive(&signed("d_1", &body, NOW), &tampered, NOW)
        .unwrap_err();
    assert!(matches!(
        bad,
        Refusal::BadSignature(SignatureRefused::NoMatch)
    ));
    let stale = receiver
        .receive(&signed("d_1", &body, NOW - 301), &body, NOW)
        .unwrap_err();
    assert!(matches!(
        stale,
        Refusal::BadSignature(SignatureRefused::Stale { .. })
    ));
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn refuses_a_signed_body_that_is_not_a_delivery_with_400() {
    let receiver = receiver();
    for body in [
        b"{}".to_vec(),
        body("d_1", json!([{"id": "e0"}])),
        b"not json".to_vec(),
    ] {
        let refusal = receiver
            .receive(&signed("d_1", &body, NOW), &body, NOW)
            .unwrap_err();
        assert_eq!(refusal.status(), StatusCode::BAD_REQUEST, "{refusal}");
    }
}

#[tokio::test]
async fn answers_204_over_http_and_401_to_a_stale_signature() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router(receiver())).await.unwrap();
    });
    let client = reqwest::Client::new();
    let body = body("d_1", json!([native(0)]));
    let now = jiff::Timestamp::now().as_second();
    for (t, status) in [(now, 204), (now - 3600, 401)] {
        let answer = client
            .post(&url)
            .headers(signed("d_1", &body, t))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status);
    }
    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    server.abort();
}
