//! The events table's store, [`EventStore`]: one folder, one file per concern, each adding to
//! the same `impl EventStore`:
//!
//! - this file: the entry item, and filtered, paged, newest-first reads. It issues the Query
//!   calls; which keys a page reads, the merge of several partitions and where the next page
//!   resumes are [`merge`] (pure code, unit-tested);
//! - [`record`]: the write path (idempotent, all or nothing);
//! - [`signins`]: the sign-in profiles kept in the same table, written with their entries;
//! - [`by_index`]: entries in log order from an index on (the `by_log_index` GSI), for streams.

pub mod by_index;
pub mod merge;
pub mod record;
pub mod signins;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put};
use jiff::{Timestamp, ToSpan};

use self::merge::{KeyRange, MAX_QUERIES_PER_PAGE, Merge, MergedPage, query_limit};
use super::item::{Item, attr_s, text};
use super::schema::{EXPIRES_AT, LOG_INDEX, PK, SK, TYPE_INDEX, TYPE_INDEX_PK};
use crate::domain::{AccountId, EventType, LogEntry, LogFilter, NewEvent, Page};
use crate::storage::StoreError;

const ENTRY: &str = "entry";
const ACTOR_ID: &str = "actor_id";
/// Present (true) on sign-ins flagged unfamiliar, absent otherwise: the list filter's key.
const UNFAMILIAR: &str = "unfamiliar";

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
        let mut item = HashMap::from([
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
        ]);
        if entry.unfamiliar.is_some() {
            item.insert(UNFAMILIAR.to_owned(), AttributeValue::Bool(true));
        }
        item
    }

    /// Up to `limit` entries matching `filter`, newest first, strictly older than `after`.
    ///
    /// Each requested type is its own partition of the `by_type` index; their pages are merged
    /// by sort key. When filters thin results out, querying continues (within a bound) until the
    /// page is full, so a short page means nothing more matches, except when the bound is hit,
    /// where the cursor resumes exactly at the point every partition was read to. The merge and
    /// its resume position are [`Merge`]'s (pure, unit-tested); this issues the Queries.
    /// The entry stored under `sort_key` (strongly consistent), if any.
    pub async fn entry(
        &self,
        account: &AccountId,
        sort_key: &str,
    ) -> Result<Option<LogEntry>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, attr_s(account.as_str()))
            .key(SK, attr_s(sort_key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        output
            .item
            .map(|item| entry_of(&item, sort_key))
            .transpose()
    }

    pub async fn page(
        &self,
        account: &AccountId,
        filter: &LogFilter,
        after: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Page, StoreError> {
        let read = self.read_page(account, filter, after, limit, now).await?;
        Ok(Page {
            entries: read
                .entries
                .into_iter()
                .map(EntryItem::parse)
                .collect::<Result<_, _>>()?,
            resume_after: read.resume_after,
        })
    }

    /// [`Self::page`] with its entries not yet parsed: where the next page starts is known
    /// before they are, so a reader going through every page (the export worker) can ask for
    /// the next one while it parses these.
    pub async fn read_page(
        &self,
        account: &AccountId,
        filter: &LogFilter,
        after: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> Result<MergedPage<EntryItem>, StoreError> {
        let Some(range) = KeyRange::new(filter.from, filter.to, after) else {
            return Ok(MergedPage {
                entries: Vec::new(),
                resume_after: None,
            });
        };
        let page_size = query_limit(limit, filter.thins(), range.exclusive_upper.is_some());
        let partitions: Vec<Partition> = if filter.types.is_empty() {
            vec![Partition {
                index: None,
                key: account.as_str().to_owned(),
            }]
        } else {
            filter
                .types
                .iter()
                .map(|&t| Partition {
                    index: Some(TYPE_INDEX),
                    key: type_partition(account, t),
                })
                .collect()
        };

        let mut merge = Merge::new(&range, partitions.len(), limit, MAX_QUERIES_PER_PAGE);
        // Where each partition's next Query starts: the previous one's `LastEvaluatedKey`.
        let mut starts: Vec<Option<Item>> = partitions.iter().map(|_| None).collect();
        while let Some(due) = merge.next_queries() {
            let queries = due.iter().map(|&i| {
                self.query(
                    &partitions[i],
                    &range,
                    filter,
                    page_size,
                    starts[i].take(),
                    now,
                )
            });
            let reads = futures::future::try_join_all(queries).await?;
            for (i, read) in due.into_iter().zip(reads) {
                merge.feed(i, read.entries, read.frontier);
                starts[i] = read.next_start;
            }
        }
        Ok(merge.finish())
    }

    /// One Query of one partition, newest first, from `start` (where the previous one stopped).
    async fn query(
        &self,
        partition: &Partition,
        range: &KeyRange,
        filter: &LogFilter,
        page_size: usize,
        start: Option<Item>,
        now: Timestamp,
    ) -> Result<QueryRead, StoreError> {
        let pk_name = if partition.index.is_some() {
            TYPE_INDEX_PK
        } else {
            PK
        };
        let mut filter_expression = String::from("#exp > :now");
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(partition.index.map(str::to_owned))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":pk", attr_s(&partition.key))
            .expression_attribute_values(":lo", attr_s(&range.lower))
            .expression_attribute_values(":hi", attr_s(&range.upper))
            .expression_attribute_values(":now", AttributeValue::N(now.as_second().to_string()))
            .scan_index_forward(false)
            .limit(page_size as i32)
            .set_exclusive_start_key(start);
        if let Some(actor) = &filter.actor {
            filter_expression.push_str(" AND #actor = :actor");
            request = request
                .expression_attribute_names("#actor", ACTOR_ID)
                .expression_attribute_values(":actor", attr_s(actor));
        }
        if let Some(flagged) = filter.unfamiliar {
            filter_expression.push_str(if flagged {
                " AND attribute_exists(#unfamiliar)"
            } else {
                " AND attribute_not_exists(#unfamiliar)"
            });
            request = request.expression_attribute_names("#unfamiliar", UNFAMILIAR);
        }
        let output = request
            .filter_expression(filter_expression)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        let mut entries = Vec::new();
        for item in output.items.unwrap_or_default() {
            let sk = text(&item, SK)?;
            // The cursor's own item (`BETWEEN` includes it) is skipped; the merge would drop it
            // too.
            if !range.admits(&sk) {
                continue;
            }
            entries.push((sk.clone(), EntryItem { sort_key: sk, item }));
        }
        let frontier = match &output.last_evaluated_key {
            Some(key) => Some(text(key, SK)?),
            None => None,
        };
        Ok(QueryRead {
            entries,
            frontier,
            next_start: output.last_evaluated_key,
        })
    }
}

/// The entry an item stores, with its log index once sequenced.
fn entry_of(item: &Item, sk: &str) -> Result<LogEntry, StoreError> {
    // Parsed from the item's own text, not a copy of it.
    let json = item
        .get(ENTRY)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("missing attribute {ENTRY}")))?;
    let mut entry: LogEntry =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("entry {sk}: {e}")))?;
    entry.log_index = item
        .get(LOG_INDEX)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok());
    Ok(entry)
}

/// An entry's item as a Query returned it, parsed only when the reader gets to it
/// ([`EventStore::read_page`]).
pub struct EntryItem {
    sort_key: String,
    item: Item,
}

impl EntryItem {
    /// The entry the item stores, with its log index once sequenced.
    pub fn parse(self) -> Result<LogEntry, StoreError> {
        entry_of(&self.item, &self.sort_key)
    }
}

/// One partition a page reads: the base table (`index` none, `key` the account) or one type's
/// partition of the `by_type` index.
struct Partition {
    index: Option<&'static str>,
    key: String,
}

/// What one Query returned: the entries (newest first), the sort key of its
/// `LastEvaluatedKey` (the partition's frontier) and the key itself, to continue from.
struct QueryRead {
    entries: Vec<(String, EntryItem)>,
    frontier: Option<String>,
    next_start: Option<Item>,
}

fn type_partition(account: &AccountId, event_type: EventType) -> String {
    format!("{account}#{event_type}")
}
