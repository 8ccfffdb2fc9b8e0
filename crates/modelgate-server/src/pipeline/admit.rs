//! Everything checked before any upstream call, in DESIGN §1's order.

use crate::auth::Authed;
use crate::billing::Hold;
use crate::limits::Admission;
use crate::state::AppState;
use modelgate_core::access::allowed;
use modelgate_core::catalog::{Model, Operation, Resolved};
use modelgate_core::config::ProviderKind;
use modelgate_core::money::NanoUsd;
use modelgate_core::openai::{
    ChatCompletionRequest, EmbeddingsRequest, ImagesRequest, ResponsesRequest,
};
use modelgate_core::pricing::chat_reservation;
use modelgate_core::tokens::{
    chat_prompt_bounds, exact_chat_prompt_bounds, PromptBounds, Tokenizer,
};
use modelgate_core::GatewayError;

pub fn admit(
    state: &AppState,
    authed: &Authed,
    requested: &str,
    op: Operation,
) -> Result<Resolved, GatewayError> {
    let resolved = state
        .catalog
        .resolve(requested, modelgate_core::time_fmt::today_utc())?;
    resolved.model.check_operation(op, state.docs_base_url())?;
    check_served(authed, &resolved)?;
    Ok(resolved)
}

/// 403 outside the account's or key's allowed models, 503 without a configured
/// provider (DESIGN §1's order).
pub fn check_served(authed: &Authed, resolved: &Resolved) -> Result<(), GatewayError> {
    let model = &resolved.model;
    if !allowed(authed.account.allowed_models.as_deref(), &model.id) {
        return Err(GatewayError::Forbidden {
            model: model.id.clone(),
            by_key: false,
        });
    }
    if !allowed(authed.key.allowed_models.as_deref(), &model.id) {
        return Err(GatewayError::Forbidden {
            model: model.id.clone(),
            by_key: true,
        });
    }
    if !model.has_configured_route() {
        // 503 naming what the operator must set (DESIGN §3), not retriable.
        return Err(model.not_configured());
    }
    Ok(())
}

pub struct Admitted {
    pub resolved: Resolved,
    pub hold: Hold,
    pub admission: Admission,
    pub output_limit: u64,
    /// The prompt's upper bound in tokens: billed when the upstream reports no usage.
    pub prompt_upper: u64,
}

/// DESIGN §1's order after the body: model, operation, access, configured route,
/// [rate limits], context window, balance.
pub async fn admit_chat(
    state: &AppState,
    authed: &Authed,
    request: &ChatCompletionRequest,
) -> Result<Admitted, GatewayError> {
    request.validate()?;
    modelgate_core::tokens::check_boundable(request)?;
    let mut resolved = admit(state, authed, &request.model, Operation::ChatCompletions)?;
    if resolved.effort.is_none() {
        if let Some((text, param)) = request.body_effort() {
            resolved.effort = Some(resolved.model.accept_effort(text, param)?);
        }
    }
    let model = &resolved.model;
    // A field error, but only knowable once the model is (DESIGN §1: before 429).
    check_max_output(
        model,
        request.max_completion_tokens,
        "max_completion_tokens",
    )?;
    check_max_output(model, request.max_tokens, "max_tokens")?;
    let tokenizer = Tokenizer::for_model(&model.id);
    let exact = |b: PromptBounds| {
        tokenizer
            .and_then(|t| exact_chat_prompt_bounds(request, t))
            .unwrap_or(b)
    };
    let wanted_output = request.output_limit();
    let choices = u64::from(request.n.unwrap_or(1).max(1));
    let mut bounds = chat_prompt_bounds(request);
    // §1: 429 before 413; tpm is charged with the reserved tokens.
    let reserved_tokens = bounds.upper.saturating_add(
        wanted_output
            .unwrap_or(model.max_output_tokens)
            .saturating_mul(choices),
    );
    let admission = state.limiter.admit(authed, reserved_tokens).await?;
    // §1: 413 before 402. Count exactly only when the cheap bound cannot rule it out.
    if bounds.upper.saturating_add(wanted_output.unwrap_or(0)) > model.context_window {
        bounds = exact(bounds);
    }
    check_context(model, bounds, wanted_output, output_param(request))?;
    let mut reservation = chat_reservation(model, bounds, wanted_output, choices);
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
        reservation = chat_reservation(model, bounds, wanted_output, choices);
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
        prompt_upper: bounds.upper,
    })
}

