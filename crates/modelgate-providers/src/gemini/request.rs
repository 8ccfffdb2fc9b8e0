//! OpenAI chat request → Gemini `GenerateContentRequest`.
//!
//! system/developer → `systemInstruction`; user → `user`, assistant → `model`
//! (consecutive turns of one role merged, as Gemini wants alternation); tool results
//! → `functionResponse` parts in a user turn; tools, tool_choice, sampling, output
//! limit, stop, n, seed, penalties, response_format and reasoning effort →
//! `tools` / `toolConfig` / `generationConfig`. Fields Gemini has no equivalent for
//! (`user`, `logit_bias`, `logprobs`, `parallel_tool_calls`, `metadata`, …) and
//! assistant `reasoning_content` are dropped.

use super::ids::signature_of;
use super::parts::{text_parts, user_parts, Images};
use super::schema;
use super::wire::{
    Content, FunctionCall, FunctionCallingConfig, FunctionDeclaration, FunctionResponse,
    GenerateContentRequest, GenerationConfig, Part, ThinkingConfig, Tool, ToolConfig,
};
use crate::ChatCall;
use modelgate_core::model_id::{quoted, ReasoningEffort};
use modelgate_core::openai::{ChatMessage, Stop};
use modelgate_core::GatewayError;
use serde_json::{json, Value};

/// Google's documented placeholder for a function call whose signature was lost
/// (history written by the client or another model): Gemini 3 then skips validation.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

pub fn to_native(
    call: &ChatCall<'_>,
    images: &Images,
) -> Result<GenerateContentRequest, GatewayError> {
    let req = call.request;
    let model = &call.route.upstream_model;
    let mut system = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        let (role, parts) = match m.role.as_str() {
            "system" | "developer" => {
                system.extend(text_parts(m.content.as_ref(), &param)?);
                continue;
            }
            "user" => ("user", user_parts(m.content.as_ref(), &param, images)?),
            "assistant" => ("model", assistant_parts(m, &param, uses_levels(model))?),
            "tool" | "function" => ("user", vec![tool_result(&req.messages, i, &param)?]),
            other => {
                let field = format!("{param}.role");
                return Err(GatewayError::invalid(
                    format!(
                        "'{field}' is \"{}\"; use system, developer, user, assistant or tool.",
                        quoted(other)
                    ),
                    Some(&field),
                ));
            }
        };
        push_turn(&mut contents, role, parts);
    }
    if contents.is_empty() {
        return Err(GatewayError::invalid(
            "'messages' must hold at least one user or assistant message with content.",
            Some("messages"),
        ));
    }
    let generation_config = generation_config(call)?;
    Ok(GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        tools: tools(req.tools.as_deref())?,
        tool_config: tool_config(req.tool_choice.as_ref())?,
        generation_config: (!generation_config.is_empty()).then_some(generation_config),
    })
}

fn push_turn(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content {
            role: Some(role.to_owned()),
            parts,
        }),
    }
}

fn assistant_parts(m: &ChatMessage, param: &str, gemini3: bool) -> Result<Vec<Part>, GatewayError> {
    let mut parts = text_parts(m.content.as_ref(), param)?;
    let calls = match m.extra.get("tool_calls") {
        None | Some(Value::Null) => return Ok(parts),
        Some(Value::Array(calls)) => calls,
        Some(_) => {
            return Err(invalid_field(
                &format!("{param}.tool_calls"),
                "must be an array of tool calls",
            ))
        }
    };
    let first_call = parts.len();
    for (j, c) in calls.iter().enumerate() {
        let here = format!("{param}.tool_calls[{j}]");
        let f = c.get("function").unwrap_or(&Value::Null);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_field(&format!("{here}.function.name"), "must be a string"))?;
        let args = arguments(f.get("arguments"), &format!("{here}.function.arguments"))?;
        let signature = c.get("id").and_then(Value::as_str).and_then(signature_of);
        parts.push(Part {
            function_call: Some(FunctionCall {
                name: name.to_owned(),
                args,
            }),
            thought_signature: signature.map(str::to_owned),
            ..Part::default()
        });
    }
    // Gemini 3 wants a signature on the first call of each step; one we never issued
    // gets the documented placeholder rather than a 400.
    if let Some(first) = parts.get_mut(first_call) {
        if gemini3 && first.thought_signature.is_none() {
            first.thought_signature = Some(SKIP_SIGNATURE.to_owned());
        }
    }
    Ok(parts)
}

/// `function.arguments`: a JSON object in a string ("" means no arguments).
fn arguments(raw: Option<&Value>, field: &str) -> Result<Value, GatewayError> {
    let text = match raw {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(invalid_field(
                field,
                "must be a string holding a JSON object",
            ))
        }
    };
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(invalid_field(
            field,
            "must be a string holding a JSON object",
        )),
    }
}

/// A `tool` message (or legacy `function` message) as a `functionResponse` part,
/// named after the call it answers.
fn tool_result(messages: &[ChatMessage], i: usize, param: &str) -> Result<Part, GatewayError> {
    let m = &messages[i];
    let name = if m.role == "function" {
        m.extra
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| invalid_field(&format!("{param}.name"), "must name the function"))?
    } else {
        let field = format!("{param}.tool_call_id");
        let id = m
            .extra
            .get("tool_call_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid_field(
                    &field,
                    "must be the id of a tool call in an earlier assistant message",
                )
            })?;
        called_function(&messages[..i], id).ok_or_else(|| {
            GatewayError::invalid(
                format!("'{field}' is \"{}\", but no earlier assistant message has a tool call with that id. Send the assistant message with its tool_calls before the tool results.", quoted(id)),
                Some(&field),
            )
        })?
    };
    let text = m.text();
    let content = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    Ok(Part {
        function_response: Some(FunctionResponse {
            name,
            response: json!({ "content": content }),
        }),
        ..Part::default()
    })
}

