//! Anthropic Messages: shapes, stream event sequence, tools, thinking, errors.

use modelgate_simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};

use crate::common::*;

#[expect(clippy::unwrap_used, reason = "test helper")]
async fn messages(sim: &Simulator, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", sim.anthropic_base_url()))
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-ant-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn ask(model: &str, text: &str) -> Value {
    json!({
        "model": model, "max_tokens": 100, "system": "be brief",
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": text }] }]
    })
}

#[tokio::test]
async fn message_shape_and_usage() {
    let sim = start().await;
    let resp = messages(&sim, ask("claude-sonnet-4-5", "hello  there")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("request-id"));
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(
        v["content"],
        json!([{ "type": "text", "text": "hello there" }])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["stop_sequence"].is_null());
    assert_eq!(v["usage"]["input_tokens"], 4);
    assert_eq!(v["usage"]["output_tokens"], 2);

    let mut body = ask("m", "one two three");
    body["max_tokens"] = json!(1);
    let v: Value = messages(&sim, body).await.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], "one");
    assert_eq!(v["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn stream_event_sequence() {
    let sim = start().await;
    let mut body = ask("claude", "alpha beta");
    body["stream"] = json!(true);
    let s = read_stream(messages(&sim, body).await).await;
    assert!(!s.errored);
    let names: Vec<String> = s
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data = s.json();
    assert_eq!(data[0]["message"]["usage"]["input_tokens"], 4);
    assert_eq!(
        data[3]["delta"],
        json!({ "type": "text_delta", "text": "alpha " })
    );
    assert_eq!(data[4]["delta"]["text"], "beta");
    assert_eq!(data[6]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[6]["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn tool_use_and_thinking() {
    let sim = start().await;
    let mut body = ask("claude", "call_tool please");
    body["tools"] = json!([{ "name": "lookup", "input_schema": { "type": "object" } }]);
    body["thinking"] = json!({ "type": "enabled", "budget_tokens": 1024 });
    let v: Value = messages(&sim, body.clone()).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"][0]["type"], "thinking");
    assert_eq!(v["content"][0]["thinking"], "The user wants an echo.");
    assert_eq!(v["content"][1]["type"], "tool_use");
    assert_eq!(v["content"][1]["name"], "lookup");
    assert_eq!(
        v["content"][1]["input"],
        json!({ "echo": "call_tool please" })
    );
    // 2 echoed words + 5 thinking words.
    assert_eq!(v["usage"]["output_tokens"], 7);

    body["stream"] = json!(true);
    let data = read_stream(messages(&sim, body).await).await.json();
    let thinking: String = data
        .iter()
        .filter(|d| d["delta"]["type"] == "thinking_delta")
        .map(|d| d["delta"]["thinking"].as_str().unwrap())
        .collect();
    assert_eq!(thinking, "The user wants an echo.");
    let json_parts: Vec<&str> = data
        .iter()
        .filter(|d| d["delta"]["type"] == "input_json_delta")
        .map(|d| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert!(json_parts.len() >= 2);
    let input: Value = serde_json::from_str(&json_parts.concat()).unwrap();
    assert_eq!(input, json!({ "echo": "call_tool please" }));
    let tool_start = data
        .iter()
        .find(|d| d["content_block"]["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool_start["index"], 1);
    assert_eq!(tool_start["content_block"]["input"], json!({}));
}

#[tokio::test]
async fn errors_in_anthropic_shape() {
    let sim = start().await;
    let resp = messages(&sim, ask("claude@status=529,retry_after=3", "hi")).await;
    assert_eq!(resp.status(), 529);
    assert_eq!(resp.headers()["retry-after"], "3");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error");
    assert_eq!(v["error"]["message"], "Overloaded");

    let v: Value = messages(&sim, ask("claude@status=429", "hi"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");

    let mut body = ask("claude", "hi");
    body.as_object_mut().unwrap().remove("max_tokens");
    let resp = messages(&sim, body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");

    let resp = client()
        .post(format!("{}/v1/messages", sim.anthropic_base_url()))
        .json(&ask("claude", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "anthropic-version is required");
}

#[tokio::test]
async fn api_key_and_stream_cut() {
    let sim = start_with(SimulatorConfig {
        api_key: Some("sk-ant-good".into()),
    })
    .await;
    let resp = messages(&sim, ask("claude", "hi")).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");

    let sim = start().await;
    let mut body = ask("claude@cut_after=1", "one two three");
    body["stream"] = json!(true);
    let s = read_stream(messages(&sim, body).await).await;
    assert!(s.errored);
    assert!(s.text().contains("\"one \""));
    assert!(!s.text().contains("two"));
    assert!(!s.text().contains("message_stop"));
}
