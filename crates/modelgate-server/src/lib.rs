//! The HTTP gateway: the axum app (`app`), the request pipeline (`pipeline`), the one
//! error response (`error_response`) and the server loop that owns HTTP limits (`serve`).

pub mod app;
pub mod auth;
pub mod billing;
pub mod error_response;
pub mod extract;
pub mod health_sync;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod pipeline;
pub mod request_id;
pub mod routes;
pub mod serve;
pub mod sse;
pub mod state;
pub mod tasks;
pub mod usage;

pub use serve::serve;
pub use state::{AppState, StateOptions};
