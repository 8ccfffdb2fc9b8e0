//! The harness: the real `modelgate` binary on a loopback port, a fresh SQLite file
//! and temp dir per gateway, and the project's simulator as the upstream.

use modelgate_simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub const SIM_KEY: &str = "sk-sim-test-secret-0123456789";
pub const ADMIN_TOKEN: &str = "test-admin-token";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("modelgate-e2e-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub key: String,
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub http: reqwest::Client,
    pub sim: Option<Simulator>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Models served by the simulator; `extra` is appended to the config file.
pub fn sim_config(sim: &Simulator, extra: &str) -> String {
    let retry = if extra.contains("[retry]") {
        ""
    } else {
        "[retry]\nbase_delay_ms = 1\nmax_delay_ms = 50\n"
    };
    format!(
        r#"
{retry}
[[providers]]
id = "sim"
kind = "openai"
base_url = "{base}"
api_key_env = "SIM_KEY"
first_byte_timeout_ms = 2000

[[models]]
id = "sim/gpt-4o"
name = "Simulated GPT-4o"
operations = ["chat_completions"]
context_window = 128000
max_output_tokens = 4096
pricing = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
routes = [{{ provider = "sim", upstream_model = "gpt-4o" }}]
{extra}
"#,
        base = sim.openai_base_url()
    )
}

impl Gateway {
    /// A gateway with the demo models and the simulator-backed `sim/*` models.
    pub async fn start(extra: &str) -> Gateway {
        let sim = Simulator::start(
            "127.0.0.1:0".parse().unwrap(),
            SimulatorConfig {
                api_key: Some(SIM_KEY.into()),
            },
        )
        .await
        .unwrap();
        let config = sim_config(&sim, extra);
        let mut gw = Gateway::start_with(&config, &[("SIM_KEY", SIM_KEY)]).await;
        gw.sim = Some(sim);
        gw
    }

    pub async fn start_with(config: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = TempDir::new();
        let url = format!("sqlite://{}", dir.0.join("gw.db").display());
        let text = format!("[storage]\ndatabase_url = \"{url}\"\n{config}");
        Gateway::start_file(dir, &text, env).await
    }

    /// A gateway on the database at `database_url` (PostgreSQL tests); `storage`
    /// adds keys to the `[storage]` table (Redis settings).
    pub async fn start_on_database(database_url: &str, storage: &str, config: &str) -> Gateway {
        let text = format!("[storage]\ndatabase_url = \"{database_url}\"\n{storage}\n{config}");
        Gateway::start_file(TempDir::new(), &text, &[("SIM_KEY", SIM_KEY)]).await
    }

    /// Another instance with the same config, so on the same database (and Redis).
    pub async fn another_instance(&self) -> Gateway {
        let text = std::fs::read_to_string(&self.config_path).unwrap();
        Gateway::start_file(TempDir::new(), &text, &[("SIM_KEY", SIM_KEY)]).await
    }

    async fn start_file(dir: TempDir, text: &str, env: &[(&str, &str)]) -> Gateway {
        let config_path = dir.0.join("modelgate.toml");
        std::fs::write(&config_path, text).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelgate"));
        cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config_path)
            .current_dir(&dir.0)
            .env("MODELGATE_ADMIN_TOKEN", ADMIN_TOKEN)
            // Upstream failures are these tests' daily bread: log only gateway bugs,
            // unless MODELGATE_LOG asks for more.
            .env(
                "MODELGATE_LOG",
                std::env::var("MODELGATE_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        let mut key = None;
        while addr.is_none() || key.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the gateway did not print its address and demo key within 30 s");
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = Some(a.trim().parse().unwrap());
            }
            if let Some(k) = line.strip_prefix("demo api key: ") {
                key = Some(k.trim().to_owned());
            }
        }
        Gateway {
            child,
            addr: addr.unwrap(),
            key: key.unwrap(),
            dir,
            config_path,
            http: reqwest::Client::builder().build().unwrap(),
            sim: None,
        }
    }

    /// The process id, to SIGKILL it while requests to it are in flight.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited 0.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the gateway did not exit within 10 s of SIGTERM");
    }

    pub fn sim(&self) -> &Simulator {
        self.sim.as_ref().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn chat(&self, body: Value) -> reqwest::Response {
        self.post_as(&self.key, "/v1/chat/completions", body).await
    }

    /// A chat request with the mock provider's `x-mock-fault` header.
    pub fn with_fault(&self, key: &str, fault: &str, body: &Value) -> reqwest::RequestBuilder {
        self.post_fault("/v1/chat/completions", key, fault, body)
    }

    pub fn post_fault(
        &self,
        path: &str,
        key: &str,
        fault: &str,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .bearer_auth(key)
            .header("x-mock-fault", fault)
            .json(body)
    }

    pub async fn chat_as(&self, key: &str, body: Value) -> reqwest::Response {
        self.post_as(key, "/v1/chat/completions", body).await
    }

    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A new account with `credits` USD and a key for it.
    pub async fn account_key(
        &self,
        credits: f64,
        account_extra: Value,
        key_body: Value,
    ) -> (String, String) {
        let mut body = json!({"name": "test", "credits_usd": credits});
        if let (Some(b), Some(extra)) = (body.as_object_mut(), account_extra.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, account) = self
            .admin(reqwest::Method::POST, "/admin/accounts", Some(body))
            .await;
        assert_eq!(status, 201, "{account}");
        let id = account["id"].as_str().unwrap().to_owned();
        let (status, key) = self
            .admin(
                reqwest::Method::POST,
                &format!("/admin/accounts/{id}/keys"),
                Some(key_body),
            )
            .await;
        assert_eq!(status, 201, "{key}");
        (id, key["key"].as_str().unwrap().to_owned())
    }

    /// Usage records of the key's account, polled until `n` are there (they are
    /// written in batches off the request path).
    pub async fn usage(&self, key: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let v: Value = self
                .http
                .get(self.url("/api/usage"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let data = v["data"].as_array().cloned().unwrap_or_default();
            if data.len() >= n {
                return data;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("fewer than {n} usage records after 5 s");
    }

    /// Every usage record of the key's account, all pages.
    pub async fn all_usage(&self, key: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("/api/usage?limit=1000&cursor={c}"),
                None => "/api/usage?limit=1000".to_owned(),
            };
            let page: Value = self
                .http
                .get(self.url(&url))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            all.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) if page["has_more"] == true => cursor = Some(c.to_owned()),
                _ => return all,
            }
        }
    }

    /// The account as the admin API shows it.
    pub async fn account(&self, id: &str) -> Value {
        let (status, body) = self
            .admin(reqwest::Method::GET, &format!("/admin/accounts/{id}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The account once every charge is written (balance equals the ledger's sum),
    /// polled for up to 20 s.
    pub async fn settled_account(&self, id: &str) -> Value {
        for _ in 0..800 {
            let a = self.account(id).await;
            if a["balance_usd"] == a["ledger_balance_usd"] {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("balance and ledger never agreed");
    }
}

/// Asserts the contract's error shape and returns the body.
pub async fn expect_error(resp: reqwest::Response, status: u16, error_type: &str) -> Value {
    let (headers, body) = error_shape(resp, status, error_type).await;
    let retriable = matches!(status, 409 | 429 | 500 | 502 | 503 | 504);
    assert_eq!(
        should_retry(&headers),
        retriable.to_string(),
        "x-should-retry for {status}: {body}"
    );
    if matches!(status, 429 | 503) {
        let ra: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&ra));
        assert!(headers.contains_key("retry-after-ms"));
    }
    body
}

/// The one 503 that is not worth retrying: a model whose provider's key is not set
/// (issue 11). `x-should-retry: false`, no Retry-After, and a message telling the
/// operator which variable to set.
pub async fn expect_not_configured(resp: reqwest::Response, env_var: &str) -> Value {
    let (headers, body) = error_shape(resp, 503, "provider_unavailable").await;
    assert_eq!(should_retry(&headers), "false", "{body}");
    assert!(!headers.contains_key("retry-after"), "{headers:?}");
    assert!(!headers.contains_key("retry-after-ms"), "{headers:?}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "operator must set the environment variable {env_var}"
        )),
        "{body}"
    );
    assert!(!msg.contains("Retry later"), "{body}");
    assert_eq!(
        body["error"]["details"]["env_vars"],
        json!([env_var]),
        "{body}"
    );
    body
}