fn called_function(earlier: &[ChatMessage], id: &str) -> Option<String> {
    earlier
        .iter()
        .rev()
        .filter(|m| m.role == "assistant")
        .filter_map(|m| m.extra.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|c| c.get("function")?.get("name")?.as_str())
        .map(str::to_owned)
}

fn tools(tools: Option<&[Value]>) -> Result<Vec<Tool>, GatewayError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut declarations = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
        if kind != "function" {
            let field = format!("tools[{i}].type");
            return Err(GatewayError::invalid(
                format!(
                    "'{field}' is \"{}\"; this model takes only function tools.",
                    quoted(kind)
                ),
                Some(&field),
            ));
        }
        let f = t.get("function").unwrap_or(&Value::Null);
        let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
            invalid_field(&format!("tools[{i}].function.name"), "must be a string")
        })?;
        let parameters = f
            .get("parameters")
            .map(schema::to_gemini)
            .filter(|p| !schema::is_empty_object(p));
        declarations.push(FunctionDeclaration {
            name: name.to_owned(),
            description: f
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters,
        });
    }
    Ok(vec![Tool {
        function_declarations: declarations,
    }])
}

fn tool_config(choice: Option<&Value>) -> Result<Option<ToolConfig>, GatewayError> {
    let (mode, allowed) = match choice {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ("AUTO", None),
            "none" => ("NONE", None),
            "required" => ("ANY", None),
            _ => return Err(bad_tool_choice()),
        },
        Some(v) => {
            let name = v
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match name {
                Some(n) => ("ANY", Some(vec![n.to_owned()])),
                None => return Err(bad_tool_choice()),
            }
        }
    };
    Ok(Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode: mode.to_owned(),
            allowed_function_names: allowed,
        },
    }))
}

fn bad_tool_choice() -> GatewayError {
    GatewayError::invalid(
        "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}.",
        Some("tool_choice"),
    )
}

fn generation_config(call: &ChatCall<'_>) -> Result<GenerationConfig, GatewayError> {
    let req = call.request;
    let (response_mime_type, response_schema) = response_format(req.response_format.as_ref())?;
    Ok(GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.output_limit().or(call.max_output_tokens),
        stop_sequences: match &req.stop {
            Some(Stop::One(s)) => Some(vec![s.clone()]),
            Some(Stop::Many(v)) if !v.is_empty() => Some(v.clone()),
            _ => None,
        },
        candidate_count: req.n.filter(|n| *n != 1),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type,
        response_schema,
        thinking_config: call.effort.map(|e| thinking(&call.route.upstream_model, e)),
    })
}

fn response_format(rf: Option<&Value>) -> Result<(Option<String>, Option<Value>), GatewayError> {
    let Some(rf) = rf.filter(|v| !v.is_null()) else {
        return Ok((None, None));
    };
    let json_mime = Some("application/json".to_owned());
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok((None, None)),
        Some("json_object") => Ok((json_mime, None)),
        Some("json_schema") => {
            let schema = rf.get("json_schema").and_then(|j| j.get("schema"));
            Ok((json_mime, schema.map(schema::to_gemini)))
        }
        _ => Err(GatewayError::invalid(
            "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\".",
            Some("response_format.type"),
        )),
    }
}

/// Gemini 2.5 takes a token budget, Gemini 3 and later a level (never both: 400).
/// Budgets: low 1024, medium 8192, high 24576 (2.5 Flash's ceiling), max 32768 on
/// 2.5 Pro. Levels: Gemini 3.0 Pro knows only low and high, so medium is high there.
/// Thought summaries are asked for so they come back as `reasoning_content`.
fn thinking(model: &str, effort: ReasoningEffort) -> ThinkingConfig {
    let name = model.rsplit('/').next().unwrap_or(model);
    let mut config = ThinkingConfig {
        include_thoughts: Some(true),
        ..ThinkingConfig::default()
    };
    if uses_levels(name) {
        let level = match effort {
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium if !name.starts_with("gemini-3-pro") => "medium",
            _ => "high",
        };
        config.thinking_level = Some(level.to_owned());
    } else {
        let budget = match effort {
            ReasoningEffort::Low => 1024,
            ReasoningEffort::Medium => 8192,
            ReasoningEffort::Max if name.contains("pro") => 32768,
            ReasoningEffort::High | ReasoningEffort::Max => 24576,
        };
        config.thinking_budget = Some(budget);
    }
    config
}

/// Gemini 1.x/2.x are the budget generation; anything else is treated as Gemini 3+.
fn uses_levels(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model);
    !(name.starts_with("gemini-1") || name.starts_with("gemini-2"))
}

fn invalid_field(field: &str, what: &str) -> GatewayError {
    GatewayError::invalid(format!("'{field}' {what}."), Some(field))
}

#[cfg(test)]
#[path = "request_tests.rs"]
pub(crate) mod tests;
