//! POST /v1/responses through the mock provider.

use crate::chat::sse_events;
use crate::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn responses_plain_and_streamed_are_billed() {
    let gw = Gateway::start("").await;
    let (_, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let r = gw
        .post_as(
            &key,
            "/v1/responses",
            json!({"model": "demo/echo", "input": "a b c"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // demo/echo: 3 input tokens at $1/Mtok, 3 output at $2/Mtok.
    assert_eq!(r.headers()["x-modelgate-cost-usd"], "0.000009");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["output"][0]["content"][0]["text"], "a b c");
    let r = gw
        .post_as(
            &key,
            "/v1/responses",
            json!({"model": "demo/echo", "input": "a b c", "stream": true}),
        )
        .await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = sse_events(r).await;
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["type"], "response.completed");
    assert_eq!(last["response"]["model"], "demo/echo");
    let records = gw.usage(&key, 2).await;
    assert!(
        records.iter().all(|r| r["cost_usd"] == 0.000009),
        "{records:?}"
    );
    let r = gw
        .post_as(
            &key,
            "/v1/responses",
            json!({"model": "demo/echo", "input": ""}),
        )
        .await;
    let b = expect_error(r, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "input");
}
