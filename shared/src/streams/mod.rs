//! Streams: every entry of an account delivered to the merchant's own tools (a SIEM's webhook,
//! or an S3 bucket), in log order, at least once.
//!
//! The parts here are the ones that decide something and can be tested alone: which addresses a
//! webhook may reach ([`address`], [`public_ip`]), how a delivery is signed ([`signature`]), how an
//! entry is written as a record ([`record`], native or [`ocsf`]), what one delivery holds
//! ([`delivery`]), what an answer means for the stream ([`outcome`]), and, with the `aws`
//! feature, the HTTP client that enforces the address rules at every connection.

pub mod address;
pub mod delivery;
pub mod ocsf;
pub mod outcome;
pub mod public_ip;
pub mod record;
pub mod signature;
#[cfg(feature = "aws")]
pub mod webhook_client;
