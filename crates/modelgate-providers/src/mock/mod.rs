//! The built-in `mock` kind (DESIGN §3): answers deterministically by echoing the last
//! user message, one stream chunk per word, with usage counted in words; the client's
//! `x-mock-fault` header injects failures that then go through the gateway's normal
//! retries, mapping and billing.

mod embeddings;
mod fault;
mod images;
mod responses;

pub use embeddings::embeddings;
pub use images::images;
pub use responses::responses;

use crate::{ChatCall, ChatResponse, UpstreamError};
use fault::Fault;
use modelgate_core::openai::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, Delta, Usage,
};
use serde_json::Map;
use std::time::Duration;

pub async fn chat(call: &ChatCall<'_>) -> Result<ChatResponse, UpstreamError> {
    let fault = Fault::parse(call.mock_fault.unwrap_or(""))?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(err) = fault.failure(call.canonical_model) {
        return Err(err);
    }
    let answer = Answer::for_call(call);
    if call.request.is_stream() {
        return Ok(ChatResponse::Stream(
            answer.into_stream(call.canonical_model, fault.cut_after),
        ));
    }
    if fault.cut_after.is_some() {
        return Err(fault::broken_connection(call.canonical_model));
    }
    Ok(ChatResponse::Complete(
        answer.into_completion(call.canonical_model),
    ))
}

struct Answer {
    reasoning: Option<String>,
    words: Vec<String>,
    finish_reason: &'static str,
    usage: Usage,
}

impl Answer {
    fn for_call(call: &ChatCall<'_>) -> Answer {
        let prompt_words: usize = call
            .request
            .messages
            .iter()
            .map(|m| m.text().split_whitespace().count())
            .sum();
        let last_user = call
            .request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.text())
            .unwrap_or_default();
        let mut words: Vec<String> = last_user.split_whitespace().map(str::to_owned).collect();
        if words.is_empty() {
            words.push("ok".into());
        }
        let limit = call.request.output_limit().or(call.max_output_tokens);
        let mut reasoning_words: Vec<&str> = Vec::new();
        let reasoning_text = call
            .effort
            .map(|e| format!("Reasoning at {} effort.", e.as_str()));
        if let Some(r) = &reasoning_text {
            reasoning_words = r.split_whitespace().collect();
        }
        // Like real reasoning models, the output limit covers reasoning and answer.
        let mut finish_reason = "stop";
        if let Some(limit) = limit.and_then(|l| usize::try_from(l).ok()) {
            if reasoning_words.len() + words.len() > limit {
                reasoning_words.truncate(limit);
                words.truncate(limit - reasoning_words.len());
                finish_reason = "length";
            }
        }
        let reasoning = (!reasoning_words.is_empty()).then(|| reasoning_words.join(" "));
        let reasoning_words = reasoning_words.len();
        let usage = Usage::new(prompt_words as u64, (words.len() + reasoning_words) as u64);
        Answer {
            reasoning,
            words,
            finish_reason,
            usage,
        }
    }

    fn into_completion(self, model: &str) -> ChatCompletion {
        ChatCompletion {
            id: new_id(),
            object: "chat.completion".into(),
            created: modelgate_core::time_fmt::now_unix(),
            model: model.to_owned(),
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant".into(),
                    content: Some(self.words.join(" ")),
                    reasoning_content: self.reasoning,
                    ..AssistantMessage::default()
                },
                finish_reason: Some(self.finish_reason.into()),
                extra: Map::new(),
            }],
            usage: Some(self.usage),
            extra: Map::new(),
        }
    }

    fn into_stream(self, model: &str, cut_after: Option<usize>) -> crate::ChunkStream {
        let template = ChunkTemplate {
            id: new_id(),
            created: modelgate_core::time_fmt::now_unix(),
            model: model.to_owned(),
        };
        let mut items: Vec<Result<ChatCompletionChunk, UpstreamError>> =
            Vec::with_capacity(self.words.len() + 4);
        items.push(Ok(template.delta(Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
            ..Delta::default()
        })));
        let mut content: Vec<Delta> = Vec::new();
        if let Some(r) = self.reasoning {
            content.push(Delta {
                reasoning_content: Some(r),
                ..Delta::default()
            });
        }
        let last = self.words.len().saturating_sub(1);
        for (i, w) in self.words.into_iter().enumerate() {
            let text = if i < last { format!("{w} ") } else { w };
            content.push(Delta {
                content: Some(text),
                ..Delta::default()
            });
        }
        let cut = cut_after.filter(|n| *n < content.len());
        for (i, delta) in content.into_iter().enumerate() {
            if cut == Some(i) {
                items.push(Err(fault::broken_connection(model)));
                return Box::pin(futures_util::stream::iter(items));
            }
            items.push(Ok(template.delta(delta)));
        }
        let mut finish = template.delta(Delta::default());
        if let Some(choice) = finish.choices.first_mut() {
            choice.finish_reason = Some(self.finish_reason.into());
        }
        items.push(Ok(finish));
        let mut usage = template.delta(Delta::default());
        usage.choices.clear();
        usage.usage = Some(self.usage);
        items.push(Ok(usage));
        Box::pin(futures_util::stream::iter(items))
    }
}

struct ChunkTemplate {
    id: String,
    created: i64,
    model: String,
}

impl ChunkTemplate {
    fn delta(&self, delta: Delta) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: None,
                extra: Map::new(),
            }],
            usage: None,
            extra: Map::new(),
        }
    }
}

fn new_id() -> String {
    format!("chatcmpl-mock{:016x}", fastrand::u64(..))
}
