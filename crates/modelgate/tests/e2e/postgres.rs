//! The multi-instance mode on PostgreSQL (DESIGN §6): two gateways, one database.
//! Tests that also need Redis have `redis` in their name (scripts/test.sh skips them
//! by name where no server runs).

use crate::common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn two_instances_on_postgres_share_keys_and_balances() {
    let db = TestDatabase::create().await;
    let a = Gateway::start_on_database(&db.url, "", "").await;
    let b = Gateway::start_on_database(&db.url, "", "").await;
    // demo/echo, "hello", max_tokens 100: $0.000216 reserved per request.
    let (_, key) = a.account_key(20.0 * 0.000216, json!({}), json!({})).await;
    // A key made on one instance works on the other within 2 s.
    let started = std::time::Instant::now();
    while b
        .chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 1, "messages": user("")}),
        )
        .await
        .status()
        == 401
    {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "key not seen by the other instance within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = json!({"model": "demo/echo", "max_tokens": 100, "messages": user("hello")});
    let requests = (0..60).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        gw.with_fault(&key, "delay_ms=1500", &body).send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (18..=20).contains(&ok),
        "{ok} answered with money for 20: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 402),
        "{statuses:?}"
    );

    // Revocation on one instance reaches the other within 2 s.
    let (status, acct) = a
        .admin(
            reqwest::Method::POST,
            "/admin/accounts",
            Some(json!({"name": "r", "credits_usd": 1.0})),
        )
        .await;
    assert_eq!(status, 201);
    let id = acct["id"].as_str().unwrap();
    let (_, created) = a
        .admin(
            reqwest::Method::POST,
            &format!("/admin/accounts/{id}/keys"),
            Some(json!({})),
        )
        .await;
    let (key, key_id) = (
        created["key"].as_str().unwrap(),
        created["id"].as_str().unwrap(),
    );
    let hello = json!({"model": "demo/echo", "max_tokens": 5, "messages": user("hi")});
    let started = std::time::Instant::now();
    while b.chat_as(key, hello.clone()).await.status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.admin(
        reqwest::Method::DELETE,
        &format!("/admin/keys/{key_id}"),
        None,
    )
    .await;
    let started = std::time::Instant::now();
    while b.chat_as(key, hello.clone()).await.status() != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "revocation not seen within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop((a, b));
}

#[tokio::test]
async fn rate_limits_are_shared_through_redis() {
    let db = TestDatabase::create().await;
    let (a, b, prefix) = two_instances_with_redis(&db, "").await;
    let (_, key) = a
        .account_key(1.0, json!({"limits": {"rpm": 2}}), json!({}))
        .await;
    let body = json!({"model": "demo/echo", "max_tokens": 5, "messages": user("hi")});
    let started = std::time::Instant::now();
    // The first request may land before b sees the key; that costs no limit.
    while b.chat_as(&key, body.clone()).await.status() == 401 {
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.chat_as(&key, body.clone()).await.status(), 200);
    // Two admitted, one on each instance: the third is refused on either.
    let r = b.chat_as(&key, body.clone()).await;
    let ra = r.headers()["retry-after"].to_str().unwrap().to_owned();
    // The shared cells answer OpenAI's headers too.
    assert_eq!(r.headers()["x-ratelimit-limit-requests"], "2");
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    expect_error(r, 429, "rate_limit_exceeded").await;
    assert!(ra.parse::<u64>().unwrap() > 20, "{ra}");
    expect_error(a.chat_as(&key, body).await, 429, "rate_limit_exceeded").await;
    cleanup_redis(&prefix).await;
}

/// The test Redis: MODELGATE_TEST_REDIS, else the local default.
fn redis_url() -> String {
    std::env::var("MODELGATE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Deletes this test's Redis keys (they also expire on their own within a minute).
async fn cleanup_redis(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_open_circuit_is_shared_through_redis() {
    let db = TestDatabase::create().await;
    let sim = modelgate_simulator::Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        modelgate_simulator::SimulatorConfig {
            api_key: Some(SIM_KEY.into()),
        },
    )
    .await
    .unwrap();
    let extra = r#"
[retry]
max_retries = 0

[health]
consecutive_failures = 2
cooldown_ms = 60000

[[models]]
id = "sim/down"
operations = ["chat_completions"]
context_window = 1000
routes = [{ provider = "sim", upstream_model = "down@status=500,id=shared-down" }]
"#;
    let (a, b, prefix) = two_instances_with_redis(&db, &sim_config(&sim, extra)).await;
    let body = json!({"model": "sim/down", "messages": user("x")});
    for _ in 0..2 {
        expect_error(a.chat(body.clone()).await, 502, "provider_error").await;
    }
    expect_error(a.chat(body.clone()).await, 503, "provider_unavailable").await;
    // Within a sync tick (0.5 s on each side), b stops sending to the deployment
    // too, without having seen a single failure of its own.
    let sent = sim.requests_with_id("shared-down").len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    expect_error(b.chat(body.clone()).await, 503, "provider_unavailable").await;
    assert_eq!(
        sim.requests_with_id("shared-down").len(),
        sent,
        "b sent nothing upstream"
    );
    cleanup_redis(&prefix).await;
}

#[tokio::test]
async fn an_idempotent_repeat_on_another_instance_is_replayed_through_redis() {
    let db = TestDatabase::create().await;
    let (a, b, prefix) = two_instances_with_redis(&db, "").await;
    let (_, key) = a.account_key(1.0, json!({}), json!({})).await;
    let body = json!({"model": "demo/echo", "messages": user("exactly once")});
    let send = |gw: &Gateway, fault: &str| {
        gw.http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .header("idempotency-key", "shared-1")
            .header("x-mock-fault", fault.to_owned())
            .json(&body)
            .send()
    };
    let started = std::time::Instant::now();
    while b
        .chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 1, "messages": user("")}),
        )
        .await
        .status()
        == 401
    {
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // While the first runs on a, the repeat on b is told to wait.
    let (first, repeat) = tokio::join!(send(&a, "delay_ms=400"), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        send(&b, "").await
    });
    let first = first.unwrap();
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    expect_error(repeat.unwrap(), 409, "conflict").await;
    // Once finished, b replays a's answer.
    let replayed = send(&b, "").await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    let replayed: serde_json::Value = replayed.json().await.unwrap();
    assert_eq!(replayed, first);
    cleanup_redis(&prefix).await;
}

