use super::*;
use crate::config::SourceFile;

fn catalog_from(text: &str) -> Result<Catalog, crate::config::ConfigError> {
    let builtin = SourceFile::parse("builtin.toml", BUILTIN_TOML).unwrap();
    let demo = SourceFile::parse("demo.toml", DEMO_TOML).unwrap();
    let file = SourceFile::parse("m.toml", text)?;
    build_catalog(&[&builtin, &demo, &file], &|_| None)
}

fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 25)
}

#[test]
fn builtin_catalog_builds_and_has_no_bare_aliases() {
    let c = catalog_from("").unwrap();
    assert!(c.get("openai/gpt-4o").is_some());
    assert!(c.get("gpt-4o").is_none());
    let err = c.resolve("gpt-4o", today()).unwrap_err();
    assert_eq!(err.status(), 404);
    let body = err.to_body();
    let suggestions = body["error"]["details"]["suggestions"].as_array().unwrap();
    assert!(suggestions.iter().any(|s| s == "openai/gpt-4o"), "{body}");
}

#[test]
fn retired_model_is_410_with_replacement() {
    let c = catalog_from("").unwrap();
    let err = c.resolve("mimo/mimo-v2-pro", today()).unwrap_err();
    assert_eq!(err.status(), 410);
    assert_eq!(
        err.to_body()["error"]["details"]["replacement_model"],
        "mimo/mimo-v2.5-pro"
    );
}

#[test]
fn file_entry_changes_only_fields_it_sets() {
    let c = catalog_from("[[models]]\nid = \"openai/gpt-4o\"\ncontext_window = 1000\n").unwrap();
    let m = c.get("openai/gpt-4o").unwrap();
    assert_eq!(m.context_window, 1000);
    assert!(m.supports(Operation::ChatCompletions));
    assert_eq!(m.routes.len(), 1);
}

#[test]
fn effort_suffix_needs_reasoning_support() {
    let c = catalog_from("").unwrap();
    assert!(c.resolve("demo/think:high", today()).is_ok());
    let err = c.resolve("demo/echo:high", today()).unwrap_err();
    assert_eq!(err.to_body()["error"]["details"]["param"], "model");
}

#[test]
fn unknown_effort_on_a_known_model_is_400_listing_the_efforts() {
    let c = catalog_from("").unwrap();
    let err = c.resolve("demo/think:ultra", today()).unwrap_err();
    assert_eq!(err.status(), 400);
    let body = err.to_body();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["details"]["param"], "model");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("\"ultra\"") && msg.contains("low, medium, high, max"),
        "{msg}"
    );
    // A model without efforts says so; an unknown model stays 404.
    let err = c.resolve("demo/echo:ultra", today()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(
        c.resolve("demo/nope:ultra", today()).unwrap_err().status(),
        404
    );
}

#[test]
fn a_colon_inside_a_real_id_is_not_a_suffix() {
    let text = "[[providers]]\nid = \"m2\"\nkind = \"mock\"\n\n[[models]]\nid = \"x/model:v1\"\noperations = [\"chat_completions\"]\ncontext_window = 100\nroutes = [{ provider = \"m2\", upstream_model = \"echo\" }]\n";
    let c = catalog_from(text).unwrap();
    assert_eq!(
        c.resolve("x/model:v1", today()).unwrap().model.id,
        "x/model:v1"
    );
}

#[test]
fn not_configured_names_each_variable_once_and_is_not_retriable() {
    let c = catalog_from("").unwrap();
    let err = c.get("openai/gpt-4o").unwrap().not_configured();
    assert_eq!(err.status(), 503);
    assert_eq!(err.error_type(), "provider_unavailable");
    assert!(!err.retriable());
    assert_eq!(err.retry_after(), None);
    let body = err.to_body();
    assert_eq!(
        body["error"]["details"]["env_vars"],
        serde_json::json!(["OPENAI_API_KEY"])
    );
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("operator must set the environment variable OPENAI_API_KEY"),
        "{msg}"
    );
    assert!(!msg.contains("Retry later"), "{msg}");
}

#[test]
fn unsupported_operation_has_every_detail() {
    let c = catalog_from("[server]\n").unwrap();
    let m = c.get("demo/image").unwrap();
    let err = m
        .check_operation(Operation::ImagesEdits, Some("https://x.test/docs"))
        .unwrap_err();
    let d = &err.to_body()["error"]["details"];
    assert_eq!(d["suggested_endpoint"], "/v1/images/generations");
    assert_eq!(d["attempted_endpoint"], "/v1/images/edits");
    assert_eq!(d["docs_url"], "https://x.test/docs/image-generation/");
    assert!(d["hint"].as_str().unwrap().contains("file_ids"));
    let err = m
        .check_operation(Operation::ChatCompletions, None)
        .unwrap_err();
    let d = &err.to_body()["error"]["details"];
    assert_eq!(d["suggested_endpoint"], "/v1/images/generations");
    assert!(d.get("docs_url").is_none());
}

#[test]
fn unknown_route_provider_names_the_line() {
    let text = "[[models]]\nid = \"x/y\"\noperations = [\"chat_completions\"]\ncontext_window = 10\nroutes = [{ provider = \"nope\" }]\n";
    let err = catalog_from(text).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("m.toml", 5), "{err}");
    assert!(err.to_string().contains("models[0].routes"), "{err}");
}

#[test]
fn unknown_replacement_is_refused() {
    let text = "[[models]]\nid = \"x/y\"\nstatus = \"retired\"\nreplacement = \"x/z\"\n";
    let err = catalog_from(text).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
}

#[test]
fn future_retirement_is_deprecated() {
    let text = "[[models]]\nid = \"demo/old\"\noperations = [\"chat_completions\"]\ncontext_window = 10\nretired_on = \"2027-01-31\"\nreplacement = \"demo/echo\"\nroutes = [{ provider = \"mock\" }]\n";
    let c = catalog_from(text).unwrap();
    let m = c.resolve("demo/old", today()).unwrap().model;
    assert!(matches!(m.lifecycle(today()), Lifecycle::Deprecated { .. }));
    assert!(matches!(
        m.lifecycle(time::macros::date!(2027 - 02 - 01)),
        Lifecycle::Retired { .. }
    ));
}

#[test]
fn model_ids_are_bounded_before_any_lookup() {
    let c = catalog_from("").unwrap();
    let long = format!("openai/{}", "x".repeat(300));
    let err = c.resolve(&long, today()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(err.to_body()["error"]["details"]["param"], "model");
    assert!(c.suggestions(&"x".repeat(256 * 1024)).is_empty());
    let err = c
        .resolve("demo/echo\r\nx-injected: 1", today())
        .unwrap_err();
    assert_eq!(err.status(), 400);
}

#[test]
fn a_404_quotes_the_requested_id_truncated() {
    let c = catalog_from("").unwrap();
    let long = format!("nobody/{}", "q".repeat(240));
    let err = c.resolve(&long, today()).unwrap_err();
    assert_eq!(err.status(), 404);
    let body = err.to_body();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains(&long), "{message}");
    assert!(message.contains("…"), "{message}");
    let quoted = body["error"]["details"]["model"].as_str().unwrap();
    assert_eq!(quoted.chars().count(), 101, "{quoted}");
    assert!(long.starts_with(quoted.trim_end_matches('…')));
}
