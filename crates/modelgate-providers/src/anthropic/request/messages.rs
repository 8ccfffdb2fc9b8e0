//! OpenAI chat messages → Anthropic `system` and alternating user/assistant turns.
//!
//! system/developer → the top-level `system` text; user parts: text, `image_url`
//! (a `data:` URL inline as base64, an http(s) URL as a `url` source that Anthropic
//! fetches itself, so the gateway makes no server-side fetch) and `file` with inline
//! PDF or image data; assistant text and `tool_calls` → `tool_use` (arguments parsed
//! from their JSON string); `tool` messages → `tool_result` blocks in a user turn.
//! Consecutive turns of one role are merged, as Anthropic requires alternation;
//! empty turns are left out. Earlier `reasoning_content` is dropped (it carries no
//! signature, and Anthropic ignores earlier turns' thinking anyway).

use crate::anthropic::wire::{Block, Message, Role, Source};
use modelgate_core::model_id::quoted;
use modelgate_core::openai::ChatMessage;
use modelgate_core::GatewayError;
use serde_json::{Map, Value};

#[derive(Debug, Default)]
pub struct Converted {
    /// The text of every system/developer message, in order.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    /// The last assistant turn holds tool_use: the conversation is in a tool loop.
    pub in_tool_loop: bool,
}

pub fn convert(msgs: &[ChatMessage]) -> Result<Converted, GatewayError> {
    let mut out = Converted::default();
    for (i, m) in msgs.iter().enumerate() {
        let (role, blocks) = match m.role.as_str() {
            "system" | "developer" => {
                let text = m.text();
                if !text.trim().is_empty() {
                    out.system.push(text);
                }
                continue;
            }
            "user" => (Role::User, user_blocks(m.content.as_ref(), i)?),
            "assistant" => (Role::Assistant, assistant_blocks(m, i)?),
            "tool" => (Role::User, vec![tool_result(m, i)?]),
            other => {
                let param = format!("messages[{i}].role");
                return Err(GatewayError::invalid(
                    format!("{param} \"{}\" is not supported: use system, developer, user, assistant or tool.", quoted(other)),
                    Some(&param),
                ));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match out.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.messages.push(Message {
                role,
                content: blocks,
            }),
        }
    }
    out.in_tool_loop = out
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .is_some_and(|m| m.content.iter().any(|b| matches!(b, Block::ToolUse { .. })));
    Ok(out)
}

fn invalid(param: String, problem: &str) -> GatewayError {
    GatewayError::invalid(format!("{param} {problem}"), Some(&param))
}

fn text_block(text: &str) -> Option<Block> {
    // Anthropic refuses empty text blocks.
    (!text.is_empty()).then(|| Block::Text {
        text: text.to_owned(),
    })
}

fn user_blocks(content: Option<&Value>, i: usize) -> Result<Vec<Block>, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(text_block(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                blocks.extend(part_block(part, format!("messages[{i}].content[{j}]"))?);
            }
            Ok(blocks)
        }
        Some(_) => Err(invalid(
            format!("messages[{i}].content"),
            "must be a string or an array of content parts.",
        )),
    }
}

/// One content part of a user or tool message.
fn part_block(part: &Value, param: String) -> Result<Option<Block>, GatewayError> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => Ok(text_block(
            part.get("text").and_then(Value::as_str).unwrap_or(""),
        )),
        "image_url" => {
            let image = part.get("image_url");
            let url = image
                .and_then(|i| i.get("url"))
                .or(image)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{param}.image_url.url"), "is required."))?;
            image_block(url, &format!("{param}.image_url.url")).map(Some)
        }
        "file" => file_block(part.get("file"), &param).map(Some),
        other => Err(invalid(
            param,
            &format!(
                "has type \"{}\", which this model does not take: use text, image_url or file.",
                quoted(other)
            ),
        )),
    }
}

fn image_block(url: &str, param: &str) -> Result<Block, GatewayError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("data:") {
        let (media_type, data) = data_url(url, param)?;
        return Ok(Block::Image {
            source: Source::Base64 {
                media_type: image_media_type(&media_type, param)?,
                data,
            },
        });
    }
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(Block::Image {
            source: Source::Url {
                url: url.to_owned(),
            },
        });
    }
    Err(invalid(
        param.to_owned(),
        "must be an http(s) URL or a data: URL with base64 image data.",
    ))
}

