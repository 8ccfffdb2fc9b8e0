//! A provider simulator: an HTTP server speaking the OpenAI, Anthropic and Gemini
//! wire formats on loopback, with fault injection, for the gateway's tests, its
//! benchmark and `modelgate mock`.
//!
//! # Endpoints
//!
//! - OpenAI: `POST /v1/chat/completions` (JSON or SSE), `POST /v1/embeddings`,
//!   `GET /v1/models`. Base URL: [`Simulator::openai_base_url`] (`http://ADDR/v1`).
//! - Anthropic: `POST /v1/messages` (JSON or SSE), `POST /v1/messages/count_tokens`.
//!   Base URL: [`Simulator::anthropic_base_url`] (`http://ADDR`).
//! - Gemini: `POST /v1beta/models/{model}:generateContent` and
//!   `:streamGenerateContent` (`?alt=sse` for SSE, else a streamed JSON array).
//!   Base URL: [`Simulator::gemini_base_url`] (`http://ADDR`).
//!
//! # Deterministic answers
//!
//! - The answer echoes the text of the last user message that has text (a string
//!   content, or its text parts joined by a space), with fault directives removed
//!   and whitespace normalised to single spaces; an empty echo becomes `ok`.
//! - Tokens are words: the prompt count is the number of whitespace-separated words
//!   over every message text, system included (after removing directives), the
//!   completion count is the number of words in the answer. A request limit
//!   (`max_tokens` / `max_completion_tokens`, Anthropic `max_tokens`, Gemini
//!   `generationConfig.maxOutputTokens`) below the answer's word count truncates
//!   the answer to that many words and finishes with `length` / `max_tokens` /
//!   `MAX_TOKENS`.
//! - Tools: when the request declares tools and the final message is a user message
//!   containing `call_tool`, the answer is a call of the first tool with the arguments
//!   `{"echo": "<answer text>"}` (never truncated; its completion tokens are the echo's
//!   words). After a tool result the answer is the plain echo, so agent loops end.
//! - Anthropic `thinking` (`enabled` or `adaptive`) adds a thinking block with the
//!   fixed text `The user wants an echo.` whose 5 words count as output tokens.
//! - Streams send one chunk per word (the word plus a space, except the last).
//!   OpenAI: a role chunk, the words, a chunk with `finish_reason`, a usage chunk if
//!   `stream_options.include_usage`, then `data: [DONE]`. Anthropic: `message_start`,
//!   `content_block_start`, `ping`, deltas, `content_block_stop`, `message_delta`,
//!   `message_stop` (`message_start` reports `output_tokens: 1` as the real API does;
//!   `message_delta` carries the total). Gemini: one `GenerateContentResponse` per word, then a final one
//!   with an empty text part, `finishReason` and `usageMetadata`; SSE events end with
//!   `\r\n\r\n` as Google's do.
//! - Responses carry `model` exactly as the request sent it (directives included;
//!   Gemini's `modelVersion` is the path's model segment).
//! - Response ids (`chatcmpl-sim…`, `msg_sim…`, `call_sim…`, `toolu_sim…`) differ per
//!   request, so a test can tell a replay from a second upstream call.
//! - Embeddings: unit vectors of 8 dimensions (or `dimensions`) from an FNV-1a hash
//!   of the normalised input text; `encoding_format: "base64"` is honoured.
//!
//! # Fault directives
//!
//! Given after `@` in the model name (`gpt-4o@status=503,id=abc`; for Gemini in the
//! path segment) or anywhere in a message text as `[[sim:status=503,id=abc]]`.
//! Comma-separated keys; an unknown key is a 400 naming it.
//!
//! | key | effect |
//! |---|---|
//! | `status=<code>` | answer that status with the provider's error body |
//! | `code=<string>` | the error code (`context_length_exceeded`, `insufficient_quota`, `invalid_api_key`, `model_not_found`, `rate_limit_exceeded`, `API_KEY_INVALID`, or any string: OpenAI `code`, Anthropic `error.type`, Gemini `status`); alone it implies a status |
//! | `retry_after=<secs>` | `Retry-After` (whole seconds, rounded up) on the error; OpenAI also `retry-after-ms` |
//! | `fail_times=<n>` | faults apply to the first n requests with this `id` (or, without one, this directive text), later ones succeed |
//! | `delay_ms=<n>` | wait before the response headers |
//! | `chunk_delay_ms=<n>` | wait between stream chunks (not a fault: `fail_times` does not gate it) |
//! | `reset` | read the request, then close the connection with a TCP reset and no response |
//! | `cut_after=<n>` | stream: send n content chunks, then abort the connection (no finish event, no `[DONE]`); non-stream: send the headers and half the body, then abort |
//! | `garbage` | 200 with a body that is not JSON (stream: one `data: {not json` event) |
//! | `safety` | blocked answer: Gemini `SAFETY` without text, OpenAI `content_filter`, Anthropic `refusal` |
//! | `redirect=<url>` | answer 307 with `Location: <url>` and no body |
//! | `id=<string>` | groups requests for [`Simulator::requests_with_id`] and `fail_times` |
//!
//! Content chunks are those carrying answer data: OpenAI word and tool-call chunks
//! (not the role chunk), Anthropic `content_block_delta` events, Gemini word chunks.
//!
//! # Authentication
//!
//! With [`SimulatorConfig::api_key`] set, requests must carry it: OpenAI
//! `Authorization: Bearer`, Anthropic `x-api-key`, Gemini `x-goog-api-key` or
//! `?key=`; otherwise the provider's own error (OpenAI and Anthropic 401, Gemini 400
//! `API_KEY_INVALID`). Requests are recorded before any check.

mod answer;
mod anthropic;
mod auth;
mod body;
mod directives;
mod errors;
mod exchange;
mod gemini;
mod openai;
mod routes;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use state::Shared;

/// How a simulator behaves beyond what requests ask for.
#[derive(Clone, Debug, Default)]
pub struct SimulatorConfig {
    /// The key every request must carry; `None` accepts any key or none.
    pub api_key: Option<String>,
}

/// One request as the simulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The URI path, without the query string.
    pub path: String,
    /// Header names are lowercase; values are lossily decoded as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The JSON body; `Null` when empty, a string when it is not JSON.
    pub body: serde_json::Value,
}

/// A running simulator; dropping it stops the server and its connections.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Simulator {
    /// Binds `addr` (use 127.0.0.1:0 in tests), serves in a background tokio task until dropped.
    pub async fn start(addr: SocketAddr, config: SimulatorConfig) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, true));
        let task = tokio::spawn(server::run(listener, Arc::clone(&shared)));
        Ok(Simulator { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, the OpenAI base URL convention (API root with version).
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://ADDR`, the Anthropic base URL convention (host root).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR`, the Gemini base URL convention (host root).
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order (the latest 100,000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests(None)
    }

    /// Requests whose fault directives carry `id=<id>`.
    pub fn requests_with_id(&self, id: &str) -> Vec<RecordedRequest> {
        self.shared.requests(Some(id))
    }

    /// Stops the server now (dropping does the same).
    pub fn shutdown(self) {}
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// Serve on an already-bound listener until the future is dropped (used by `modelgate mock`).
///
/// Requests are not recorded: nobody could read them back.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
) -> std::io::Result<()> {
    server::run(listener, Arc::new(Shared::new(config, false))).await
}
