//! Upstream failures: retries, failover and the mapping into the contract.

use crate::common::*;
use serde_json::{json, Value};

async fn sim_chat(gw: &Gateway, text: &str) -> reqwest::Response {
    gw.chat(json!({"model": "sim/gpt-4o", "messages": user(text)}))
        .await
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let gw = Gateway::start("").await;
    let r = sim_chat(&gw, "hello [[sim:status=503,fail_times=2,id=flaky]]").await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.sim().requests_with_id("flaky").len(), 3);
    let r = sim_chat(&gw, "hello [[sim:reset,fail_times=1,id=reset1]]").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn failures_map_to_the_contract() {
    // Keep circuits closed: this test is about mapping, not health.
    let gw = Gateway::start("[health]\nconsecutive_failures = 1000\n").await;
    let cases: &[(&str, u16, &str)] = &[
        ("[[sim:status=500,id=e500]]", 502, "provider_error"),
        (
            "[[sim:code=context_length_exceeded]]",
            413,
            "request_too_large",
        ),
        ("[[sim:status=400]]", 400, "invalid_request_error"),
        ("[[sim:status=401]]", 502, "provider_error"),
        ("[[sim:status=404]]", 502, "provider_error"),
        ("[[sim:garbage]]", 502, "provider_error"),
        ("[[sim:reset]]", 502, "provider_error"),
        (
            "[[sim:status=429,retry_after=30]]",
            429,
            "rate_limit_exceeded",
        ),
    ];
    for (directive, status, kind) in cases {
        let r = sim_chat(&gw, &format!("x {directive}")).await;
        let h = r.headers().clone();
        assert_eq!(r.status().as_u16(), *status, "{directive}");
        let b = expect_error(r, *status, kind).await;
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(
            !msg.contains(SIM_KEY) && !msg.contains("127.0.0.1") && !msg.contains("http"),
            "{directive}: {msg}"
        );
        if *status == 429 {
            assert_eq!(
                h["retry-after"], "30",
                "the upstream's Retry-After reaches the client"
            );
        }
    }
    assert_eq!(
        gw.sim().requests_with_id("e500").len(),
        4,
        "first attempt plus max_retries"
    );
}

#[tokio::test]
async fn slow_first_byte_is_504() {
    let gw = Gateway::start("[retry]\nmax_retries = 0\n").await;
    let r = sim_chat(&gw, "x [[sim:delay_ms=4000]]").await;
    expect_error(r, 504, "timeout").await;
}

#[tokio::test]
async fn refused_connection_is_503() {
    let extra = r#"
[[providers]]
id = "dead"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "dead/model"
operations = ["chat_completions"]
context_window = 1000
routes = [{ provider = "dead" }]
"#;
    let gw = Gateway::start(extra).await;
    let r = gw
        .chat(json!({"model": "dead/model", "messages": user("x")}))
        .await;
    expect_error(r, 503, "provider_unavailable").await;
}

#[tokio::test]
async fn failover_to_another_deployment() {
    let extra = r#"
[[models]]
id = "sim/pair"
operations = ["chat_completions"]
context_window = 1000
routes = [
  { provider = "sim", upstream_model = "broken@status=500,id=primary", priority = 0 },
  { provider = "sim", upstream_model = "healthy@id=secondary", priority = 1 },
]
"#;
    let gw = Gateway::start(extra).await;
    let v: Value = gw
        .chat(json!({"model": "sim/pair", "messages": user("hello")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello");
    assert_eq!(v["model"], "sim/pair");
    assert_eq!(gw.sim().requests_with_id("primary").len(), 1);
    assert_eq!(gw.sim().requests_with_id("secondary").len(), 1);
}

#[tokio::test]
async fn circuit_opens_and_then_answers_503_at_once() {
    let extra = r#"
[health]
consecutive_failures = 2
cooldown_ms = 60000

[[models]]
id = "sim/down"
operations = ["chat_completions"]
context_window = 1000
routes = [{ provider = "sim", upstream_model = "down@status=500,id=down" }]
"#;
    let gw = Gateway::start(&format!("[retry]\nmax_retries = 0\n{extra}")).await;
    for _ in 0..2 {
        let r = gw
            .chat(json!({"model": "sim/down", "messages": user("x")}))
            .await;
        expect_error(r, 502, "provider_error").await;
    }
    let r = gw
        .chat(json!({"model": "sim/down", "messages": user("x")}))
        .await;
    let h = r.headers().clone();
    expect_error(r, 503, "provider_unavailable").await;
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        wait > 50,
        "Retry-After is the time to the next probe, clamped: {wait}"
    );
    assert_eq!(
        gw.sim().requests_with_id("down").len(),
        2,
        "an open circuit sends nothing upstream"
    );
}

#[tokio::test]
async fn exhausted_quota_is_502_and_cools_the_deployment_down() {
    let gw = Gateway::start("").await;
    let r = sim_chat(&gw, "x [[sim:code=insufficient_quota,id=quota]]").await;
    let b = expect_error(r, 502, "provider_error").await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("quota"),
        "{b}"
    );
    assert_eq!(
        gw.sim().requests_with_id("quota").len(),
        1,
        "no retry into an exhausted quota"
    );
    // The only deployment is out of rotation now.
    let r = sim_chat(&gw, "x").await;
    expect_error(r, 503, "provider_unavailable").await;
}
