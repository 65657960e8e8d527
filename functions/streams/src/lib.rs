//! `/v1/streams`: a merchant's streams of its log to its own SIEM (docs/api.md, "Streams";
//! docs/design/streams.md). Creating, deleting and replaying a stream each write the stream
//! and the service's own entry in one transaction, so the log records every change; creating
//! and replaying then queue a delivery run at once (a failed enqueue is only logged: the log's
//! next growth queues the stream anyway).
//!
//! Secrets never come back out: the webhook's signing secret is shown in the creation's answer
//! only, and it and the auth header's value are stored sealed with their own KMS key.

mod resolver;

use std::time::Duration;

use jiff::Timestamp;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use seclog::ApiError;
use seclog::config::{AccountClaim, ConfigError, Stack};
use seclog::domain::query::parse_no_params;
use seclog::domain::stream::replay::ReplayFrom;
use seclog::domain::stream::view::StreamView;
use seclog::domain::stream::{DeliveryState, StreamId};
use seclog::domain::{AccountId, Actor, EventType, NewEvent};
use seclog::http::{Endpoint, json, json_with_location, query_params};
use seclog::store::dynamodb::log::LogStore;
use seclog::store::dynamodb::streams::{StoredStream, StreamStore};
use seclog::store::kms::stream_secrets::{StreamSecrets, StreamSecretsKey};
use seclog::store::sqs::delivery_queue::SqsDeliveryQueue;
use seclog::streams::address::{LoopbackHttp, WebhookUrl};
use seclog::streams::directory_cache;
use seclog::streams::new_stream::{NewStream, NewTarget};
use seclog::streams::ports::{DeliveryQueue, ScheduledRun};
use seclog::streams::signature::SigningSecret;
use seclog::streams::webhook_client::SystemResolver;
use serde::Serialize;
use serde_json::json;

pub use resolver::HostResolver;

/// Streams per account at most: each is a delivery of the whole log, so a few cover every
/// destination a merchant has, and the fan-out stays small.
pub const MAX_STREAMS: usize = 5;
/// How long the create route waits for a webhook host's addresses.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Streams {
    store: StreamStore,
    secrets: StreamSecretsKey,
    queue: SqsDeliveryQueue,
    log: LogStore,
    claim: AccountClaim,
    loopback: LoopbackHttp,
    resolver: HostResolver,
}

/// `POST /v1/streams`'s answer: the stream, and a webhook's signing secret (only here).
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    view: StreamView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

#[derive(Serialize)]
struct StreamList<'a> {
    data: Vec<StreamView<'a>>,
}

impl Streams {
    /// The composition root of the streams function: webhook hosts resolved by the system.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Self::with_resolver(stack, HostResolver::new(SystemResolver))
    }

    /// As [`build`](Self::build), resolving webhook hosts through `resolver` (tests: a stub).
    pub fn with_resolver(stack: &Stack, resolver: HostResolver) -> Result<Self, ConfigError> {
        Ok(Self {
            store: stack.stream_store()?,
            secrets: stack.stream_secrets_key()?,
            queue: stack.delivery_queue()?,
            log: stack.log_store()?,
            claim: stack.settings.claim.clone(),
            loopback: stack.settings.streams_loopback,
            resolver,
        })
    }
}

impl Endpoint for Streams {
    const NO_STORE: bool = true;

    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let route = route_key(&request);
        let (account, requester) = self.claim.caller(&request)?;
        parse_no_params(query_params(&request))?;
        let id = request
            .path_parameters_ref()
            .and_then(|p| p.first("id"))
            .map(str::to_owned);
        match (route.as_str(), id) {
            ("POST /v1/streams", _) => self.create(account, requester, request.body()).await,
            ("GET /v1/streams", _) => self.list(&account).await,
            ("GET /v1/streams/{id}", Some(id)) => self.one(&account, &parse_id(&id)?).await,
            ("DELETE /v1/streams/{id}", Some(id)) => {
                self.delete(account, requester, &parse_id(&id)?).await
            }
            ("POST /v1/streams/{id}/replay", Some(id)) => {
                let id = parse_id(&id)?;
                let from = ReplayFrom::parse(request.body())?;
                self.replay(account, requester, &id, from).await
            }
            _ => Err(ApiError::NotFound(format!(
                "no route {}",
                request.raw_http_path()
            ))),
        }
    }
}

/// API Gateway's route key (`POST /v1/streams/{id}/replay`): which route matched.
fn route_key(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

/// A malformed id, a missing stream and another account's stream all look the same.
fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no stream {id:?} for this account"))
}

fn parse_id(id: &str) -> Result<StreamId, ApiError> {
    StreamId::parse(id).map_err(|_| not_found(id))
}

