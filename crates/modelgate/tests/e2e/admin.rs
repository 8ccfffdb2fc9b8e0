//! The admin API and the CLI acting on the same database as a running gateway.

use crate::common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

fn cli(gw: &Gateway, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .arg("--config")
        .arg(&gw.config_path)
        .current_dir(&gw.dir.0)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_changes_reach_a_running_gateway_within_two_seconds() {
    let gw = Gateway::start("").await;
    let (ok, out, err) = cli(
        &gw,
        &[
            "admin",
            "accounts",
            "create",
            "--name",
            "cli-team",
            "--credits-usd",
            "5",
            "--allowed-models",
            "demo/*",
        ],
    );
    assert!(ok, "{err}");
    let account: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(account["balance_usd"], 5.0);
    let id = account["id"].as_str().unwrap();
    let (ok, out, err) = cli(&gw, &["admin", "keys", "create", id, "--name", "ci"]);
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mg-") && key.len() >= 46);

    let started = std::time::Instant::now();
    loop {
        let r = gw
            .chat_as(&key, json!({"model": "demo/echo", "messages": user("x")}))
            .await;
        if r.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a CLI-made key must work within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Account allowlist: demo/* only.
    let r = gw
        .chat_as(&key, json!({"model": "sim/gpt-4o", "messages": user("x")}))
        .await;
    expect_error(r, 403, "forbidden").await;

    let (ok, out, _) = cli(&gw, &["admin", "credits", id, "2.5", "--note", "top-up"]);
    assert!(ok);
    // 7.5 less the request above ($0.000003), once the gateway's batch is written.
    let balance = serde_json::from_str::<Value>(&out).unwrap()["balance_usd"]
        .as_f64()
        .unwrap();
    assert!((7.499997..=7.5).contains(&balance), "{balance}");
}

#[tokio::test]
async fn key_allowlists_narrow_access() {
    let gw = Gateway::start("").await;
    let (_, key) = gw
        .account_key(1.0, json!({}), json!({"allowed_models": ["demo/echo"]}))
        .await;
    let r = gw
        .chat_as(&key, json!({"model": "demo/think", "messages": user("x")}))
        .await;
    let b = expect_error(r, 403, "forbidden").await;
    assert!(b["error"]["message"].as_str().unwrap().contains("API key"));
    let models: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["demo/echo"]);
}

#[tokio::test]
async fn admin_usage_and_balance() {
    let gw = Gateway::start("").await;
    let (account, key) = gw.account_key(3.0, json!({}), json!({})).await;
    gw.chat_as(&key, json!({"model": "demo/echo", "messages": user("a b")}))
        .await;
    let records = gw.usage(&key, 1).await;
    assert_eq!(records[0]["account_id"], account.as_str());
    let (status, page) = gw
        .admin(
            reqwest::Method::GET,
            &format!("/admin/usage?account_id={account}&limit=10"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["has_more"], false);
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
    assert_eq!(balance["account_id"], account.as_str());
    let bad = gw
        .http
        .get(gw.url("/api/usage?from=yesterday"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let b = expect_error(bad, 400, "invalid_request_error").await;
    assert_eq!(b["error"]["details"]["param"], "from");
}

#[test]
fn check_config_names_field_and_line() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1\"\n\n[[models]]\nid = \"x/y\"\noperations = [\"chat_completions\"]\ncontext_window = 10\nroutes = [{ provider = \"ghost\" }]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{}:8: models[0].routes[0].provider: ",
            path.display()
        )),
        "{err}"
    );
    std::fs::write(&path, "[server]\nlisen = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":2: server"), "{err}");
    std::fs::write(&path, "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_and_writes_usage() {
    let mut gw = Gateway::start("").await;
    let (id, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let slow = gw
        .with_fault(
            &key,
            "delay_ms=700",
            &json!({"model": "demo/echo", "messages": user("a b c")}),
        )
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let exited_cleanly = tokio::task::block_in_place(|| gw.terminate());
    assert!(exited_cleanly);
    // The request in flight was answered before the process exited.
    assert_eq!(slow.await.unwrap().unwrap().status(), 200);
    let (ok, out, err) = cli(&gw, &["admin", "usage", "--account-id", &id]);
    assert!(ok, "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["data"][0]["status"], 200, "{page}");
    let (_, out, _) = cli(&gw, &["admin", "accounts", "get", &id]);
    let account: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(account["balance_usd"], 0.999991, "$1 less 3 + 3 tokens");
}
