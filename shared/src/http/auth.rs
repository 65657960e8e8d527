//! Which account a dashboard request acts for: the claim that API Gateway's JWT authorizer put
//! in the request context, never a parameter. The claim's name is a setting
//! ([`AccountClaim`], in `config`); reading it from a request is the edge's, here.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use std::collections::HashMap;

use crate::config::AccountClaim;
use crate::domain::fields::bounded_text;
use crate::domain::{AccountId, Actor};
use crate::error::ApiError;

impl AccountClaim {
    /// The caller's account, or 401 when the authorizer gave no valid account claim.
    pub fn account(&self, request: &Request) -> Result<AccountId, ApiError> {
        let claims = claims(request)?;
        let value = claims.get(self.name()).ok_or_else(|| {
            ApiError::Unauthorized(format!("the token has no `{}` claim", self.name()))
        })?;
        let account = AccountId::parse(value).map_err(|_| {
            ApiError::Unauthorized(format!(
                "the token's `{}` claim is not a valid account id",
                self.name()
            ))
        })?;
        tracing::Span::current().record("account", account.as_str());
        Ok(account)
    }

    /// The account and the person acting for it (`sub`, and `name` / `email` when the token
    /// carries them), for entries the service records itself.
    pub fn caller(&self, request: &Request) -> Result<(AccountId, Actor), ApiError> {
        let account = self.account(request)?;
        let claims = claims(request)?;
        let text =
            |name: &str, max: usize| claims.get(name).and_then(|v| bounded_text(v, max).ok());
        let actor = Actor {
            id: text("sub", Actor::MAX_ID).unwrap_or_else(|| "unknown".to_owned()),
            name: text("name", Actor::MAX_NAME),
            email: text("email", Actor::MAX_EMAIL),
        };
        Ok((account, actor))
    }
}

fn claims(request: &Request) -> Result<&HashMap<String, String>, ApiError> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
    .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))
}