/// Two gateways on `db` sharing Redis under a prefix of this test's own.
async fn two_instances_with_redis(db: &TestDatabase, config: &str) -> (Gateway, Gateway, String) {
    let prefix = format!(
        "mg-test-{}-{}:",
        std::process::id(),
        db.url.rsplit('/').next().unwrap()
    );
    let storage = format!(
        "redis_url = \"{}\"\nredis_prefix = \"{prefix}\"\n",
        redis_url()
    );
    let a = Gateway::start_on_database(&db.url, &storage, config).await;
    let b = a.another_instance().await;
    (a, b, prefix)
}

fn sse_ids_and_data(text: &str) -> Vec<(Option<u64>, String)> {
    text.split("\n\n")
        .filter(|e| e.contains("data: "))
        .map(|e| {
            let id = e
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .and_then(|v| v.parse().ok());
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_default()
                .to_owned();
            (id, data)
        })
        .collect()
}

#[tokio::test]
async fn a_keyed_stream_resumes_on_another_instance_through_redis() {
    let db = TestDatabase::create().await;
    let sim = modelgate_simulator::Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        modelgate_simulator::SimulatorConfig {
            api_key: Some(SIM_KEY.into()),
        },
    )
    .await
    .unwrap();
    let (a, b, prefix) = two_instances_with_redis(&db, &sim_config(&sim, "")).await;
    let words = "one two three four five six seven eight";
    let body = json!({"model": "sim/gpt-4o", "stream": true,
        "messages": user(&format!("{words} [[sim:chunk_delay_ms=80,id=rs1]]"))});
    let keyed = |gw: &Gateway| {
        gw.http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&gw.key)
            .header("idempotency-key", "resume-anywhere")
            .json(&body)
    };
    // Both demo keys belong to the demo account: reuse a's key on b.
    let key_a = a.key.clone();
    let resp = keyed(&a).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = futures_util::StreamExt::boxed(resp.bytes_stream());
    let mut seen = String::new();
    while !seen.contains("id: 3\n") || !seen[seen.find("id: 3\n").unwrap()..].contains("\n\n") {
        let chunk = futures_util::StreamExt::next(&mut stream)
            .await
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);
    let before: Vec<_> = sse_ids_and_data(&seen)
        .into_iter()
        .filter(|(id, _)| id.is_some_and(|i| i <= 3))
        .collect();
    // The retry lands on the other instance.
    let resumed = b
        .http
        .post(b.url("/v1/chat/completions"))
        .bearer_auth(&key_a)
        .header("idempotency-key", "resume-anywhere")
        .header("last-event-id", "3")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    assert_eq!(resumed.headers()["idempotent-replayed"], "true");
    let after = sse_ids_and_data(&resumed.text().await.unwrap());
    assert_eq!(
        after.first().unwrap().0,
        Some(4),
        "exactly the events after 3"
    );
    let all: Vec<_> = before.into_iter().chain(after).collect();
    let text: String = all
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, words);
    assert_eq!(all.last().unwrap().1, "[DONE]");
    // Finished: a plain repeat on b replays the whole stream, never calling upstream.
    let again = b
        .http
        .post(b.url("/v1/chat/completions"))
        .bearer_auth(&key_a)
        .header("idempotency-key", "resume-anywhere")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = sse_ids_and_data(&again.text().await.unwrap());
    assert_eq!(again.first().unwrap().0, Some(1));
    assert_eq!(again.last().unwrap().1, "[DONE]");
    assert_eq!(sim.requests_with_id("rs1").len(), 1, "one upstream call");
    cleanup_redis(&prefix).await;
}

#[tokio::test]
async fn a_transiently_failed_keyed_stream_runs_again_on_another_instance_through_redis() {
    let db = TestDatabase::create().await;
    let (a, b, prefix) = two_instances_with_redis(&db, "").await;
    let body = json!({"model": "demo/echo", "stream": true, "messages": user("red green blue")});
    let send = |gw: &Gateway, fault: Option<&str>| {
        let mut r = gw
            .http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&a.key)
            .header("idempotency-key", "cut-then-retry")
            .json(&body);
        if let Some(f) = fault {
            r = r.header("x-mock-fault", f);
        }
        r.send()
    };
    let failed = send(&a, Some("cut_after=1")).await.unwrap();
    assert_eq!(failed.status(), 200);
    assert!(failed.text().await.unwrap().contains("\"error\""));
    // Forgotten in Redis too (polled: the writer deletes it just after the end).
    let started = std::time::Instant::now();
    loop {
        let retry = send(&b, None).await.unwrap();
        if retry.headers().get("idempotent-replayed").is_none() && retry.status() == 200 {
            let text = retry.text().await.unwrap();
            assert!(
                text.contains("blue") && !text.contains("\"error\""),
                "{text}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the failure was kept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cleanup_redis(&prefix).await;
}
