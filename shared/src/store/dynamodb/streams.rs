//! The streams table (`pk` = account, `sk` = stream id): each stream's target, its encrypted
//! secrets and its delivery state, and per account one `#streams` item whose string set names
//! its streams, so that the limit per account holds under concurrent creates (a transaction
//! adds the id conditional on the set's size, as exports count their jobs in flight).
//!
//! Creating, deleting and replaying a stream write the service's own entry in the events table
//! in the same transaction: the change and its record in the log are one.
//!
//! A delivery run holds a lease (`lease`, a token, until `lease_until`), taken by a conditional
//! update that also requires the stream to be due; every later write of the run is conditional
//! on its token. A replay or a delete removes the lease, so a run in flight stops at its next
//! write. A run that finds the lease taken sets `read_again` (only while a lease is live); the
//! holder's release at the log's tip requires it absent, and clears it when it is not.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use jiff::Timestamp;

use super::batch::batch_get;
use super::events::EventStore;
use super::item::{Item, attr_s, number, text};
use super::schema::{PK, SK};
use super::transact::{Outcome, applied, transact};
use crate::domain::stream::{DeliveryState, Failing, StreamFormat, StreamId, StreamTarget};
use crate::domain::{AccountId, NewEvent};
use crate::storage::StoreError;
use std::collections::HashMap;

use crate::streams::ports::{
    Lease, LeasedStream, Release, Released, StreamDirectory, StreamLeases,
};

const STREAMS: &str = "#streams";
const IDS: &str = "ids";
const TARGET: &str = "target";
const FORMAT: &str = "format";
const SECRETS: &str = "secrets";
const CREATED_AT: &str = "created_at";
const DELIVERED_THROUGH: &str = "delivered_through";
const LAST_DELIVERY_AT: &str = "last_delivery_at";
const FAILING_SINCE: &str = "failing_since";
const LAST_ERROR: &str = "last_error";
const ATTEMPTS: &str = "attempts";
/// Epoch seconds of a failing stream's next attempt; absent on a stopped one.
const RETRY_AT: &str = "retry_at";
const LEASE: &str = "lease";
const LEASE_UNTIL: &str = "lease_until";
/// Set by a run that found the lease taken: the holder reads again before letting go.
const READ_AGAIN: &str = "read_again";

/// A stream as stored: what the API shows of it, and what a delivery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStream {
    pub id: StreamId,
    pub target: StreamTarget,
    pub format: StreamFormat,
    pub created_at: Timestamp,
    pub state: DeliveryState,
}

/// What a delivery run holds: the target, and its secrets sealed (KMS ciphertext).
#[derive(Debug, Clone)]
pub struct SealedTarget {
    pub target: StreamTarget,
    pub secrets: Vec<u8>,
}

#[derive(Clone)]
pub struct StreamStore {
    client: Client,
    table: String,
    /// Where the service's own entries of stream changes go, in the change's transaction.
    events: EventStore,
}

impl StreamStore {
    pub fn new(client: Client, table: impl Into<String>, events: EventStore) -> Self {
        Self {
            client,
            table: table.into(),
            events,
        }
    }

    fn key(account: &AccountId, sk: &str) -> Item {
        Item::from([
            (PK.to_owned(), attr_s(account.as_str())),
            (SK.to_owned(), attr_s(sk)),
        ])
    }

