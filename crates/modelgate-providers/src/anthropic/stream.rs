//! Anthropic stream events → OpenAI chunks. The mapper is stateful: it remembers the
//! message ID, which content blocks are tool calls (and their OpenAI tool index,
//! counting tool_use blocks from 0), the usage so far and whether `message_stop`
//! arrived. Order of the chunks: the role chunk (at `message_start`), content, the
//! finish chunk (at `message_delta`), a usage chunk with no choices (at
//! `message_stop`; the server drops it when the client did not ask for usage).
//! An `error` event is a failure of the stream (`on_sse`), not a chunk.

use super::error::stream_error;
use super::response::{finish_reason, usage};
use super::wire::{BlockDelta, NativeUsage, ResponseBlock, StreamEvent};
use crate::UpstreamError;
use modelgate_core::openai::{
    ChatCompletionChunk, ChunkChoice, Delta, FunctionCall, ToolCallDelta, Usage,
};
use modelgate_core::GatewayError;
use serde_json::Map;
use std::collections::HashMap;

pub struct StreamMapper {
    id: String,
    model: String,
    created: i64,
    role_sent: bool,
    /// Anthropic content-block index → (OpenAI tool-call index, arguments seen).
    tools: HashMap<u32, (u32, bool)>,
    usage: NativeUsage,
    done: bool,
}

impl StreamMapper {
    pub fn new(model: &str, created: i64) -> Self {
        Self {
            id: "chatcmpl-anthropic".into(),
            model: model.to_owned(),
            created,
            role_sent: false,
            tools: HashMap::new(),
            usage: NativeUsage::default(),
            done: false,
        }
    }

    /// `message_stop` arrived: the answer is complete.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One SSE event's data: the chunks it yields, or the failure it reports (an
    /// `error` event, or data that is not an Anthropic event).
    pub fn on_sse(&mut self, data: &str) -> Result<Vec<ChatCompletionChunk>, UpstreamError> {
        match serde_json::from_str::<StreamEvent>(data) {
            Ok(StreamEvent::Error { error }) => Err(stream_error(&error, &self.model)),
            Ok(ev) => Ok(self.on_event(ev)),
            Err(_) => Err(UpstreamError::retriable(GatewayError::ProviderError {
                model: self.model.clone(),
                reason: "the provider sent a malformed stream event.".into(),
            })),
        }
    }

    pub fn on_event(&mut self, ev: StreamEvent) -> Vec<ChatCompletionChunk> {
        let mut out = Vec::new();
        match ev {
            StreamEvent::MessageStart { message } => {
                self.id = format!("chatcmpl-{}", message.id);
                self.merge_usage(message.usage);
                self.role(&mut out);
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.block_start(index, content_block, &mut out),
            StreamEvent::ContentBlockDelta { index, delta } => {
                self.block_delta(index, delta, &mut out)
            }
            StreamEvent::MessageDelta { delta, usage } => {
                // Token counts in message_delta are cumulative.
                self.merge_usage(usage);
                self.role(&mut out);
                let mut chunk = self.chunk(Delta::default());
                if let Some(choice) = chunk.choices.first_mut() {
                    choice.finish_reason = Some(finish_reason(delta.stop_reason.as_deref()).into());
                }
                out.push(chunk);
            }
            StreamEvent::MessageStop => {
                self.done = true;
                let mut chunk = self.chunk(Delta::default());
                chunk.choices.clear();
                chunk.usage = Some(usage(&self.usage));
                out.push(chunk);
            }
            StreamEvent::ContentBlockStop { index } => {
                // A tool called without input streams no JSON; clients expect "{}".
                if let Some((tool_index, false)) = self.tools.get(&index).copied() {
                    out.push(self.arguments_chunk(tool_index, "{}".into()));
                }
            }
            StreamEvent::Ping | StreamEvent::Error { .. } | StreamEvent::Unknown => {}
        }
        out
    }

    /// The usage reported so far (all of it once `message_stop` arrived), for
    /// billing a stream that ended early.
    pub fn finish(self) -> Usage {
        usage(&self.usage)
    }

    fn block_start(
        &mut self,
        index: u32,
        block: ResponseBlock,
        out: &mut Vec<ChatCompletionChunk>,
    ) {
        self.role(out);
        match block {
            ResponseBlock::Text { text } if !text.is_empty() => out.push(self.chunk(Delta {
                content: Some(text),
                ..Delta::default()
            })),
            ResponseBlock::Thinking { thinking } if !thinking.is_empty() => {
                out.push(self.chunk(Delta {
                    reasoning_content: Some(thinking),
                    ..Delta::default()
                }))
            }
            ResponseBlock::ToolUse { id, name, .. } => {
                let tool_index = self.tools.len() as u32;
                self.tools.insert(index, (tool_index, false));
                out.push(self.tool_chunk(ToolCallDelta {
                    index: tool_index,
                    id: Some(id),
                    kind: Some("function".into()),
                    function: Some(FunctionCall {
                        name: Some(name),
                        arguments: String::new(),
                    }),
                }));
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, index: u32, delta: BlockDelta, out: &mut Vec<ChatCompletionChunk>) {
        self.role(out);
        match delta {
            BlockDelta::TextDelta { text } if !text.is_empty() => out.push(self.chunk(Delta {
                content: Some(text),
                ..Delta::default()
            })),
            BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                out.push(self.chunk(Delta {
                    reasoning_content: Some(thinking),
                    ..Delta::default()
                }))
            }
            BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                if let Some((tool_index, seen)) = self.tools.get_mut(&index) {
                    *seen = true;
                    let tool_index = *tool_index;
                    out.push(self.arguments_chunk(tool_index, partial_json));
                }
            }
            _ => {}
        }
    }

    /// The opening chunk, once, before anything else.
    fn role(&mut self, out: &mut Vec<ChatCompletionChunk>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push(self.chunk(Delta {
                role: Some("assistant".into()),
                content: Some(String::new()),
                ..Delta::default()
            }));
        }
    }

    fn merge_usage(&mut self, u: NativeUsage) {
        let keep = |new: Option<u64>, old: Option<u64>| new.or(old);
        self.usage = NativeUsage {
            input_tokens: keep(u.input_tokens, self.usage.input_tokens),
            output_tokens: keep(u.output_tokens, self.usage.output_tokens),
            cache_creation_input_tokens: keep(
                u.cache_creation_input_tokens,
                self.usage.cache_creation_input_tokens,
            ),
            cache_read_input_tokens: keep(
                u.cache_read_input_tokens,
                self.usage.cache_read_input_tokens,
            ),
        };
    }

    fn arguments_chunk(&self, tool_index: u32, arguments: String) -> ChatCompletionChunk {
        self.tool_chunk(ToolCallDelta {
            index: tool_index,
            id: None,
            kind: None,
            function: Some(FunctionCall {
                name: None,
                arguments,
            }),
        })
    }

    fn tool_chunk(&self, call: ToolCallDelta) -> ChatCompletionChunk {
        self.chunk(Delta {
            tool_calls: Some(vec![call]),
            ..Delta::default()
        })
    }

    fn chunk(&self, delta: Delta) -> ChatCompletionChunk {
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

#[cfg(test)]
mod tests;
