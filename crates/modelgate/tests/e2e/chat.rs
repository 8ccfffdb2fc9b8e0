//! Chat completions through the simulator and the built-in mock, plain and streamed.

use crate::common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Reads an SSE body into its `data:` payloads, with the arrival time of each.
pub async fn sse_events(resp: reqwest::Response) -> Vec<(Instant, String)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    out.push((Instant::now(), data.to_owned()));
                }
            }
        }
    }
    out
}

fn content(events: &[(Instant, String)]) -> String {
    events
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn plain_completion_rewrites_the_model_and_passes_unknown_fields() {
    let gw = Gateway::start("").await;
    let r = gw
        .chat(json!({"model": "sim/gpt-4o", "messages": user("hello from the test [[sim:id=plain]]"), "temperature": 0.2, "vendor_flag": {"x": 1}}))
        .await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let timing = h["server-timing"].to_str().unwrap();
    assert!(
        timing.starts_with("gateway;dur=") && timing.contains("upstream;dur="),
        "{timing}"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["model"], "sim/gpt-4o");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "hello from the test");
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    // 4 input tokens at $1/Mtok + 4 output at $2/Mtok.
    assert_eq!(h["x-modelgate-cost-usd"], "0.000012");

    let sent = gw.sim().requests_with_id("plain");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    assert_eq!(
        body["model"], "gpt-4o",
        "the upstream gets its own model name"
    );
    assert_eq!(body["vendor_flag"], json!({"x": 1}));
    assert_eq!(body["temperature"], 0.2);
    let auth = sent[0]
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone());
    assert_eq!(auth.as_deref(), Some(format!("Bearer {SIM_KEY}").as_str()));
    assert!(
        !sent[0].headers.iter().any(|(_, v)| v.contains(&gw.key)),
        "the client's key never goes upstream"
    );
}

