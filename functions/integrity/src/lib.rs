//! `GET /v1/integrity/{key,checkpoint,proof/inclusion,proof/consistency}`: what an auditor needs
//! to check the token's account's tamper-evident log (docs/design/integrity.md). Proof sizes are
//! bounded by the latest signed checkpoint, so every proof ties to a note the service signed.
//!
//! `GET /v1/integrity/public-keys` needs no token: the platform's signing keys, so an auditor's
//! trust anchor comes from the platform, not from the merchant being audited (docs/api.md).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::HeaderValue;
use lambda_http::http::header::CACHE_CONTROL;
use lambda_http::{Body, Request, RequestExt, Response};
use seclog::ApiError;
use seclog::config::{AccountClaim, ConfigError, Stack};
use seclog::domain::AccountId;
use seclog::domain::proof_query::{ConsistencyQuery, InclusionQuery};
use seclog::domain::query::parse_no_params;
use seclog::http::{Endpoint, json, query_params};
use seclog::integrity::keys::KeyHistory;
use seclog::integrity::merkle::{Hash, consistency_path, inclusion_path};
use seclog::integrity::note::{Signer, VerifierKey, origin};
use seclog::store::dynamodb::log::LogStore;
use seclog::store::kms::log_keys::LogKeys;
use serde::Serialize;

#[derive(Serialize)]
struct InclusionProof {
    index: u64,
    size: u64,
    hashes: Vec<String>,
}

#[derive(Serialize)]
struct ConsistencyProof {
    from: u64,
    to: u64,
    hashes: Vec<String>,
}

pub struct Integrity {
    log: LogStore,
    keys: LogKeys,
    key_history: KeyHistory,
    claim: AccountClaim,
}

/// The public keys change only at a rotation, which lists the old key on: a cache may keep them.
const PUBLIC_KEYS_CACHE: &str = "public, max-age=300";

impl Integrity {
    /// The composition root of the integrity function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self {
            log: stack.log_store()?,
            keys: stack.log_keys()?,
            key_history: stack.settings.key_history.clone(),
            claim: stack.settings.claim.clone(),
        })
    }
}

impl Endpoint for Integrity {
    const NO_STORE: bool = true;

    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let path = request.raw_http_path();
        let route = path.strip_prefix("/v1/integrity/").unwrap_or_default();
        // Before the token is read: this route has no authorizer and no account.
        if route == "public-keys" {
            parse_no_params(query_params(&request))?;
            return self.public_keys().await;
        }
        let account = self.claim.account(&request)?;
        match route {
            "key" => {
                parse_no_params(query_params(&request))?;
                self.key(&account).await
            }
            "checkpoint" => {
                parse_no_params(query_params(&request))?;
                self.checkpoint(&account).await
            }
            "proof/inclusion" => {
                let query = InclusionQuery::parse(query_params(&request))?;
                self.inclusion(&account, query).await
            }
            "proof/consistency" => {
                let query = ConsistencyQuery::parse(query_params(&request))?;
                self.consistency(&account, query).await
            }
            _ => Err(ApiError::NotFound(format!("no route {path}"))),
        }
    }
}

impl Integrity {
    /// Every signing key, the current one first; cacheable, since it holds no account data.
    async fn public_keys(&self) -> Result<Response<Body>, ApiError> {
        let signer = self.keys.signer().await.map_err(ApiError::storage)?;
        let keys = self
            .key_history
            .publish(signer.public_key())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut response = json(200, &keys);
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(PUBLIC_KEYS_CACHE));
        Ok(response)
    }

    async fn key(&self, account: &AccountId) -> Result<Response<Body>, ApiError> {
        let signer = self.keys.signer().await.map_err(ApiError::storage)?;
        let key = VerifierKey::new(&origin(account), &signer.public_key())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(text(format!("{key}\n")))
    }

    async fn checkpoint(&self, account: &AccountId) -> Result<Response<Body>, ApiError> {
        let checkpoint = self.log.checkpoint(account).await?.ok_or_else(empty_log)?;
        Ok(text(checkpoint.note))
    }

    /// The size of the latest signed checkpoint (0 while there is none).
    async fn signed_size(&self, account: &AccountId) -> Result<u64, ApiError> {
        Ok(self.log.checkpoint(account).await?.map_or(0, |c| c.size))
    }

    async fn inclusion(
        &self,
        account: &AccountId,
        query: InclusionQuery,
    ) -> Result<Response<Body>, ApiError> {
        let query = query.within(self.signed_size(account).await?)?;
        let path = inclusion_path(query.index, query.size)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let hashes = self.log.subtree_hashes(account, &path).await?;
        Ok(json(
            200,
            &InclusionProof {
                index: query.index,
                size: query.size,
                hashes: encode(&hashes),
            },
        ))
    }

    async fn consistency(
        &self,
        account: &AccountId,
        query: ConsistencyQuery,
    ) -> Result<Response<Body>, ApiError> {
        let query = query.within(self.signed_size(account).await?)?;
        let path = consistency_path(query.from, query.to)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let hashes = self.log.subtree_hashes(account, &path).await?;
        Ok(json(
            200,
            &ConsistencyProof {
                from: query.from,
                to: query.to,
                hashes: encode(&hashes),
            },
        ))
    }
}

fn empty_log() -> ApiError {
    ApiError::NotFound("this account's log is empty: no entry has been sequenced yet".into())
}

fn encode(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

fn text(body: String) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::Text(body))
        .expect("status and header are valid")
}
