//! The export jobs table. Its stream (new images) is what starts the worker: the job write is
//! the only write that has to succeed for an export to run.
//!
//! Item: `pk` = account, `sk` = export id, `status` (top level, for the stream filter), `version`
//! (optimistic concurrency: every update is conditional on the version it read), `lease_until`
//! (epoch seconds until which a running worker owns the job), `expires_at` (TTL), `job` (JSON).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use jiff::{Timestamp, ToSpan};

use super::events::EventStore;
use super::schema::{EXPIRES_AT, PK, SK};
use super::transact::{Outcome, applied, cancellation};
use crate::domain::export::{ExportId, ExportJob};
use crate::domain::{AccountId, NewEvent};
use crate::export::ports::StoredJob;
use crate::storage::StoreError;
use crate::storage::retry::{MAX_ATTEMPTS, backoff};

const STATUS: &str = "status";
const VERSION: &str = "version";
/// The job item's version attribute, as stream records carry it in their new image.
pub const VERSION_ATTRIBUTE: &str = VERSION;
const LEASE_UNTIL: &str = "lease_until";
const JOB: &str = "job";
/// The job item's JSON attribute, as stream records carry it in their new image.
pub const JOB_ATTRIBUTE: &str = JOB;
/// The set of an account's export ids in flight, in one item per account.
const JOBS: &str = "jobs";
const IN_FLIGHT: &str = "in_flight";

/// Not an account (`#` never is one): the in-flight item stays out of the account's job list.
fn in_flight_partition(account: &AccountId) -> String {
    format!("{account}#exports")
}

#[derive(Clone)]
pub struct ExportStore {
    client: Client,
    table: String,
    expiry_days: i64,
}

impl ExportStore {
    pub fn from_config(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
        expiry_days: i64,
    ) -> Self {
        Self {
            client: Client::new(config),
            table: table.into(),
            expiry_days,
        }
    }

