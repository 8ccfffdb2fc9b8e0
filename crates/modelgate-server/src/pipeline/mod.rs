//! The request pipeline, in DESIGN §1's order: auth (extractor) -> body -> model
//! (404/410) -> operation (400) -> access (403) -> configured route (503) ->
//! [rate limits, context window, balance: later stages] -> dispatch with retries and
//! failover -> response -> usage record.

pub mod admit;
pub mod chat;
pub mod dispatch;
pub mod embeddings;
pub mod endpoint;
pub mod headers;
pub mod images;
pub mod keyed;
pub mod outcome;
pub mod record;
pub mod responses;
