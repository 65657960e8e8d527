//! The log table: each account's Merkle tree in the stored form of [`crate::integrity::tiles`],
//! and its latest signed checkpoint. Items (`pk` = account):
//!
//! - `sk` = `edge`: the tree size and its right edge (`size`, `height`, `edge`: one binary of
//!   concatenated hashes per tile level); written only by a transaction conditional on the size
//!   it replaces, so two sequencers can never both extend one size: the log cannot fork.
//! - `sk` = `tile#<level>#<index>`: a complete tile (`hashes`), written once, never changed.
//! - `sk` = `leaves#<first index, 20 digits>`: the leaf data of one commit's entries (`count`,
//!   `data`: their canonical texts joined by `\n`, which leaf data never holds), written once
//!   in the commit's own transaction, so every committed index has its leaf data.
//!   The edge item also says how far the log is signed (`signed_size`, `signed_at`), as its
//!   writer knew: never ahead of the stored checkpoint.
//! - `sk` = `checkpoint`: the latest signed checkpoint note (`note`, `size`).
//!
//! And the pending set, outside any account's partition (`pk` = `pending#<shard>`, `sk` = the
//! account): accounts grown past their latest checkpoint, for the sweep to sign. Every commit
//! that stores no checkpoint puts the account's mark (idempotent, so no stale view of the set
//! loses one); the sweep deletes it with the checkpoint, on the condition that the edge has not
//! moved since it read the size it signed.
//!
//! Nothing here expires: entries leave the events table after `RETENTION_DAYS`, their hashes
//! and leaf data stay, so proofs over old sizes keep working and export evidence can still
//! account for every index (its type, time and actor) after its entry expired. The same
//! transaction that moves the edge stamps each appended entry's `log_index` in the events
//! table, conditional on it having none: an entry is appended once, whatever the stream
//! redelivers.

use std::collections::HashMap;
use std::ops::Range;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::batch::batch_get;
use super::item::{Item, attr_s, number, text};
use super::schema::{LOG_INDEX, PK, SK};
use super::transact::{Outcome, absent_put, transact};
use crate::domain::AccountId;
use crate::integrity::merkle::{Hash, HashSource};
use crate::integrity::tiles::{Edge, TILE_HEIGHT, TileId, TileSource, tiles_for};
use crate::sequencer::{Commit, CommitOutcome, Head, LogStorage, pending_shard};
use crate::storage::StoreError;
use crate::storage::TRANSACTION_MAX;

const EDGE: &str = "edge";
const CHECKPOINT: &str = "checkpoint";
const SIZE: &str = "size";
const HEIGHT: &str = "height";
const HASHES: &str = "hashes";
const NOTE: &str = "note";
const LEAVES: &str = "leaves#";
const COUNT: &str = "count";
const DATA: &str = "data";
const SIGNED_SIZE: &str = "signed_size";
const SIGNED_AT: &str = "signed_at";

/// The latest signed checkpoint of an account's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
}

fn checkpoint_from_item(item: &Item) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: number(item, SIZE)?,
        note: text(item, NOTE)?,
    })
}

#[derive(Clone)]
pub struct LogStore {
    client: Client,
    table: String,
    events_table: String,
}