fn should_retry(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-should-retry")
        .expect("x-should-retry")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Status, `x-request-id`, and a body with only `error` holding a type and a message
/// that is a full sentence.
async fn error_shape(
    resp: reqwest::Response,
    status: u16,
    error_type: &str,
) -> (reqwest::header::HeaderMap, Value) {
    assert_eq!(resp.status().as_u16(), status, "status");
    let headers = resp.headers().clone();
    assert!(headers.contains_key("x-request-id"), "x-request-id missing");
    let body: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["type"], error_type, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with('.')),
        "{body}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only `error` at the top level: {body}"
    );
    (headers, body)
}

/// A USD amount of an answer (a JSON number, or a decimal string) in dollars.
pub fn usd(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a USD amount: {v}"))
}

/// The same amount in nano-USD, exact for comparisons.
pub fn nano_usd(v: &Value) -> i64 {
    (usd(v) * 1e9).round() as i64
}

pub fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// A fresh PostgreSQL database for one test, dropped when this is dropped.
pub struct TestDatabase {
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let admin_url = std::env::var("MODELGATE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "the multi-instance tests need PostgreSQL at {admin_url} (set MODELGATE_TEST_POSTGRES, \
                 or start one: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): {e}"
            )
        });
        let name = format!(
            "mg_e2e_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let server = admin_url
            .rsplit_once('/')
            .map(|(s, _)| s.to_owned())
            .unwrap();
        TestDatabase {
            url: format!("{server}/{name}"),
            name,
            admin_url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside any runtime guarantee: use a short-lived one of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                }
            });
        })
        .join();
    }
}
