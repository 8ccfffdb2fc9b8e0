//! Catalog checks before any upstream call, and the model listings.

use crate::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn unknown_models_get_suggestions() {
    let gw = Gateway::start("").await;
    let b = expect_error(
        gw.chat(json!({"model": "gpt-4o", "messages": user("x")}))
            .await,
        404,
        "model_not_found",
    )
    .await;
    let suggestions = b["error"]["details"]["suggestions"].as_array().unwrap();
    assert_eq!(suggestions[0], "openai/gpt-4o", "{b}");
    assert_eq!(b["error"]["details"]["param"], "model");
    let b = expect_error(
        gw.chat(json!({"model": "demo/ecko", "messages": user("x")}))
            .await,
        404,
        "model_not_found",
    )
    .await;
    assert!(
        b["error"]["details"]["suggestions"]
            .as_array()
            .unwrap()
            .contains(&json!("demo/echo")),
        "{b}"
    );
}

#[tokio::test]
async fn retired_models_are_410_with_exact_details() {
    let gw = Gateway::start("").await;
    let b = expect_error(
        gw.chat(json!({"model": "mimo/mimo-v2-pro", "messages": user("x")}))
            .await,
        410,
        "model_retired",
    )
    .await;
    assert_eq!(
        b,
        json!({"error": {
            "message": "Model \"mimo/mimo-v2-pro\" was retired on 2026-06-30. Use \"mimo/mimo-v2.5-pro\" instead.",
            "type": "model_retired",
            "details": {"model": "mimo/mimo-v2-pro", "replacement_model": "mimo/mimo-v2.5-pro", "retirement_date": "2026-06-30"}
        }})
    );
}

#[tokio::test]
async fn unsupported_operations_say_where_to_go() {
    let gw =
        Gateway::start("[server]\ndocs_base_url = \"https://docs.example.org/gateway\"\n").await;
    let b = expect_error(
        gw.chat(json!({"model": "demo/image", "messages": user("x")}))
            .await,
        400,
        "unsupported_operation",
    )
    .await;
    let d = &b["error"]["details"];
    assert_eq!(d["param"], "model");
    assert_eq!(d["model"], "demo/image");
    assert_eq!(d["attempted_endpoint"], "/v1/chat/completions");
    assert_eq!(d["supported_endpoints"], json!(["/v1/images/generations"]));
    assert_eq!(d["suggested_endpoint"], "/v1/images/generations");
    assert_eq!(
        d["docs_url"],
        "https://docs.example.org/gateway/image-generation/"
    );
    assert!(d.get("hint").is_none(), "no hint for chat: {b}");

    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/edits",
            json!({"model": "demo/image", "prompt": "x"}),
        )
        .await;
    let b = expect_error(r, 400, "unsupported_operation").await;
    let d = &b["error"]["details"];
    assert_eq!(d["suggested_endpoint"], "/v1/images/generations");
    assert!(d["hint"].as_str().unwrap().contains("file_ids"));
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("The model \"demo/image\" does not support /v1/images/edits. Use /v1/images/generations instead. "), "{msg}");

    let r = gw
        .post_as(
            &gw.key,
            "/v1/images/generations",
            json!({"model": "demo/echo", "prompt": "x"}),
        )
        .await;
    let b = expect_error(r, 400, "unsupported_operation").await;
    assert_eq!(
        b["error"]["details"]["suggested_endpoint"],
        "/v1/chat/completions"
    );

    // The multipart shape of /v1/images/edits is read too.
    let form =
        "--b1\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ndemo/echo\r\n--b1--\r\n";
    let r = gw
        .http
        .post(gw.url("/v1/images/edits"))
        .bearer_auth(&gw.key)
        .header("content-type", "multipart/form-data; boundary=b1")
        .body(form)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "unsupported_operation").await;
}

#[tokio::test]
async fn reasoning_suffix_needs_support() {
    let gw = Gateway::start("").await;
    let b = expect_error(
        gw.chat(json!({"model": "demo/echo:high", "messages": user("x")}))
            .await,
        400,
        "invalid_request_error",
    )
    .await;
    assert_eq!(b["error"]["details"]["param"], "model");
    let r = gw
        .chat(json!({"model": "demo/think:max", "messages": user("x")}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["model"], "demo/think");
    assert_eq!(
        v["choices"][0]["message"]["reasoning_content"],
        "Reasoning at max effort."
    );
}

#[tokio::test]
async fn unconfigured_provider_is_503_naming_the_variable_and_not_retriable() {
    let gw = Gateway::start("").await;
    // A configuration error: SDKs must not retry it, and no Retry-After invites them to.
    let b = expect_not_configured(
        gw.chat(json!({"model": "openai/gpt-4.1", "messages": user("x")}))
            .await,
        "OPENAI_API_KEY",
    )
    .await;
    assert_eq!(b["error"]["details"]["model"], "openai/gpt-4.1");
    // Every endpoint says the same (the check runs before the endpoint's own work).
    let r = gw
        .post_as(
            &gw.key,
            "/v1/embeddings",
            json!({"model": "openai/text-embedding-3-small", "input": "x"}),
        )
        .await;
    expect_not_configured(r, "OPENAI_API_KEY").await;
    // And it is recorded like any refusal, without an upstream attempt.
    let records = gw.usage(&gw.key, 2).await;
    assert!(records.iter().all(|r| r["status"] == 503
        && r["attempts"] == 0
        && r["error_type"] == "provider_unavailable"));
}

#[tokio::test]
async fn unknown_reasoning_effort_is_400_listing_the_valid_ones() {
    let gw = Gateway::start("").await;
    let r = gw
        .chat(json!({"model": "demo/think:ultra", "messages": user("x")}))
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "model");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("\"ultra\"") && msg.contains("low, medium, high, max"),
        "{b}"
    );
    assert!(!msg.contains("Did you mean"), "{b}");
    // A model without efforts: 400 too; an unknown model with a suffix stays 404.
    let r = gw
        .chat(json!({"model": "demo/echo:ultra", "messages": user("x")}))
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "model");
    let r = gw
        .chat(json!({"model": "demo/nope:ultra", "messages": user("x")}))
        .await;
    expect_error(r, 404, "model_not_found").await;
}

