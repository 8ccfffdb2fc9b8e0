//! What a request costs and what it must reserve before the call (DESIGN §2, §4).

use crate::catalog::Model;
use crate::money::NanoUsd;
use crate::openai::Usage;
use crate::tokens::PromptBounds;

/// The most a request can cost, and the output limit that guarantees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatReservation {
    pub amount: NanoUsd,
    /// Sent upstream when the client set no limit, so usage cannot exceed the reservation.
    pub output_limit: u64,
}

/// Without a client limit, reserve for the smaller of the model's max output and what
/// is left of its context window after the prompt (its lower bound: the most room).
/// The output limit holds per choice, so `choices` (`n`) multiplies the output part;
/// the prompt is billed once.
pub fn chat_reservation(
    model: &Model,
    prompt: PromptBounds,
    client_limit: Option<u64>,
    choices: u64,
) -> ChatReservation {
    let room = model.context_window.saturating_sub(prompt.lower);
    let output_limit = client_limit.unwrap_or_else(|| model.max_output_tokens.min(room));
    let amount = model.pricing.input.cost(prompt.upper).saturating_add(
        model
            .pricing
            .output
            .cost(output_limit.saturating_mul(choices.max(1))),
    );
    ChatReservation {
        amount,
        output_limit,
    }
}

pub fn chat_cost(model: &Model, usage: &Usage) -> NanoUsd {
    let p = &model.pricing;
    p.input
        .cost(usage.prompt_tokens)
        .saturating_add(p.output.cost(usage.completion_tokens))
}
