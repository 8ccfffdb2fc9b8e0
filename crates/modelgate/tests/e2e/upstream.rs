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

#[tokio::test]
async fn an_upstream_402_is_502_and_cools_the_deployment_down() {
    // DeepSeek's "Insufficient Balance": the gateway's own account, not the client's.
    let gw = Gateway::start("").await;
    let r = sim_chat(&gw, "x [[sim:status=402,id=broke]]").await;
    let b = expect_error(r, 502, "provider_error").await;
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains("out of credit"), "{b}");
    assert!(!msg.contains("Fix the request"), "{b}");
    assert_eq!(
        gw.sim().requests_with_id("broke").len(),
        1,
        "no retry into an empty account"
    );
    // Within the cool-down (30 s by default) nothing reaches that deployment.
    let r = sim_chat(&gw, "x [[sim:id=after]]").await;
    expect_error(r, 503, "provider_unavailable").await;
    assert!(gw.sim().requests_with_id("after").is_empty());
}

#[tokio::test]
async fn an_upstream_402_fails_over_and_keeps_that_deployment_out() {
    let extra = r#"
[[models]]
id = "sim/pair402"
operations = ["chat_completions"]
context_window = 1000
routes = [
  { provider = "sim", upstream_model = "poor@status=402,id=poor", priority = 0 },
  { provider = "sim", upstream_model = "rich@id=rich", priority = 1 },
]
"#;
    let gw = Gateway::start(extra).await;
    for _ in 0..3 {
        let r = gw
            .chat(json!({"model": "sim/pair402", "messages": user("hello")}))
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(gw.sim().requests_with_id("poor").len(), 1, "cooled down");
    assert_eq!(gw.sim().requests_with_id("rich").len(), 3);
}

#[tokio::test]
async fn a_redirect_is_502_and_never_followed() {
    let gw = Gateway::start("").await;
    let elsewhere = modelgate_simulator::Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        modelgate_simulator::SimulatorConfig::default(),
    )
    .await
    .unwrap();
    let text = format!(
        "x [[sim:redirect={}/chat/completions,id=moved]]",
        elsewhere.openai_base_url()
    );
    let r = sim_chat(&gw, &text).await;
    let b = expect_error(r, 502, "provider_error").await;
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        !msg.contains(SIM_KEY) && !msg.contains("127.0.0.1") && !msg.contains("http"),
        "{msg}"
    );
    assert_eq!(
        gw.sim().requests_with_id("moved").len(),
        1,
        "a misconfigured deployment is not retried"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the provider key must never reach the host a redirect names"
    );
}

/// Polls until `text` gets past the open circuit (anything but 503), within 10 s.
async fn until_admitted(gw: &Gateway, text: &str) -> reqwest::Response {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = sim_chat(gw, text).await;
        if r.status() != 503 {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the circuit never let a probe through"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_probe_answered_with_a_client_error_closes_the_circuit() {
    let gw = Gateway::start(
        "[retry]\nmax_retries = 0\n[health]\nconsecutive_failures = 1\ncooldown_ms = 1000\n",
    )
    .await;
    let r = sim_chat(&gw, "x [[sim:status=500]]").await;
    expect_error(r, 502, "provider_error").await;
    let r = sim_chat(&gw, "x [[sim:id=while-open]]").await;
    expect_error(r, 503, "provider_unavailable").await;
    // After the cool-down, the half-open probe is the client's own bad request.
    let r = until_admitted(&gw, "x [[sim:status=400,id=probe]]").await;
    expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(gw.sim().requests_with_id("probe").len(), 1);
    // §2: a client's bad request never keeps a deployment out.
    let r = sim_chat(&gw, "hello [[sim:id=after-probe]]").await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(gw.sim().requests_with_id("after-probe").len(), 1);
}
