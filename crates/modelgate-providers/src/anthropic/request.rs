//! The outgoing Messages request, built from the OpenAI hub request (DESIGN §3).
//!
//! Translated: messages (see `messages.rs`), `max_tokens`/`max_completion_tokens`
//! (Anthropic requires one: the client's, else the gateway's reserved limit, else
//! 4096), `temperature` (clamped to Anthropic's 0..=1), `top_p` (only without
//! `temperature`: recent Claude models refuse both at once), `top_k` (a common
//! extension field), `stop` → `stop_sequences` (whitespace-only ones dropped, as
//! Anthropic refuses them), `tools`, `tool_choice`, `parallel_tool_calls: false` →
//! `disable_parallel_tool_use`, `user` → `metadata.user_id`, the reasoning effort →
//! `thinking` budget, and `response_format` (no native equivalent on the Messages
//! API: a system instruction asks for JSON, with the schema when one is given).
//!
//! Refused: `n` > 1 (400, `param: "n"`: one answer per request).
//! Dropped silently (no Anthropic equivalent): `seed`, `presence_penalty`,
//! `frequency_penalty`, `logit_bias`, `logprobs`, `top_logprobs`, `stream_options`
//! (usage is always streamed), `service_tier`, `store`, OpenAI `metadata`,
//! `prediction`, `modalities`, `audio`, tools' `strict`, and any other unknown field.

mod messages;

use super::wire::{MessagesRequest, Metadata, Role, Thinking, Tool, ToolChoice};
use crate::ChatCall;
use modelgate_core::model_id::ReasoningEffort;
use modelgate_core::openai::{ChatCompletionRequest, Stop};
use modelgate_core::GatewayError;
use serde_json::{json, Value};

/// Anthropic requires `max_tokens`; used when neither the client nor the gateway set one.
const DEFAULT_MAX_TOKENS: u64 = 4096;
/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;

/// What the route and the gateway add to the client's request.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub upstream_model: &'a str,
    pub effort: Option<ReasoningEffort>,
    /// The output limit the gateway reserved for (DESIGN §4), when the client set none.
    pub max_output_tokens: Option<u64>,
}

impl<'a> Target<'a> {
    pub fn of(call: &'a ChatCall<'_>) -> Self {
        Self {
            upstream_model: &call.route.upstream_model,
            effort: call.effort,
            max_output_tokens: call.max_output_tokens,
        }
    }
}

pub fn to_native(
    req: &ChatCompletionRequest,
    target: &Target<'_>,
) -> Result<MessagesRequest, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(GatewayError::invalid(
            "This model returns one choice per request: 'n' must be 1. Send several requests instead.",
            Some("n"),
        ));
    }
    let converted = messages::convert(&req.messages)?;
    let mut system = converted.system;
    system.extend(json_instruction(req.response_format.as_ref()));
    let max_tokens = req
        .output_limit()
        .or(target.max_output_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let tools = tools(req.tools.as_deref())?;
    let parallel_off = req.extra.get("parallel_tool_calls") == Some(&Value::Bool(false));
    let tool_choice = match tools {
        Some(_) => tool_choice(req.tool_choice.as_ref(), parallel_off)?,
        // Anthropic refuses a tool_choice without tools.
        None => None,
    };
    // Thinking is incompatible with a forced tool choice and with a prefilled
    // assistant turn, and a tool loop whose last assistant turn holds tool_use would
    // need that turn's signed thinking block, which OpenAI-shaped history cannot carry.
    let forced = matches!(
        tool_choice,
        Some(ToolChoice::Any { .. } | ToolChoice::Tool { .. })
    );
    let prefilled = converted
        .messages
        .last()
        .is_some_and(|m| m.role == Role::Assistant);
    let thinking = if forced || prefilled || converted.in_tool_loop {
        None
    } else {
        thinking(target.effort, max_tokens)
    };
    // Anthropic refuses sampling parameters while thinking.
    let sampling = thinking.is_none();
    let temperature = req
        .temperature
        .filter(|_| sampling)
        .map(|t| t.clamp(0.0, 1.0));
    Ok(MessagesRequest {
        model: target.upstream_model.to_owned(),
        max_tokens,
        messages: converted.messages,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        stop_sequences: stop_sequences(req.stop.as_ref()),
        temperature,
        top_p: req.top_p.filter(|_| sampling && temperature.is_none()),
        top_k: req
            .extra
            .get("top_k")
            .and_then(Value::as_u64)
            .filter(|_| sampling),
        tools,
        tool_choice,
        thinking,
        metadata: req.user.clone().map(|user_id| Metadata { user_id }),
        stream: req.is_stream().then_some(true),
    })
}

