//! One file per API group.

pub mod account;
pub mod admin;
pub mod chat;
pub mod embeddings;
pub mod files;
pub mod health;
pub mod images;
pub mod models;
pub mod responses;
pub mod unserved;
