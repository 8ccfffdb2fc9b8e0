//! Fault directives and the API key check, over real connections.

use std::time::{Duration, Instant};

use modelgate_simulator::SimulatorConfig;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn status_answers_the_provider_error_shape_with_retry_headers() {
    let sim = start().await;
    let resp = chat(&sim, user("gpt-4o@status=429,retry_after=2", "hi"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(resp.headers()["retry-after-ms"], "2000");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");
    assert!(v["error"]["param"].is_null());

    let resp = chat(&sim, user("gpt-4o", "hi [[sim:status=503]]"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("overloaded"));

    let resp = chat(&sim, user("gpt-4o@code=context_length_exceeded", "hi"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert_eq!(v["error"]["param"], "messages");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("This model's maximum context length is"));

    let resp = chat(&sim, user("gpt-4o@code=insufficient_quota", "hi"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "insufficient_quota");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You exceeded your current quota"));
}

#[tokio::test]
async fn fail_times_fails_then_succeeds_per_id() {
    let sim = start().await;
    let body = user("gpt-4o@status=503,fail_times=2,id=ft", "hello");
    assert_eq!(chat(&sim, body.clone()).await.unwrap().status(), 503);
    assert_eq!(chat(&sim, body.clone()).await.unwrap().status(), 503);
    let resp = chat(&sim, body.clone()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello");
    // Another id has its own count.
    let other = user("gpt-4o@status=503,fail_times=1,id=other", "x");
    assert_eq!(chat(&sim, other).await.unwrap().status(), 503);
    assert_eq!(sim.requests_with_id("ft").len(), 3);
    assert_eq!(sim.requests_with_id("other").len(), 1);
    assert_eq!(sim.requests().len(), 4);
}

#[tokio::test]
async fn reset_gives_a_client_error_not_a_response() {
    let sim = start().await;
    let err = chat(&sim, user("gpt-4o@reset,id=r", "hi"))
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(sim.requests_with_id("r").len(), 1);
    // The server keeps serving other connections.
    assert_eq!(
        chat(&sim, user("gpt-4o", "hi")).await.unwrap().status(),
        200
    );
    // Once fail_times runs out the same request succeeds.
    let body = user("gpt-4o@reset,fail_times=1,id=r2", "hi");
    assert!(chat(&sim, body.clone()).await.is_err());
    assert_eq!(chat(&sim, body).await.unwrap().status(), 200);
}

#[tokio::test]
async fn cut_after_ends_the_stream_without_done() {
    let sim = start().await;
    let mut body = user("gpt-4o@cut_after=2", "one two three four");
    body["stream"] = json!(true);
    let resp = chat(&sim, body).await.unwrap();
    assert_eq!(resp.status(), 200);
    let s = read_stream(resp).await;
    assert!(s.errored, "the body must end with an error");
    let chunks = s.json();
    assert_eq!(chunks.len(), 3, "role chunk and two words: {}", s.text());
    assert_eq!(chunks[2]["choices"][0]["delta"]["content"], "two ");
    assert!(!s.text().contains("[DONE]"));
    assert!(chunks
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test]
async fn cut_after_non_stream_cuts_the_body() {
    let sim = start().await;
    let resp = chat(&sim, user("gpt-4o@cut_after=0", "hello there"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err());
}

#[tokio::test]
async fn garbage_is_not_json() {
    let sim = start().await;
    let resp = chat(&sim, user("gpt-4o@garbage", "hi")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());

    let mut body = user("gpt-4o@garbage", "hi");
    body["stream"] = json!(true);
    let s = read_stream(chat(&sim, body).await.unwrap()).await;
    assert_eq!(s.data(), vec!["{not json"]);
}

#[tokio::test]
async fn delay_ms_holds_the_headers() {
    let sim = start().await;
    let started = Instant::now();
    let resp = chat(&sim, user("gpt-4o@delay_ms=200", "hi")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn api_key_is_checked() {
    let sim = start_with(SimulatorConfig {
        api_key: Some("sk-test-123456789".into()),
    })
    .await;
    let url = format!("{}/chat/completions", sim.openai_base_url());
    let body = user("gpt-4o", "hi");

    let resp = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You didn't provide an API key"));

    let resp = client()
        .post(&url)
        .bearer_auth("sk-wrong-000000000")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");

    let resp = client()
        .post(&url)
        .bearer_auth("sk-test-123456789")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sim.requests().len(), 3);
}