/// The thinking budget per effort, kept below `max_tokens` (thinking tokens count
/// against it); none when `max_tokens` leaves no room for the minimum budget.
fn thinking(effort: Option<ReasoningEffort>, max_tokens: u64) -> Option<Thinking> {
    let budget = match effort? {
        ReasoningEffort::Low => 1024,
        ReasoningEffort::Medium => 4096,
        ReasoningEffort::High => 16384,
        ReasoningEffort::Max => 32768,
    };
    if max_tokens <= MIN_THINKING_BUDGET {
        return None;
    }
    Some(Thinking::Enabled {
        budget_tokens: budget.min(max_tokens - 1).max(MIN_THINKING_BUDGET),
    })
}

fn stop_sequences(stop: Option<&Stop>) -> Option<Vec<String>> {
    let all = match stop? {
        Stop::One(s) => vec![s.clone()],
        Stop::Many(v) => v.clone(),
    };
    let kept: Vec<String> = all.into_iter().filter(|s| !s.trim().is_empty()).collect();
    (!kept.is_empty()).then_some(kept)
}

fn tools(tools: Option<&[Value]>) -> Result<Option<Vec<Tool>>, GatewayError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("function");
        if kind != "function" {
            let param = format!("tools[{i}].type");
            return Err(GatewayError::invalid(
                format!(
                    "{param} \"{}\" is not supported by this model; only function tools are.",
                    modelgate_core::model_id::quoted(kind)
                ),
                Some(&param),
            ));
        }
        let function = tool.get("function").unwrap_or(&Value::Null);
        let Some(name) = function.get("name").and_then(Value::as_str) else {
            let param = format!("tools[{i}].function.name");
            return Err(GatewayError::invalid(
                format!("{param} is required."),
                Some(&param),
            ));
        };
        out.push(Tool {
            name: name.to_owned(),
            description: function
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_schema: function
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
        });
    }
    Ok(Some(out))
}

fn tool_choice(
    choice: Option<&Value>,
    parallel_off: bool,
) -> Result<Option<ToolChoice>, GatewayError> {
    let disable = parallel_off.then_some(true);
    let Some(choice) = choice else {
        return Ok(disable.map(|_| ToolChoice::Auto {
            disable_parallel_tool_use: disable,
        }));
    };
    let named = choice
        .get("function")
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str);
    Ok(Some(match (choice.as_str(), named) {
        (Some("auto"), _) => ToolChoice::Auto {
            disable_parallel_tool_use: disable,
        },
        (Some("required"), _) => ToolChoice::Any {
            disable_parallel_tool_use: disable,
        },
        (Some("none"), _) => ToolChoice::None,
        (None, Some(name)) => ToolChoice::Tool {
            name: name.to_owned(),
            disable_parallel_tool_use: disable,
        },
        _ => {
            return Err(GatewayError::invalid(
                "tool_choice must be \"auto\", \"required\", \"none\" or {\"type\": \"function\", \"function\": {\"name\": …}}.",
                Some("tool_choice"),
            ))
        }
    }))
}

/// The Messages API has no JSON mode: `response_format` becomes a system instruction.
fn json_instruction(format: Option<&Value>) -> Option<String> {
    let format = format?;
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => Some(match format.pointer("/json_schema/schema") {
            Some(schema) => format!(
                "Answer with a single JSON value that conforms to this JSON Schema, and nothing else (no prose, no code fences): {schema}"
            ),
            None => JSON_OBJECT.to_owned(),
        }),
        "json_object" => Some(JSON_OBJECT.to_owned()),
        _ => None,
    }
}

const JSON_OBJECT: &str =
    "Answer with a single valid JSON object, and nothing else (no prose, no code fences).";

#[cfg(test)]
mod tests;
