//! The DynamoDB adapters, one per table, over shared helpers below them. Table layout
//! (docs/design/storage.md):
//!
//! - events table ([`events`]): `pk` = account, `sk` = `<UTC time, fixed width>#<entry id>`; the
//!   GSI `by_type` (`gsi1pk` = `account#type`, `sk`) serves type filters without reading other
//!   types; idempotency markers live under `pk` = `account#idem`, `sk` = event_id; sign-in
//!   profiles beside them. `expires_at` (epoch seconds) is the TTL attribute; `log_index` is
//!   stamped on an entry by the sequencer once the entry is in its account's Merkle log.
//! - log table ([`log`]): each account's Merkle tree, checkpoints and the pending set; and
//!   producer coverage ([`coverage`]) under a partition of its own.
//! - export jobs table ([`exports`]).
//! - streams table ([`streams`]): each stream's target, sealed secrets and delivery state.
//!
//! The helpers the adapters share, and which import none of them: `item` (attribute
//! reading and writing), [`transact`] (`TransactWriteItems` and its cancellations), [`batch`]
//! (`BatchGetItem`) and [`schema`] (key and attribute names, table definitions); the backoff for
//! DynamoDB's partial successes is `crate::storage::retry`, which the use cases share.

pub mod batch;
pub mod coverage;
pub mod events;
pub mod exports;
pub(crate) mod item;
pub mod log;
pub mod schema;
pub mod streams;
pub mod transact;
