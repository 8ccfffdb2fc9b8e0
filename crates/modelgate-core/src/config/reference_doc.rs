//! Keeps docs/configuration.md and the config types in step: every field the types
//! accept is documented, every documented field exists, and each section default the
//! doc states is the one `ConfigFile::default()` has.

use super::{ConfigFile, ModelEntry, PricingEntry, ProviderEntry, RouteEntry};
use serde_json::Value;
use std::collections::BTreeMap;

const DOC: &str = include_str!("../../../../docs/configuration.md");

/// The defaults, with one provider and one model (with pricing and a route) so their
/// fields are walked too.
fn sample() -> ConfigFile {
    let mut config = ConfigFile::default();
    config.providers.push(ProviderEntry {
        id: String::new(),
        kind: None,
        base_url: None,
        api_key_env: None,
        connect_timeout_ms: None,
        first_byte_timeout_ms: None,
        total_timeout_ms: None,
    });
    config.models.push(ModelEntry {
        pricing: Some(PricingEntry::default()),
        routes: Some(vec![RouteEntry {
            provider: String::new(),
            upstream_model: None,
            weight: None,
            priority: None,
        }]),
        ..ModelEntry::default()
    });
    config
}

/// `section.field` (and `models.routes.provider`) to its default in the types.
fn fields_in_code() -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::Array(items) if items.first().is_some_and(Value::is_object) => {
                walk(prefix, &items[0], out);
            }
            _ => {
                out.insert(prefix.to_owned(), value.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", &serde_json::to_value(sample()).unwrap(), &mut out);
    out
}

/// `section.field` to the default cell of its row, from the doc's `## \`[section]\``
/// headings and tables.
fn fields_in_doc() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut section: Option<String> = None;
    for line in DOC.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading
                .trim_matches('`')
                .strip_prefix('[')
                .map(|s| s.trim_matches(|c| c == '[' || c == ']').to_owned());
            continue;
        }
        let (Some(section), Some(row)) = (&section, line.strip_prefix("| `")) else {
            continue;
        };
        let cells: Vec<&str> = row.split(" | ").collect();
        let field = cells[0].trim_end_matches('`').replace("[]", "");
        out.insert(format!("{section}.{field}"), cells[2].trim().to_owned());
    }
    out
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

#[test]
fn every_field_is_documented_and_every_documented_field_exists() {
    let code = fields_in_code();
    let doc = fields_in_doc();
    let undocumented: Vec<_> = code.keys().filter(|k| !doc.contains_key(*k)).collect();
    let unknown: Vec<_> = doc.keys().filter(|k| !code.contains_key(*k)).collect();
    assert!(
        undocumented.is_empty(),
        "missing from docs/configuration.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "documented but not in the config types: {unknown:?}"
    );
}

#[test]
fn documented_section_defaults_are_the_real_ones() {
    let doc = fields_in_doc();
    for (key, value) in fields_in_code() {
        if key.starts_with("providers.") || key.starts_with("models.") {
            continue;
        }
        let cell = &doc[&key];
        if value.is_null() {
            assert!(
                cell.starts_with("unset"),
                "{key}: default is unset, doc says {cell}"
            );
        } else {
            let expected = format!("`{}`", render(&value));
            assert!(
                cell.starts_with(&expected),
                "{key}: default is {expected}, doc says {cell}"
            );
        }
    }
}

#[test]
fn the_doc_example_is_a_valid_config() {
    let start = DOC.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + DOC[start..].find("```").unwrap();
    let file = super::SourceFile::load("configuration.md", &DOC[start..end]);
    let checked = super::check(Some(&file), false, &|_| None);
    assert!(checked.is_ok(), "{:#?}", checked.err());
}
