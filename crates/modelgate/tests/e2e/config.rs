//! `check-config` and `serve` against files with several mistakes (issue 11): every
//! error in one run, each as `FILE:LINE: field.path: problem` at that field's line,
//! and `serve` refusing the same file with the same lines.

use crate::common::TempDir;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

/// Ten mistakes, several on neighbouring lines and two on one line.
const BAD: &str = r#"[server]
listen = "not-an-address"
max_body_bytes = 0

[storage]
database_url = "mysql://x"
redis_url = "http://cache:6379"
files_dri = "x"

[retry]
max_retries = "three"

[[providers]]
id = "local"
kind = "openai"
base_url = "ftp://127.0.0.1/v1"

[[models]]
id = "local/a"
operations = ["chat_completions"]
context_window = 10
routes = [
  { provider = "local" },
  { provider = "ghost", weight = 0 },
]

[[models]]
id = "local/b"
status = "retired"
replacement = "local/gone"
"#;

fn expected(file: &Path) -> Vec<String> {
    let f = file.display();
    vec![
        format!("{f}:2: server.listen: \"not-an-address\" is not an address: use HOST:PORT, e.g. 127.0.0.1:8080"),
        format!("{f}:3: server.max_body_bytes: must be greater than 0"),
        format!("{f}:6: storage.database_url: unsupported database \"mysql\": use sqlite://PATH or postgres://USER@HOST/DB"),
        format!("{f}:7: storage.redis_url: unsupported scheme \"http\": use redis://HOST:PORT or unix:///PATH"),
        format!("{f}:8: storage.files_dri: unknown field `files_dri`, expected one of `database_url`, `redis_url`, `redis_prefix`, `files_dir`, `max_unwritten_records`, `lease_ttl_ms`"),
        format!("{f}:11: retry.max_retries: invalid type: string \"three\", expected u32"),
        format!("{f}:16: providers[0].base_url: \"ftp://127.0.0.1/v1\" is not an http:// or https:// URL"),
        format!("{f}:24: models[0].routes[1].weight: must be at least 1"),
        format!("{f}:24: models[0].routes[1].provider: provider \"ghost\" is not configured (add a [[providers]] entry)"),
        format!("{f}:30: models[1].replacement: \"local/gone\" is not a model in the catalog"),
    ]
}

fn modelgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("MODELGATE_LOG")
        .output()
        .unwrap()
}

/// `serve` must refuse, not start: a bound on how long that may take, so a
/// regression fails instead of hanging the suite.
fn serve_refusing(dir: &Path, args: &[&str]) -> Output {
    let (tx, rx) = mpsc::channel();
    let (dir, args) = (
        dir.to_owned(),
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = tx.send(modelgate(&dir, &args));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("serve started on a file check-config refuses")
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn check_config_reports_every_mistake_at_its_line() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(&path, BAD).unwrap();
    let out = modelgate(&dir.0, &["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(lines(&out.stderr), expected(&path));
}

#[test]
fn serve_refuses_the_same_file_with_the_same_lines() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(&path, BAD).unwrap();
    let config = path.to_str().unwrap();
    let out = serve_refusing(
        &dir.0,
        &["serve", "--config", config, "--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = lines(&out.stderr);
    for line in expected(&path) {
        assert!(
            err.contains(&line),
            "serve did not report {line:?}: {err:#?}"
        );
    }
    // The database was never opened: nothing was created next to the file.
    assert!(!dir.0.join("data").exists());
    // And a file check-config passes, serve's `--listen` is checked by the same rule.
    std::fs::write(&path, "[server]\n").unwrap();
    let out = serve_refusing(
        &dir.0,
        &["serve", "--config", config, "--listen", "nowhere"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        lines(&out.stderr),
        ["--listen: \"nowhere\" is not an address: use HOST:PORT, e.g. 127.0.0.1:8080"]
    );
}

#[test]
fn a_missing_file_is_named_plainly() {
    let dir = TempDir::new();
    let out = modelgate(&dir.0, &["check-config", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        lines(&out.stderr),
        ["cannot read nope.toml: No such file or directory"]
    );
    let out = serve_refusing(&dir.0, &["serve", "--config", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        lines(&out.stderr),
        ["cannot read nope.toml: No such file or directory"]
    );
}

#[test]
fn a_file_fixed_passes_and_names_what_it_holds() {
    let dir = TempDir::new();
    let path = dir.0.join("good.toml");
    let fixed = BAD
        .replace("not-an-address", "127.0.0.1:0")
        .replace("max_body_bytes = 0", "max_body_bytes = 1000")
        .replace("mysql://x", "sqlite://data/m.db")
        .replace("http://cache:6379", "redis://cache:6379")
        .replace("files_dri", "files_dir")
        .replace("\"three\"", "3")
        .replace("ftp://", "http://")
        .replace("\"ghost\", weight = 0", "\"local\", weight = 2")
        .replace("local/gone", "local/a");
    std::fs::write(&path, fixed).unwrap();
    let out = modelgate(&dir.0, &["check-config", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
}
