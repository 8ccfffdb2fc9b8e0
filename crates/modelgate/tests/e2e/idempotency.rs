//! Idempotency-Key on non-streamed requests (DESIGN §5).

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn keyed(gw: &Gateway, key: &str, idem: &str, body: &Value) -> reqwest::RequestBuilder {
    gw.http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("idempotency-key", idem)
        .json(body)
}

#[tokio::test]
async fn a_repeat_is_replayed_not_run_or_billed_again() {
    let gw = Gateway::start("").await;
    let (account, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let body = json!({"model": "sim/gpt-4o", "messages": user("once only [[sim:id=idem1]]")});
    let first = keyed(&gw, &key, "order-42", &body).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    // Quoted per the IETF draft: the same key.
    let second = keyed(&gw, &key, "\"order-42\"", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second, "the stored answer, byte for byte");
    assert_eq!(
        gw.sim().requests_with_id("idem1").len(),
        1,
        "one upstream call"
    );
    // Another API key of the same account shares the key space.
    let (_, created) = gw
        .admin(
            reqwest::Method::POST,
            &format!("/admin/accounts/{account}/keys"),
            Some(json!({})),
        )
        .await;
    let other = created["key"].as_str().unwrap();
    let third = keyed(&gw, other, "order-42", &body).send().await.unwrap();
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    let records = gw.usage(&key, 3).await;
    let billed: Vec<f64> = records
        .iter()
        .map(|r| r["cost_usd"].as_f64().unwrap())
        .collect();
    assert_eq!(
        billed.iter().filter(|c| **c > 0.0).count(),
        1,
        "billed once: {billed:?}"
    );
}

#[tokio::test]
async fn in_flight_repeats_conflict_and_other_bodies_mismatch() {
    let gw = Gateway::start("").await;
    let body = json!({"model": "demo/echo", "messages": user("slow")});
    let slow = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&gw.key)
        .header("idempotency-key", "k-1")
        .header("x-mock-fault", "delay_ms=500")
        .json(&body)
        .send();
    let repeat = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        keyed(&gw, &gw.key, "k-1", &body).send().await.unwrap()
    };
    let (first, repeat) = tokio::join!(slow, repeat);
    assert_eq!(first.unwrap().status(), 200);
    let h = repeat.headers().clone();
    expect_error(repeat, 409, "conflict").await;
    assert_eq!(h["retry-after"], "1");
    let other = json!({"model": "demo/echo", "messages": user("something else")});
    let b = expect_error(
        keyed(&gw, &gw.key, "k-1", &other).send().await.unwrap(),
        422,
        "invalid_request_error",
    )
    .await;
    assert_eq!(b["error"]["details"]["param"], "Idempotency-Key");
    let b = expect_error(
        keyed(&gw, &gw.key, "", &body).send().await.unwrap(),
        400,
        "invalid_request_error",
    )
    .await;
    assert_eq!(b["error"]["details"]["param"], "Idempotency-Key");
}

#[tokio::test]
async fn transient_failures_are_not_stored() {
    let gw = Gateway::start("[health]\nconsecutive_failures = 1000\n").await;
    let body = json!({"model": "sim/gpt-4o", "messages": user("x [[sim:status=500,fail_times=4,id=idem2]]")});
    let r = keyed(&gw, &gw.key, "k-2", &body).send().await.unwrap();
    expect_error(r, 502, "provider_error").await;
    let r = keyed(&gw, &gw.key, "k-2", &body).send().await.unwrap();
    assert_eq!(r.status(), 200, "the retry ran again and succeeded");
    assert!(r.headers().get("idempotent-replayed").is_none());
    assert_eq!(gw.sim().requests_with_id("idem2").len(), 5);
}

#[tokio::test]
async fn a_disconnected_request_runs_on_and_its_retry_gets_the_answer() {
    let gw = Gateway::start("").await;
    let body = json!({"model": "sim/gpt-4o", "messages": user("keep going [[sim:delay_ms=400,id=idem3]]")});
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        keyed(&gw, &gw.key, "k-3", &body).send(),
    )
    .await;
    assert!(abandoned.is_err(), "the client gave up first");
    let mut replayed = None;
    for _ in 0..40 {
        let r = keyed(&gw, &gw.key, "k-3", &body).send().await.unwrap();
        if r.status() == 200 {
            replayed = Some(r);
            break;
        }
        assert_eq!(r.status(), 409, "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = replayed.expect("the first request finished and was stored");
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(gw.sim().requests_with_id("idem3").len(), 1);
}
