//! JSON Schema (as OpenAI clients send it in `tools[].function.parameters` and
//! `response_format.json_schema.schema`) reduced to the OpenAPI subset that Gemini's
//! `Schema` accepts; Gemini rejects the whole request on an unknown key.
//!
//! Kept: `type`, `format` (the ones Gemini knows), `title`, `description`,
//! `nullable`, `enum`, `items`, `properties`, `required`, `anyOf`, `minItems`,
//! `maxItems`, `minProperties`, `maxProperties`, `minLength`, `maxLength`, `pattern`,
//! `minimum`, `maximum`, `example`, `default`, `propertyOrdering`.
//! Rewritten: `type: [T, "null"]` → `type: T, nullable: true` (several types →
//! `anyOf`); `const` → a one-value `enum`; `oneOf` → `anyOf`; local `$ref`s
//! (`#/$defs/…`, `#/definitions/…`) are inlined (recursion is cut after a few levels).
//! Dropped, recursively: everything else (`additionalProperties`, `$schema`, `$id`,
//! `$defs`, `strict`, `allOf`, `not`, `examples`, `exclusiveMinimum`, …).

use serde_json::{Map, Value};

const KEEP: &[&str] = &[
    "title",
    "description",
    "nullable",
    "enum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "example",
    "default",
    "propertyOrdering",
];

/// How deep `$ref`s are followed: enough for real models, finite for recursive ones.
const MAX_REF_DEPTH: usize = 8;

pub fn to_gemini(schema: &Value) -> Value {
    clean(schema, schema, 0)
}

fn clean(node: &Value, root: &Value, refs: usize) -> Value {
    let Some(obj) = node.as_object() else {
        return Value::Object(Map::new());
    };
    if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
        return match (refs < MAX_REF_DEPTH)
            .then(|| resolve(root, target))
            .flatten()
        {
            Some(t) => clean(t, root, refs + 1),
            None => Value::Object(Map::new()),
        };
    }
    let mut out = Map::new();
    for key in KEEP {
        if let Some(v) = obj.get(*key) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(c) = obj.get("const") {
        out.insert("enum".into(), Value::Array(vec![c.clone()]));
    }
    // `null` in an enum is spelled `nullable` in Gemini's schema.
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        if values.iter().any(Value::is_null) {
            values.retain(|v| !v.is_null());
            out.insert("nullable".into(), Value::Bool(true));
        }
    }
    set_type(obj.get("type"), &mut out);
    if let Some(f) = obj.get("format").and_then(Value::as_str) {
        if matches!(
            f,
            "enum" | "date-time" | "int32" | "int64" | "float" | "double"
        ) {
            out.insert("format".into(), Value::String(f.to_owned()));
        }
    }
    if let Some(items) = obj.get("items").filter(|i| i.is_object()) {
        out.insert("items".into(), clean(items, root, refs));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let cleaned: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), clean(v, root, refs)))
            .collect();
        out.insert("properties".into(), Value::Object(cleaned));
    }
    if let Some(req) = obj.get("required").and_then(Value::as_array) {
        let names: Vec<Value> = req.iter().filter(|v| v.is_string()).cloned().collect();
        out.insert("required".into(), Value::Array(names));
    }
    let any = obj.get("anyOf").or_else(|| obj.get("oneOf"));
    if let Some(alts) = any.and_then(Value::as_array) {
        let alts = alts.iter().map(|a| clean(a, root, refs)).collect();
        out.insert("anyOf".into(), Value::Array(alts));
    }
    Value::Object(out)
}

/// `type` as Gemini takes it: one name; `null` among several becomes `nullable`.
fn set_type(ty: Option<&Value>, out: &mut Map<String, Value>) {
    match ty {
        Some(Value::String(t)) => {
            out.insert("type".into(), Value::String(t.clone()));
        }
        Some(Value::Array(types)) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            let non_null: Vec<&str> = names.iter().copied().filter(|t| *t != "null").collect();
            if non_null.len() < names.len() {
                out.insert("nullable".into(), Value::Bool(true));
            }
            match non_null.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), Value::String((*one).to_owned()));
                }
                many => {
                    let alts = many
                        .iter()
                        .map(|t| serde_json::json!({ "type": t }))
                        .collect();
                    out.insert("anyOf".into(), Value::Array(alts));
                }
            }
        }
        _ => {}
    }
}

/// A local JSON pointer (`#/$defs/Name`) inside the root schema.
fn resolve<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let path = pointer.strip_prefix('#')?;
    if path.is_empty() {
        return Some(root);
    }
    root.pointer(path)
}

/// Whether a cleaned object schema declares no properties: Gemini rejects
/// `{"type": "object", "properties": {}}` as function parameters, so those are omitted.
pub fn is_empty_object(schema: &Value) -> bool {
    let no_props = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    no_props && schema.get("anyOf").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_keys_gemini_rejects_recursively() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": "string", "description": "City", "format": "uri", "examples": ["Paris"]},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "object", "additionalProperties": false, "properties": {"k": {"const": "x"}}}},
                "n": {"type": "integer", "exclusiveMinimum": 0, "minimum": 1},
                "either": {"oneOf": [{"type": "string"}, {"type": "number"}]}
            },
            "required": ["city"],
            "strict": true
        });
        assert_eq!(
            to_gemini(&schema),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "when": {"type": "string", "nullable": true, "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"enum": ["x"]}}}},
                    "n": {"type": "integer", "minimum": 1},
                    "either": {"anyOf": [{"type": "string"}, {"type": "number"}]}
                },
                "required": ["city"]
            })
        );
    }

    #[test]
    fn inlines_local_refs_and_cuts_recursion() {
        let schema = json!({
            "type": "object",
            "properties": {"owner": {"$ref": "#/$defs/Person"}},
            "$defs": {"Person": {"type": "object", "properties": {
                "name": {"type": "string"},
                "boss": {"$ref": "#/$defs/Person"}
            }}}
        });
        let out = to_gemini(&schema);
        assert_eq!(
            out["properties"]["owner"]["properties"]["name"],
            json!({"type": "string"})
        );
        assert!(out.get("$defs").is_none());
        // Recursion ends in an empty schema rather than looping.
        let mut node = &out["properties"]["owner"];
        let mut depth = 0;
        while let Some(next) = node["properties"].get("boss") {
            node = next;
            depth += 1;
        }
        assert_eq!(depth, MAX_REF_DEPTH);
        assert_eq!(to_gemini(&json!({"$ref": "#/$defs/Missing"})), json!({}));
    }

    #[test]
    fn multiple_types_become_any_of() {
        assert_eq!(
            to_gemini(&json!({"type": ["string", "integer", "null"]})),
            json!({"nullable": true, "anyOf": [{"type": "string"}, {"type": "integer"}]})
        );
    }

    #[test]
    fn empty_objects_are_detected() {
        assert!(is_empty_object(
            &json!({"type": "object", "properties": {}})
        ));
        assert!(is_empty_object(&json!({"type": "object"})));
        assert!(!is_empty_object(
            &json!({"type": "object", "properties": {"a": {}}})
        ));
    }
}
