//! What API Gateway's `AWS_IAM` authorization checks before the ingest function runs: a SigV4
//! signature for service `execute-api` in `us-east-1`, made with a known access key.
//!
//! The expected signature is computed by the AWS SDK's own signer (`aws-sigv4`) from the request
//! as received: its method, path and query, the headers the caller named in `SignedHeaders` (and
//! only those), the SHA-256 of its body, and its `x-amz-date` as the signing time. It is then
//! compared with the caller's in constant time. Anything wrong is a 403 problem whose `detail`
//! says what, and never echoes a secret or the expected signature.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use jiff::{SignedDuration, Timestamp};
use lambda_http::{Body, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

/// The only algorithm API Gateway accepts in an `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const REGION: &str = "us-east-1";
pub const SERVICE: &str = "execute-api";
/// How far `x-amz-date` may be from the server's clock, either way (API Gateway: 5 minutes).
pub const MAX_SKEW: SignedDuration = SignedDuration::from_secs(5 * 60);

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The IAM principal API Gateway hands the function (`requestContext.authorizer.iam`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key: &'static str,
    pub account_id: &'static str,
    pub user_arn: &'static str,
    pub user_id: &'static str,
}

struct Key {
    secret: &'static str,
    principal: Principal,
}

/// The IAM user of the local development credentials.
pub const LOCAL: Principal = Principal {
    access_key: "local",
    account_id: "000000000000",
    user_arn: "arn:aws:iam::000000000000:user/local",
    user_id: "local",
};

/// The local development credentials (../shared/API.md, "Who is calling"): the only known key.
const KEYS: &[Key] = &[Key {
    secret: "local",
    principal: LOCAL,
}];

/// Why a request was refused; becomes a 403 problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl Denied {
    fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }

    /// The gateway's own answer, RFC 9457 `application/problem+json` like every other error.
    pub fn into_response(self) -> Response<Body> {
        let body = json!({
            "type": "urn:security-logs:problem:forbidden",
            "title": "Forbidden",
            "status": 403,
            "detail": self.0,
        });
        Response::builder()
            .status(403)
            .header("content-type", "application/problem+json")
            .body(Body::Text(body.to_string()))
            .expect("status and header are valid")
    }
}

