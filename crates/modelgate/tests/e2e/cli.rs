//! The CLI against the real binary (issue 11): keys usable the moment they are shown,
//! the admin commands' errors and bounds, `models` and the demo models, and what
//! `serve --demo` logs and revokes when it shuts down.

use crate::common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn admin(gw: &Gateway, args: &[&str]) -> (bool, String, String) {
    let config = gw.config_path.to_string_lossy().into_owned();
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", &config]);
    run(&gw.dir.0, &all)
}

/// A new account and key through `modelgate admin …`; returns (account id, key).
fn cli_key(gw: &Gateway) -> (String, String, String) {
    let (ok, out, err) = admin(
        gw,
        &["accounts", "create", "--name", "cli", "--credits-usd", "1"],
    );
    assert!(ok, "{err}");
    let account: Value = serde_json::from_str(&out).unwrap();
    let id = account["id"].as_str().unwrap().to_owned();
    let (ok, out, err) = admin(gw, &["keys", "create", &id]);
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).unwrap();
    (
        id,
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

fn echo() -> Value {
    json!({"model": "demo/echo", "messages": user("hi")})
}

#[tokio::test]
async fn a_key_made_by_the_cli_works_on_the_first_try() {
    let gw = Gateway::start("").await;
    let (_, _, key) = cli_key(&gw);
    // No polling: the gateway has not reloaded its snapshot yet, the store answers.
    let r = gw.chat_as(&key, echo()).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    // Revoked before the gateway's next snapshot: the store says so, still 401.
    let (_, key_id, key) = cli_key(&gw);
    let (ok, _, err) = admin(&gw, &["keys", "revoke", &key_id]);
    assert!(ok, "{err}");
    let b = expect_error(gw.chat_as(&key, echo()).await, 401, "auth_error").await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("revoked"),
        "{b}"
    );
}

