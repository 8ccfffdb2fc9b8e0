//! modelgate-core: everything about the gateway that needs no I/O — the error contract,
//! config and catalog, model IDs, OpenAI wire types, money and pricing, routing state.
//! No axum, sqlx or reqwest here: the other crates depend on this one, never the reverse.

pub mod access;
pub mod catalog;
pub mod config;
pub mod error;
pub mod limits;
pub mod model_id;
pub mod money;
pub mod openai;
pub mod pricing;
#[cfg(test)]
mod pricing_proptests;
pub mod router;
pub mod secret;
pub mod time_fmt;
pub mod tokens;
#[cfg(test)]
mod tokens_proptests;

pub use error::GatewayError;
