//! The local stand-in for API Gateway and Lambda: one loopback HTTP endpoint that serves every
//! function through its real handler, plus the local AWS stack those handlers talk to.

pub mod gateway;
pub mod jwt;
pub mod stack;

pub use gateway::{App, Tables, router};
pub use stack::LocalStack;