impl LogStore {
    pub fn new(client: Client, table: impl Into<String>, events_table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            events_table: events_table.into(),
        }
    }

    fn key(account: &AccountId, sk: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), attr_s(account.as_str())),
            (SK.to_owned(), attr_s(sk)),
        ])
    }

    /// The account's tree edge (strongly consistent); the empty tree if it has none.
    pub async fn read_edge(&self, account: &AccountId) -> Result<Edge, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, EDGE)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        match output.item {
            None => Ok(Edge::empty(TILE_HEIGHT)),
            Some(item) => edge_from_item(&item),
        }
    }

    /// The tiles `ids` (complete, so never changing).
    pub async fn read_tiles(
        &self,
        account: &AccountId,
        ids: &[TileId],
    ) -> Result<HashMap<TileId, Vec<Hash>>, StoreError> {
        let mut tiles = HashMap::new();
        for chunk in ids.chunks(TRANSACTION_MAX) {
            let keys: Vec<(String, String)> = chunk
                .iter()
                .map(|id| (account.as_str().to_owned(), tile_key(*id)))
                .collect();
            for ((_, sk), item) in batch_get(&self.client, &self.table, &keys).await? {
                tiles.insert(parse_tile_key(&sk)?, hashes_of(&item, HASHES)?);
            }
        }
        Ok(tiles)
    }

    /// The latest signed checkpoint, if the log has one.
    pub async fn checkpoint(
        &self,
        account: &AccountId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, CHECKPOINT)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        output
            .item
            .map(|item| checkpoint_from_item(&item))
            .transpose()
    }

    /// The latest stored checkpoint and the edge, in one read (a stream's checkpoint at the
    /// log's tip: the stored one when it is large enough, else one for the edge's tree).
    pub async fn checkpoint_and_edge(
        &self,
        account: &AccountId,
    ) -> Result<(Option<StoredCheckpoint>, Edge), StoreError> {
        let key = |sk: &str| (account.as_str().to_owned(), sk.to_owned());
        let items = batch_get(&self.client, &self.table, &[key(CHECKPOINT), key(EDGE)]).await?;
        let checkpoint = items
            .get(&key(CHECKPOINT))
            .map(checkpoint_from_item)
            .transpose()?;
        let edge = match items.get(&key(EDGE)) {
            None => Edge::empty(TILE_HEIGHT),
            Some(item) => edge_from_item(item)?,
        };
        Ok((checkpoint, edge))
    }

    /// The hashes of the subtrees `ranges` (a proof's path) of the account's tree: the edge and
    /// the few complete tiles the path reads.
    pub async fn subtree_hashes(
        &self,
        account: &AccountId,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Hash>, StoreError> {
        let edge = self.read_edge(account).await?;
        let tiles = self.read_tiles(account, &tiles_for(&edge, ranges)).await?;
        let source = TileSource::new(&edge, tiles, ranges)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(ranges
            .iter()
            .map(|r| source.subtree_hash(r.clone()))
            .collect())
    }

    /// The `log_index` of the entry stored under `sort_key` (strongly consistent), once stamped.
    pub async fn entry_log_index(
        &self,
        account: &AccountId,
        sort_key: &str,
    ) -> Result<Option<u64>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.events_table)
            .set_key(Some(Self::key(account, sort_key)))
            .projection_expression("#index")
            .expression_attribute_names("#index", LOG_INDEX)
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(output.item.and_then(|item| {
            item.get(LOG_INDEX)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
        }))
    }

    /// The root of the tree of the account's first `size` leaves (the log may hold more).
    pub async fn root_at(&self, account: &AccountId, size: u64) -> Result<Hash, StoreError> {
        if size == 0 {
            return Ok(crate::integrity::merkle::empty_root());
        }
        let edge = self.read_edge(account).await?;
        if size > edge.size() {
            return Err(StoreError::Corrupt(format!("no tree of size {size} yet")));
        }
        let whole = 0..size;
        Ok(self
            .subtree_hashes(account, std::slice::from_ref(&whole))
            .await?[0])
    }

    /// The leaf hashes of `range` (below the tree's size): level-0 tiles, the last from the edge.
    pub async fn leaf_hashes(
        &self,
        account: &AccountId,
        range: Range<u64>,
    ) -> Result<Vec<Hash>, StoreError> {
        let edge = self.read_edge(account).await?;
        if range.end > edge.size() {
            return Err(StoreError::Corrupt(format!(
                "no leaf {} yet",
                range.end - 1
            )));
        }
        let width = 1u64 << edge.height();
        let complete = edge.size() / width;
        let ids: Vec<TileId> = (range.start / width..range.end.div_ceil(width))
            .filter(|&index| index < complete)
            .map(|index| TileId { level: 0, index })
            .collect();
        let tiles = self.read_tiles(account, &ids).await?;
        let mut hashes = Vec::with_capacity((range.end - range.start) as usize);
        for index in range.start / width..range.end.div_ceil(width) {
            let tile = if index < complete {
                tiles
                    .get(&TileId { level: 0, index })
                    .ok_or_else(|| StoreError::Corrupt(format!("tile 0/{index} is missing")))?
            } else {
                edge.partial()
                    .first()
                    .ok_or_else(|| StoreError::Corrupt("edge without leaves".into()))?
            };
            let first = index * width;
            for (offset, hash) in tile.iter().enumerate() {
                if range.contains(&(first + offset as u64)) {
                    hashes.push(*hash);
                }
            }
        }
        if hashes.len() as u64 != range.end - range.start {
            return Err(StoreError::Corrupt("leaf tiles are short".into()));
        }
        Ok(hashes)
    }

    /// The leaf data texts of the indices `range` (strongly consistent), in index order; an
    /// index without any (not yet appended, or appended before leaf data was kept) is an error.
    /// Reads only the commits' items that hold `range`.
    pub async fn leaf_data(
        &self,
        account: &AccountId,
        range: Range<u64>,
    ) -> Result<Vec<String>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        // The commit holding `range.start`: the last one that starts at or before it.
        let first = self
            .leaves_query(account, LEAVES, &leaves_key(range.start))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        let mut texts = Vec::with_capacity((range.end - range.start).min(1 << 16) as usize);
        let mut next = range.start;
        let Some(item) = first.items.unwrap_or_default().into_iter().next() else {
            return Err(StoreError::NoLeafData(next));
        };
        take_leaves(&item, &range, &mut next, &mut texts)?;
        if next == range.end {
            return Ok(texts);
        }
        // The commits after it that start within `range`, read forward page by page.
        let mut start = None;
        loop {
            let output = self
                .leaves_query(
                    account,
                    &leaves_key(range.start + 1),
                    &leaves_key(range.end - 1),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::dynamo)?;
            for item in output.items.unwrap_or_default() {
                take_leaves(&item, &range, &mut next, &mut texts)?;
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() || next == range.end {
                break;
            }
        }
        match next == range.end {
            true => Ok(texts),
            false => Err(StoreError::NoLeafData(next)),
        }
    }

    /// A strongly consistent Query of the account's items with `lo <= sk <= hi`.
    fn leaves_query(&self, account: &AccountId, lo: &str, hi: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", attr_s(account.as_str()))
            .expression_attribute_values(":lo", attr_s(lo))
            .expression_attribute_values(":hi", attr_s(hi))
            .consistent_read(true)
    }

    fn edge_put(&self, account: &AccountId, commit: &Commit<'_>) -> Put {
        let head = commit.head;
        let mut item = Self::key(account, EDGE);
        item.insert(SIZE.into(), AttributeValue::N(head.edge.size().to_string()));
        item.insert(
            HEIGHT.into(),
            AttributeValue::N(head.edge.height().to_string()),
        );
        item.insert(
            EDGE.into(),
            AttributeValue::L(head.edge.partial().iter().map(|h| blob(h)).collect()),
        );
        item.insert(
            SIGNED_SIZE.into(),
            AttributeValue::N(head.signed_size.to_string()),
        );
        item.insert(
            SIGNED_AT.into(),
            AttributeValue::N(head.signed_at.to_string()),
        );
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = if commit.previous_size == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            put.condition_expression("#size = :previous")
                .expression_attribute_names("#size", SIZE)
                .expression_attribute_values(
                    ":previous",
                    AttributeValue::N(commit.previous_size.to_string()),
                )
        };
        put.build().expect("table and item are set")
    }

    /// The key of an account's item in the pending set.
    fn pending_key(account: &AccountId) -> Item {
        HashMap::from([
            (
                PK.to_owned(),
                attr_s(&pending_partition(pending_shard(account))),
            ),
            (SK.to_owned(), attr_s(account.as_str())),
        ])
    }

    /// The account entering (`true`) or leaving the pending set.
    fn pending_change(&self, account: &AccountId, enter: bool) -> TransactWriteItem {
        let key = Self::pending_key(account);
        match enter {
            true => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(key))
                        .build()
                        .expect("table and item are set"),
                )
                .build(),
            false => TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .build()
                        .expect("table and key are set"),
                )
                .build(),
        }
    }

    fn checkpoint_put(&self, account: &AccountId, size: u64, note: &str) -> TransactWriteItem {
        let mut item = Self::key(account, CHECKPOINT);
        item.insert(SIZE.into(), AttributeValue::N(size.to_string()));
        item.insert(NOTE.into(), attr_s(note));
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build()
                    .expect("table and item are set"),
            )
            .build()
    }

    fn stamp(&self, account: &AccountId, sort_key: &str, index: u64) -> Update {
        Update::builder()
            .table_name(&self.events_table)
            .key(PK, attr_s(account.as_str()))
            .key(SK, attr_s(sort_key))
            .update_expression("SET #index = :index")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#index)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#index", LOG_INDEX)
            .expression_attribute_values(":index", AttributeValue::N(index.to_string()))
            .build()
            .expect("table, key and expression are set")
    }
}

