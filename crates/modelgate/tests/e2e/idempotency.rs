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

/// (id, data) of each event of an SSE body.
fn events(text: &str) -> Vec<(Option<u64>, String)> {
    text.split("\n\n")
        .filter(|e| e.contains("data: "))
        .map(|e| {
            let id = e
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .map(|i| i.parse().unwrap());
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap()
                .to_owned();
            (id, data)
        })
        .collect()
}

fn text_of(events: &[(Option<u64>, String)]) -> String {
    events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn keyed_streams_number_their_events_and_replay_once_finished() {
    let gw = Gateway::start("").await;
    let body = json!({"model": "sim/gpt-4o", "stream": true, "messages": user("alpha beta gamma [[sim:id=s1]]")});
    let first = keyed(&gw, &gw.key, "s-1", &body).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first = events(&first.text().await.unwrap());
    let ids: Vec<u64> = first.iter().map(|(id, _)| id.unwrap()).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "ids 1, 2, 3…"
    );
    assert_eq!(first.last().unwrap().1, "[DONE]");
    let again = keyed(&gw, &gw.key, "s-1", &body).send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(events(&again.text().await.unwrap()), first);
    assert_eq!(gw.sim().requests_with_id("s1").len(), 1);
}

#[tokio::test]
async fn a_broken_stream_resumes_after_its_last_event_id() {
    let gw = Gateway::start("").await;
    let words = "one two three four five six seven eight";
    let body = json!({"model": "sim/gpt-4o", "stream": true, "messages": user(&format!("{words} [[sim:chunk_delay_ms=80,id=s2]]"))});
    let resp = keyed(&gw, &gw.key, "s-2", &body).send().await.unwrap();
    let mut seen = String::new();
    let mut stream = futures_util::StreamExt::boxed(resp.bytes_stream());
    while !seen.contains("id: 3\n") || !seen[seen.find("id: 3\n").unwrap()..].contains("\n\n") {
        let chunk = futures_util::StreamExt::next(&mut stream)
            .await
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);
    let before: Vec<_> = events(&seen)
        .into_iter()
        .filter(|(id, _)| id.unwrap() <= 3)
        .collect();
    // While it runs, a repeat without Last-Event-ID is told to wait.
    expect_error(
        keyed(&gw, &gw.key, "s-2", &body).send().await.unwrap(),
        409,
        "conflict",
    )
    .await;
    let resumed = keyed(&gw, &gw.key, "s-2", &body)
        .header("last-event-id", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    assert_eq!(resumed.headers()["idempotent-replayed"], "true");
    let after = events(&resumed.text().await.unwrap());
    assert_eq!(
        after.first().unwrap().0,
        Some(4),
        "exactly the events after 3"
    );
    let all: Vec<_> = before.into_iter().chain(after).collect();
    assert_eq!(text_of(&all), words);
    assert_eq!(all.last().unwrap().1, "[DONE]");
    assert_eq!(
        gw.sim().requests_with_id("s2").len(),
        1,
        "never a second upstream call"
    );
    // The stream, the 409 and the resumed request.
    let records = gw.usage(&gw.key, 3).await;
    let billed = records
        .iter()
        .filter(|r| r["cost_usd"].as_f64().unwrap() > 0.0)
        .count();
    assert_eq!(billed, 1, "never a second charge");
}

#[tokio::test]
async fn a_keyed_stream_that_failed_transiently_runs_again() {
    let gw = Gateway::start("").await;
    let body = json!({"model": "demo/echo", "stream": true, "messages": user("red green blue")});
    let failed = keyed(&gw, &gw.key, "s-3", &body)
        .header("x-mock-fault", "cut_after=1")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 200);
    let failed = events(&failed.text().await.unwrap());
    assert!(
        failed.iter().any(|(_, d)| d.contains("\"error\"")),
        "{failed:?}"
    );
    // DESIGN §5: a transient outcome is not stored: the retry runs again, whole.
    let retry = keyed(&gw, &gw.key, "s-3", &body).send().await.unwrap();
    assert_eq!(retry.status(), 200);
    assert!(retry.headers().get("idempotent-replayed").is_none());
    let retry = events(&retry.text().await.unwrap());
    assert_eq!(text_of(&retry), "red green blue");
    assert!(!retry.iter().any(|(_, d)| d.contains("\"error\"")));
    // And that finished answer is what a later repeat replays.
    let again = keyed(&gw, &gw.key, "s-3", &body).send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(events(&again.text().await.unwrap()), retry);
}