#[tokio::test]
async fn streamed_chunks_arrive_before_the_upstream_finishes() {
    let gw = Gateway::start("").await;
    let text = "one two three four five six [[sim:chunk_delay_ms=150,id=slow]]";
    let r = gw
        .chat(json!({"model": "sim/gpt-4o", "stream": true, "messages": user(text)}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = sse_events(r).await;
    let first_content = events
        .iter()
        .find(|(_, d)| d.contains("\"content\":\"one "))
        .map(|(t, _)| *t)
        .unwrap();
    let last = events.last().unwrap().0;
    // Five more words follow at 150 ms each: unbuffered relay shows the gap.
    assert!(
        last.duration_since(first_content) >= Duration::from_millis(500),
        "chunks were buffered"
    );
    assert_eq!(content(&events), "one two three four five six");
    assert_eq!(events.last().unwrap().1, "[DONE]");
    for (_, d) in &events[..events.len() - 1] {
        let v: Value = serde_json::from_str(d).unwrap();
        assert_eq!(v["model"], "sim/gpt-4o");
        assert!(
            v.get("usage").is_none() || v["usage"].is_null(),
            "no usage chunk unless asked: {d}"
        );
    }
    // The gateway always asks the upstream for usage, for billing.
    let sent = gw.sim().requests_with_id("slow");
    assert_eq!(sent[0].body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn stream_usage_chunk_carries_cost_when_asked() {
    let gw = Gateway::start("").await;
    let r = gw
        .chat(json!({"model": "sim/gpt-4o", "stream": true, "stream_options": {"include_usage": true}, "messages": user("a b c")}))
        .await;
    let events = sse_events(r).await;
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["cost_usd"], 0.000009);
}

#[tokio::test]
async fn mock_provider_echoes_and_honours_faults() {
    let gw = Gateway::start("").await;
    let v: Value = gw
        .chat(json!({"model": "demo/echo", "messages": user("hi there")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hi there");
    let r = gw
        .with_fault(
            &gw.key,
            "status=503",
            &json!({"model": "demo/echo", "messages": user("x")}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 502, "provider_error").await;
    let records = gw.usage(&gw.key, 2).await;
    let failed = records.iter().find(|r| r["status"] == 502).unwrap();
    assert_eq!(
        failed["attempts"], 4,
        "three retries after the first attempt"
    );
    assert_eq!(failed["error_type"], "provider_error");
    assert_eq!(failed["cost_usd"], 0.0);
}

#[tokio::test]
async fn mid_stream_failure_ends_with_an_error_event() {
    let gw = Gateway::start("").await;
    let r = gw
        .with_fault(
            &gw.key,
            "cut_after=2",
            &json!({"model": "demo/echo", "stream": true, "messages": user("w1 w2 w3 w4")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(r).await;
    assert_eq!(content(&events), "w1 w2 ");
    let err: Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(err["error"]["type"], "provider_error");
    assert_eq!(err["error"]["details"]["retryable"], true);
    // No usage report: bounded by the bytes streamed ("w1 w2 "), at least the words.
    let billed_tokens = err["error"]["details"]["completion_tokens"]
        .as_u64()
        .unwrap();
    assert!((2..=6).contains(&billed_tokens), "{err}");
    assert!(err["error"]["details"]["billed_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(events.last().unwrap().1, "[DONE]");
}

#[tokio::test]
async fn usage_records_cover_refusals_and_answers() {
    let gw = Gateway::start("").await;
    gw.chat(json!({"model": "nope/nope", "messages": user("x")}))
        .await;
    let r = gw
        .chat(json!({"model": "demo/echo", "messages": user("one two")}))
        .await;
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let records = gw.usage(&gw.key, 2).await;
    let ok = records
        .iter()
        .find(|r| r["request_id"] == request_id.as_str())
        .unwrap();
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["model"], "demo/echo");
    assert_eq!(ok["provider"], "mock");
    assert_eq!(ok["prompt_tokens"], 2);
    assert_eq!(ok["attempts"], 1);
    assert!(ok["created_at"].as_str().unwrap().ends_with('Z'));
    let refused = records.iter().find(|r| r["status"] == 404).unwrap();
    assert_eq!(refused["error_type"], "model_not_found");
    assert_eq!(refused["attempts"], 0);
}

#[tokio::test]
async fn slow_first_token_commits_the_stream_with_keepalives() {
    let gw = Gateway::start(
        "[retry]\nstream_keepalive_ms = 100\nbase_delay_ms = 1\nmax_delay_ms = 10\n",
    )
    .await;
    let body = json!({"model": "demo/echo", "stream": true, "messages": user("late words")});
    let started = Instant::now();
    let r = gw
        .with_fault(&gw.key, "delay_ms=600", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(550),
        "the 200 is committed before the first token"
    );
    let text = r.text().await.unwrap();
    let first_data = text.find("data: ").unwrap();
    assert!(text[..first_data].contains(": keep-alive\n\n"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));

    // After the commit a failure can only be an SSE error event.
    let r = gw
        .with_fault(&gw.key, "delay_ms=300,status=503", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(": keep-alive"), "{text}");
    assert!(text.contains("\"type\":\"provider_error\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}

#[tokio::test]
async fn injected_faults_never_change_deployment_health() {
    // A hair-trigger breaker: before issue 11 one faulted request opened it.
    let gw = Gateway::start("[health]\nconsecutive_failures = 2\ncooldown_ms = 60000\n").await;
    let body = json!({"model": "demo/echo", "messages": user("still here")});
    for _ in 0..4 {
        let r = gw
            .with_fault(&gw.key, "status=503", &body)
            .send()
            .await
            .unwrap();
        expect_error(r, 502, "provider_error").await;
    }
    let r = gw.with_fault(&gw.key, "reset", &body).send().await.unwrap();
    expect_error(r, 502, "provider_error").await;
    let r = gw
        .with_fault(&gw.key, "status=429", &body)
        .send()
        .await
        .unwrap();
    expect_error(r, 429, "rate_limit_exceeded").await;
    // Retries still happen (clients test their retry logic against them).
    let records = gw.usage(&gw.key, 6).await;
    assert!(
        records
            .iter()
            .filter(|r| r["status"] == 502)
            .all(|r| r["attempts"] == 4),
        "{records:?}"
    );
    // Nobody sees a cooling deployment: not this client, not another account.
    let r = gw.chat(body.clone()).await;
    assert_eq!(r.status(), 200);
    let (_, other) = gw.account_key(1.0, json!({}), json!({})).await;
    let r = gw.chat_as(&other, body.clone()).await;
    assert_eq!(r.status(), 200);
    // Later faults answer what they ask for, not a 503 from an open circuit.
    let r = gw
        .with_fault(&gw.key, "status=400", &body)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request_error").await;
    let stream = json!({"model": "demo/echo", "stream": true, "messages": user("w1 w2 w3")});
    let r = gw
        .with_fault(&gw.key, "cut_after=1", &stream)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(r).await;
    assert_eq!(content(&events), "w1 ");
}

#[tokio::test]
async fn output_limits_above_the_model_maximum_are_400_naming_the_field() {
    let gw = Gateway::start("").await;
    // demo/echo produces at most 4096 output tokens.
    for field in ["max_tokens", "max_completion_tokens"] {
        let r = gw
            .chat(json!({"model": "demo/echo", field: 4097, "messages": user("x")}))
            .await;
        let b = expect_error(r, 400, "invalid_request_error").await;
        assert_eq!(b["error"]["details"]["param"], field, "{b}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field) && msg.contains("4096"), "{msg}");
        let r = gw
            .chat(json!({"model": "demo/echo", field: 4096, "messages": user("x")}))
            .await;
        assert_eq!(r.status(), 200, "the maximum itself is fine");
    }
    let r = gw
        .post_as(
            &gw.key,
            "/v1/responses",
            json!({"model": "demo/echo", "input": "x", "max_output_tokens": 5000}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "max_output_tokens");
    // A field error comes before the balance: an empty account still gets the 400.
    let (_, broke) = gw.account_key(0.0, json!({}), json!({})).await;
    let r = gw
        .chat_as(
            &broke,
            json!({"model": "demo/think:high", "max_tokens": 9000, "messages": user("x")}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("8192"),
        "{b}"
    );
}

#[tokio::test]
async fn context_window_error_names_the_field_that_was_sent() {
    let extra = r#"
[[models]]
id = "test/tiny"
operations = ["chat_completions"]
context_window = 50
max_output_tokens = 40
pricing = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
routes = [{ provider = "mock", upstream_model = "echo" }]
"#;
    let gw = Gateway::start(extra).await;
    let words = "word ".repeat(20);
    for field in ["max_completion_tokens", "max_tokens"] {
        let r = gw
            .chat(json!({"model": "test/tiny", field: 40, "messages": user(&words)}))
            .await;
        let b = expect_error(r, 413, "request_too_large").await;
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("plus {field} (40)")), "{msg}");
        assert!(msg.ends_with(&format!("lower {field}.")), "{msg}");
        if field == "max_completion_tokens" {
            assert!(!msg.contains("max_tokens"), "{msg}");
        }
        assert_eq!(b["error"]["details"]["param"], field);
        assert_eq!(b["error"]["details"]["max_tokens"], 40);
    }
}

#[tokio::test]
async fn insufficient_balance_reads_as_one_sentence_with_plain_amounts() {
    let gw = Gateway::start("").await;
    // One micro-USD: serde_json alone would print it as 1e-6.
    let (_, key) = gw.account_key(0.000001, json!({}), json!({})).await;
    let r = gw
        .chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 1, "messages": user("hi")}),
        )
        .await;
    assert_eq!(r.status(), 402);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#""available_usd":0.000001"#), "{text}");
    assert!(text.contains(r#""balance_usd":0.000001"#), "{text}");
    assert!(!text.contains("e-"), "{text}");
    let b: Value = serde_json::from_str(&text).unwrap();
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("but the account's available balance is $0.000001."),
        "{msg}"
    );
}

#[tokio::test]

async fn costs_are_plain_decimals_in_records_and_usage_chunks() {
    let gw = Gateway::start("").await;
    // demo/echo, 3 words in and out: $0.000009, which serde_json alone prints as 9e-6.
    let r = gw
        .chat(json!({"model": "demo/echo", "messages": user("a b c")}))
        .await;
    assert_eq!(r.headers()["x-modelgate-cost-usd"], "0.000009");
    gw.usage(&gw.key, 1).await;
    let text = gw
        .http
        .get(gw.url("/api/usage"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""cost_usd":0.000009"#), "{text}");
    let r = gw
        .chat(json!({"model": "demo/echo", "stream": true, "stream_options": {"include_usage": true}, "messages": user("a b c")}))
        .await;
    let events = sse_events(r).await;
    let usage = &events[events.len() - 2].1;
    assert!(usage.contains(r#""cost_usd":0.000009"#), "{usage}");
}
