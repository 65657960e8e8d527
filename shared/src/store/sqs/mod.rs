//! The SQS adapter: the queue of stream delivery runs.

pub mod delivery_queue;
