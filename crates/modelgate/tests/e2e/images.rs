//! POST /v1/images/generations through the mock provider; reference checks.

use crate::common::*;
use serde_json::{json, Value};

const NO_REFS: &str = r#"
[[models]]
id = "sim/img"
operations = ["images_generations"]
context_window = 4000
max_reference_images = 0
pricing = { per_image = 0.04 }
routes = [{ provider = "sim", upstream_model = "img" }]
"#;

#[tokio::test]
async fn images_are_generated_and_billed_per_image() {
    let gw = Gateway::start("").await;
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": "a red square", "n": 2}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-modelgate-cost-usd"], "0.02", "2 x $0.01");
    let v: Value = r.json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data[0]["b64_json"]
        .as_str()
        .unwrap()
        .starts_with("iVBORw0KGgo"));
    // The mock returns bytes only and the gateway hosts no images: "url" is refused
    // before the call rather than answered with a `data:` URL (issue 11).
    let r = gw
        .post_as(&gw.key, "/v1/images/generations", json!({"model": "demo/image", "prompt": "x", "response_format": "url", "image_urls": ["https://example.org/a.png", "https://example.org/b.png"]}))
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "response_format");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("b64_json"),
        "{b}"
    );
    let v: Value = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": "x", "response_format": "b64_json"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(v["data"][0]["b64_json"].is_string(), "{v}");
    assert!(v["data"][0].get("url").is_none(), "{v}");
    let records = gw.usage(&gw.key, 3).await;
    assert!(
        records
            .iter()
            .any(|r| r["status"] == 400 && r["images"] == 0 && r["cost_usd"] == 0.0),
        "the refused url request is recorded, free: {records:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["images"] == 2 && r["cost_usd"] == 0.02),
        "{records:?}"
    );
}

#[tokio::test]
async fn references_are_checked_before_the_call() {
    let gw = Gateway::start(NO_REFS).await;
    let nine: Vec<String> = (0..9)
        .map(|i| format!("https://example.org/{i}.png"))
        .collect();
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": "x", "image_urls": nine}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "image_urls");
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "sim/img", "prompt": "x", "image_url": "https://example.org/a.png"}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "image_url");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("takes no reference images"));
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": "x", "file_ids": ["file-nope"]}),
        )
        .await;
    expect_error(r, 404, "not_found").await;
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": "x", "image_urls": ["ftp://x/y.png"]}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "image_urls");
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": ""}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "prompt");
    // An OpenAI-kind upstream hosts its images: "url" goes to it (the simulator
    // has no images route, so the answer is an upstream error, not the refusal).
    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "sim/img", "prompt": "x", "response_format": "url"}),
        )
        .await;
    assert_ne!(r.status(), 400);
    let (_, poor) = gw.account_key(0.005, json!({}), json!({})).await;
    let r = gw
        .post_as(
            &poor,
            "/v1/images/generations",
            json!({"model": "demo/image", "prompt": "x"}),
        )
        .await;
    expect_error(r, 402, "insufficient_balance").await;
}