impl Streams {
    async fn create(
        &self,
        account: AccountId,
        requester: Actor,
        body: &[u8],
    ) -> Result<Response<Body>, ApiError> {
        let new = NewStream::parse(body, self.loopback)?;
        tokio::time::timeout(RESOLVE_TIMEOUT, new.vet(&self.resolver, self.loopback))
            .await
            .map_err(|_| {
                ApiError::field(
                    WebhookUrl::FIELD,
                    format!(
                        "could not be resolved within {} s",
                        RESOLVE_TIMEOUT.as_secs()
                    ),
                )
            })??;
        // Read before anything is written: a fault here leaves nothing behind to retry over.
        let log_size = self.log_size(&account).await?;
        let now = Timestamp::now();
        let stream = StoredStream {
            id: StreamId::generate(),
            target: new.stored_target(),
            format: new.format,
            created_at: now,
            state: DeliveryState::default(),
        };
        let signing_secret = match new.target {
            NewTarget::Webhook { .. } => Some(
                SigningSecret::generate()
                    .map_err(|e| ApiError::Internal(format!("no random secret: {e}")))?,
            ),
            NewTarget::S3 { .. } => None,
        };
        let auth_header_value = match &new.target {
            NewTarget::Webhook {
                auth_header: Some(header),
                ..
            } => Some(header.value.expose().to_owned()),
            _ => None,
        };
        let secrets = StreamSecrets {
            signing_secret: signing_secret.as_ref().map(|s| s.expose().to_owned()),
            auth_header_value,
        };
        let sealed = self
            .secrets
            .seal(&account, &stream.id, &secrets)
            .await
            .map_err(ApiError::storage)?;
        let audit = NewEvent::internal(
            account.clone(),
            EventType::SecurityLogsStreamCreated,
            requester,
            None,
            json!({
                "stream_id": stream.id,
                "kind": stream.target.kind(),
                "format": stream.format.as_str(),
            })
            .into(),
            now,
        );
        let created = self
            .store
            .create(&account, &stream, &sealed, &audit, MAX_STREAMS, now)
            .await?;
        if !created {
            return Err(ApiError::LimitReached(format!(
                "this account has {MAX_STREAMS} streams already, the most it may have; delete one first"
            )));
        }
        tracing::info!(
            stream = stream.id.as_str(),
            kind = stream.target.kind(),
            "stream created"
        );
        self.deliver_now(&account, &stream.id).await;
        let location = format!("/v1/streams/{}", stream.id);
        Ok(json_with_location(
            201,
            &location,
            &Created {
                view: view(&stream, log_size),
                secret: signing_secret.as_ref().map(SigningSecret::expose),
            },
        ))
    }

    async fn list(&self, account: &AccountId) -> Result<Response<Body>, ApiError> {
        let streams = self.store.list(account).await?;
        let log_size = self.log_size(account).await?;
        let data = streams.iter().map(|s| view(s, log_size)).collect();
        Ok(json(200, &StreamList { data }))
    }

    async fn one(&self, account: &AccountId, id: &StreamId) -> Result<Response<Body>, ApiError> {
        let stream = self
            .store
            .get(account, id)
            .await?
            .ok_or_else(|| not_found(id.as_str()))?;
        let log_size = self.log_size(account).await?;
        Ok(json(200, &view(&stream, log_size)))
    }

    async fn delete(
        &self,
        account: AccountId,
        requester: Actor,
        id: &StreamId,
    ) -> Result<Response<Body>, ApiError> {
        // The entry names the stream's kind and format, as its creation's did.
        let stream = self
            .store
            .get(&account, id)
            .await?
            .ok_or_else(|| not_found(id.as_str()))?;
        let now = Timestamp::now();
        let audit = NewEvent::internal(
            account.clone(),
            EventType::SecurityLogsStreamDeleted,
            requester,
            None,
            json!({
                "stream_id": id,
                "kind": stream.target.kind(),
                "format": stream.format.as_str(),
            })
            .into(),
            now,
        );
        if !self.store.delete(&account, id, &audit, now).await? {
            return Err(not_found(id.as_str()));
        }
        tracing::info!(stream = id.as_str(), "stream deleted");
        Ok(Response::builder()
            .status(204)
            .body(Body::Empty)
            .expect("a status is valid"))
    }

    async fn replay(
        &self,
        account: AccountId,
        requester: Actor,
        id: &StreamId,
        from: ReplayFrom,
    ) -> Result<Response<Body>, ApiError> {
        // Unknown streams are 404 before the index is held against the log.
        let mut stream = self
            .store
            .get(&account, id)
            .await?
            .ok_or_else(|| not_found(id.as_str()))?;
        let log_size = self.log_size(&account).await?;
        let from_index = from.within(log_size)?;
        let now = Timestamp::now();
        let audit = NewEvent::internal(
            account.clone(),
            EventType::SecurityLogsStreamReplayed,
            requester,
            None,
            json!({"stream_id": id, "from_index": from_index}).into(),
            now,
        );
        if !self
            .store
            .replay(&account, id, from_index, &audit, now)
            .await?
        {
            return Err(not_found(id.as_str()));
        }
        tracing::info!(stream = id.as_str(), from_index, "stream replayed");
        self.deliver_now(&account, id).await;
        // The stream as the replay left it (no read after the write, whose fault would make a
        // done replay look failed): delivered up to just before `from_index`, not failing.
        stream.state = DeliveryState {
            delivered_through: from_index.checked_sub(1),
            failing: None,
            ..stream.state
        };
        Ok(json(202, &view(&stream, log_size)))
    }

    /// Queues a run of the stream now; a failure is logged, not answered: the log's next
    /// growth queues a run of every stream.
    async fn deliver_now(&self, account: &AccountId, id: &StreamId) {
        let run = |delay| ScheduledRun {
            account: account.clone(),
            stream: id.clone(),
            delay,
        };
        // And once more after the fan-out's cache of stream-less accounts has expired: entries
        // appended meanwhile may have found the account "without streams" and queued nothing.
        let after_cache = directory_cache::TTL + Duration::from_secs(1);
        if let Err(error) = self
            .queue
            .enqueue(&[run(Duration::ZERO), run(after_cache)])
            .await
        {
            tracing::warn!(
                stream = id.as_str(),
                error = %error,
                "the stream's run could not be queued; the log's next growth queues it"
            );
        }
    }

    /// The account's log size: the lag of each stream is counted against it.
    async fn log_size(&self, account: &AccountId) -> Result<u64, ApiError> {
        Ok(self.log.read_edge(account).await?.size())
    }
}

fn view(stream: &StoredStream, log_size: u64) -> StreamView<'_> {
    StreamView::new(
        &stream.id,
        &stream.target,
        stream.format,
        stream.created_at,
        &stream.state,
        log_size,
    )
}