/// The signing settings of SigV4 as API Gateway (`execute-api`, like every service but S3)
/// verifies it: the SDK defaults (the path normalized, then each segment percent-encoded again;
/// query parameters encoded and sorted; the SHA-256 of the body as payload hash), except that
/// exactly the caller's `SignedHeaders` are signed (no exclusions) and `x-amz-content-sha256` is
/// a canonical header only when the caller signed it.
///
/// curl's `--aws-sigv4 "aws:amz:us-east-1:execute-api"` agrees on `/v1/events` (no query, a path
/// with nothing to normalize or encode). curl 7.88 signs the path as sent and the query as
/// written (unsorted, curl/curl#9717): API Gateway refuses those signatures, and so does this.
pub fn settings(content_sha256: bool) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
    settings.signature_location = SignatureLocation::Headers;
    settings.excluded_headers = None;
    settings.payload_checksum_kind = if content_sha256 {
        PayloadChecksumKind::XAmzSha256
    } else {
        PayloadChecksumKind::NoHeader
    };
    settings
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, Denied> {
    let malformed = || {
        Denied::new(format!(
            "malformed Authorization header: expected `{ALGORITHM} Credential=<key>/<yyyymmdd>/{REGION}/{SERVICE}/aws4_request, SignedHeaders=<names>, Signature=<hex>`"
        ))
    };
    let Some(fields) = header
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
    else {
        return Err(Denied::new(format!(
            "the Authorization header is not a SigV4 signature ({ALGORITHM}); sign the request for service {SERVICE}, region {REGION}"
        )));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',') {
        let (name, value) = field.trim().split_once('=').ok_or_else(malformed)?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed()),
        };
        if slot.replace(value).is_some() {
            return Err(malformed());
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(malformed());
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope[..] else {
        return Err(malformed());
    };
    if terminator != "aws4_request" || access_key.is_empty() {
        return Err(malformed());
    }
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// Checks the request's signature; on success, the principal that signed it.
///
/// `now` is the server's clock (a parameter so tests can pin it).
pub fn verify(
    parts: &http::request::Parts,
    body: &[u8],
    now: Timestamp,
) -> Result<Principal, Denied> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| {
            Denied::new(format!(
                "missing authentication: the request must be signed with SigV4 for service {SERVICE}, region {REGION} (Authorization and x-amz-date headers)"
            ))
        })?
        .to_str()
        .map_err(|_| Denied::new("the Authorization header is not valid text"))?;
    let auth = parse_authorization(header)?;

    let key = KEYS
        .iter()
        .find(|key| key.principal.access_key == auth.access_key)
        .ok_or_else(|| Denied::new("the access key id in the credential is not known"))?;
    if auth.service != SERVICE {
        return Err(Denied::new(format!(
            "the credential is scoped to the wrong service: sign for `{SERVICE}`"
        )));
    }
    if auth.region != REGION {
        return Err(Denied::new(format!(
            "the credential is scoped to the wrong region: sign for `{REGION}`"
        )));
    }

    let names: Vec<&str> = auth.signed_headers.split(';').collect();
    let well_formed = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    }) && names.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed {
        return Err(Denied::new(
            "SignedHeaders must list lowercase header names, sorted and separated by `;`",
        ));
    }
    for required in ["host", X_AMZ_DATE] {
        if !names.contains(&required) {
            return Err(Denied::new(format!(
                "SignedHeaders must include `{required}`"
            )));
        }
    }
    if names.contains(&"authorization") {
        return Err(Denied::new(
            "SignedHeaders must not include `authorization`",
        ));
    }

    let signed_at = signing_time(parts)?;
    if (now - signed_at).abs() > MAX_SKEW {
        return Err(Denied::new(format!(
            "the signature has expired or is not yet valid: x-amz-date must be within 5 minutes of the server's clock ({})",
            now.strftime(DATE_FORMAT)
        )));
    }
    if auth.date != signed_at.strftime("%Y%m%d").to_string() {
        return Err(Denied::new(
            "the credential scope date does not match the date of x-amz-date",
        ));
    }

    // The signer adds `x-amz-date` (from the signing time) and `x-amz-content-sha256` (from
    // the body, when asked to) itself; every other signed header is passed exactly as received.
    let mut headers = Vec::new();
    for name in names
        .iter()
        .filter(|name| ![X_AMZ_DATE, X_AMZ_CONTENT_SHA256].contains(name))
    {
        let mut present = false;
        for value in parts.headers.get_all(*name) {
            let value = value.to_str().map_err(|_| {
                Denied::new(format!("the signed header `{name}` is not valid text"))
            })?;
            headers.push((*name, value));
            present = true;
        }
        if !present {
            return Err(Denied::new(format!(
                "the signed header `{name}` is missing from the request"
            )));
        }
    }
    let content_sha256 = names.contains(&X_AMZ_CONTENT_SHA256);
    if content_sha256 && !parts.headers.contains_key(X_AMZ_CONTENT_SHA256) {
        return Err(Denied::new(format!(
            "the signed header `{X_AMZ_CONTENT_SHA256}` is missing from the request"
        )));
    }

    let uri = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let request = SignableRequest::new(
        parts.method.as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|_| Denied::new("the request cannot be canonicalized for SigV4"))?;
    let identity: Identity =
        Credentials::new(key.principal.access_key, key.secret, None, None, "local").into();
    let signing_time =
        SystemTime::try_from(signed_at).map_err(|_| Denied::new("x-amz-date is out of range"))?;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(SERVICE)
        .time(signing_time)
        .settings(settings(content_sha256))
        .build()
        .expect("every signing parameter is set")
        .into();
    let (instructions, expected) = sign(request, &params)
        .map_err(|_| Denied::new("the request cannot be canonicalized for SigV4"))?
        .into_parts();
    // The signer signed exactly the caller's list (it adds nothing the caller did not name).
    let computed_headers = instructions
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| value.split("SignedHeaders=").nth(1))
        .and_then(|rest| rest.split(',').next());
    if computed_headers != Some(auth.signed_headers) {
        return Err(Denied::new(
            "SignedHeaders does not match the headers that can be signed",
        ));
    }
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(Denied::new(
            "the signature does not match: the method, path, query, a signed header or the body differs from what was signed, or the secret key is wrong",
        ));
    }
    Ok(key.principal.clone())
}