    /// Stores a new stream with its sealed secrets and its creation's entry, unless the account
    /// has `limit` streams already (false).
    pub async fn create(
        &self,
        account: &AccountId,
        stream: &StoredStream,
        secrets: &[u8],
        audit: &NewEvent,
        limit: usize,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut item = Self::key(account, stream.id.as_str());
        item.insert(TARGET.into(), attr_s(&to_json(&stream.target)?));
        item.insert(FORMAT.into(), attr_s(stream.format.as_str()));
        item.insert(SECRETS.into(), AttributeValue::B(Blob::new(secrets)));
        item.insert(CREATED_AT.into(), attr_s(&stream.created_at.to_string()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .expect("table and item are set");
        let take_place = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, STREAMS)))
            .update_expression("ADD #ids :id")
            .condition_expression("attribute_not_exists(#ids) OR size(#ids) < :limit")
            .expression_attribute_names("#ids", IDS)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![stream.id.to_string()]))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .build()
            .expect("table, key and expression are set");
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder()
                .put(self.events.entry_put(audit, now))
                .build(),
            TransactWriteItem::builder().update(take_place).build(),
        ];
        match transact(&self.client, items).await? {
            Outcome::Written => Ok(true),
            Outcome::ConditionsFailed(positions) if positions == [2] => Ok(false),
            Outcome::ConditionsFailed(_) => Err(StoreError::Corrupt(
                "a new stream's id or entry exists already".into(),
            )),
            Outcome::Conflict => Err(StoreError::Contention(
                "the account's streams kept changing",
            )),
        }
    }

    /// The account's streams, oldest first.
    pub async fn list(&self, account: &AccountId) -> Result<Vec<StoredStream>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", attr_s(account.as_str()))
            .expression_attribute_values(":prefix", attr_s("st_"))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        output
            .items
            .unwrap_or_default()
            .iter()
            .map(stream_of)
            .collect()
    }

    /// One stream of the account, if it exists.
    pub async fn get(
        &self,
        account: &AccountId,
        id: &StreamId,
    ) -> Result<Option<StoredStream>, StoreError> {
        self.get_item(account, id)
            .await?
            .as_ref()
            .map(stream_of)
            .transpose()
    }

    async fn get_item(
        &self,
        account: &AccountId,
        id: &StreamId,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, id.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(output.item)
    }

    /// Deletes the stream with its deletion's entry; false when there was none.
    pub async fn delete(
        &self,
        account: &AccountId,
        id: &StreamId,
        audit: &NewEvent,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, id.as_str())))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .expect("table and key are set");
        let free_place = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, STREAMS)))
            .update_expression("DELETE #ids :id")
            .expression_attribute_names("#ids", IDS)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![id.to_string()]))
            .build()
            .expect("table, key and expression are set");
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder()
                .put(self.events.entry_put(audit, now))
                .build(),
            TransactWriteItem::builder().update(free_place).build(),
        ];
        match transact(&self.client, items).await? {
            Outcome::Written => Ok(true),
            Outcome::ConditionsFailed(positions) if positions == [0] => Ok(false),
            Outcome::ConditionsFailed(_) => Err(StoreError::Corrupt(
                "a stream deletion's entry exists already".into(),
            )),
            Outcome::Conflict => Err(StoreError::Contention("the stream kept changing")),
        }
    }

    /// Sets the stream to deliver again from `from_index` (clearing any failure and taking any
    /// run's lease away), with the replay's entry; false when there is no such stream.
    pub async fn replay(
        &self,
        account: &AccountId,
        id: &StreamId,
        from_index: u64,
        audit: &NewEvent,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let cleared = [
            FAILING_SINCE,
            LAST_ERROR,
            ATTEMPTS,
            RETRY_AT,
            LEASE,
            LEASE_UNTIL,
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, id.as_str())))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        let mut remove: Vec<String> = Vec::new();
        for (i, name) in cleared.iter().enumerate() {
            update = update.expression_attribute_names(format!("#r{i}"), *name);
            remove.push(format!("#r{i}"));
        }
        update = update.expression_attribute_names("#through", DELIVERED_THROUGH);
        let expression = match from_index.checked_sub(1) {
            Some(through) => {
                update = update.expression_attribute_values(
                    ":through",
                    AttributeValue::N(through.to_string()),
                );
                format!("SET #through = :through REMOVE {}", remove.join(", "))
            }
            None => format!("REMOVE #through, {}", remove.join(", ")),
        };
        let update = update
            .update_expression(expression)
            .build()
            .expect("table, key and expression are set");
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder()
                .put(self.events.entry_put(audit, now))
                .build(),
        ];
        match transact(&self.client, items).await? {
            Outcome::Written => Ok(true),
            Outcome::ConditionsFailed(positions) if positions == [0] => Ok(false),
            Outcome::ConditionsFailed(_) => Err(StoreError::Corrupt(
                "a stream replay's entry exists already".into(),
            )),
            Outcome::Conflict => Err(StoreError::Contention("the stream kept changing")),
        }
    }
}

/// The accounts' `#streams` items, in one BatchGetItem: a stream's id is there from its
/// creation's transaction to its deletion's.
impl StreamDirectory for StreamStore {
    async fn streams_of(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, Vec<StreamId>>, StoreError> {
        let keys: Vec<(String, String)> = accounts
            .iter()
            .map(|account| (account.as_str().to_owned(), STREAMS.to_owned()))
            .collect();
        let items = batch_get(&self.client, &self.table, &keys).await?;
        let mut found = HashMap::new();
        for account in accounts {
            let key = (account.as_str().to_owned(), STREAMS.to_owned());
            let Some(AttributeValue::Ss(ids)) = items.get(&key).and_then(|item| item.get(IDS))
            else {
                continue;
            };
            let ids = ids
                .iter()
                .map(|id| StreamId::parse(id))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Corrupt(format!("a stream id of {account}: {e}")))?;
            found.insert(account.clone(), ids);
        }
        Ok(found)
    }
}

