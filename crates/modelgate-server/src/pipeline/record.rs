//! The usage record of one authenticated request (DESIGN §1), filled in as the
//! request goes and handed to the batched writer when it ends.

use crate::auth::Authed;
use crate::state::AppState;
use modelgate_core::money::NanoUsd;
use modelgate_core::openai::Usage;
use modelgate_core::GatewayError;
use modelgate_store::{Charge, UsageRecord};
use std::time::Instant;

pub struct Record {
    pub started: Instant,
    pub inner: UsageRecord,
}

impl Record {
    pub fn start(authed: &Authed, request_id: &str) -> Record {
        Record {
            started: Instant::now(),
            inner: UsageRecord {
                request_id: request_id.to_owned(),
                account_id: authed.account.id.clone(),
                key_id: authed.key.id.clone(),
                model: String::new(),
                provider: None,
                prompt_tokens: 0,
                completion_tokens: 0,
                images: 0,
                cost_nano: 0,
                status: 0,
                error_type: None,
                latency_ms: 0,
                attempts: 0,
                created_at: modelgate_core::time_fmt::now_unix_ms(),
            },
        }
    }

    /// The model as the client named it, for a request refused before the catalog
    /// resolved it: bounded and printable, so one hostile string can neither bloat nor
    /// poison a batch of records (PostgreSQL refuses NUL in text).
    pub fn set_requested_model(&mut self, requested: &str) {
        self.inner.model = sanitize_label(requested);
    }

    pub fn set_usage(&mut self, usage: &Usage, cost: NanoUsd) {
        self.inner.prompt_tokens = usage.prompt_tokens;
        self.inner.completion_tokens = usage.completion_tokens;
        self.inner.cost_nano = cost.0;
    }

    pub async fn finish(self, state: &AppState, status: u16, error: Option<&GatewayError>) {
        self.finish_charged(state, status, error, None).await;
    }

    /// Ends the record together with its charge (one transaction in the writer).
    pub async fn finish_charged(
        mut self,
        state: &AppState,
        status: u16,
        error: Option<&GatewayError>,
        charge: Option<Charge>,
    ) {
        self.inner.status = status;
        self.inner.error_type = error.map(|e| e.error_type().to_owned());
        self.inner.latency_ms = self.started.elapsed().as_millis() as u64;
        crate::metrics::request_finished(&self.inner);
        state.usage.record(self.inner, charge).await;
    }
}

/// Longest client-supplied label kept in a usage record.
const LABEL_MAX: usize = 128;

/// Keeps printable characters (control characters, NUL included, become `?`) and at
/// most `LABEL_MAX` bytes, cut on a character boundary.
pub fn sanitize_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(LABEL_MAX));
    for c in text.chars() {
        let c = if c.is_control() { '?' } else { c };
        if out.len() + c.len_utf8() > LABEL_MAX {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize_label;

    #[test]
    fn labels_are_bounded_and_printable() {
        assert_eq!(sanitize_label("demo/echo"), "demo/echo");
        assert_eq!(sanitize_label("a\0b\nc"), "a?b?c");
        let long = "é".repeat(200);
        let cut = sanitize_label(&long);
        assert!(cut.len() <= 128 && cut.chars().all(|c| c == 'é'));
    }
}
