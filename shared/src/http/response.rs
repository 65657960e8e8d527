use lambda_http::{Body, Response};
use serde::Serialize;

pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::Text(
            serde_json::to_string(value).expect("responses serialize"),
        ))
        .expect("status and header are valid")
}

pub fn json_with_location<T: Serialize>(status: u16, location: &str, value: &T) -> Response<Body> {
    let mut response = json(status, value);
    if let Ok(location) = http::HeaderValue::from_str(location) {
        response.headers_mut().insert("location", location);
    }
    response
}

/// Marks a response that carries account data or download links as never cacheable.
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert("cache-control", http::HeaderValue::from_static("no-store"));
    response
}