impl StreamLeases for StreamStore {
    type Target = SealedTarget;

    async fn lease(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Lease<SealedTarget>, StoreError> {
        let token = ulid::Ulid::generate().to_string();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, id.as_str())))
            .update_expression("SET #lease = :token, #until = :until REMOVE #again")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#until) OR #until <= :now) \
                 AND (attribute_not_exists(#since) OR #retry <= :now)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#lease", LEASE)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_names("#since", FAILING_SINCE)
            .expression_attribute_names("#retry", RETRY_AT)
            .expression_attribute_names("#again", READ_AGAIN)
            .expression_attribute_values(":token", attr_s(&token))
            .expression_attribute_values(":until", epoch(until))
            .expression_attribute_values(":now", epoch(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            // Why it failed comes back with the failure: no second read.
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                let stored = stream_of(&item)?;
                let secrets = match item.get(SECRETS) {
                    Some(AttributeValue::B(blob)) => blob.as_ref().to_vec(),
                    _ => return Err(StoreError::Corrupt(format!("stream {id} has no secrets"))),
                };
                Ok(Lease::Held(LeasedStream {
                    account: account.clone(),
                    id: stored.id,
                    format: stored.format,
                    target: SealedTarget {
                        target: stored.target,
                        secrets,
                    },
                    state: stored.state,
                    lease: token,
                }))
            }
            Err(err) if condition_failed(&err).is_some() => {
                let Some(item) = condition_failed(&err).flatten() else {
                    return Ok(Lease::Gone);
                };
                if item
                    .get(LEASE_UNTIL)
                    .and_then(seconds)
                    .is_some_and(|until| until > now)
                {
                    return Ok(Lease::Busy);
                }
                let state = stream_of(&item)?.state;
                match state.failing.and_then(|failing| failing.retry_at) {
                    Some(at) => Ok(Lease::NotDue(at.max(now))),
                    None => Ok(Lease::Stopped),
                }
            }
            Err(err) => Err(StoreError::dynamo(err)),
        }
    }

    async fn ask_to_read_again(
        &self,
        account: &AccountId,
        id: &StreamId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let ask = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, id.as_str())))
            .update_expression("SET #again = :yes")
            .condition_expression("attribute_exists(#lease) AND #until > :now")
            .expression_attribute_names("#again", READ_AGAIN)
            .expression_attribute_names("#lease", LEASE)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":now", epoch(now))
            .send()
            .await;
        applied(ask)
    }

    async fn save(
        &self,
        stream: &LeasedStream<SealedTarget>,
        state: &DeliveryState,
    ) -> Result<bool, StoreError> {
        applied(
            self.write_state(stream, state, StateWrite::Keep)
                .send()
                .await,
        )
    }

    async fn release(
        &self,
        stream: &LeasedStream<SealedTarget>,
        state: &DeliveryState,
        how: Release,
    ) -> Result<Released, StoreError> {
        let write = match how {
            Release::Anyway => StateWrite::Release,
            Release::UnlessAsked => StateWrite::ReleaseUnlessAsked,
        };
        let result = self.write_state(stream, state, write).send().await;
        match result {
            Ok(_) => Ok(Released::Released),
            Err(err) => match condition_failed(&err) {
                None => Err(StoreError::dynamo(err)),
                // Still ours, so the note failed it: store the state, clear the note, read on.
                Some(Some(item)) if holds(&item, &stream.lease) => {
                    let kept = self
                        .write_state(stream, state, StateWrite::KeepAndClearNote)
                        .send()
                        .await;
                    Ok(match applied(kept)? {
                        true => Released::AskedToReadAgain,
                        false => Released::Lost,
                    })
                }
                Some(_) => Ok(Released::Lost),
            },
        }
    }
}

/// What a write of a run's state does with its lease and the note of [`READ_AGAIN`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum StateWrite {
    Keep,
    KeepAndClearNote,
    Release,
    ReleaseUnlessAsked,
}

