//! The events table: the entry item, and filtered, paged, newest-first reads. The write path
//! (idempotent, all or nothing) is [`super::record`].

use std::collections::{HashMap, VecDeque};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put};
use jiff::{Timestamp, ToSpan};

use super::StoreError;
use super::schema::{EXPIRES_AT, PK, SK, TYPE_INDEX, TYPE_INDEX_PK};
use crate::domain::time::sortable;
use crate::domain::{AccountId, EntryId, EventType, LogEntry, LogFilter, NewEvent};

/// Query calls one page may make while filters thin results out, before it returns what it
/// has with a cursor that resumes exactly where it stopped.
const MAX_QUERIES_PER_PAGE: usize = 24;

const ENTRY: &str = "entry";
const ACTOR_ID: &str = "actor_id";

/// The outcome of storing one event: its id, and whether it had been stored before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: EntryId,
    pub duplicate: bool,
}

/// A page of entries, newest first, and the sort key to resume after if more may follow.
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<LogEntry>,
    pub resume_after: Option<String>,
}

#[derive(Clone)]
pub struct EventStore {
    pub(super) client: Client,
    pub(super) table: String,
    retention_days: i64,
}

impl EventStore {
    pub fn from_config(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
        retention_days: i64,
    ) -> Self {
        Self::new(Client::new(config), table, retention_days)
    }

    pub fn new(client: Client, table: impl Into<String>, retention_days: i64) -> Self {
        Self {
            client,
            table: table.into(),
            retention_days,
        }
    }

    /// The TTL of an entry received at `now` (epoch seconds).
    pub fn expires_at(&self, now: Timestamp) -> i64 {
        now.checked_add((self.retention_days * 24).hours())
            .unwrap_or(Timestamp::MAX)
            .as_second()
    }

    /// A put of one entry, conditional on its absence, for a transaction of another store
    /// (the export job and its `security_logs.exported` entry).
    pub fn entry_put(&self, event: &NewEvent, now: Timestamp) -> Put {
        self.entry_put_item(&event.account, &event.entry, self.expires_at(now))
    }

