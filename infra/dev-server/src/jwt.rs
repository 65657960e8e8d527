//! What API Gateway's JWT authorizer hands a function: the token's claims as strings.
//!
//! Locally the signature is not checked (the server binds loopback only); the claims are read
//! exactly as the authorizer would pass them, so the handlers see the same request context.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Claims of a `Bearer` token, or `None` when the header is missing or not a JWT.
pub fn claims(authorization: Option<&str>) -> Option<HashMap<String, String>> {
    let token = authorization?.strip_prefix("Bearer ")?.trim();
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let Value::Object(object) = serde_json::from_slice(&bytes).ok()? else {
        return None;
    };
    Some(
        object
            .into_iter()
            .map(|(k, v)| (k, claim_text(v)))
            .collect(),
    )
}

/// API Gateway passes every claim as a string; arrays look like `[a b]`.
fn claim_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Array(items) => {
            let items: Vec<String> = items.into_iter().map(claim_text).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

/// An unsigned token carrying `claims`, for local use and tests (`alg: none`).
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.local")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_claims_as_strings() {
        let token = unsigned_token(
            &json!({"account_id": "acct_1", "exp": 1700000000, "groups": ["a", "b"]}),
        );
        let claims = claims(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["account_id"], "acct_1");
        assert_eq!(claims["exp"], "1700000000");
        assert_eq!(claims["groups"], "[a b]");
    }

    #[test]
    fn malformed_tokens_have_no_claims() {
        for header in [
            None,
            Some("Basic abc"),
            Some("Bearer x.y"),
            Some("Bearer a.!!!.c"),
            Some("Bearer a.b.c.d"),
        ] {
            assert!(claims(header).is_none(), "{header:?}");
        }
        let not_object = URL_SAFE_NO_PAD.encode("[1]");
        assert!(claims(Some(&format!("Bearer h.{not_object}.s"))).is_none());
    }
}
