//! POST /v1/chat/completions.

use crate::auth::Authed;
use crate::billing::Hold;
use crate::error_response::error_response;
use crate::extract::read_json;
use crate::limits::Admission;
use crate::pipeline::admit::admit;
use crate::pipeline::chat::{run, ChatJob};
use crate::pipeline::record::Record;
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;
use modelgate_core::catalog::Operation;
use modelgate_core::catalog::Resolved;
use modelgate_core::openai::ChatCompletionRequest;
use modelgate_core::pricing::chat_reservation;
use modelgate_core::tokens::{
    chat_prompt_bounds, exact_chat_prompt_bounds, PromptBounds, Tokenizer,
};
use modelgate_core::GatewayError;

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = Record::start(&authed, &request_id.0);
    let limit = state.config.server.max_body_bytes as usize;
    let request: ChatCompletionRequest = match read_json(&headers, body, limit).await {
        Ok(r) => r,
        Err(e) => return refuse(&state, record, e).await,
    };
    record.inner.model = request.model.clone();
    let admitted = match admit_chat(&state, &authed, &request).await {
        Ok(a) => a,
        Err(e) => return refuse(&state, record, e).await,
    };
    record.inner.model = admitted.resolved.model.id.clone();
    let mock_fault = headers
        .get("x-mock-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    run(ChatJob {
        state,
        record,
        resolved: admitted.resolved,
        hold: admitted.hold,
        admission: admitted.admission,
        output_limit: admitted.output_limit,
        request,
        mock_fault,
    })
    .await
}

struct Admitted {
    resolved: Resolved,
    hold: Hold,
    admission: Admission,
    output_limit: u64,
}

/// DESIGN §1's order after the body: model, operation, access, configured route,
/// [rate limits], context window, balance.
async fn admit_chat(
    state: &AppState,
    authed: &Authed,
    request: &ChatCompletionRequest,
) -> Result<Admitted, GatewayError> {
    request.validate()?;
    let mut resolved = admit(state, authed, &request.model, Operation::ChatCompletions)?;
    if resolved.effort.is_none() {
        if let Some((text, param)) = request.body_effort() {
            resolved.effort = Some(resolved.model.accept_effort(text, param)?);
        }
    }
    let model = &resolved.model;
    let tokenizer = Tokenizer::for_model(&model.id);
    let exact = |b: PromptBounds| {
        tokenizer
            .and_then(|t| exact_chat_prompt_bounds(request, t))
            .unwrap_or(b)
    };
    let wanted_output = request.output_limit();
    let mut bounds = chat_prompt_bounds(request);
    // §1: 429 before 413; tpm is charged with the reserved tokens.
    let reserved_tokens = bounds.upper + wanted_output.unwrap_or(model.max_output_tokens);
    let admission = state.limiter.admit(authed, reserved_tokens)?;
    // §1: 413 before 402. Count exactly only when the cheap bound cannot rule it out.
    if model.context_window > 0 {
        if bounds.upper + wanted_output.unwrap_or(0) > model.context_window {
            bounds = exact(bounds);
        }
        if bounds.lower + wanted_output.unwrap_or(0) > model.context_window {
            return Err(GatewayError::ContextWindowExceeded {
                model: model.id.clone(),
                context_window: model.context_window,
                prompt_tokens: bounds.lower,
                max_tokens: wanted_output,
            });
        }
    }
    let mut reservation = chat_reservation(model, bounds, wanted_output);
    let mut held = state
        .ledger
        .reserve(&authed.account, &authed.key, reservation.amount)
        .await;
    if matches!(held, Err(GatewayError::InsufficientBalance(_)))
        && !bounds.exact
        && tokenizer.is_some()
    {
        // Near the limit: the exact count may show that the request fits after all.
        bounds = exact(bounds);
        reservation = chat_reservation(model, bounds, wanted_output);
        held = state
            .ledger
            .reserve(&authed.account, &authed.key, reservation.amount)
            .await;
    }
    let hold = held?;
    Ok(Admitted {
        resolved,
        hold,
        admission,
        output_limit: reservation.output_limit,
    })
}

/// Answers a refusal before any upstream call, recording it (DESIGN §1: every
/// authenticated request gets a usage record).
pub async fn refuse(state: &AppState, record: Record, e: modelgate_core::GatewayError) -> Response {
    let resp = error_response(&e);
    record.finish(state, e.status(), Some(&e)).await;
    resp
}
