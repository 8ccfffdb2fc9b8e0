//! Token bounds before the call (DESIGN §4): bounds, not guesses. The upper bound sizes
//! the reservation (no overdraft); the lower bound decides 413 (no false 413).
//!
//! Cheap bounds, any provider, no tokenizer:
//! - upper: a BPE token encodes at least one byte, so a text's UTF-8 length bounds its
//!   tokens; each message adds at most `MESSAGE_FRAMING` tokens plus its role, the
//!   reply `REPLY_PRIMING`, each non-text part (image, audio, file) at most
//!   `NON_TEXT_PART_MAX`; tools and response formats count by their JSON length.
//! - lower: whitespace-separated words. Mainstream tokenizers (regex-pretokenized BPE
//!   of OpenAI, Anthropic and Llama; SentencePiece with whitespace splitting of
//!   Gemini) never merge two words into one token.
//!
//! Exact bounds, OpenAI families only, with the bundled tokenizer (`o200k_base`,
//! `cl100k_base`, no download): the tokens of the texts are exact, framing is bounded
//! as above. Exact counting costs CPU, so the gateway runs it only near a limit.

use crate::openai::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, FunctionCall};
use serde_json::Value;
use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

pub const MESSAGE_FRAMING: u64 = 4;
pub const REPLY_PRIMING: u64 = 3;
/// OpenAI's high-detail 2048x2048 image is 2,805 tokens; Anthropic caps an image near
/// 1,600 and Gemini at 258 per tile: 3,000 bounds one part for all three.
pub const NON_TEXT_PART_MAX: u64 = 3_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptBounds {
    pub lower: u64,
    pub upper: u64,
    /// Counted with the model family's real tokenizer.
    pub exact: bool,
}

/// The tokenizer of a model's family, where one is bundled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenizer {
    O200k,
    Cl100k,
}

impl Tokenizer {
    /// OpenAI models by canonical ID; older GPT-4 and GPT-3.5 use cl100k.
    pub fn for_model(model_id: &str) -> Option<Tokenizer> {
        let name = model_id.strip_prefix("openai/")?;
        if name.starts_with("gpt-3.5")
            || (name.starts_with("gpt-4")
                && !name.starts_with("gpt-4o")
                && !name.starts_with("gpt-4."))
        {
            Some(Tokenizer::Cl100k)
        } else {
            Some(Tokenizer::O200k)
        }
    }

    fn bpe(self) -> Option<&'static CoreBPE> {
        static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
        static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
        match self {
            Tokenizer::O200k => O200K
                .get_or_init(|| tiktoken_rs::o200k_base().ok())
                .as_ref(),
            Tokenizer::Cl100k => CL100K
                .get_or_init(|| tiktoken_rs::cl100k_base().ok())
                .as_ref(),
        }
    }

    pub fn count(self, text: &str) -> Option<u64> {
        Some(self.bpe()?.encode_ordinary(text).len() as u64)
    }
}

/// Tokens per byte of an inline file or audio part, an upper bound for every provider:
/// a PDF page costs at most ~3,000 tokens (image + text) and takes at least ~500
/// bytes; audio at most ~32 tokens per second, which takes well over 5 bytes.
pub const INLINE_DATA_TOKENS_PER_BYTE: u64 = 6;

/// What one content part can cost.
enum Part<'a> {
    Text(&'a str),
    /// Tokens at most (images, inline files and audio).
    Bounded(u64),
    /// Nothing in the request bounds it (a file by id, an unknown part type).
    Unbounded,
}

/// A part is what its `type` says: a `text` field on an image part is not its cost.
fn classify(part: &Value) -> Part<'_> {
    let kind = part.get("type").and_then(Value::as_str);
    let inline = |field: &str, data: &str| {
        part.get(field)
            .and_then(|v| v.get(data))
            .and_then(Value::as_str)
            .map(|d| Part::Bounded((d.len() as u64).saturating_mul(INLINE_DATA_TOKENS_PER_BYTE)))
            .unwrap_or(Part::Unbounded)
    };
    match kind {
        Some("text") | None => part
            .get("text")
            .and_then(Value::as_str)
            .map_or(Part::Unbounded, Part::Text),
        Some("image_url") => Part::Bounded(NON_TEXT_PART_MAX),
        Some("input_audio") => inline("input_audio", "data"),
        Some("file") => inline("file", "file_data"),
        Some(_) => Part::Unbounded,
    }
}

