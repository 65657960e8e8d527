//! The HTTP edge shared by the API functions: who is calling, JSON responses, problem+json.

pub mod auth;
pub mod problem;
pub mod request;
pub mod response;
pub mod serve;

pub use problem::problem;
pub use request::query_params;
pub use response::{json, json_with_location, no_store};
pub use serve::{Endpoint, serve};