/// `x-amz-date` in the basic ISO 8601 form SigV4 uses (`20240422T063215Z`).
fn signing_time(parts: &http::request::Parts) -> Result<Timestamp, Denied> {
    let invalid = || Denied::new("x-amz-date must be a UTC time like 20240422T063215Z");
    let value = parts
        .headers
        .get(X_AMZ_DATE)
        .ok_or_else(|| Denied::new("the x-amz-date header is missing"))?
        .to_str()
        .map_err(|_| invalid())?;
    let time = jiff::civil::DateTime::strptime(DATE_FORMAT, value)
        .and_then(|civil| jiff::tz::TimeZone::UTC.to_timestamp(civil))
        .map_err(|_| invalid())?;
    // Strict: exactly the canonical form (no other widths or extra text).
    if time.strftime(DATE_FORMAT).to_string() != value {
        return Err(invalid());
    }
    Ok(time)
}

/// How an internal service signs its ingest requests: SigV4 by the AWS SDK's own signer
/// (`aws-sigv4`), for API Gateway (`execute-api`) in `us-east-1`. Locally the credentials are
/// `local`/`local` (../shared/API.md, "Who is calling"); tests vary them to see refusals.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key: &'static str,
    pub secret: &'static str,
    pub region: &'static str,
    pub service: &'static str,
    /// The signing time, sent as `x-amz-date`.
    pub time: SystemTime,
}

impl Signer {
    /// The local development credentials, signing now.
    pub fn local() -> Self {
        Self {
            access_key: "local",
            secret: "local",
            region: "us-east-1",
            service: "execute-api",
            time: SystemTime::now(),
        }
    }

    /// The headers that sign this request (`authorization`, `x-amz-date`); `headers` are signed
    /// too, like `host`, which comes from `url`.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<(String, String)> {
        let identity: Identity =
            Credentials::new(self.access_key, self.secret, None, None, "local").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable request");
        let (instructions, _signature) = sign(request, &params).expect("signs").into_parts();
        instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "127.0.0.1:3000";
    const BODY: &[u8] = br#"{"account_id":"acct_1","type":"login"}"#;

    fn now() -> Timestamp {
        "2026-11-27T07:04:06Z".parse().unwrap()
    }

