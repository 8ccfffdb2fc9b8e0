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
