//! The SQS adapters: the queue of stream delivery runs, and the ingest queue's dead letters.

pub mod delivery_queue;
pub mod ingest_dead_letters;