/// 400 naming the first content part whose cost nothing in the request bounds: the
/// reservation must be an upper bound of everything forwarded (DESIGN §4).
pub fn check_boundable(req: &ChatCompletionRequest) -> Result<(), crate::GatewayError> {
    // Billed by the call or at other prices than the catalog's text prices.
    if req
        .extra
        .get("web_search_options")
        .is_some_and(|v| !v.is_null())
    {
        return Err(crate::GatewayError::invalid(
            "'web_search_options' asks for server-side web searches, billed per call at a price this gateway does not know: remove it.",
            Some("web_search_options"),
        ));
    }
    let audio_out = req
        .extra
        .get("modalities")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|v| v.as_str() != Some("text")));
    if audio_out {
        return Err(crate::GatewayError::invalid(
            "'modalities' other than \"text\" ask for output priced differently from the catalog's text prices: ask for text only.",
            Some("modalities"),
        ));
    }
    for (i, m) in req.messages.iter().enumerate() {
        let Some(Value::Array(parts)) = &m.content else {
            continue;
        };
        for (j, p) in parts.iter().enumerate() {
            if matches!(classify(p), Part::Unbounded) {
                let param = format!("messages[{i}].content[{j}]");
                return Err(crate::GatewayError::invalid(
                    format!(
                        "'{param}' cannot be priced before the call: send text, an image_url, or a file or audio part with its data inline (files by id are not accepted here)."
                    ),
                    Some(&param),
                ));
            }
        }
    }
    Ok(())
}

/// Walks every text of a chat request; returns the token bound of its other parts.
fn for_each_text(req: &ChatCompletionRequest, mut text: impl FnMut(&str)) -> u64 {
    let mut non_text = 0u64;
    for m in &req.messages {
        match &m.content {
            Some(Value::String(s)) => text(s),
            Some(Value::Array(parts)) => {
                for p in parts {
                    match classify(p) {
                        Part::Text(t) => text(t),
                        Part::Bounded(n) => non_text = non_text.saturating_add(n),
                        // Refused by `check_boundable`; counted by its JSON otherwise.
                        Part::Unbounded => text(&p.to_string()),
                    }
                }
            }
            Some(other @ Value::Object(_)) => text(&other.to_string()),
            _ => {}
        }
        for v in m.extra.values() {
            match v {
                Value::String(s) => text(s),
                other => text(&other.to_string()),
            }
        }
    }
    for tool in req.tools.iter().flatten() {
        text(&tool.to_string());
    }
    for v in [&req.response_format, &req.tool_choice]
        .into_iter()
        .flatten()
    {
        text(&v.to_string());
    }
    non_text
}

fn framing(req: &ChatCompletionRequest) -> u64 {
    REPLY_PRIMING
        + req
            .messages
            .iter()
            .map(|m| {
                MESSAGE_FRAMING
                    + m.role.len() as u64
                    + m.extra.keys().map(|k| k.len() as u64).sum::<u64>()
            })
            .sum::<u64>()
}

/// Output tokens at most, for an answer the upstream sent without usage: each token
/// encodes at least one byte of the text it produced (DESIGN §4: never billed at zero).
pub fn chunk_output_upper(chunk: &ChatCompletionChunk) -> u64 {
    chunk
        .choices
        .iter()
        .map(|c| {
            let d = &c.delta;
            let calls: u64 = d
                .tool_calls
                .iter()
                .flatten()
                .map(|t| t.function.as_ref().map_or(0, call_bytes))
                .sum();
            text_bytes(&d.content) + text_bytes(&d.reasoning_content) + calls
        })
        .sum()
}

/// The same bound for a whole (non-streamed) answer.
pub fn completion_output_upper(completion: &ChatCompletion) -> u64 {
    completion
        .choices
        .iter()
        .map(|c| {
            let m = &c.message;
            let calls: u64 = m
                .tool_calls
                .iter()
                .flatten()
                .map(|t| call_bytes(&t.function))
                .sum();
            // At least one token per choice: a finished choice produced something.
            (text_bytes(&m.content) + text_bytes(&m.reasoning_content) + calls).max(1)
        })
        .sum()
}

