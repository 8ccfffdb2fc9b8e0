//! End-to-end tests: the real gateway binary and the simulator, over HTTP on loopback.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: a failed setup must fail the test loudly"
)]

mod admin;
mod billing;
mod catalog;
mod chat;
mod cli;
mod common;
mod config;
mod docs;
mod embeddings;
mod files;
mod fuzz;
mod http_contract;
mod idempotency;
mod images;
mod ledger;
mod postgres;
mod providers;
mod responses;
mod upstream;
