//! Reading and checking whole files: every mistake at once, each at its line.

use super::*;

#[test]
fn unknown_field_names_path_and_line() {
    let text = "[server]\nlisten = \"x\"\n\n[[models]]\nid = \"a/b\"\ncontext_windw = 5\n";
    let err = SourceFile::parse("m.toml", text).unwrap_err();
    assert_eq!(err.file, "m.toml");
    assert_eq!(err.line, 6, "{err}");
    assert!(err.path.starts_with("models[0]"), "{err}");
    assert!(err.problem.contains("context_windw"), "{err}");
}

#[test]
fn wrong_type_names_path_and_line() {
    let text = "[retry]\nmax_retries = \"three\"\n";
    let err = SourceFile::parse("m.toml", text).unwrap_err();
    assert_eq!(
        (err.line, err.path.as_str()),
        (2, "retry.max_retries"),
        "{err}"
    );
}

fn check_text(text: &str) -> Vec<String> {
    let file = SourceFile::load("m.toml", text);
    match check(Some(&file), false, &|_| None) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_mistake_is_reported_in_one_run() {
    let text = r#"[server]
listen = "not-an-address"
lisen = 1
max_body_bytes = 0

[storage]
database_url = "mysql://x"
redis_url = "https://cache"

[retry]
max_retries = "three"

[[providers]]
id = "local"
kind = "openia"
base_url = "http://127.0.0.1:1/v1"

[[models]]
id = "local/a"
operations = ["chat_completions"]
context_window = 10
routes = [
  { provider = "openai" },
  { provider = "ghost" },
]

[[models]]
id = "local/b"
status = "retired"
replacement = "local/none"
"#;
    let errors = check_text(text);
    let lines: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap_or(""))
        .collect();
    let paths: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        lines,
        [
            "m.toml:2",
            "m.toml:3",
            "m.toml:4",
            "m.toml:7",
            "m.toml:8",
            "m.toml:11",
            "m.toml:15",
            "m.toml:24",
            "m.toml:30"
        ],
        "{errors:#?}"
    );
    assert_eq!(
        paths,
        [
            "server.listen",
            "server.lisen",
            "server.max_body_bytes",
            "storage.database_url",
            "storage.redis_url",
            "retry.max_retries",
            "providers[0].kind",
            "models[0].routes[1].provider",
            "models[1].replacement",
        ],
        "{errors:#?}"
    );
}

#[test]
fn an_unreadable_entry_keeps_the_others_on_their_lines() {
    let text = "[[models]]\nid = 5\n\n[[models]]\nid = \"x/y\"\noperations = [\"chat_completions\"]\ncontext_window = 10\nroutes = [{ provider = \"ghost\" }]\n";
    let errors = check_text(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("m.toml:2: models[0].id: "),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("m.toml:8: models[1].routes[0].provider: "),
        "{errors:#?}"
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let errors = check_text("[server]\nlisten = \"a\"\nmax_body_bytes = = 3\n[retry]\n");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("m.toml:3: (file): "), "{errors:#?}");
    assert!(!errors[0].contains('\n'), "{errors:#?}");
}

#[test]
fn defaults_and_an_empty_file_pass() {
    assert!(check_text("").is_empty());
}