fn text_bytes(text: &Option<String>) -> u64 {
    text.as_deref().map_or(0, |t| t.len() as u64)
}

fn call_bytes(f: &FunctionCall) -> u64 {
    (f.arguments.len() + f.name.as_deref().map_or(0, str::len)) as u64
}

/// Bounds from bytes and words: microseconds, no tokenizer.
pub fn chat_prompt_bounds(req: &ChatCompletionRequest) -> PromptBounds {
    let (mut bytes, mut words) = (0u64, 0u64);
    let non_text = for_each_text(req, |t| {
        bytes += t.len() as u64;
        words += t.split_whitespace().count() as u64;
    });
    PromptBounds {
        lower: words,
        upper: (framing(req) + bytes).saturating_add(non_text),
        exact: false,
    }
}

/// Bounds with the family's tokenizer; `None` when the family has none bundled.
pub fn exact_chat_prompt_bounds(
    req: &ChatCompletionRequest,
    tokenizer: Tokenizer,
) -> Option<PromptBounds> {
    let mut tokens = 0u64;
    let mut ok = true;
    let non_text = for_each_text(req, |t| match tokenizer.count(t) {
        Some(n) => tokens += n,
        None => ok = false,
    });
    ok.then(|| PromptBounds {
        lower: tokens,
        upper: (framing(req) + tokens).saturating_add(non_text),
        exact: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_json_body;

    fn req(body: &str) -> ChatCompletionRequest {
        parse_json_body(body.as_bytes()).unwrap()
    }

    #[test]
    fn cheap_bounds_cover_text_framing_and_images() {
        let r = req(
            r#"{"model":"a/b","messages":[{"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#,
        );
        let b = chat_prompt_bounds(&r);
        assert_eq!(
            b.upper,
            REPLY_PRIMING + MESSAGE_FRAMING + 4 + 11 + NON_TEXT_PART_MAX
        );
        assert_eq!(b.lower, 2);
    }

    #[test]
    fn exact_bounds_are_tighter_and_within_the_cheap_ones() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(20);
        let r = req(&format!(
            r#"{{"model":"openai/gpt-4o","messages":[{{"role":"user","content":"{text}"}}]}}"#
        ));
        let cheap = chat_prompt_bounds(&r);
        let exact = exact_chat_prompt_bounds(&r, Tokenizer::O200k).unwrap();
        assert_eq!(
            exact.lower, 201,
            "10 tokens per sentence in o200k, and the last space"
        );
        assert!(exact.upper < cheap.upper / 3);
        assert!(cheap.lower <= exact.lower);
    }

    #[test]
    fn parts_cost_what_their_type_says() {
        // A `text` field does not make an image part cheap.
        let r = req(
            r#"{"model":"a/b","messages":[{"role":"user","content":[{"type":"image_url","text":"x","image_url":{"url":"data:x"}}]}]}"#,
        );
        assert!(chat_prompt_bounds(&r).upper >= NON_TEXT_PART_MAX);
        let data = "A".repeat(100_000);
        let r = req(&format!(
            r#"{{"model":"a/b","messages":[{{"role":"user","content":[{{"type":"file","file":{{"file_data":"{data}"}}}}]}}]}}"#
        ));
        assert!(check_boundable(&r).is_ok());
        assert!(chat_prompt_bounds(&r).upper >= 600_000);
        let r = req(
            r#"{"model":"a/b","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"file","file":{"file_id":"file-1"}}]}]}"#,
        );
        let e = check_boundable(&r).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("messages[0].content[1]"));
    }

    #[test]
    fn families() {
        assert_eq!(
            Tokenizer::for_model("openai/gpt-4o-mini"),
            Some(Tokenizer::O200k)
        );
        assert_eq!(
            Tokenizer::for_model("openai/gpt-4.1"),
            Some(Tokenizer::O200k)
        );
        assert_eq!(
            Tokenizer::for_model("openai/gpt-4-turbo"),
            Some(Tokenizer::Cl100k)
        );
        assert_eq!(Tokenizer::for_model("anthropic/claude-sonnet-4.5"), None);
    }
}
