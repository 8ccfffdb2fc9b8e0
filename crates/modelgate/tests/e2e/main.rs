//! End-to-end tests: the real gateway binary and the simulator, over HTTP on loopback.

mod admin;
mod catalog;
mod chat;
mod common;
mod http_contract;
mod upstream;
