//! Producer coverage in the log table, under one partition outside every account's
//! (`pk` = `coverage#producers`, which no account id can be: ids have no `#`), one item per
//! producer and type (`sk` = `<producer>#<type>`; IAM ARNs hold no `#`): `count` and
//! `last_ms` (epoch milliseconds of the newest `received_at` counted).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt, TryStreamExt};
use jiff::Timestamp;

use super::item::{Item, attr_s, number, text};
use super::schema::{PK, SK};
use super::transact::applied;
use crate::coverage::ports::CoverageStore;
use crate::coverage::{Coverage, Tally};
use crate::domain::EventType;
use crate::storage::StoreError;

const PARTITION: &str = "coverage#producers";
const PRODUCER: &str = "producer";
const TYPE: &str = "event_type";
const COUNT: &str = "count";
const LAST_MS: &str = "last_ms";
/// Updates in flight at once (a tally holds a few producers and types).
const CONCURRENT_UPDATES: usize = 8;

#[derive(Clone)]
pub struct DynamoCoverage {
    client: Client,
    table: String,
}

impl DynamoCoverage {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Adds `row`'s count and moves its last-seen time forward; an older time (a tally stored
    /// late) adds its count only.
    async fn add_row(&self, row: &Coverage) -> Result<(), StoreError> {
        let key = Item::from([
            (PK.to_owned(), attr_s(PARTITION)),
            (
                SK.to_owned(),
                attr_s(&format!("{}#{}", row.producer, row.event_type.as_str())),
            ),
        ]);
        let count = AttributeValue::N(row.count.to_string());
        let last = AttributeValue::N(row.last_received_at.as_millisecond().to_string());
        let newer = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression("ADD #count :n SET #last = :last, #producer = :p, #type = :t")
            .condition_expression("attribute_not_exists(#last) OR #last < :last")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#last", LAST_MS)
            .expression_attribute_names("#producer", PRODUCER)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":n", count.clone())
            .expression_attribute_values(":last", last)
            .expression_attribute_values(":p", attr_s(&row.producer))
            .expression_attribute_values(":t", attr_s(row.event_type.as_str()))
            .send()
            .await;
        if applied(newer)? {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("ADD #count :n")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_values(":n", count)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(())
    }
}

impl CoverageStore for DynamoCoverage {
    async fn add(&self, tally: &Tally) -> Result<(), StoreError> {
        stream::iter(tally.rows())
            .map(|row| async move { self.add_row(&row).await })
            .buffer_unordered(CONCURRENT_UPDATES)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn all(&self) -> Result<Vec<Coverage>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", attr_s(PARTITION))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(StoreError::dynamo)?;
        items.iter().map(coverage_of).collect()
    }
}

fn coverage_of(item: &Item) -> Result<Coverage, StoreError> {
    let event_type = EventType::parse(&text(item, TYPE)?).map_err(StoreError::Corrupt)?;
    let last_ms = i64::try_from(number(item, LAST_MS)?)
        .map_err(|_| StoreError::Corrupt("a coverage time out of range".into()))?;
    Ok(Coverage {
        producer: text(item, PRODUCER)?,
        event_type,
        count: number(item, COUNT)?,
        last_received_at: Timestamp::from_millisecond(last_ms)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}