impl StreamStore {
    /// The update storing a run's `state`, conditional on its lease.
    fn write_state(
        &self,
        stream: &LeasedStream<SealedTarget>,
        state: &DeliveryState,
        write: StateWrite,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let mut set: Vec<(&str, AttributeValue)> = Vec::new();
        let mut remove: Vec<&str> = Vec::new();
        match state.delivered_through {
            Some(index) => set.push((DELIVERED_THROUGH, AttributeValue::N(index.to_string()))),
            None => remove.push(DELIVERED_THROUGH),
        }
        match state.last_delivery_at {
            Some(at) => set.push((LAST_DELIVERY_AT, attr_s(&at.to_string()))),
            None => remove.push(LAST_DELIVERY_AT),
        }
        match &state.failing {
            Some(failing) => {
                set.push((FAILING_SINCE, attr_s(&failing.since.to_string())));
                set.push((LAST_ERROR, attr_s(&failing.last_error)));
                set.push((ATTEMPTS, AttributeValue::N(failing.attempts.to_string())));
                match failing.retry_at {
                    Some(at) => set.push((RETRY_AT, epoch(at))),
                    None => remove.push(RETRY_AT),
                }
            }
            None => remove.extend([FAILING_SINCE, LAST_ERROR, ATTEMPTS, RETRY_AT]),
        }
        let mut condition = "#lease = :token";
        match write {
            StateWrite::Keep => {}
            StateWrite::KeepAndClearNote => remove.push(READ_AGAIN),
            StateWrite::Release => remove.extend([LEASE, LEASE_UNTIL, READ_AGAIN]),
            StateWrite::ReleaseUnlessAsked => {
                remove.extend([LEASE, LEASE_UNTIL]);
                condition = "#lease = :token AND attribute_not_exists(#again)";
            }
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&stream.account, stream.id.as_str())))
            .condition_expression(condition)
            .expression_attribute_names("#lease", LEASE)
            .expression_attribute_values(":token", attr_s(&stream.lease))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        if write == StateWrite::ReleaseUnlessAsked {
            update = update.expression_attribute_names("#again", READ_AGAIN);
        }
        let mut sets = Vec::new();
        for (i, (name, value)) in set.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#s{i}"), name)
                .expression_attribute_values(format!(":s{i}"), value);
            sets.push(format!("#s{i} = :s{i}"));
        }
        let mut removes = Vec::new();
        for (i, name) in remove.into_iter().enumerate() {
            // Named already (the condition's).
            if name == LEASE {
                removes.push("#lease".to_owned());
                continue;
            }
            update = update.expression_attribute_names(format!("#r{i}"), name);
            removes.push(format!("#r{i}"));
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        update.update_expression(expression.trim())
    }
}

/// `Some` when an update failed its condition, with the item as it was (`None`: no item).
fn condition_failed(
    err: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    >,
) -> Option<Option<Item>> {
    match err.as_service_error()? {
        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
            failed,
        ) => Some(failed.item.clone()),
        _ => None,
    }
}

/// Whether `item` is leased with `token`.
fn holds(item: &Item, token: &str) -> bool {
    matches!(item.get(LEASE), Some(AttributeValue::S(held)) if held == token)
}

fn epoch(at: Timestamp) -> AttributeValue {
    AttributeValue::N(at.as_second().to_string())
}

fn seconds(value: &AttributeValue) -> Option<Timestamp> {
    let seconds: i64 = value.as_n().ok()?.parse().ok()?;
    Timestamp::from_second(seconds).ok()
}

fn timestamp(item: &Item, name: &str) -> Result<Option<Timestamp>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => text(item, name)?
            .parse()
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))),
    }
}

fn to_json(target: &StreamTarget) -> Result<String, StoreError> {
    serde_json::to_string(target).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn stream_of(item: &Item) -> Result<StoredStream, StoreError> {
    let sk = text(item, SK)?;
    let id = StreamId::parse(&sk).map_err(|e| StoreError::Corrupt(format!("{sk} {e}")))?;
    let target = serde_json::from_str(&text(item, TARGET)?)
        .map_err(|e| StoreError::Corrupt(format!("stream {sk}: {e}")))?;
    let format = match text(item, FORMAT)?.as_str() {
        "native" => StreamFormat::Native,
        "ocsf" => StreamFormat::Ocsf,
        other => return Err(StoreError::Corrupt(format!("stream {sk}: format {other}"))),
    };
    let created_at = timestamp(item, CREATED_AT)?
        .ok_or_else(|| StoreError::Corrupt(format!("stream {sk} has no creation time")))?;
    let failing = match timestamp(item, FAILING_SINCE)? {
        None => None,
        Some(since) => Some(Failing {
            since,
            last_error: text(item, LAST_ERROR)?,
            attempts: u32::try_from(number(item, ATTEMPTS)?)
                .map_err(|_| StoreError::Corrupt(format!("stream {sk}: attempts")))?,
            retry_at: item.get(RETRY_AT).and_then(seconds),
        }),
    };
    let delivered_through = match item.get(DELIVERED_THROUGH) {
        None => None,
        Some(_) => Some(number(item, DELIVERED_THROUGH)?),
    };
    Ok(StoredStream {
        id,
        target,
        format,
        created_at,
        state: DeliveryState {
            delivered_through,
            last_delivery_at: timestamp(item, LAST_DELIVERY_AT)?,
            failing,
        },
    })
}
