//! Table definitions for the local stack and tests, and the key and attribute names more than
//! one adapter shares. `template.yaml` declares the same tables for the cloud with the same key
//! names (`tests/api/contract.rs` checks the events table's).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

use crate::storage::StoreError;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const TYPE_INDEX: &str = "by_type";
pub const TYPE_INDEX_PK: &str = "gsi1pk";
pub const EXPIRES_AT: &str = "expires_at";
/// The events table's attribute holding an entry's position in its account's log: read with
/// the entry ([`super::events`]), stamped by the log's commits ([`super::log`]).
pub const LOG_INDEX: &str = "log_index";
/// The events table's GSI of sequenced entries by `pk` and `log_index` (streams read the log's
/// entries in order through it).
pub const LOG_INDEX_INDEX: &str = "by_log_index";

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

/// A stream of new images (the jobs table's to the export worker, the events table's to the
/// sequencer).
fn new_images() -> StreamSpecification {
    stream_of(StreamViewType::NewImage)
}

/// A table stream carrying `view`.
fn stream_of(view: StreamViewType) -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(view)
        .build()
        .expect("stream fields are set")
}

/// A GSI keyed by `hash` and `range` holding whole items.
fn index_of_all(name: &str, hash: &str, range: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash))
        .key_schema(key(range, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("index fields are set")
}

/// Creates the events table with its type index and its stream (dynalite, which the export
/// benchmark uses, has no streams: `stream` false there).
pub async fn create_events_table(
    client: &Client,
    table: &str,
    stream: bool,
) -> Result<(), StoreError> {
    let by_type = index_of_all(TYPE_INDEX, TYPE_INDEX_PK, SK);
    let by_log_index = index_of_all(LOG_INDEX_INDEX, PK, LOG_INDEX);
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK))
        .attribute_definitions(attribute(SK))
        .attribute_definitions(attribute(TYPE_INDEX_PK))
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(LOG_INDEX)
                .attribute_type(ScalarAttributeType::N)
                .build()
                .expect("name and type are set"),
        )
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .global_secondary_indexes(by_type)
        .global_secondary_indexes(by_log_index)
        .set_stream_specification(stream.then(new_images))
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    Ok(())
}

/// Creates a `pk`/`sk` table whose stream carries new images (the export jobs table).
pub async fn create_streamed_table(client: &Client, table: &str) -> Result<(), StoreError> {
    create_jobs_table(client, table, true).await
}

/// The export jobs table, with or without its stream (dynalite, used by the export
/// benchmark, has no streams).
pub async fn create_jobs_table(
    client: &Client,
    table: &str,
    stream: bool,
) -> Result<(), StoreError> {
    create_pk_sk_table(client, table, stream.then_some(StreamViewType::NewImage)).await
}

/// A `pk`/`sk` table, with a stream of `view` if given.
async fn create_pk_sk_table(
    client: &Client,
    table: &str,
    view: Option<StreamViewType>,
) -> Result<(), StoreError> {
    let stream = view.map(stream_of);
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK))
        .attribute_definitions(attribute(SK))
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .set_stream_specification(stream)
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    Ok(())
}

/// The streams table (`store::dynamodb::streams`): streams and their delivery state, no stream.
pub async fn create_streams_table(client: &Client, table: &str) -> Result<(), StoreError> {
    create_jobs_table(client, table, false).await
}

/// The log table (`store::dynamodb::log`): trees, tiles and checkpoints, no TTL; its stream
/// (keys only) tells the stream fan-out whose log grew.
pub async fn create_log_table(client: &Client, table: &str) -> Result<(), StoreError> {
    create_pk_sk_table(client, table, Some(StreamViewType::KeysOnly)).await
}