/// The field `output_limit()` came from, for errors that name it.
fn output_param(request: &ChatCompletionRequest) -> &'static str {
    if request.max_completion_tokens.is_some() {
        "max_completion_tokens"
    } else {
        "max_tokens"
    }
}

/// 400 for an output limit above the model's maximum, naming the field and the
/// maximum as OpenAI does (rather than accepting it silently).
fn check_max_output(model: &Model, wanted: Option<u64>, param: &str) -> Result<(), GatewayError> {
    let max = model.max_output_tokens;
    match wanted {
        Some(n) if max > 0 && n > max => Err(GatewayError::invalid(
            format!(
                "'{param}' is {n}, but the model \"{}\" produces at most {max} output tokens. Set '{param}' to {max} or less, or leave it out.",
                model.id
            ),
            Some(param),
        )),
        _ => Ok(()),
    }
}

/// 413 when even the prompt's lower bound (plus the output limit when set) cannot fit.
fn check_context(
    model: &Model,
    bounds: PromptBounds,
    wanted_output: Option<u64>,
    output_param: &'static str,
) -> Result<(), GatewayError> {
    if model.context_window > 0
        && bounds.lower.saturating_add(wanted_output.unwrap_or(0)) > model.context_window
    {
        return Err(GatewayError::ContextWindowExceeded {
            model: model.id.clone(),
            context_window: model.context_window,
            prompt_tokens: bounds.lower,
            max_tokens: wanted_output,
            output_param,
        });
    }
    Ok(())
}

/// The same order for embeddings: each input must fit the model's input window
/// (`context_window`), and the reservation is the inputs' upper bound at the input price.
pub async fn admit_embeddings(
    state: &AppState,
    authed: &Authed,
    request: &EmbeddingsRequest,
) -> Result<Admitted, GatewayError> {
    request.validate()?;
    let resolved = admit(state, authed, &request.model, Operation::Embeddings)?;
    let model = &resolved.model;
    let items = request.input.item_bounds();
    let upper: u64 = items.iter().map(|b| b.upper).sum();
    let admission = state.limiter.admit(authed, upper).await?;
    if let Some(longest) = items.iter().copied().max_by_key(|b| b.lower) {
        check_context(model, longest, None, "max_tokens")?;
    }
    let amount = model.pricing.input.cost(upper);
    reserve(
        state,
        authed,
        Reserved {
            resolved,
            admission,
            amount,
            output_limit: 0,
            prompt_upper: upper,
        },
    )
    .await
}

/// Image generation: references checked against the model (DESIGN §1: at most 8,
/// none for a model that takes none), then limits and the reservation of
/// `n` images plus the prompt's upper bound.
pub async fn admit_images(
    state: &AppState,
    authed: &Authed,
    request: &ImagesRequest,
) -> Result<Admitted, GatewayError> {
    request.validate()?;
    let resolved = admit(state, authed, &request.model, Operation::ImagesGenerations)?;
    let model = &resolved.model;
    request.check_references(&model.id, model.max_reference_images)?;
    check_url_format(model, request)?;
    for (field, reference) in request.references() {
        check_reference(state, authed, field, reference).await?;
    }
    let prompt_upper = request.prompt.len() as u64;
    let admission = state.limiter.admit(authed, prompt_upper).await?;
    let amount = model
        .pricing
        .input
        .cost(prompt_upper)
        .saturating_add(model.pricing.images_cost(u64::from(request.count())));
    reserve(
        state,
        authed,
        Reserved {
            resolved,
            admission,
            amount,
            output_limit: 0,
            prompt_upper,
        },
    )
    .await
}