impl LogStore {
    /// Appends one commit's items (edge, tiles, leaf data, checkpoint, stamps) to `items`;
    /// returns the position of its first stamp.
    fn commit_items(
        &self,
        account: &AccountId,
        commit: &Commit<'_>,
        items: &mut Vec<TransactWriteItem>,
    ) -> usize {
        items.push(
            TransactWriteItem::builder()
                .put(self.edge_put(account, commit))
                .build(),
        );
        for (id, hashes) in commit.tiles {
            let mut item = Self::key(account, &tile_key(*id));
            item.insert(HASHES.into(), blob(hashes));
            items.push(
                TransactWriteItem::builder()
                    .put(absent_put(&self.table, item))
                    .build(),
            );
        }
        // Under the 400 KB item limit: a leaf's text is at most a few KiB (actor id and type
        // are bounded), and a commit holds at most COMMIT_MAX.
        let mut leaves = Self::key(account, &leaves_key(commit.previous_size));
        leaves.insert(
            COUNT.into(),
            AttributeValue::N(commit.leaves.len().to_string()),
        );
        leaves.insert(
            DATA.into(),
            AttributeValue::B(Blob::new(commit.leaves.join("\n"))),
        );
        items.push(
            TransactWriteItem::builder()
                .put(absent_put(&self.table, leaves))
                .build(),
        );
        items.push(match commit.checkpoint {
            // Unconditional: the edge's condition orders commits, so this one's size is the
            // largest yet.
            Some(note) => self.checkpoint_put(account, commit.head.edge.size(), note),
            None => self.pending_change(account, true),
        });
        let first_stamp = items.len();
        for stamp in commit.stamps {
            items.push(
                TransactWriteItem::builder()
                    .update(self.stamp(account, &stamp.sort_key, stamp.index))
                    .build(),
            );
        }
        first_stamp
    }
}

