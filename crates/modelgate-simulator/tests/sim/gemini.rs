//! Gemini generateContent / streamGenerateContent: shapes, safety, tools, errors.

use modelgate_simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};

use crate::common::*;

#[expect(clippy::unwrap_used, reason = "test helper")]
async fn generate(sim: &Simulator, model_and_method: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!(
            "{}/v1beta/models/{model_and_method}",
            sim.gemini_base_url()
        ))
        .header("x-goog-api-key", "AIza-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn ask(text: &str) -> Value {
    json!({
        "systemInstruction": { "parts": [{ "text": "be brief" }] },
        "contents": [{ "role": "user", "parts": [{ "text": text }] }]
    })
}

#[tokio::test]
async fn generate_content_shape() {
    let sim = start().await;
    let resp = generate(&sim, "gemini-2.5-flash:generateContent", ask("hello world")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let c = &v["candidates"][0];
    assert_eq!(
        c["content"],
        json!({ "parts": [{ "text": "hello world" }], "role": "model" })
    );
    assert_eq!(c["finishReason"], "STOP");
    assert_eq!(c["index"], 0);
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 4);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 2);
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 6);
    assert_eq!(v["modelVersion"], "gemini-2.5-flash");

    let mut body = ask("a b c");
    body["generationConfig"] = json!({ "maxOutputTokens": 2 });
    let v: Value = generate(&sim, "g:generateContent", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], "a b");
}

#[tokio::test]
async fn stream_sse_chunks_with_usage_last() {
    let sim = start().await;
    let resp = generate(
        &sim,
        "gemini-2.5-flash:streamGenerateContent?alt=sse",
        ask("one two three"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let s = read_stream(resp).await;
    assert!(s.text().contains("\r\n\r\n"));
    let chunks: Vec<Value> = s
        .text()
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks.len(), 4);
    let text: String = chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "one two three");
    assert!(chunks[..3].iter().all(|c| c.get("usageMetadata").is_none()));
    assert_eq!(chunks[3]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[3]["usageMetadata"]["candidatesTokenCount"], 3);

    // Without alt=sse the chunks form one JSON array.
    let resp = generate(&sim, "g:streamGenerateContent", ask("one two")).await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn safety_function_call_and_directives_in_path() {
    let sim = start().await;
    let v: Value = generate(&sim, "g:generateContent", ask("bad [[sim:safety]]"))
        .await
        .json()
        .await
        .unwrap();
    let c = &v["candidates"][0];
    assert_eq!(c["finishReason"], "SAFETY");
    assert!(c.get("content").is_none());

    let mut body = ask("call_tool now");
    body["tools"] = json!([{ "functionDeclarations": [{ "name": "lookup" }] }]);
    let v: Value = generate(&sim, "g:generateContent", body)
        .await
        .json()
        .await
        .unwrap();
    let call = &v["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "lookup");
    assert_eq!(call["args"], json!({ "echo": "call_tool now" }));

    let resp = generate(
        &sim,
        "gemini-2.5-flash@status=429,retry_after=7,id=g1:generateContent",
        ask("hi"),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 429);
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(v["error"]["details"][0]["retryDelay"], "7s");
    assert_eq!(sim.requests_with_id("g1").len(), 1);
    assert_eq!(
        sim.requests_with_id("g1")[0].path,
        "/v1beta/models/gemini-2.5-flash@status=429,retry_after=7,id=g1:generateContent"
    );
}

#[tokio::test]
async fn api_key_invalid_is_400() {
    let sim = start_with(SimulatorConfig {
        api_key: Some("AIza-good".into()),
    })
    .await;
    let resp = generate(&sim, "g:generateContent", ask("hi")).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let resp = client()
        .post(format!(
            "{}/v1beta/models/g:generateContent?key=AIza-good",
            sim.gemini_base_url()
        ))
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
