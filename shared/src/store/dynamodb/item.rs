//! Reading and writing DynamoDB item attributes: the helpers every table's adapter shares.
//! Below the adapters: it imports none of them, so they never import each other for these.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::storage::StoreError;

/// One item as the SDK gives and takes it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn attr_s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The string attribute `name` of `item`; its absence means the item is corrupt.
pub(crate) fn text(item: &Item, name: &str) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("missing attribute {name}")))
}

/// The non-negative number attribute `name` of `item`; its absence means the item is corrupt.
pub(crate) fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("missing attribute {name}")))
}