impl LogStorage for LogStore {
    async fn heads(&self, accounts: &[&AccountId]) -> Result<HashMap<AccountId, Head>, StoreError> {
        let mut heads = HashMap::new();
        for chunk in accounts.chunks(TRANSACTION_MAX) {
            let keys: Vec<(String, String)> = chunk
                .iter()
                .map(|account| (account.as_str().to_owned(), EDGE.to_owned()))
                .collect();
            let found = batch_get(&self.client, &self.table, &keys).await?;
            for account in chunk {
                if let Some(item) = found.get(&(account.as_str().to_owned(), EDGE.to_owned())) {
                    heads.insert((*account).clone(), head_from_item(item)?);
                }
            }
        }
        Ok(heads)
    }

    async fn pending(&self, shard: u8) -> Result<Vec<AccountId>, StoreError> {
        let mut accounts = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", attr_s(&pending_partition(shard)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::dynamo)?;
            for item in output.items.unwrap_or_default() {
                let sk = text(&item, SK)?;
                let account = AccountId::parse(&sk)
                    .map_err(|e| StoreError::Corrupt(format!("pending account {sk}: {e}")))?;
                accounts.push(account);
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(accounts);
            }
        }
    }

    async fn store_checkpoint(
        &self,
        account: &AccountId,
        head: &Head,
        note: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        let size = AttributeValue::N(head.edge.size().to_string());
        let mut items = Vec::with_capacity(3);
        match note {
            Some(note) => {
                let edge = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(account, EDGE)))
                    .update_expression("SET #signed = :size, #at = :at")
                    .condition_expression("#size = :size")
                    .expression_attribute_names("#signed", SIGNED_SIZE)
                    .expression_attribute_names("#at", SIGNED_AT)
                    .expression_attribute_names("#size", SIZE)
                    .expression_attribute_values(":size", size)
                    .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
                    .build()
                    .expect("table, key and expression are set");
                items.push(TransactWriteItem::builder().update(edge).build());
                items.push(self.checkpoint_put(account, head.edge.size(), note));
            }
            None => {
                let edge = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(account, EDGE)))
                    .condition_expression("#size = :size")
                    .expression_attribute_names("#size", SIZE)
                    .expression_attribute_values(":size", size)
                    .build()
                    .expect("table, key and expression are set");
                items.push(TransactWriteItem::builder().condition_check(edge).build());
            }
        }
        items.push(self.pending_change(account, false));
        Ok(matches!(
            transact(&self.client, items).await?,
            Outcome::Written
        ))
    }

    async fn commit_all(
        &self,
        commits: &[(&AccountId, Commit<'_>)],
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        // Each commit's items, and where its stamps start and its items end.
        let mut items = Vec::new();
        let mut spans = Vec::new();
        for (account, commit) in commits {
            let start = items.len();
            let first_stamp = self.commit_items(account, commit, &mut items);
            spans.push((start, first_stamp, items.len()));
        }
        Ok(match transact(&self.client, items).await? {
            Outcome::Written => vec![CommitOutcome::Committed; commits.len()],
            Outcome::ConditionsFailed(positions) => spans
                .iter()
                .map(|&(start, first_stamp, end)| {
                    let mine: Vec<usize> = positions
                        .iter()
                        .copied()
                        .filter(|p| (start..end).contains(p))
                        .collect();
                    if mine.is_empty() {
                        return CommitOutcome::NotApplied;
                    }
                    CommitOutcome::Refused {
                        // A tile or leaf data that exists was written by whoever moved the edge.
                        edge_moved: mine.iter().any(|&p| p < first_stamp),
                        already_stamped: mine
                            .into_iter()
                            .filter_map(|p| p.checked_sub(first_stamp))
                            .collect(),
                    }
                })
                .collect(),
            Outcome::Conflict => vec![
                CommitOutcome::Refused {
                    edge_moved: true,
                    already_stamped: Vec::new(),
                };
                commits.len()
            ],
        })
    }
}

fn tile_key(id: TileId) -> String {
    format!("tile#{}#{:020}", id.level, id.index)
}

fn pending_partition(shard: u8) -> String {
    format!("pending#{shard:02}")
}

fn leaves_key(first: u64) -> String {
    format!("{LEAVES}{first:020}")
}

/// Appends to `texts` those of one commit's leaf data item that fall in `range`, from index
/// `*next` on; an item that does not continue at `*next` means that index has none.
fn take_leaves(
    item: &Item,
    range: &Range<u64>,
    next: &mut u64,
    texts: &mut Vec<String>,
) -> Result<(), StoreError> {
    let sk = text(item, SK)?;
    let first: u64 = sk
        .strip_prefix(LEAVES)
        .and_then(|index| index.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("leaf data key {sk}")))?;
    let count = number(item, COUNT)?;
    if first > *next || first + count <= *next {
        return Err(StoreError::NoLeafData(*next));
    }
    let data = item
        .get(DATA)
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{sk} without {DATA}")))?;
    let corrupt = || StoreError::Corrupt(format!("{sk} does not hold {count} leaves"));
    let mut lines = data.as_ref().split(|&b| b == b'\n');
    // Skip by byte slices: only the texts asked for are decoded and copied.
    for _ in first..*next {
        lines.next().ok_or_else(corrupt)?;
    }
    for _ in *next..(first + count).min(range.end) {
        let line = lines.next().ok_or_else(corrupt)?;
        texts.push(String::from_utf8(line.to_vec()).map_err(|_| corrupt())?);
    }
    *next = (first + count).min(range.end);
    Ok(())
}

