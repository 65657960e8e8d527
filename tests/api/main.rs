//! End-to-end tests of the HTTP contract (../shared/API.md) through the local dev server.

mod alarms;
mod auth;
mod client;
mod contract;
mod coverage;
mod exports;
mod ingest;
mod ingest_queue;
mod integrity;
mod lambda_events;
mod list;
mod problems;
mod public_keys;
mod signins;
mod stream_delivery;
mod streams;
mod trust;
mod verifier;
