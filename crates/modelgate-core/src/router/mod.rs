//! Routing: which deployment serves the next attempt (`select`), which deployments are
//! healthy (`health`, a circuit breaker per route) and how long to wait (`backoff`).

pub mod backoff;
pub mod health;
pub mod select;
