//! Streams: every entry of an account's log delivered to the merchant's own tools (a SIEM's
//! webhook, or an S3 bucket), in log order, at least once (docs/design/streams.md).
//!
//! The parts that decide something and can be tested alone: which addresses a webhook may
//! reach ([`address`], [`public_ip`]), how a delivery is signed ([`signature`]), how an entry is
//! written as a record ([`record`], native or [`ocsf`]), what one delivery's body holds
//! ([`delivery`]) and what an answer means for the stream ([`outcome`]).
//!
//! With the `aws` feature: one run of one stream ([`run`]: lease, read the log from its cursor,
//! send in batches, store how far it got, back off when the destination fails) over its
//! [`ports`]; the HTTP client that enforces the address rules at every connection
//! ([`webhook_client`]); the fan-out of one queued run per stream of each account whose log grew
//! ([`fanout`]), over a short-lived cache of which accounts have streams ([`directory_cache`]).

pub mod address;
pub mod delivery;
#[cfg(feature = "aws")]
pub mod directory_cache;
#[cfg(feature = "aws")]
pub mod fanout;
pub mod new_stream;
pub mod ocsf;
pub mod outcome;
#[cfg(feature = "aws")]
pub mod ports;
pub mod public_ip;
pub mod record;
#[cfg(feature = "aws")]
pub mod run;
pub mod signature;
#[cfg(feature = "aws")]
pub mod webhook_client;
