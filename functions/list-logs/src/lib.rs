//! `GET /v1/logs`: the dashboard lists and filters its account's entries (JWT auth).

use jiff::Timestamp;
use lambda_http::{Body, Request, Response};
use seclog::ApiError;
use seclog::config::{AccountClaim, ConfigError, Stack};
use seclog::domain::Page;
use seclog::domain::cursor::{self, CursorKey};
use seclog::domain::entry::LogEntryView;
use seclog::domain::{AccountId, LogQuery};
use seclog::http::{Endpoint, json, query_params};
use seclog::store::dynamodb::events::EventStore;
use seclog::store::secrets::cursor_keys::CursorKeys;
use serde::Serialize;

/// `GET /v1/logs`'s body.
#[derive(Serialize)]
struct LogPage<'a> {
    data: Vec<LogEntryView<'a>>,
    next_cursor: Option<String>,
}

pub struct ListLogs {
    store: EventStore,
    claim: AccountClaim,
    cursor_keys: CursorKeys,
}

impl ListLogs {
    pub fn new(store: EventStore, claim: AccountClaim, cursor_keys: CursorKeys) -> Self {
        Self {
            store,
            claim,
            cursor_keys,
        }
    }

    /// The composition root of the list-logs function.
    pub fn build(stack: &Stack) -> Result<Self, ConfigError> {
        Ok(Self::new(
            stack.event_store()?,
            stack.settings.claim.clone(),
            stack.cursor_keys()?,
        ))
    }
}

impl Endpoint for ListLogs {
    const NO_STORE: bool = true;

    async fn run(&self, request: Request) -> Result<Response<Body>, ApiError> {
        let account = self.claim.account(&request)?;
        let key = self.cursor_keys.get().await?;
        let query = LogQuery::parse(query_params(&request), &account, key)?;
        let page = self
            .store
            .page(
                &account,
                &query.filter,
                query.after.as_deref(),
                query.limit,
                Timestamp::now(),
            )
            .await?;
        Ok(render_page(&page, &query, &account, key))
    }
}

/// The handler's own work once storage has answered: the entries in the viewer's zone, and a
/// cursor signed for this account and filter when more remain. Pure, so `benches/page.rs`
/// measures it without storage.
pub fn render_page(
    page: &Page,
    query: &LogQuery,
    account: &AccountId,
    key: &CursorKey,
) -> Response<Body> {
    let next_cursor = page
        .resume_after
        .as_ref()
        .map(|position| cursor::encode(key, query.filter.scope(account), position));
    let data: Vec<_> = page.entries.iter().map(|e| e.view(&query.zone)).collect();
    // Serialized as typed views, never through `serde_json::Value`, which would turn
    // big integers in `details` into floats.
    json(200, &LogPage { data, next_cursor })
}