#[tokio::test]
async fn a_key_made_on_one_instance_works_on_another_at_once() {
    let a = Gateway::start("").await;
    let b = a.another_instance().await;
    let (_, key) = a.account_key(1.0, json!({}), json!({})).await;
    let r = b.chat_as(&key, echo()).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

#[tokio::test]
async fn a_flood_of_random_keys_stays_401_and_fast() {
    let gw = Gateway::start("").await;
    let started = Instant::now();
    let statuses: Vec<(u16, Duration)> = futures_util::stream::iter(0..600)
        .map(|i| {
            let gw = &gw;
            async move {
                let t = Instant::now();
                let key = format!("mg-{i:04}{}", "x".repeat(43));
                let r = gw.chat_as(&key, echo()).await;
                (r.status().as_u16(), t.elapsed())
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    assert!(statuses.iter().all(|(s, _)| *s == 401));
    let slowest = statuses.iter().map(|(_, d)| *d).max().unwrap();
    assert!(slowest < Duration::from_secs(2), "slowest 401: {slowest:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Known keys are answered from memory throughout.
    assert_eq!(gw.chat(echo()).await.status(), 200);
}

#[tokio::test]
async fn admin_errors_are_the_apis() {
    let gw = Gateway::start("").await;
    let (ok, out, err) = admin(&gw, &["accounts", "get", "acct_nope"]);
    assert!(!ok && out.is_empty());
    assert_eq!(
        err.trim(),
        "Account \"acct_nope\" was not found. Check the ID."
    );
    let (ok, _, err) = admin(&gw, &["keys", "revoke", "key_nope"]);
    assert!(!ok);
    assert!(err.contains("Key \"key_nope\" was not found"), "{err}");
    let (ok, _, err) = admin(&gw, &["usage", "--limit", "5000"]);
    assert!(!ok);
    assert!(
        err.contains("'limit' must be a whole number from 1 to 1000."),
        "{err}"
    );
    let (ok, out, err) = admin(&gw, &["usage", "--limit", "1000"]);
    assert!(ok, "{err}");
    assert!(serde_json::from_str::<Value>(&out).unwrap()["data"].is_array());
}

#[test]
fn models_lists_the_demo_models_with_demo_and_names_them_without() {
    let dir = TempDir::new();
    let (ok, out, err) = run(&dir.0, &["models", "--operation", "embeddings"]);
    assert!(ok, "{err}");
    assert!(out.contains("openai/text-embedding-3-small"), "{out}");
    assert!(!out.contains("demo/embed"), "{out}");
    assert!(
        err.contains("demo/embed") && err.contains("--demo"),
        "{err}"
    );
    let (ok, out, err) = run(&dir.0, &["models", "--operation", "embeddings", "--demo"]);
    assert!(ok, "{err}");
    let line = out.lines().find(|l| l.starts_with("demo/embed")).unwrap();
    assert!(line.contains("available"), "{line}");
    assert!(
        !out.contains("demo/echo"),
        "chat models filtered out: {out}"
    );
    assert!(err.is_empty(), "{err}");
}

/// `serve --demo` with the default log filter, stdout and stderr captured.
struct Served {
    child: Child,
    addr: String,
    key: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

fn serve_demo(dir: &Path, config: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .current_dir(dir)
        .env("MODELGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SIM_KEY", SIM_KEY)
        .env_remove("MODELGATE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut addr, mut key) = (None, None);
    while addr.is_none() || key.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            addr = Some(a.trim().to_owned());
        }
        if let Some(k) = line.strip_prefix("demo api key: ") {
            key = Some(k.trim().to_owned());
        }
    }
    Served {
        child,
        addr: addr.unwrap(),
        key: key.unwrap(),
        stderr: Some(stderr),
    }
}

impl Served {
    /// SIGTERM, then the exit status and everything logged.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        (
            status.success(),
            self.stderr.take().unwrap().join().unwrap(),
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_logs_what_it_drained_and_revokes_the_demo_key() {
    let sim = modelgate_simulator::Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        modelgate_simulator::SimulatorConfig {
            api_key: Some(SIM_KEY.into()),
        },
    )
    .await
    .unwrap();
    let dir = TempDir::new();
    let config = dir.0.join("modelgate.toml");
    let url = format!("sqlite://{}", dir.0.join("gw.db").display());
    let text = format!(
        "[storage]\ndatabase_url = \"{url}\"\n{}",
        sim_config(&sim, "")
    );
    std::fs::write(&config, text).unwrap();
    let first = serve_demo(&dir.0, &config);
    let http = reqwest::Client::new();
    let chat = |addr: &str, key: &str, body: Value| {
        http.post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    // A stream in flight when SIGTERM comes: it must finish, and be counted.
    let slow = json!({"model": "sim/gpt-4o", "stream": true,
        "messages": user("one two three four five six [[sim:chunk_delay_ms=100]]")});
    let resp = chat(&first.addr, &first.key, slow).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut seen = String::from_utf8_lossy(&body.next().await.unwrap().unwrap()).into_owned();
    let old_key = first.key.clone();
    let ended = tokio::task::spawn_blocking(move || first.terminate());
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(seen.contains("data: [DONE]"), "{seen}");
    let (clean, log) = ended.await.unwrap();
    assert!(clean, "{log}");
    for step in [
        "shutdown: no new connections",
        "signal=\"SIGTERM\"",
        "shutdown: requests in flight drained requests=1",
        "shutdown: usage records and charges written written=",
        "shutdown: unused balance and key-spend leases returned accounts=1",
        "shutdown: this run's demo key revoked",
        "shutdown: complete",
    ] {
        assert!(log.contains(step), "missing {step:?} in:\n{log}");
    }
    assert!(!log.contains(&old_key), "keys are never logged");

    // The next start prints a new key; the previous run's key no longer works.
    let second = serve_demo(&dir.0, &config);
    assert_ne!(second.key, old_key);
    let r = chat(&second.addr, &old_key, echo()).await.unwrap();
    let b = expect_error(r, 401, "auth_error").await;
    assert!(b["error"]["message"].as_str().unwrap().contains("revoked"));
    let r = chat(&second.addr, &second.key, echo()).await.unwrap();
    assert_eq!(r.status(), 200);
}
