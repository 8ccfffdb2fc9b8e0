//! The README's own examples keep working: every model ID it names is in the catalog
//! the gateway serves, active, and not scheduled to retire (so an example never
//! starts answering 410).

use crate::common::*;
use serde_json::Value;
use std::collections::HashSet;

const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "xai",
    "deepseek",
    "mistral",
    "mimo",
    "demo",
];

/// Model IDs the README names: in backticks, or as a request's `model`.
fn readme_model_ids() -> HashSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the repository root");
    let mut ids = HashSet::new();
    let candidates = readme
        .split(['`', '"', '\'', ' ', '(', ')', ','])
        .map(str::trim)
        .filter(|w| w.contains('/') && !w.contains("//"));
    for word in candidates {
        let Some((provider, name)) = word.split_once('/') else {
            continue;
        };
        let name = name.split(':').next().unwrap_or(name);
        let plausible = PROVIDERS.contains(&provider)
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
        if plausible {
            ids.insert(format!("{provider}/{name}"));
        }
    }
    ids
}

#[tokio::test]
async fn readme_examples_use_active_models() {
    let gw = Gateway::start("").await;
    let listed: Value = gw
        .http
        .get(gw.url("/api/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let models = listed["data"].as_array().unwrap();
    let ids = readme_model_ids();
    assert!(
        ids.contains("demo/echo"),
        "the parser found the examples: {ids:?}"
    );
    for id in &ids {
        let model = models
            .iter()
            .find(|m| m["id"] == id.as_str())
            .unwrap_or_else(|| panic!("README names {id}, which the catalog does not have"));
        assert_eq!(model["status"], "active", "README names {id}: {model}");
        assert!(
            model.get("retired_on").is_none_or(Value::is_null),
            "README names {id}, which is scheduled to retire: {model}"
        );
    }
}