fn parse_tile_key(sk: &str) -> Result<TileId, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("tile key {sk}"));
    let rest = sk.strip_prefix("tile#").ok_or_else(corrupt)?;
    let (level, index) = rest.split_once('#').ok_or_else(corrupt)?;
    Ok(TileId {
        level: level.parse().map_err(|_| corrupt())?,
        index: index.parse().map_err(|_| corrupt())?,
    })
}

fn blob(hashes: &[Hash]) -> AttributeValue {
    AttributeValue::B(Blob::new(hashes.concat()))
}

fn hashes_from(bytes: &[u8]) -> Result<Vec<Hash>, StoreError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt("hash list length".into()));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("chunks of 32"))
        .collect())
}

fn hashes_of(item: &Item, name: &str) -> Result<Vec<Hash>, StoreError> {
    let bytes = item
        .get(name)
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("missing attribute {name}")))?;
    hashes_from(bytes.as_ref())
}

/// The head an edge item holds; one written before edges said how far they are signed counts as
/// never signed (its next append signs).
fn head_from_item(item: &Item) -> Result<Head, StoreError> {
    let optional = |name| match item.get(name) {
        None => Ok(0),
        Some(_) => number(item, name),
    };
    Ok(Head {
        edge: edge_from_item(item)?,
        signed_size: optional(SIGNED_SIZE)?,
        signed_at: optional(SIGNED_AT)? as i64,
    })
}

fn edge_from_item(item: &Item) -> Result<Edge, StoreError> {
    let levels = item
        .get(EDGE)
        .and_then(|v| v.as_l().ok())
        .ok_or_else(|| StoreError::Corrupt("edge without levels".into()))?;
    let partial = levels
        .iter()
        .map(|level| {
            level
                .as_b()
                .map_err(|_| StoreError::Corrupt("edge level is not binary".into()))
                .and_then(|b| hashes_from(b.as_ref()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let height = number(item, HEIGHT)? as u32;
    Edge::from_parts(height, number(item, SIZE)?, partial)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}