    /// Writes a new job, its `security_logs.exported` audit entry and its place among the
    /// account's exports in flight, in one transaction: all exist (and the stream starts the
    /// worker) or none does. `Ok(false)` when `limit` exports are already in flight; jobs that
    /// finished, went stale or are gone lose their place first, so a dead worker never holds one.
    pub async fn create(
        &self,
        account: &AccountId,
        job: &ExportJob,
        audit: &NewEvent,
        events: &EventStore,
        limit: usize,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let put_job = Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.item(account, job, 1, 0)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .expect("table and item are set");
            let take_place = Update::builder()
                .table_name(&self.table)
                .key(PK, AttributeValue::S(in_flight_partition(account)))
                .key(SK, AttributeValue::S(IN_FLIGHT.to_owned()))
                .update_expression("ADD #jobs :job")
                .condition_expression("attribute_not_exists(#jobs) OR size(#jobs) < :limit")
                .expression_attribute_names("#jobs", JOBS)
                .expression_attribute_values(
                    ":job",
                    AttributeValue::Ss(vec![job.id.as_str().to_owned()]),
                )
                .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
                .build()
                .expect("table, key and expression are set");
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put_job).build())
                .transact_items(
                    TransactWriteItem::builder()
                        .put(events.entry_put(audit, now))
                        .build(),
                )
                .transact_items(TransactWriteItem::builder().update(take_place).build())
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(true),
                Err(err) => err,
            };
            match cancellation(&err) {
                Some(Outcome::ConditionsFailed(positions)) if positions == [2] => {
                    if !self.free_places(account, now).await? {
                        return Ok(false);
                    }
                }
                Some(Outcome::Conflict) => backoff(attempt).await,
                _ => return Err(StoreError::dynamo(err)),
            }
        }
        Err(StoreError::Contention(
            "the account's exports in flight kept changing",
        ))
    }

    /// Frees the places of in-flight jobs that finished, went stale or are gone; whether any was.
    async fn free_places(&self, account: &AccountId, now: Timestamp) -> Result<bool, StoreError> {
        let mut freed = false;
        for id in self.in_flight(account).await? {
            let done = match ExportId::parse(&id) {
                Ok(parsed) => match self.get(account, &parsed).await? {
                    None => true,
                    Some(stored) => stored.job.status.is_finished() || stored.job.is_stale(now),
                },
                Err(_) => true,
            };
            if done {
                self.release(account, &id).await?;
                freed = true;
            }
        }
        Ok(freed)
    }

    /// The ids of the account's exports holding a place in flight.
    pub async fn in_flight(&self, account: &AccountId) -> Result<Vec<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(in_flight_partition(account)))
            .key(SK, AttributeValue::S(IN_FLIGHT.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(output
            .item
            .and_then(|mut item| item.remove(JOBS))
            .and_then(|jobs| jobs.as_ss().ok().cloned())
            .unwrap_or_default())
    }

    /// Gives up a job's place in flight (when it finished; idempotent).
    pub async fn release(&self, account: &AccountId, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(in_flight_partition(account)))
            .key(SK, AttributeValue::S(IN_FLIGHT.to_owned()))
            .update_expression("DELETE #jobs :job")
            .expression_attribute_names("#jobs", JOBS)
            .expression_attribute_values(":job", AttributeValue::Ss(vec![id.to_owned()]))
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(())
    }

    /// Writes a new job alone, without an audit entry: for tools that seed jobs (the export
    /// benchmark runs against dynalite, which has no transactions). The API uses [`Self::create`].
    pub async fn insert(&self, account: &AccountId, job: &ExportJob) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(account, job, 1, 0)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(())
    }

    /// The account's job, if it exists (strongly consistent: a worker reads its own writes).
    pub async fn get(
        &self,
        account: &AccountId,
        id: &ExportId,
    ) -> Result<Option<StoredJob>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(account.as_str().to_owned()))
            .key(SK, AttributeValue::S(id.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        output.item.map(|item| parse(account, &item)).transpose()
    }

    /// The account's jobs, newest first, after the job id `after`.
    pub async fn list(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<StoredJob>, Option<String>), StoreError> {
        let start = after.map(|sk| {
            HashMap::from([
                (
                    PK.to_owned(),
                    AttributeValue::S(account.as_str().to_owned()),
                ),
                (SK.to_owned(), AttributeValue::S(sk.to_owned())),
            ])
        });
        // One extra item tells whether another page exists, so the last page has no cursor.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(account.as_str().to_owned()))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        let mut jobs = output
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| parse(account, item))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(|j| j.job.id.as_str().to_owned())
        } else {
            None
        };
        Ok((jobs, next))
    }

    /// Replaces the job if nobody changed it since `stored` was read; `false` when somebody did.
    pub async fn save(
        &self,
        stored: &StoredJob,
        job: &ExportJob,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(
                &stored.account,
                job,
                stored.version + 1,
                lease_until,
            )))
            .condition_expression("#version = :read")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":read", AttributeValue::N(stored.version.to_string()))
            .send()
            .await;
        applied(result)
    }

    fn item(
        &self,
        account: &AccountId,
        job: &ExportJob,
        version: u64,
        lease_until: i64,
    ) -> HashMap<String, AttributeValue> {
        let expires_at = job
            .created_at
            .checked_add((self.expiry_days * 24).hours())
            .unwrap_or(Timestamp::MAX)
            .as_second();
        HashMap::from([
            (
                PK.to_owned(),
                AttributeValue::S(account.as_str().to_owned()),
            ),
            (SK.to_owned(), AttributeValue::S(job.id.as_str().to_owned())),
            (
                STATUS.to_owned(),
                AttributeValue::S(job.status.as_str().to_owned()),
            ),
            (VERSION.to_owned(), AttributeValue::N(version.to_string())),
            (
                LEASE_UNTIL.to_owned(),
                AttributeValue::N(lease_until.to_string()),
            ),
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(expires_at.to_string()),
            ),
            (
                JOB.to_owned(),
                AttributeValue::S(serde_json::to_string(job).expect("jobs serialize")),
            ),
        ])
    }
}

fn parse(
    account: &AccountId,
    item: &HashMap<String, AttributeValue>,
) -> Result<StoredJob, StoreError> {
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("job attribute {name}")))
    };
    let job = item
        .get(JOB)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("job attribute job".into()))?;
    Ok(StoredJob {
        account: account.clone(),
        job: serde_json::from_str(job).map_err(|e| StoreError::Corrupt(format!("job: {e}")))?,
        version: number(VERSION)? as u64,
        lease_until: number(LEASE_UNTIL)?,
    })
}
