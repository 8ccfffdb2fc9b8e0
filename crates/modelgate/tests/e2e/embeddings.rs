//! POST /v1/embeddings through the mock provider and the simulator.

use crate::common::*;
use serde_json::{json, Value};

const SIM_EMBED: &str = r#"
[[models]]
id = "sim/embed"
operations = ["embeddings"]
context_window = 8192
pricing = { input_per_mtok = 0.5 }
routes = [{ provider = "sim", upstream_model = "text-embedding-3-small" }]
"#;

#[tokio::test]
async fn embeddings_from_the_mock_and_the_simulator() {
    let gw = Gateway::start(SIM_EMBED).await;
    let r = gw
        .post_as(
            &gw.key,
            "/v1/embeddings",
            json!({"model": "demo/embed", "input": ["hello world", "bye"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // demo/embed: $0.02/Mtok, 3 words.
    assert_eq!(r.headers()["x-modelgate-cost-usd"], "0.00000006");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "demo/embed");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(v["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));

    let v: Value = gw
        .post_as(&gw.key, "/v1/embeddings", json!({"model": "demo/embed", "input": "x", "encoding_format": "base64", "dimensions": 4}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["data"][0]["embedding"].as_str().unwrap().len(),
        24,
        "4 floats = 16 bytes = 24 base64 chars"
    );

    let v: Value = gw
        .post_as(
            &gw.key,
            "/v1/embeddings",
            json!({"model": "sim/embed", "input": "one two [[sim:id=emb]]"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["model"], "sim/embed");
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    assert_eq!(
        gw.sim().requests_with_id("emb")[0].body["model"],
        "text-embedding-3-small"
    );
}

#[tokio::test]
async fn embeddings_errors_keep_the_contract() {
    let gw = Gateway::start("").await;
    let r = gw
        .post_as(
            &gw.key,
            "/v1/embeddings",
            json!({"model": "demo/embed", "input": ""}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "input");
    let r = gw
        .post_as(
            &gw.key,
            "/v1/embeddings",
            json!({"model": "demo/echo", "input": "x"}),
        )
        .await;
    let b = expect_error(r, 400, "unsupported_operation").await;
    assert_eq!(
        b["error"]["details"]["suggested_endpoint"],
        "/v1/chat/completions"
    );
    let r = gw
        .chat(json!({"model": "demo/embed", "messages": user("x")}))
        .await;
    let b = expect_error(r, 400, "unsupported_operation").await;
    assert_eq!(
        b["error"]["details"]["suggested_endpoint"],
        "/v1/embeddings"
    );
    // More words than demo/embed's 8,192-token input window.
    let r = gw
        .post_as(
            &gw.key,
            "/v1/embeddings",
            json!({"model": "demo/embed", "input": "w ".repeat(9000)}),
        )
        .await;
    expect_error(r, 413, "request_too_large").await;
    let (_, poor) = gw.account_key(0.0, json!({}), json!({})).await;
    let r = gw
        .post_as(
            &poor,
            "/v1/embeddings",
            json!({"model": "demo/embed", "input": "x"}),
        )
        .await;
    expect_error(r, 402, "insufficient_balance").await;
    let r = gw
        .post_fault(
            "/v1/embeddings",
            &gw.key,
            "status=500",
            &json!({"model": "demo/embed", "input": "x"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 502, "provider_error").await;
}