/// The image types Anthropic accepts.
fn image_media_type(media_type: &str, param: &str) -> Result<String, GatewayError> {
    match media_type {
        "image/jpeg" | "image/jpg" => Ok("image/jpeg".into()),
        "image/png" | "image/gif" | "image/webp" => Ok(media_type.to_owned()),
        other => Err(invalid(
            param.to_owned(),
            &format!(
                "holds \"{}\", which this model does not take: use JPEG, PNG, GIF or WebP.",
                quoted(other)
            ),
        )),
    }
}

/// An OpenAI `file` part with inline `file_data`: a PDF becomes a document block, an
/// image an image block; uploaded `file_id`s are not resolved for this provider.
fn file_block(file: Option<&Value>, param: &str) -> Result<Block, GatewayError> {
    let param = format!("{param}.file.file_data");
    let url = file
        .and_then(|f| f.get("file_data"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                param.clone(),
                "is required: this model takes files inline as a base64 data: URL.",
            )
        })?;
    let (media_type, data) = data_url(url, &param)?;
    if media_type == "application/pdf" {
        return Ok(Block::Document {
            source: Source::Base64 { media_type, data },
        });
    }
    Ok(Block::Image {
        source: Source::Base64 {
            media_type: image_media_type(&media_type, &param)?,
            data,
        },
    })
}

/// `data:<media type>[;params];base64,<data>` → (media type, data).
fn data_url(url: &str, param: &str) -> Result<(String, String), GatewayError> {
    let parsed = url
        .get(5..)
        .and_then(|rest| rest.split_once(','))
        .and_then(|(header, data)| {
            let mut fields = header.split(';');
            let media = fields.next()?.trim().to_ascii_lowercase();
            let base64 = fields.any(|f| f.trim().eq_ignore_ascii_case("base64"));
            (base64 && !media.is_empty() && !data.is_empty()).then(|| (media, data.to_owned()))
        });
    parsed.ok_or_else(|| {
        invalid(
            param.to_owned(),
            "must be a data: URL with a media type and base64 data (data:image/png;base64,…).",
        )
    })
}

fn assistant_blocks(m: &ChatMessage, i: usize) -> Result<Vec<Block>, GatewayError> {
    let mut blocks = Vec::new();
    match &m.content {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => blocks.extend(text_block(s)),
        Some(Value::Array(parts)) => {
            for part in parts {
                let text = part
                    .get("text")
                    .or_else(|| part.get("refusal"))
                    .and_then(Value::as_str);
                blocks.extend(text.and_then(text_block));
            }
        }
        Some(_) => {
            return Err(invalid(
                format!("messages[{i}].content"),
                "must be a string or an array of content parts.",
            ))
        }
    }
    if let Some(calls) = m.extra.get("tool_calls").and_then(Value::as_array) {
        for (j, call) in calls.iter().enumerate() {
            blocks.push(tool_use(call, i, j)?);
        }
    }
    Ok(blocks)
}

fn tool_use(call: &Value, i: usize, j: usize) -> Result<Block, GatewayError> {
    let param = format!("messages[{i}].tool_calls");
    let field = |path: &str| call.pointer(path).and_then(Value::as_str);
    let (Some(id), Some(name)) = (field("/id"), field("/function/name")) else {
        return Err(GatewayError::invalid(
            format!("{param}[{j}] needs an id and a function.name."),
            Some(&param),
        ));
    };
    let arguments = field("/function/arguments").unwrap_or("");
    let input = if arguments.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        match serde_json::from_str::<Value>(arguments) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(GatewayError::invalid(
                    format!(
                    "{param}[{j}].function.arguments must be a JSON object encoded as a string."
                ),
                    Some(&param),
                ))
            }
        }
    };
    Ok(Block::ToolUse {
        id: id.to_owned(),
        name: name.to_owned(),
        input,
    })
}

fn tool_result(m: &ChatMessage, i: usize) -> Result<Block, GatewayError> {
    let tool_use_id = m
        .extra
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                format!("messages[{i}].tool_call_id"),
                "is required on a tool message.",
            )
        })?;
    Ok(Block::ToolResult {
        tool_use_id: tool_use_id.to_owned(),
        content: user_blocks(m.content.as_ref(), i)?,
    })
}