/// `response_format: "url"` needs an upstream that hosts its images: the gateway
/// serves none of its own, so a model only bytes-returning kinds serve refuses it
/// rather than answer a `data:` URL where an http(s) one was promised.
fn check_url_format(model: &Model, request: &ImagesRequest) -> Result<(), GatewayError> {
    if request.response_format.as_deref() != Some("url") {
        return Ok(());
    }
    let hosts_urls = |kind: ProviderKind| match kind {
        ProviderKind::Openai => true,
        ProviderKind::Mock | ProviderKind::Gemini | ProviderKind::Anthropic => false,
    };
    if model
        .routes
        .iter()
        .any(|r| r.provider.configured && hosts_urls(r.provider.kind))
    {
        return Ok(());
    }
    Err(GatewayError::invalid(
        format!(
            "The model \"{}\" returns image bytes only, and this gateway does not host images, so 'response_format' \"url\" is not available for it. Use \"b64_json\" (the default) instead.",
            model.id
        ),
        Some("response_format"),
    ))
}

/// A file reference must be one of the account's files (404 otherwise, as files of
/// other accounts are); a URL reference must be http(s) or an inline image.
async fn check_reference(
    state: &AppState,
    authed: &Authed,
    field: &str,
    reference: &str,
) -> Result<(), GatewayError> {
    let is_file = field.starts_with("file_id");
    if is_file && !crate::routes::files::owns(state, &authed.account.id, reference).await {
        return Err(GatewayError::NotFound {
            what: format!("File \"{reference}\" (in '{field}')"),
        });
    }
    let url_ok = ["https://", "http://", "data:image/"]
        .iter()
        .any(|p| reference.starts_with(p));
    if !is_file && !url_ok {
        return Err(GatewayError::invalid(
            format!(
                "'{field}' must hold http(s) URLs or data:image/ URLs; got \"{}\".",
                reference.chars().take(60).collect::<String>()
            ),
            Some(field),
        ));
    }
    Ok(())
}

/// The Responses API: the same order as chat, with the input's bounds and
/// `max_output_tokens`.
pub async fn admit_responses(
    state: &AppState,
    authed: &Authed,
    request: &ResponsesRequest,
) -> Result<Admitted, GatewayError> {
    request.validate()?;
    request.check_priced_tools()?;
    let resolved = admit(state, authed, &request.model, Operation::Responses)?;
    let model = &resolved.model;
    let mut bounds = request.bounds();
    if request.input_beyond_request() {
        // An earlier response, a conversation or a file by id: only the model's
        // context window bounds what the upstream will read (and bill).
        bounds.upper = bounds.upper.max(model.context_window);
    }
    let wanted_output = request.max_output_tokens;
    check_max_output(model, wanted_output, "max_output_tokens")?;
    let reserved_tokens = bounds
        .upper
        .saturating_add(wanted_output.unwrap_or(model.max_output_tokens));
    let admission = state.limiter.admit(authed, reserved_tokens).await?;
    check_context(model, bounds, wanted_output, "max_output_tokens")?;
    let reservation = chat_reservation(model, bounds, wanted_output, 1);
    reserve(
        state,
        authed,
        Reserved {
            resolved,
            admission,
            amount: reservation.amount,
            output_limit: reservation.output_limit,
            prompt_upper: bounds.upper,
        },
    )
    .await
}

/// What admission settled on before the balance step.
struct Reserved {
    resolved: Resolved,
    admission: Admission,
    amount: NanoUsd,
    output_limit: u64,
    prompt_upper: u64,
}

/// The last step (402): hold the most the request can cost.
async fn reserve(state: &AppState, authed: &Authed, r: Reserved) -> Result<Admitted, GatewayError> {
    let hold = state
        .ledger
        .reserve(&authed.account, &authed.key, r.amount)
        .await?;
    Ok(Admitted {
        resolved: r.resolved,
        hold,
        admission: r.admission,
        output_limit: r.output_limit,
        prompt_upper: r.prompt_upper,
    })
}
