//! Shared helpers: start a simulator, post JSON, read SSE streams.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::time::Instant;

use futures_util::StreamExt;
use modelgate_simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};

pub async fn start() -> Simulator {
    start_with(SimulatorConfig::default()).await
}

pub async fn start_with(config: SimulatorConfig) -> Simulator {
    Simulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POST `body` to the OpenAI chat endpoint.
pub async fn chat(sim: &Simulator, body: Value) -> reqwest::Result<reqwest::Response> {
    client()
        .post(format!("{}/chat/completions", sim.openai_base_url()))
        .json(&body)
        .send()
        .await
}

pub fn user(model: &str, text: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": text }] })
}

/// A stream read to its end: every network read with its arrival time, and
/// whether the body ended with an error (an aborted connection).
pub struct Streamed {
    pub reads: Vec<(Instant, String)>,
    pub errored: bool,
}

impl Streamed {
    pub fn text(&self) -> String {
        self.reads.iter().map(|(_, s)| s.as_str()).collect()
    }

    /// The `data:` payloads, in order.
    pub fn data(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .flat_map(|event| event.lines())
            .filter_map(|l| l.strip_prefix("data: "))
            .map(str::to_string)
            .collect()
    }

    /// The JSON `data:` payloads (skipping `[DONE]`).
    pub fn json(&self) -> Vec<Value> {
        self.data()
            .iter()
            .filter(|d| d.as_str() != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }
}

pub async fn read_stream(resp: reqwest::Response) -> Streamed {
    let mut body = resp.bytes_stream();
    let mut reads = Vec::new();
    let mut errored = false;
    while let Some(item) = body.next().await {
        match item {
            Ok(bytes) => reads.push((Instant::now(), String::from_utf8(bytes.to_vec()).unwrap())),
            Err(_) => {
                errored = true;
                break;
            }
        }
    }
    Streamed { reads, errored }
}
