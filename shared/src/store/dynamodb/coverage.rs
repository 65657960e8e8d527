//! Producer coverage in the log table, under one partition outside every account's
//! (`pk` = `coverage#producers`, which no account id can be: ids have no `#`), one item per
//! producer (`sk` = the producer), with per event type `n#<type>` (the count) and `at#<type>`
//! (epoch milliseconds of the newest `received_at` counted). One update per producer and
//! sequencer invocation: the sequencer's own pace is what it costs, so it is one write, not one
//! per type. The last-seen time is set, not maxed (DynamoDB has no max): invocations of one
//! shard run in order, and another shard's may move it back by a batch's seconds, which a
//! "silent for a day" check does not notice.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt, TryStreamExt};
use jiff::Timestamp;

use super::item::{Item, attr_s, number, text};
use super::schema::{PK, SK};
use crate::coverage::ports::CoverageStore;
use crate::coverage::{Coverage, Tally};
use crate::domain::EventType;
use crate::storage::StoreError;

const PARTITION: &str = "coverage#producers";
const PRODUCER: &str = "producer";
/// Prefixes of the per-type attributes.
const COUNT: &str = "n#";
const LAST_MS: &str = "at#";
/// Updates in flight at once (a tally holds a few producers).
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

    /// Adds one producer's rows (all of one invocation) in one update.
    async fn add_producer(&self, producer: &str, rows: &[Coverage]) -> Result<(), StoreError> {
        let key = Item::from([
            (PK.to_owned(), attr_s(PARTITION)),
            (SK.to_owned(), attr_s(producer)),
        ]);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .expression_attribute_names("#producer", PRODUCER)
            .expression_attribute_values(":producer", attr_s(producer));
        let (mut adds, mut sets) = (Vec::new(), vec!["#producer = :producer".to_owned()]);
        for (i, row) in rows.iter().enumerate() {
            let event_type = row.event_type.as_str();
            update = update
                .expression_attribute_names(format!("#n{i}"), format!("{COUNT}{event_type}"))
                .expression_attribute_names(format!("#a{i}"), format!("{LAST_MS}{event_type}"))
                .expression_attribute_values(
                    format!(":n{i}"),
                    AttributeValue::N(row.count.to_string()),
                )
                .expression_attribute_values(
                    format!(":a{i}"),
                    AttributeValue::N(row.last_received_at.as_millisecond().to_string()),
                );
            adds.push(format!("#n{i} :n{i}"));
            sets.push(format!("#a{i} = :a{i}"));
        }
        update
            .update_expression(format!("ADD {} SET {}", adds.join(", "), sets.join(", ")))
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(())
    }
}

impl CoverageStore for DynamoCoverage {
    async fn add(&self, tally: &Tally) -> Result<(), StoreError> {
        let mut by_producer: BTreeMap<String, Vec<Coverage>> = BTreeMap::new();
        for row in tally.rows() {
            by_producer
                .entry(row.producer.clone())
                .or_default()
                .push(row);
        }
        stream::iter(by_producer)
            .map(|(producer, rows)| async move { self.add_producer(&producer, &rows).await })
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
        let mut rows = Vec::new();
        for item in &items {
            rows.extend(coverage_of(item)?);
        }
        Ok(rows)
    }
}

/// A producer's item as rows, one per type it sent.
fn coverage_of(item: &Item) -> Result<Vec<Coverage>, StoreError> {
    let producer = text(item, PRODUCER)?;
    let mut rows = Vec::new();
    for (name, value) in item {
        let Some(event_type) = name.strip_prefix(COUNT) else {
            continue;
        };
        let corrupt = |what: &str| StoreError::Corrupt(format!("coverage of {producer}: {what}"));
        let event_type = EventType::parse(event_type).map_err(|e| corrupt(&e))?;
        let count: u64 = value
            .as_n()
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| corrupt("a count is not a number"))?;
        let last_ms = i64::try_from(number(item, &format!("{LAST_MS}{}", event_type.as_str()))?)
            .map_err(|_| corrupt("a time out of range"))?;
        rows.push(Coverage {
            producer: producer.clone(),
            event_type,
            count,
            last_received_at: Timestamp::from_millisecond(last_ms)
                .map_err(|e| corrupt(&e.to_string()))?,
        });
    }
    Ok(rows)
}