    struct Signer<'a> {
        key: &'a str,
        secret: &'a str,
        region: &'a str,
        service: &'a str,
        time: Timestamp,
        content_sha256: bool,
    }

    impl Default for Signer<'_> {
        fn default() -> Self {
            Self {
                key: "local",
                secret: "local",
                region: REGION,
                service: SERVICE,
                time: now(),
                content_sha256: false,
            }
        }
    }

    impl Signer<'_> {
        /// A request as a service's SDK signs it with aws-sigv4 (content-type signed too).
        fn request(&self, method: &str, uri: &str, body: &[u8]) -> http::Request<Vec<u8>> {
            let identity: Identity =
                Credentials::new(self.key, self.secret, None, None, "test").into();
            let mut settings = SigningSettings::default();
            if self.content_sha256 {
                settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            }
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(self.region)
                .name(self.service)
                .time(SystemTime::try_from(self.time).unwrap())
                .settings(settings)
                .build()
                .unwrap()
                .into();
            let url = format!("http://{HOST}{uri}");
            let headers = [("content-type", "application/json")];
            let signable = SignableRequest::new(
                method,
                url.as_str(),
                headers.into_iter(),
                SignableBody::Bytes(body),
            )
            .unwrap();
            let (instructions, _) = sign(signable, &params).unwrap().into_parts();
            let mut request = http::Request::builder()
                .method(method)
                .uri(uri)
                .header("host", HOST)
                .header("content-type", "application/json")
                .header("user-agent", "test/1.0")
                .body(body.to_vec())
                .unwrap();
            instructions.apply_to_request_http1x(&mut request);
            request
        }
    }

    fn check(request: &http::Request<Vec<u8>>) -> Result<Principal, Denied> {
        check_at(request, now())
    }

    fn check_at(request: &http::Request<Vec<u8>>, now: Timestamp) -> Result<Principal, Denied> {
        let (parts, body) = request.clone().into_parts();
        verify(&parts, &body, now)
    }

    fn signed() -> http::Request<Vec<u8>> {
        Signer::default().request("POST", "/v1/events", BODY)
    }

    fn denied(request: &http::Request<Vec<u8>>) -> String {
        check(request).expect_err("refused").0
    }

    #[test]
    fn a_request_signed_by_aws_sigv4_verifies_as_the_local_principal() {
        let principal = check(&signed()).expect("verifies");
        assert_eq!(principal.access_key, "local");
        assert_eq!(principal.user_arn, "arn:aws:iam::000000000000:user/local");
        let header = signed().headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            header.contains("SignedHeaders=content-type;host;x-amz-date,"),
            "{header}"
        );
    }

    #[test]
    fn query_strings_and_a_signed_content_sha256_verify() {
        let signer = Signer {
            content_sha256: true,
            ..Signer::default()
        };
        let request = signer.request("POST", "/v1/events?b=2&a=x%20y", BODY);
        assert!(request.headers().contains_key("x-amz-content-sha256"));
        check(&request).expect("verifies");
    }

    #[test]
    fn unsigned_requests_are_refused() {
        let mut request = signed();
        request.headers_mut().remove("authorization");
        assert!(denied(&request).starts_with("missing authentication"));
        request
            .headers_mut()
            .insert("authorization", "Bearer a.b.c".parse().unwrap());
        assert!(denied(&request).contains("not a SigV4 signature"));
    }

    #[test]
    fn a_changed_body_path_query_method_or_signed_header_is_refused() {
        let mismatch = |request: &http::Request<Vec<u8>>| {
            assert!(
                denied(request).starts_with("the signature does not match"),
                "{:?}",
                check(request)
            )
        };
        let mut body = signed();
        body.body_mut()[3] ^= 1;
        mismatch(&body);
        let mut appended = signed();
        appended.body_mut().push(b' ');
        mismatch(&appended);

        for uri in ["/v1/events2", "/v1/events?a=1", "/V1/events"] {
            let mut path = signed();
            *path.uri_mut() = uri.parse().unwrap();
            mismatch(&path);
        }
        let mut query = Signer::default().request("POST", "/v1/events?a=1", BODY);
        *query.uri_mut() = "/v1/events?a=2".parse().unwrap();
        mismatch(&query);

        let mut method = signed();
        *method.method_mut() = http::Method::PUT;
        mismatch(&method);

        let mut content_type = signed();
        content_type
            .headers_mut()
            .insert("content-type", "text/plain".parse().unwrap());
        mismatch(&content_type);
        let mut host = signed();
        host.headers_mut()
            .insert("host", "127.0.0.1:3001".parse().unwrap());
        mismatch(&host);

        // An unsigned header may change: it is not covered.
        let mut user_agent = signed();
        user_agent
            .headers_mut()
            .insert("user-agent", "other".parse().unwrap());
        check(&user_agent).expect("unsigned headers are not covered");
    }

    #[test]
    fn a_changed_or_missing_date_is_refused() {
        let mut date = signed();
        date.headers_mut()
            .insert("x-amz-date", "20261127T070407Z".parse().unwrap());
        assert!(denied(&date).starts_with("the signature does not match"));
        for bad in [
            "2026-11-27T07:04:06Z",
            "20261127T070406",
            "20261327T070406Z",
        ] {
            let mut malformed = signed();
            malformed
                .headers_mut()
                .insert("x-amz-date", bad.parse().unwrap());
            assert!(
                denied(&malformed).starts_with("x-amz-date must be"),
                "{bad}"
            );
        }
        let mut missing = signed();
        missing.headers_mut().remove("x-amz-date");
        assert!(denied(&missing).contains("x-amz-date header is missing"));
    }

    #[test]
    fn a_wrong_secret_or_unknown_key_is_refused() {
        let wrong_secret = Signer {
            secret: "not-local",
            ..Signer::default()
        };
        let detail = denied(&wrong_secret.request("POST", "/v1/events", BODY));
        assert!(
            detail.starts_with("the signature does not match"),
            "{detail}"
        );
        assert!(!detail.contains("not-local"));

        let unknown = Signer {
            key: "AKIDEXAMPLE",
            ..Signer::default()
        };
        let detail = denied(&unknown.request("POST", "/v1/events", BODY));
        assert_eq!(detail, "the access key id in the credential is not known");
    }

    #[test]
    fn a_wrong_service_or_region_is_refused() {
        let service = Signer {
            service: "s3",
            ..Signer::default()
        };
        assert!(denied(&service.request("POST", "/v1/events", BODY)).contains("wrong service"));
        let region = Signer {
            region: "eu-west-1",
            ..Signer::default()
        };
        assert!(denied(&region.request("POST", "/v1/events", BODY)).contains("wrong region"));
    }

    #[test]
    fn dates_more_than_five_minutes_off_are_refused() {
        let request = signed();
        for offset in [-300, 0, 300] {
            check_at(&request, now() + SignedDuration::from_secs(offset)).expect("within 5 min");
        }
        for offset in [-301, 301, -3600] {
            let detail = check_at(&request, now() + SignedDuration::from_secs(offset))
                .expect_err("skewed")
                .0;
            assert!(detail.contains("within 5 minutes"), "{detail}");
        }
        // A request signed 10 minutes ago, with a valid signature for that time.
        let old = Signer {
            time: now() - SignedDuration::from_mins(10),
            ..Signer::default()
        };
        assert!(denied(&old.request("POST", "/v1/events", BODY)).contains("within 5 minutes"));
    }

    #[test]
    fn malformed_authorization_headers_are_refused() {
        let good = signed().headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        let cases = [
            good.replace("Credential=", "Cred="),
            good.replace("/aws4_request", "/aws4"),
            good.replace(", Signature=", ", X=1, Signature="),
            good.split(", Signature=").next().unwrap().to_owned(),
            good.replace("content-type;host", "host;content-type"),
            good.replace("content-type;host;x-amz-date", "content-type;x-amz-date"),
            good.replace("content-type;host;x-amz-date", "content-type;host"),
            good.replace(
                "content-type;host;x-amz-date",
                "authorization;content-type;host;x-amz-date",
            ),
            good.replace("20261127/", "20261126/"),
            good.replace("content-type;", "accept;content-type;"),
        ];
        for header in cases {
            let mut request = signed();
            request
                .headers_mut()
                .insert("authorization", header.parse().unwrap());
            let detail = denied(&request);
            assert!(
                !detail.contains("signature does not match"),
                "{header}: {detail}"
            );
        }
    }

    #[test]
    fn the_problem_is_a_403_without_secrets() {
        let response = Denied::new("nope").into_response();
        assert_eq!(response.status(), 403);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["type"], "urn:security-logs:problem:forbidden");
        assert_eq!(body["status"], 403);
        assert_eq!(body["detail"], "nope");
        assert!(body["title"].is_string());
    }

    /// Requests exactly as curl 7.88 `--aws-sigv4 "aws:amz:us-east-1:execute-api" --user
    /// local:local` sent them (captured on a plain listener), at their signing time.
    fn curl(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> http::Request<Vec<u8>> {
        let mut request = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body.as_bytes().to_vec()).unwrap()
    }

    fn curl_time() -> Timestamp {
        "2026-11-27T07:04:32Z".parse().unwrap()
    }

    #[test]
    fn curl_signed_requests_verify() {
        let json = curl(
            "POST",
            "/v1/events",
            &[
                ("host", "127.0.0.1:3291"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=local/20261127/us-east-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=9bc698969c2f1990ceb8abb29716c2ff19606ef040bc2899c55c7a51d494b565",
                ),
                ("x-amz-date", "20261127T070432Z"),
                ("user-agent", "curl/7.88.1"),
                ("accept", "*/*"),
                ("content-type", "application/json"),
                ("content-length", "26"),
            ],
            r#"{"account_id":"acct_demo"}"#,
        );
        check_at(&json, curl_time()).expect("curl's signature verifies");
        let mut tampered = json.clone();
        tampered.body_mut()[2] = b'A';
        assert!(check_at(&tampered, curl_time()).is_err());

        // With a query (already in canonical order) and a signed x-amz-content-sha256.
        let at: Timestamp = "2026-11-27T07:06:54Z".parse().unwrap();
        let query = curl(
            "POST",
            "/v1/events?a=1&b=x%20y",
            &[
                ("host", "127.0.0.1:3291"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=local/20261127/us-east-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=0ed826491a3b3f248b66055950cad2bfa1602d2faf547f8b25158756fe1b773f",
                ),
                ("x-amz-date", "20261127T070654Z"),
                ("content-type", "application/json"),
                (
                    "x-amz-content-sha256",
                    "c7c4669dfa6f9db0a0b5e45a0d42efc93a33192d7db8520c56a708927251c4f5",
                ),
            ],
            r#"{"account_id":"acct_demo"}"#,
        );
        check_at(&query, at).expect("curl's query and content hash verify");

        // curl 7.88 signs the query as written instead of sorting it (curl/curl#9717, fixed
        // in later curl): API Gateway refuses that, and so does this check.
        let unsorted = curl(
            "POST",
            "/v1/events?b=1&a=2",
            &[
                ("host", "127.0.0.1:3291"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=local/20261127/us-east-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=7baa0a0a1a7c44174ae958dc9c7b1f0272a285b9a1a253e50f758bfae418839e",
                ),
                ("x-amz-date", "20261127T070654Z"),
                ("content-type", "application/json"),
            ],
            r#"{"account_id":"acct_demo"}"#,
        );
        assert!(check_at(&unsorted, at).is_err());
    }
}
