//! Credits: reservations, 402s, settlement and the ledger (DESIGN §4).

use crate::chat::sse_events;
use crate::common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

/// demo/echo ($1 in, $2 out per Mtok), message "hello", max_tokens 100: the prompt's
/// upper bound is 3 + 4 + len("user") + len("hello") = 16 tokens, so the reservation
/// is 16 x $0.000001 + 100 x $0.000002 = $0.000216.
const HELLO_RESERVATION_NANO: i64 = 216_000;

#[tokio::test]
async fn concurrent_requests_never_overdraw() {
    let gw = Gateway::start("").await;
    const COVERED: i64 = 37;
    let credits = (COVERED * HELLO_RESERVATION_NANO) as f64 / 1e9;
    let (id, key) = gw.account_key(credits, json!({}), json!({})).await;
    let body = json!({"model": "demo/echo", "max_tokens": 100, "messages": user("hello")});
    let requests = (0..200).map(|_| {
        // The delay keeps every admitted request in flight, holding its reservation.
        gw.with_fault(&key, "delay_ms=1500", &body).send()
    });
    let results = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = results
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count() as i64;
    let refused = statuses.iter().filter(|s| **s == 402).count() as i64;
    assert_eq!((ok, refused), (COVERED, 200 - COVERED), "{statuses:?}");

    // Records and charges are written in one transaction: once all records are
    // there, so are the charges.
    let mut records = Vec::new();
    for _ in 0..200 {
        let (_, page) = gw
            .admin(
                reqwest::Method::GET,
                &format!("/admin/usage?account_id={id}&limit=1000"),
                None,
            )
            .await;
        records = page["data"].as_array().cloned().unwrap_or_default();
        if records.len() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let a = gw.settled_account(&id).await;
    let balance = nano_usd(&a["balance_usd"]);
    assert!(balance >= 0);
    assert_eq!(records.len(), 200);
    let charged: i64 = records.iter().map(|r| nano_usd(&r["cost_usd"])).sum();
    // Each answer: 1 prompt word + 1 completion word = $0.000003.
    assert_eq!(charged, COVERED * 3_000);
    assert_eq!(
        nano_usd(&a["ledger_balance_usd"]),
        nano_usd(&json!(credits)) - charged
    );
}

#[tokio::test]
async fn insufficient_balance_until_max_tokens_is_lowered() {
    let gw = Gateway::start("").await;
    let (_, key) = gw.account_key(0.001, json!({}), json!({})).await;
    let r = gw
        .chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 1000, "messages": user("hello")}),
        )
        .await;
    let b = expect_error(r, 402, "insufficient_balance").await;
    let d = &b["error"]["details"];
    assert_eq!(d["limit_source"], "account_balance");
    assert_eq!(d["balance_usd"], 0.001);
    assert_eq!(d["available_usd"], 0.001);
    assert_eq!(d["required_usd"], 0.002016);
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("max_tokens") && msg.contains("/dashboard/billing"),
        "{msg}"
    );
    // Without max_tokens the reservation covers the model's whole output limit.
    let r = gw
        .chat_as(
            &key,
            json!({"model": "demo/echo", "messages": user("hello")}),
        )
        .await;
    expect_error(r, 402, "insufficient_balance").await;
    let r = gw
        .chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 100, "messages": user("hello")}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let balance: Value = gw
        .http
        .get(gw.url("/api/balance"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(balance["reserved_usd"], 0.0);
}

#[tokio::test]
async fn key_spend_limit_is_a_402_of_its_own() {
    let gw = Gateway::start("").await;
    let (_, key) = gw
        .account_key(
            10.0,
            json!({}),
            json!({"max_spend_usd": 0.0003, "spend_period": "day"}),
        )
        .await;
    let body = json!({"model": "demo/echo", "max_tokens": 100, "messages": user("hello")});
    assert_eq!(gw.chat_as(&key, body.clone()).await.status(), 200);
    // $0.000003 spent: $0.000297 left, less than the $0.000216 + ... of two holds.
    let b = expect_error(
        gw.chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 200, "messages": user("hello")}),
        )
        .await,
        402,
        "insufficient_balance",
    )
    .await;
    assert_eq!(b["error"]["details"]["limit_source"], "key_limit");
    assert_eq!(b["error"]["details"]["balance_usd"], 0.000297);
}

