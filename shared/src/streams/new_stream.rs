//! A stream as `POST /v1/streams` asks for it, read once at the edge into domain types: every
//! invalid field is reported at once (400, `errors[].field` such as `url`, `auth_header.name`,
//! `role_arn`), unknown members are refused, and a value that exists is valid.
//!
//! Parsing decides everything that can be decided from the text; [`NewStream::vet`] then
//! resolves a webhook's host name through the [`Resolve`] port (a stub in tests, which never
//! send a DNS query) and refuses a name that leads to a non-public address, as the delivery
//! will again at every connection.

use super::address::{LoopbackHttp, Resolve, WebhookUrl, vet};
use crate::domain::fields::{Fields, json_body};
use crate::domain::stream::auth_header::{AuthHeaderName, AuthHeaderValue};
use crate::domain::stream::s3_target::{AwsRegion, BucketName, ExternalId, RoleArn, S3Prefix};
use crate::domain::stream::{StreamFormat, StreamTarget};
use crate::error::{ApiError, Errors};

/// The header sent with every delivery of a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub name: AuthHeaderName,
    pub value: AuthHeaderValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewTarget {
    Webhook {
        url: WebhookUrl,
        auth_header: Option<AuthHeader>,
    },
    S3 {
        bucket: BucketName,
        prefix: S3Prefix,
        role_arn: RoleArn,
        region: AwsRegion,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStream {
    pub target: NewTarget,
    pub format: StreamFormat,
}

const KIND: &str = "kind";
const FORMAT: &str = "format";
const WEBHOOK_MEMBERS: [&str; 4] = [KIND, FORMAT, "url", "auth_header"];
const S3_MEMBERS: [&str; 6] = [KIND, FORMAT, "bucket", "prefix", "role_arn", "region"];

#[derive(Clone, Copy)]
enum Kind {
    Webhook,
    S3,
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    match text {
        "webhook" => Ok(Kind::Webhook),
        "s3" => Ok(Kind::S3),
        _ => Err("must be \"webhook\" or \"s3\"".to_owned()),
    }
}

impl NewStream {
    /// The format when the body names none: the entry as `GET /v1/logs` shows it, which loses
    /// nothing; `ocsf` is the choice of SIEMs that map OCSF.
    pub const DEFAULT_FORMAT: StreamFormat = StreamFormat::Native;

    /// Reads a `POST /v1/streams` body; `loopback` says whether `http://` to loopback is
    /// admitted (local development only).
    pub fn parse(body: &[u8], loopback: LoopbackHttp) -> Result<Self, ApiError> {
        let value = json_body(body)?;
        let mut errors = Errors::default();
        let mut parsed = None;
        if let Some(mut fields) = Fields::object(&value, "", &mut errors) {
            let kind = fields.required_parsed(KIND, parse_kind);
            let format = fields.optional_parsed(FORMAT, StreamFormat::parse);
            let target = match kind {
                Some(Kind::Webhook) => webhook(&mut fields, loopback),
                Some(Kind::S3) => s3(&mut fields),
                None => None,
            };
            parsed = target.map(|target| Self {
                target,
                format: format.unwrap_or(Self::DEFAULT_FORMAT),
            });
        }
        errors.into_result()?;
        parsed.ok_or_else(|| ApiError::field("body", "is not a stream"))
    }

    /// Refuses a webhook whose host name resolves to no address, or to any address that is not
    /// public (400 on `url`); an address written as the host was judged by [`Self::parse`].
    pub async fn vet(
        &self,
        resolver: &impl Resolve,
        loopback: LoopbackHttp,
    ) -> Result<(), ApiError> {
        match &self.target {
            NewTarget::Webhook { url, .. } => vet(url, resolver, loopback)
                .await
                .map(|_| ())
                .map_err(|refused| ApiError::field(WebhookUrl::FIELD, refused.to_string())),
            NewTarget::S3 { .. } => Ok(()),
        }
    }

    /// The target as stored: secrets left out (they are sealed apart), and for S3 a fresh
    /// external id.
    pub fn stored_target(&self) -> StreamTarget {
        match &self.target {
            NewTarget::Webhook { url, auth_header } => StreamTarget::Webhook {
                url: url.as_str().to_owned(),
                auth_header: auth_header.as_ref().map(|h| h.name.as_str().to_owned()),
            },
            NewTarget::S3 {
                bucket,
                prefix,
                role_arn,
                region,
            } => StreamTarget::S3 {
                bucket: bucket.as_str().to_owned(),
                prefix: prefix.as_str().to_owned(),
                role_arn: role_arn.as_str().to_owned(),
                region: region.as_str().to_owned(),
                external_id: ExternalId::generate().as_str().to_owned(),
            },
        }
    }
}

fn webhook(fields: &mut Fields<'_>, loopback: LoopbackHttp) -> Option<NewTarget> {
    fields.deny_unknown(&WEBHOOK_MEMBERS);
    let url = fields.required_parsed(WebhookUrl::FIELD, |text| {
        WebhookUrl::parse(text, loopback).map_err(|refused| refused.to_string())
    });
    let auth_header = match fields.get("auth_header") {
        None => Some(None),
        Some(value) => {
            let path = fields.path("auth_header");
            Fields::object(value, &path, fields.errors()).and_then(|mut header| {
                header.deny_unknown(&["name", "value"]);
                let name = header.required_parsed("name", AuthHeaderName::parse);
                let value = header.required_parsed("value", AuthHeaderValue::parse);
                Some(Some(AuthHeader {
                    name: name?,
                    value: value?,
                }))
            })
        }
    };
    Some(NewTarget::Webhook {
        url: url?,
        auth_header: auth_header?,
    })
}

fn s3(fields: &mut Fields<'_>) -> Option<NewTarget> {
    fields.deny_unknown(&S3_MEMBERS);
    let bucket = fields.required_parsed("bucket", BucketName::parse);
    let prefix = match fields.get("prefix") {
        None => Some(S3Prefix::default()),
        Some(_) => fields.optional_parsed("prefix", S3Prefix::parse),
    };
    let role_arn = fields.required_parsed("role_arn", RoleArn::parse);
    let region = fields.required_parsed("region", AwsRegion::parse);
    Some(NewTarget::S3 {
        bucket: bucket?,
        prefix: prefix?,
        role_arn: role_arn?,
        region: region?,
    })
}

#[cfg(test)]
mod tests;