    /// The item of one entry. Public for tools that load the table in bulk (the export
    /// benchmark runs on dynalite, which has no transactions); the service writes through
    /// [`Self::record`] and [`Self::entry_put`].
    pub fn entry_item(
        &self,
        account: &AccountId,
        entry: &LogEntry,
        expires_at: i64,
    ) -> HashMap<String, AttributeValue> {
        let json = serde_json::to_string(entry).expect("entries serialize");
        HashMap::from([
            (PK.to_owned(), attr_s(account.as_str())),
            (SK.to_owned(), attr_s(&entry.sort_key())),
            (
                TYPE_INDEX_PK.to_owned(),
                attr_s(&type_partition(account, entry.event_type)),
            ),
            (ACTOR_ID.to_owned(), attr_s(&entry.actor.id)),
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(expires_at.to_string()),
            ),
            (ENTRY.to_owned(), attr_s(&json)),
        ])
    }

    /// Up to `limit` entries matching `filter`, newest first, strictly older than `after`.
    ///
    /// Each requested type is its own partition of the `by_type` index; their pages are merged
    /// by sort key. When filters thin results out, querying continues (within a bound) until the
    /// page is full, so a short page means nothing more matches, except when the bound is hit,
    /// where the cursor resumes exactly at the point every partition was read to.
    pub async fn page(
        &self,
        account: &AccountId,
        filter: &LogFilter,
        after: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Page, StoreError> {
        let lower = filter.from.map(sortable).unwrap_or_else(|| "0".to_owned());
        let mut upper = filter
            .to
            .map(|t| format!("{}#~", sortable(t)))
            .unwrap_or_else(|| "~".to_owned());
        if let Some(after) = after
            && after < upper.as_str()
        {
            upper = after.to_owned();
        }
        if lower > upper {
            return Ok(Page {
                entries: Vec::new(),
                resume_after: None,
            });
        }
        let want = limit + 1;
        let page_size = if filter.actor.is_some() {
            (want * 4).min(1000)
        } else {
            want
        };
        let range = KeyRange {
            lower,
            upper,
            exclusive_upper: after.map(str::to_owned),
        };
        let mut sources: Vec<Source> = if filter.types.is_empty() {
            vec![Source::new(None, account.as_str().to_owned())]
        } else {
            filter
                .types
                .iter()
                .map(|&t| Source::new(Some(TYPE_INDEX), type_partition(account, t)))
                .collect()
        };

        let mut out: Vec<(String, LogEntry)> = Vec::with_capacity(want);
        let mut queries = 0;
        let mut budget_spent = false;
        'merge: while out.len() < want {
            loop {
                let starving: Vec<usize> = (0..sources.len())
                    .filter(|&i| sources[i].buffer.is_empty() && !sources[i].done)
                    .collect();
                if starving.is_empty() {
                    break;
                }
                if queries + starving.len() > MAX_QUERIES_PER_PAGE {
                    budget_spent = true;
                    break 'merge;
                }
                queries += starving.len();
                let fetches = sources
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| starving.contains(i))
                    .map(|(_, source)| self.fetch(source, &range, filter, page_size, now));
                futures::future::try_join_all(fetches).await?;
            }
            match newest(&mut sources, None) {
                Some(item) => out.push(item),
                None => break,
            }
        }

        let more_may_follow = if out.len() == want {
            out.pop();
            true
        } else if budget_spent {
            // Every partition has been read down to its frontier; whatever is at or above the
            // highest frontier is known, the rest is for the next page.
            let floor = sources
                .iter()
                .filter(|s| !s.done)
                .filter_map(|s| s.frontier.clone())
                .max();
            while out.len() < limit {
                match newest(&mut sources, floor.as_deref()) {
                    Some(item) => out.push(item),
                    None => break,
                }
            }
            if out.len() < limit
                && let Some(floor) = floor
            {
                // Resume strictly below the floor: nothing at or above it is left unread.
                return Ok(Page {
                    entries: out.into_iter().map(|(_, e)| e).collect(),
                    resume_after: Some(floor),
                });
            }
            true
        } else {
            false
        };
        let resume_after = more_may_follow
            .then(|| out.last().map(|(sk, _)| sk.clone()))
            .flatten();
        Ok(Page {
            entries: out.into_iter().map(|(_, e)| e).collect(),
            resume_after,
        })
    }

    async fn fetch(
        &self,
        source: &mut Source,
        range: &KeyRange,
        filter: &LogFilter,
        page_size: usize,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let pk_name = if source.index.is_some() {
            TYPE_INDEX_PK
        } else {
            PK
        };
        let mut filter_expression = String::from("#exp > :now");
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(source.index.map(str::to_owned))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":pk", attr_s(&source.partition))
            .expression_attribute_values(":lo", attr_s(&range.lower))
            .expression_attribute_values(":hi", attr_s(&range.upper))
            .expression_attribute_values(":now", AttributeValue::N(now.as_second().to_string()))
            .scan_index_forward(false)
            .limit(page_size as i32)
            .set_exclusive_start_key(source.next_start.take());
        if let Some(actor) = &filter.actor {
            filter_expression.push_str(" AND #actor = :actor");
            request = request
                .expression_attribute_names("#actor", ACTOR_ID)
                .expression_attribute_values(":actor", attr_s(actor));
        }
        let output = request
            .filter_expression(filter_expression)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        for item in output.items.unwrap_or_default() {
            let sk = text(&item, SK)?;
            if range.exclusive_upper.as_deref() == Some(sk.as_str()) {
                continue;
            }
            let entry: LogEntry = serde_json::from_str(&text(&item, ENTRY)?)
                .map_err(|e| StoreError::Corrupt(format!("entry {sk}: {e}")))?;
            source.buffer.push_back((sk, entry));
        }
        match output.last_evaluated_key {
            Some(key) => {
                source.frontier = key.get(SK).and_then(|v| v.as_s().ok()).cloned();
                source.next_start = Some(key);
            }
            None => source.done = true,
        }
        Ok(())
    }
}

struct KeyRange {
    lower: String,
    upper: String,
    /// A cursor position: the upper bound itself is excluded.
    exclusive_upper: Option<String>,
}

/// One partition being read newest first: the base table or one type of the index.
struct Source {
    index: Option<&'static str>,
    partition: String,
    buffer: VecDeque<(String, LogEntry)>,
    next_start: Option<HashMap<String, AttributeValue>>,
    /// The lowest sort key evaluated so far; everything above it has been seen.
    frontier: Option<String>,
    done: bool,
}

impl Source {
    fn new(index: Option<&'static str>, partition: String) -> Self {
        Self {
            index,
            partition,
            buffer: VecDeque::new(),
            next_start: None,
            frontier: None,
            done: false,
        }
    }
}

/// Takes the newest buffered entry across sources, if it is at or above `floor`.
fn newest(sources: &mut [Source], floor: Option<&str>) -> Option<(String, LogEntry)> {
    let best = sources
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.buffer.front().map(|(sk, _)| (i, sk)))
        .filter(|(_, sk)| floor.is_none_or(|f| sk.as_str() >= f))
        .max_by(|a, b| a.1.cmp(b.1))
        .map(|(i, _)| i)?;
    sources[best].buffer.pop_front()
}

fn type_partition(account: &AccountId, event_type: EventType) -> String {
    format!("{account}#{event_type}")
}

pub(super) fn attr_s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn text(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("missing attribute {name}")))
}
