//! Request translation against the recorded fixtures in `tests/fixtures/gemini/`.

use super::*;
use crate::gemini::wire::Blob;
use modelgate_core::catalog::{ProviderSpec, Route};
use modelgate_core::config::{FetchConfig, ProviderKind};
use modelgate_core::openai::ChatCompletionRequest;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn route(upstream_model: &str) -> Route {
    Route {
        deployment: 0,
        provider: Arc::new(ProviderSpec {
            id: "google".into(),
            kind: ProviderKind::Gemini,
            base_url: "https://generativelanguage.googleapis.com".into(),
            api_key_env: None,
            api_key: None,
            configured: true,
            connect_timeout: Duration::from_secs(1),
            first_byte_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(1),
        }),
        upstream_model: upstream_model.into(),
        weight: 1,
        priority: 0,
    }
}

/// Translates a fixture's `request` as its `upstream_model` with its `effort`,
/// `max_output_tokens` and fetched `images`.
fn translate(fixture: &Value) -> Result<Value, GatewayError> {
    let request: ChatCompletionRequest =
        serde_json::from_value(fixture["request"].clone()).unwrap();
    let route = route(fixture["upstream_model"].as_str().unwrap());
    let fetch = FetchConfig::default();
    let call = ChatCall {
        route: &route,
        request: &request,
        canonical_model: request.model.as_str(),
        effort: fixture["effort"].as_str().and_then(ReasoningEffort::parse),
        max_output_tokens: fixture["max_output_tokens"].as_u64(),
        mock_fault: None,
        fetch: &fetch,
        images: &crate::ImageCache::default(),
    };
    let images: Images = match fixture.get("images") {
        Some(v) => serde_json::from_value::<std::collections::HashMap<String, Blob>>(v.clone())
            .unwrap()
            .into_iter()
            .map(|(url, b)| {
                let fetched = crate::fetch::FetchedImage {
                    mime_type: b.mime_type,
                    base64: b.data,
                };
                (url, fetched)
            })
            .collect(),
        None => Images::new(),
    };
    to_native(&call, &images).map(|native| serde_json::to_value(native).unwrap())
}

fn check(text: &str) {
    let fixture: Value = serde_json::from_str(text).unwrap();
    let got =
        translate(&fixture).unwrap_or_else(|e| panic!("{}: {}", fixture["about"], e.message()));
    assert_eq!(
        got, fixture["expected"],
        "{}\ngot: {got:#}",
        fixture["about"]
    );
}

#[test]
fn system_and_multi_turn_merge() {
    check(include_str!(
        "../../tests/fixtures/gemini/request_system_multiturn.json"
    ));
}

#[test]
fn inline_and_fetched_images() {
    check(include_str!(
        "../../tests/fixtures/gemini/request_images.json"
    ));
}

#[test]
fn tools_tool_calls_and_tool_results() {
    check(include_str!(
        "../../tests/fixtures/gemini/request_tools.json"
    ));
}

#[test]
fn generation_config_and_tool_choice() {
    check(include_str!(
        "../../tests/fixtures/gemini/request_generation_config.json"
    ));
}

#[test]
fn thinking_budget_on_gemini_2_5() {
    check(include_str!(
        "../../tests/fixtures/gemini/request_thinking_2_5.json"
    ));
}

#[test]
fn thinking_level_and_signature_placeholder_on_gemini_3() {
    check(include_str!(
        "../../tests/fixtures/gemini/request_thinking_3.json"
    ));
}

#[test]
fn effort_per_generation() {
    let cases = [
        ("gemini-2.5-flash", ReasoningEffort::Low, Some(1024), None),
        ("gemini-2.5-flash", ReasoningEffort::High, Some(24576), None),
        ("gemini-2.5-flash", ReasoningEffort::Max, Some(24576), None),
        ("gemini-2.5-pro", ReasoningEffort::Max, Some(32768), None),
        (
            "models/gemini-2.5-flash-lite",
            ReasoningEffort::Low,
            Some(1024),
            None,
        ),
        ("gemini-3.8-flash", ReasoningEffort::Low, None, Some("low")),
        (
            "gemini-3.8-flash",
            ReasoningEffort::Medium,
            None,
            Some("medium"),
        ),
        (
            "gemini-3-pro-preview",
            ReasoningEffort::Medium,
            None,
            Some("high"),
        ),
        ("gemini-3.5-flash", ReasoningEffort::Max, None, Some("high")),
    ];
    for (model, effort, budget, level) in cases {
        let t = thinking(model, effort);
        assert_eq!(t.thinking_budget, budget, "{model} {effort:?}");
        assert_eq!(t.thinking_level.as_deref(), level, "{model} {effort:?}");
        assert_eq!(t.include_thoughts, Some(true));
    }
}

/// Each bad request: (messages, tools, the field the 400 must name).
#[test]
fn invalid_requests_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}
            ]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}]}
            ]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "r"}]}),
            "messages[1].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "critic", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "system", "content": "only a system prompt"}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "code_interpreter"}]}),
            "tools[0].type",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}),
            "tool_choice",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}),
            "response_format.type",
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}, {"role": "user", "content": "x"}]}),
            "messages[0].content[0].type",
        ),
    ];
    // The same refusals with client strings of any length: quoted bounded.
    let huge = "z".repeat(100_000);
    let bounded: Vec<(Value, &str)> = vec![
        (
            json!({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": huge, "content": "r"}]}),
            "messages[1].tool_call_id",
        ),
        (
            json!({"messages": [{"role": huge, "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": huge}]}),
            "tools[0].type",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": huge}),
            "tool_choice",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": huge}}),
            "response_format.type",
        ),
    ];
    for (mut request, param) in cases.into_iter().chain(bounded) {
        request["model"] = json!("google/gemini-2.5-flash");
        let fixture = json!({"upstream_model": "gemini-2.5-flash", "request": request});
        let e = translate(&fixture).expect_err(param);
        assert_eq!(
            (e.status(), e.error_type()),
            (400, "invalid_request_error"),
            "{param}"
        );
        assert_eq!(
            e.details(),
            Some(json!({"param": param})),
            "{}",
            e.message()
        );
        assert!(
            e.message().len() < 500,
            "{param}: {} bytes",
            e.message().len()
        );
    }
}

#[test]
fn tool_choice_modes() {
    let mode = |choice: Value| {
        tool_config(Some(&choice))
            .unwrap()
            .map(|c| serde_json::to_value(c).unwrap())
    };
    assert_eq!(
        mode(json!("auto")),
        Some(json!({"functionCallingConfig": {"mode": "AUTO"}}))
    );
    assert_eq!(
        mode(json!("none")),
        Some(json!({"functionCallingConfig": {"mode": "NONE"}}))
    );
    assert_eq!(
        mode(json!("required")),
        Some(json!({"functionCallingConfig": {"mode": "ANY"}}))
    );
    assert_eq!(
        mode(json!({"type": "function", "function": {"name": "f"}})),
        Some(json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}))
    );
    assert_eq!(mode(Value::Null), None);
}