#[tokio::test]
async fn billing_matches_the_upstream_usage_plain_and_streamed() {
    let gw = Gateway::start("").await;
    let (id, key) = gw.account_key(1.0, json!({}), json!({})).await;
    // sim/gpt-4o: $1 in, $2 out; "a b c" is 3 prompt and 3 completion tokens.
    let r = gw
        .chat_as(
            &key,
            json!({"model": "sim/gpt-4o", "messages": user("a b c")}),
        )
        .await;
    assert_eq!(r.headers()["x-modelgate-cost-usd"], "0.000009");
    let r = gw
        .chat_as(
            &key,
            json!({"model": "sim/gpt-4o", "stream": true, "messages": user("a b c")}),
        )
        .await;
    sse_events(r).await;
    let records = gw.usage(&key, 2).await;
    let a = gw.settled_account(&id).await;
    assert_eq!(nano_usd(&a["balance_usd"]), 1_000_000_000 - 18_000);
    assert!(records
        .iter()
        .all(|r| nano_usd(&r["cost_usd"]) == 9_000 && r["completion_tokens"] == 3));
}

#[tokio::test]
async fn upstream_failures_are_not_billed() {
    let gw = Gateway::start("").await;
    let (id, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let r = gw
        .chat_as(
            &key,
            json!({"model": "sim/gpt-4o", "messages": user("x [[sim:status=503]]")}),
        )
        .await;
    expect_error(r, 502, "provider_error").await;
    let records = gw.usage(&key, 1).await;
    assert_eq!(records[0]["cost_usd"], 0.0);
    let a = gw.settled_account(&id).await;
    assert_eq!(a["balance_usd"], 1.0);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_pays_for_what_was_streamed() {
    let gw = Gateway::start("").await;
    let (id, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let words = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 [[sim:chunk_delay_ms=100]]";
    let r = gw
        .chat_as(
            &key,
            json!({"model": "sim/gpt-4o", "stream": true, "messages": user(words)}),
        )
        .await;
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("w3") {
        seen.push_str(&String::from_utf8_lossy(
            &stream.next().await.unwrap().unwrap(),
        ));
    }
    drop(stream);
    let records = gw.usage(&key, 1).await;
    let completion = records[0]["completion_tokens"].as_u64().unwrap();
    // Without a usage report: at most one token per byte streamed (an upper bound),
    // at least one per word seen, and less than the whole answer (47 bytes).
    assert!(
        (3..47).contains(&completion),
        "billed {completion} for 12 words"
    );
    assert!(nano_usd(&records[0]["cost_usd"]) > 0);
    let a = gw.settled_account(&id).await;
    assert_eq!(
        nano_usd(&a["balance_usd"]),
        1_000_000_000 - nano_usd(&records[0]["cost_usd"])
    );
}

/// The built-in `openai` provider pointed at the simulator, so that OpenAI-family
/// models (counted with the bundled tokenizer) can be called.
fn openai_via_sim(gw_extra: &str) -> String {
    format!("{gw_extra}\n[[providers]]\nid = \"openai\"\nbase_url = \"SIM_OPENAI\"\napi_key_env = \"SIM_KEY\"\n")
}

async fn gateway_with_openai(extra: &str) -> Gateway {
    let sim = modelgate_simulator::Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        modelgate_simulator::SimulatorConfig {
            api_key: Some(SIM_KEY.into()),
        },
    )
    .await
    .unwrap();
    let config = sim_config(
        &sim,
        &openai_via_sim(extra).replace("SIM_OPENAI", &sim.openai_base_url()),
    );
    let mut gw = Gateway::start_with(&config, &[("SIM_KEY", SIM_KEY)]).await;
    gw.sim = Some(sim);
    gw
}

#[tokio::test]
async fn context_window_is_checked_before_the_call_without_false_positives() {
    let extra = "[[models]]\nid = \"openai/gpt-4.1\"\ncontext_window = 60\nmax_output_tokens = 10\n\n[[models]]\nid = \"sim/tiny\"\noperations = [\"chat_completions\"]\ncontext_window = 50\nroutes = [{ provider = \"sim\", upstream_model = \"tiny@id=tiny\" }]\n";
    let gw = gateway_with_openai(extra).await;
    // 100 words can never fit 50 tokens: 413 before any upstream call.
    let r = gw
        .chat(json!({"model": "sim/tiny", "messages": user(&"word ".repeat(100))}))
        .await;
    let b = expect_error(r, 413, "request_too_large").await;
    assert_eq!(
        b["error"]["details"],
        json!({"model": "sim/tiny", "context_window": 50, "prompt_tokens": 100, "max_tokens": null})
    );
    assert!(gw.sim().requests_with_id("tiny").is_empty());
    // The prompt plus max_tokens.
    let r = gw.chat(json!({"model": "sim/tiny", "max_tokens": 45, "messages": user("one two three four five six")})).await;
    let b = expect_error(r, 413, "request_too_large").await;
    assert_eq!(b["error"]["details"]["max_tokens"], 45);
    // 40 tokens by o200k but 200 bytes: the exact count lets it through.
    let r = gw.chat(json!({"model": "openai/gpt-4.1", "max_tokens": 10, "messages": user(&"hello ".repeat(40))})).await;
    assert_eq!(r.status(), 200);
    let r = gw.chat(json!({"model": "openai/gpt-4.1", "max_tokens": 10, "messages": user(&"hello ".repeat(60))})).await;
    expect_error(r, 413, "request_too_large").await;
}

#[tokio::test]
async fn near_the_limit_the_exact_count_decides() {
    let gw = gateway_with_openai("[[models]]\nid = \"openai/gpt-4.1\"\npricing = { input_per_mtok = 1000.0, output_per_mtok = 1000.0 }\n").await;
    // 200 tokens of prompt by o200k (1,200 bytes) + 10 output at $0.001 each.
    let text = "hello ".repeat(200);
    let (_, key) = gw.account_key(0.25, json!({}), json!({})).await;
    let r = gw
        .chat_as(
            &key,
            json!({"model": "openai/gpt-4.1", "max_tokens": 10, "messages": user(&text)}),
        )
        .await;
    assert_eq!(
        r.status(),
        200,
        "bytes alone would reserve $1.2; the exact bound is about $0.22"
    );
    let (_, key) = gw.account_key(0.1, json!({}), json!({})).await;
    let r = gw
        .chat_as(
            &key,
            json!({"model": "openai/gpt-4.1", "max_tokens": 10, "messages": user(&text)}),
        )
        .await;
    expect_error(r, 402, "insufficient_balance").await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let gw = Gateway::start("").await;
    let (_, key) = gw
        .account_key(1.0, json!({"limits": {"rpm": 2}}), json!({}))
        .await;
    let body = json!({"model": "demo/echo", "max_tokens": 5, "messages": user("hi")});
    for _ in 0..2 {
        assert_eq!(gw.chat_as(&key, body.clone()).await.status(), 200);
    }
    let r = gw.chat_as(&key, body.clone()).await;
    let ra = r.headers()["retry-after"].to_str().unwrap().to_owned();
    let b = expect_error(r, 429, "rate_limit_exceeded").await;
    assert_eq!(ra, "30", "one more request is admitted after 60 s / 2");
    assert!(b["error"]["message"].as_str().unwrap().contains("account"));

    // A key's own limit narrows its account's. tpm is charged with the reserved
    // tokens (13 + 60) while a request runs, then corrected to its actual usage.
    let (_, key) = gw
        .account_key(1.0, json!({}), json!({"limits": {"tpm": 100}}))
        .await;
    let body = json!({"model": "demo/echo", "max_tokens": 60, "messages": user("hi")});
    let running = gw.with_fault(&key, "delay_ms=500", &body).send();
    let refused = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        gw.chat_as(&key, body.clone()).await
    };
    let (running, refused) = tokio::join!(running, refused);
    assert_eq!(running.unwrap().status(), 200);
    let b = expect_error(refused, 429, "rate_limit_exceeded").await;
    assert!(b["error"]["message"].as_str().unwrap().contains("API key"));
    // The first used 2 tokens: the rest came back.
    assert_eq!(gw.chat_as(&key, body).await.status(), 200);
}

#[tokio::test]
async fn concurrency_limit() {
    let gw = Gateway::start("").await;
    let (_, key) = gw
        .account_key(1.0, json!({"limits": {"max_concurrent": 1}}), json!({}))
        .await;
    let slow = gw
        .with_fault(
            &key,
            "delay_ms=500",
            &json!({"model": "demo/echo", "max_tokens": 5, "messages": user("hi")}),
        )
        .send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        gw.chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 5, "messages": user("hi")}),
        )
        .await
    };
    let (first, second) = tokio::join!(slow, second);
    assert_eq!(first.unwrap().status(), 200);
    expect_error(second, 429, "rate_limit_exceeded").await;
    assert_eq!(
        gw.chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 5, "messages": user("hi")})
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn two_instances_on_one_database_never_overdraw() {
    let a = Gateway::start("").await;
    let b = a.another_instance().await;
    const COVERED: i64 = 20;
    let credits = (COVERED * HELLO_RESERVATION_NANO) as f64 / 1e9;
    let (id, key) = a.account_key(credits, json!({}), json!({})).await;
    let body = json!({"model": "demo/echo", "max_tokens": 100, "messages": user("hello")});
    // Give instance b time to see the new key (the cache follows the database).
    for _ in 0..100 {
        if b.chat_as(
            &key,
            json!({"model": "demo/echo", "max_tokens": 1, "messages": user("")}),
        )
        .await
        .status()
            != 401
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = (0..60).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        gw.with_fault(&key, "delay_ms=1500", &body).send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count() as i64;
    // The probe above cost one reservation's worth at most; none may overdraw.
    assert!(
        ok <= COVERED,
        "{ok} answered with money for {COVERED}: {statuses:?}"
    );
    assert!(
        ok >= COVERED - 2,
        "leases were not shared fairly: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 402),
        "{statuses:?}"
    );
    let acct = a.settled_account(&id).await;
    assert!(nano_usd(&acct["balance_usd"]) >= 0);
}
