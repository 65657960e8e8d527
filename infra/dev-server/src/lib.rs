//! The local stand-in for API Gateway and Lambda: one loopback HTTP endpoint that serves every
//! function through its real handler, plus the local AWS stack those handlers talk to.

pub mod demo;
pub mod gateway;
pub mod jwt;
pub mod log_key;
pub mod process;
pub mod s3;
pub mod secrets;
pub mod sigv4;
pub mod stack;
pub mod streams;
pub mod web;
pub mod worker_process;

pub use gateway::{App, Tables, router};
pub use s3::LocalS3;
pub use stack::LocalStack;
