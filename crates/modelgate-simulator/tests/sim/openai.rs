//! OpenAI chat completions, embeddings and models: shapes and deterministic numbers.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn non_stream_echoes_with_word_usage() {
    let sim = start().await;
    let body = json!({
        "model": "gpt-4o",
        "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": [{ "type": "text", "text": "Hello" }, { "type": "text", "text": " big\n world " }] }
        ]
    });
    let resp = chat(&sim, body).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello big world");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 5);
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(v["usage"]["total_tokens"], 8);

    let recorded = sim.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, "/v1/chat/completions");
    assert_eq!(recorded[0].body["model"], "gpt-4o");
    assert!(recorded[0].headers.iter().any(|(k, _)| k == "content-type"));
}

#[tokio::test]
async fn empty_echo_is_ok_and_max_tokens_truncates() {
    let sim = start().await;
    let v: Value = chat(&sim, user("m", "[[sim:id=e]]"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "ok");
    assert_eq!(v["usage"]["prompt_tokens"], 0);
    assert_eq!(v["usage"]["completion_tokens"], 1);

    let mut body = user("m", "one two three four");
    body["max_completion_tokens"] = json!(2);
    let v: Value = chat(&sim, body).await.unwrap().json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "one two");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn stream_sends_role_words_finish_usage_done() {
    let sim = start().await;
    let mut body = user("gpt-4o", "alpha beta gamma");
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    let resp = chat(&sim, body).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let s = read_stream(resp).await;
    assert!(!s.errored);
    assert_eq!(s.data().last().unwrap(), "[DONE]");
    let chunks = s.json();
    assert_eq!(chunks.len(), 6);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({ "role": "assistant", "content": "", "refusal": null })
    );
    let words: Vec<&str> = chunks[1..4]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(words, vec!["alpha ", "beta ", "gamma"]);
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[4]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["prompt_tokens"], 3);
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 3);
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "gpt-4o"));
}

#[tokio::test]
async fn stream_chunks_arrive_incrementally() {
    let sim = start().await;
    let mut body = user("gpt-4o@chunk_delay_ms=100", "one two three four five");
    body["stream"] = json!(true);
    let s = read_stream(chat(&sim, body).await.unwrap()).await;
    // Six gaps of 100 ms separate the first and last events: if they were buffered
    // and sent together, they would arrive within one read.
    let first = s.reads.first().unwrap().0;
    let last = s.reads.last().unwrap().0;
    assert!(
        last - first >= Duration::from_millis(400),
        "{:?}",
        last - first
    );
    assert!(s.reads.len() >= 5);
    assert_eq!(s.data().last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn tool_call_non_stream_and_stream() {
    let sim = start().await;
    let tools = json!([{ "type": "function", "function": { "name": "lookup", "parameters": { "type": "object" } } }]);
    let mut body = user("gpt-4o", "please call_tool \"now\"");
    body["tools"] = tools.clone();
    let v: Value = chat(&sim, body.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "lookup");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({ "echo": "please call_tool \"now\"" }));

    body["stream"] = json!(true);
    let chunks = read_stream(chat(&sim, body).await.unwrap()).await.json();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["function"]["name"], "lookup");
    assert_eq!(first["function"]["arguments"], "");
    let fragments: Vec<&str> = chunks[1..]
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert!(fragments.len() >= 2);
    let joined: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(joined, args);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    // After a tool result the answer is plain text, so agent loops end.
    let body = json!({
        "model": "gpt-4o", "tools": tools,
        "messages": [
            { "role": "user", "content": "call_tool" },
            { "role": "assistant", "tool_calls": [] },
            { "role": "tool", "tool_call_id": "call_1", "content": "result" }
        ]
    });
    let v: Value = chat(&sim, body).await.unwrap().json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn embeddings_and_models() {
    let sim = start().await;
    let resp = client()
        .post(format!("{}/embeddings", sim.openai_base_url()))
        .json(&json!({ "model": "text-embedding-3-small", "input": ["hello world", "hello world", "x"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(v["data"][0]["embedding"], v["data"][1]["embedding"]);
    assert_ne!(v["data"][0]["embedding"], v["data"][2]["embedding"]);
    assert_eq!(v["usage"]["prompt_tokens"], 5);

    let v: Value = client()
        .get(format!("{}/models", sim.openai_base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert!(!v["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let sim = start().await;
    let resp = client()
        .post(format!("{}/chat/completions", sim.openai_base_url()))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(sim.requests()[0].body, json!("{nope"));

    let resp = chat(&sim, user("m@bogus=1", "hi")).await.unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("bogus"));

    let resp = client()
        .get(format!("{}/nowhere", sim.openai_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
