//! Streams: every entry of an account's log delivered to the merchant's own destination
//! (docs/design/streams.md).
//!
//! - [`run`]: one run of one stream (lease, read the log from its cursor, send in batches,
//!   store how far it got, back off when the destination fails), over [`ports`];
//! - [`fanout`]: one queued run per stream of each account whose log grew.

pub mod fanout;
pub mod ports;
pub mod run;