#[tokio::test]
async fn upcoming_retirements_carry_deprecation_headers() {
    let extra = r#"
[[models]]
id = "sim/old"
operations = ["chat_completions"]
context_window = 1000
retired_on = "2099-01-31"
deprecated_on = "2026-01-01"
replacement = "sim/gpt-4o"
routes = [{ provider = "sim", upstream_model = "old" }]
"#;
    let gw = Gateway::start(extra).await;
    let r = gw
        .chat(json!({"model": "sim/old", "messages": user("x")}))
        .await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["deprecation"], "@1767225600");
    assert_eq!(h["sunset"], "Sat, 31 Jan 2099 00:00:00 GMT");
    assert!(h["link"].to_str().unwrap().contains("sim/gpt-4o"));
}

#[tokio::test]
async fn model_listings() {
    let gw = Gateway::start("").await;
    let all: Value = gw
        .http
        .get(gw.url("/api/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = all["data"].as_array().unwrap();
    let find = |id: &str| data.iter().find(|m| m["id"] == id).cloned().unwrap();
    let retired = find("mimo/mimo-v2-pro");
    assert_eq!(retired["status"], "retired");
    assert_eq!(retired["replacement"], "mimo/mimo-v2.5-pro");
    assert_eq!(retired["available"], false);
    assert_eq!(find("openai/gpt-4.1")["available"], false);
    let echo = find("demo/echo");
    assert_eq!(echo["available"], true);
    assert_eq!(echo["operations"], json!(["chat_completions", "responses"]));
    assert_eq!(echo["pricing"]["input_per_mtok"], 1.0);

    let images: Value = gw
        .http
        .get(gw.url("/api/models?operation=IMAGES_GENERATIONS"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = images["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"demo/image"));
    assert!(!ids.contains(&"demo/echo"));
    let bad = gw
        .http
        .get(gw.url("/api/models?operation=teleport"))
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "invalid_request_error").await;

    let mine: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"demo/echo") && ids.contains(&"sim/gpt-4o"),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"mimo/mimo-v2-pro") && !ids.contains(&"openai/gpt-4.1"),
        "{ids:?}"
    );
    let one: Value = gw
        .http
        .get(gw.url("/v1/models/demo/echo"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["object"], "model");
    // The same checks as a request: 503 naming the variable, 410, 404.
    let r = gw
        .http
        .get(gw.url("/v1/models/openai/gpt-4.1"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    expect_not_configured(r, "OPENAI_API_KEY").await;
    let r = gw
        .http
        .get(gw.url("/v1/models/mimo/mimo-v2-pro"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    expect_error(r, 410, "model_retired").await;
    let r = gw
        .http
        .get(gw.url("/v1/models/nope/nope"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "model_not_found").await;
}

#[tokio::test]
async fn model_ids_are_bounded_and_never_echoed_unbounded() {
    let gw = Gateway::start("").await;
    // 256 KiB: refused as a field error before any catalog lookup or suggestion scoring.
    let huge = format!("openai/{}", "x".repeat(256 * 1024));
    let started = std::time::Instant::now();
    let r = gw.chat(json!({"model": huge, "messages": user("x")})).await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(b["error"]["details"]["param"], "model");
    assert!(b.to_string().len() < 1024, "{b}");
    for path in ["/v1/embeddings", "/v1/responses", "/v1/images/generations"] {
        let body = json!({"model": huge, "input": "x", "prompt": "x"});
        let b = expect_error(
            gw.post_as(&gw.key, path, body).await,
            400,
            "invalid_request_error",
        )
        .await;
        assert_eq!(b["error"]["details"]["param"], "model", "{path}: {b}");
    }
    let r = gw
        .chat(json!({"model": "demo/echo\n", "messages": user("x")}))
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "model");
    let r = gw
        .http
        .get(gw.url(&format!("/v1/models/{}", "y".repeat(300))))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request_error").await;

    // Within the bound, a 404 quotes at most 100 characters of it.
    let long = format!("nobody/{}", "q".repeat(240));
    let r = gw.chat(json!({"model": long, "messages": user("x")})).await;
    let b = expect_error(r, 404, "model_not_found").await;
    let message = b["error"]["message"].as_str().unwrap();
    assert!(!message.contains(&"q".repeat(101)), "{message}");
    assert!(message.contains('…'), "{message}");
    let quoted = b["error"]["details"]["model"].as_str().unwrap();
    assert!(quoted.chars().count() <= 101, "{quoted}");

    // An unknown reasoning effort in the body is quoted bounded too.
    let r = gw
        .chat(json!({"model": "demo/think", "messages": user("x"), "reasoning_effort": "z".repeat(10_000)}))
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert!(b.to_string().len() < 1024, "{b}");
}
