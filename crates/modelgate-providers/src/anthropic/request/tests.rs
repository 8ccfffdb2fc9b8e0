use super::*;
use modelgate_core::openai::ChatCompletionRequest;
use serde_json::{json, Value};

/// A fixture: the client's request, what the route and gateway add, and the exact
/// Messages body expected.
fn check(fixture: &str) {
    let case: Value = serde_json::from_str(fixture).unwrap();
    let req: ChatCompletionRequest = serde_json::from_value(case["openai"].clone()).unwrap();
    let t = &case["target"];
    let target = Target {
        upstream_model: t["upstream_model"].as_str().unwrap(),
        effort: t["effort"].as_str().and_then(ReasoningEffort::parse),
        max_output_tokens: t["max_output_tokens"].as_u64(),
    };
    let got = serde_json::to_value(to_native(&req, &target).unwrap()).unwrap();
    assert_eq!(
        got,
        case["anthropic"],
        "{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

#[test]
fn system_and_merged_turns() {
    check(include_str!(
        "../../../tests/fixtures/anthropic/request_system_merge.json"
    ));
}

#[test]
fn images_base64_url_and_pdf() {
    check(include_str!(
        "../../../tests/fixtures/anthropic/request_images.json"
    ));
}

#[test]
fn tools_tool_calls_and_results() {
    check(include_str!(
        "../../../tests/fixtures/anthropic/request_tools.json"
    ));
}

#[test]
fn thinking_with_json_schema() {
    check(include_str!(
        "../../../tests/fixtures/anthropic/request_thinking.json"
    ));
}

fn request(extra: Value) -> ChatCompletionRequest {
    let mut body = json!({
        "model": "anthropic/claude-sonnet-4.5",
        "messages": [{ "role": "user", "content": "Hi" }]
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    serde_json::from_value(body).unwrap()
}

fn target(effort: Option<ReasoningEffort>, max_output_tokens: Option<u64>) -> Target<'static> {
    Target {
        upstream_model: "claude-sonnet-4-5",
        effort,
        max_output_tokens,
    }
}

fn native(extra: Value, effort: Option<ReasoningEffort>) -> Value {
    serde_json::to_value(to_native(&request(extra), &target(effort, None)).unwrap()).unwrap()
}

fn error(extra: Value) -> (String, Option<Value>) {
    let e = to_native(&request(extra), &target(None, None)).unwrap_err();
    assert_eq!((e.status(), e.error_type()), (400, "invalid_request_error"));
    (
        e.message(),
        e.details().and_then(|d| d.get("param").cloned()),
    )
}

#[test]
fn tool_choice_variants() {
    let tools = json!([{ "type": "function", "function": { "name": "f" } }]);
    let cases = [
        (json!("auto"), json!({ "type": "auto" })),
        (json!("required"), json!({ "type": "any" })),
        (json!("none"), json!({ "type": "none" })),
        (
            json!({ "type": "function", "function": { "name": "f" } }),
            json!({ "type": "tool", "name": "f" }),
        ),
    ];
    for (choice, want) in cases {
        let got = native(json!({ "tools": tools, "tool_choice": choice }), None);
        assert_eq!(got["tool_choice"], want, "{choice}");
        assert_eq!(got["tools"][0]["name"], "f");
    }
    // parallel_tool_calls=false alone still needs a tool_choice to carry it.
    let got = native(
        json!({ "tools": tools, "parallel_tool_calls": false }),
        None,
    );
    assert_eq!(
        got["tool_choice"],
        json!({ "type": "auto", "disable_parallel_tool_use": true })
    );
    // No tools: no tool_choice (Anthropic refuses one without tools).
    let got = native(json!({ "tool_choice": "required" }), None);
    assert_eq!((got.get("tools"), got.get("tool_choice")), (None, None));
    let (msg, param) = error(json!({ "tools": tools, "tool_choice": "sometimes" }));
    assert_eq!(param, Some(json!("tool_choice")), "{msg}");
}

#[test]
fn thinking_budgets_from_effort() {
    use ReasoningEffort::{High, Low, Max, Medium};
    let cases = [
        (Low, 8000, Some(1024)),
        (Medium, 8000, Some(4096)),
        (High, 20000, Some(16384)),
        (Max, 64000, Some(32768)),
        // capped below max_tokens
        (Max, 10000, Some(9999)),
        (Medium, 1025, Some(1024)),
        // no room for the minimum budget
        (High, 1024, None),
        (Low, 500, None),
    ];
    for (effort, max_tokens, budget) in cases {
        let got = native(
            json!({ "max_tokens": max_tokens, "temperature": 0.5, "top_p": 0.5 }),
            Some(effort),
        );
        let want = budget.map(|b| json!({ "type": "enabled", "budget_tokens": b }));
        assert_eq!(
            got.get("thinking"),
            want.as_ref(),
            "{effort:?} {max_tokens}"
        );
        // Sampling parameters go only without thinking.
        assert_eq!(got.get("temperature").is_some(), budget.is_none());
    }
    assert_eq!(native(json!({}), None).get("thinking"), None);
}

#[test]
fn thinking_is_skipped_when_anthropic_would_refuse_it() {
    let tools = json!([{ "type": "function", "function": { "name": "f" } }]);
    let forced = native(
        json!({ "tools": tools, "tool_choice": "required" }),
        Some(ReasoningEffort::High),
    );
    assert_eq!(forced.get("thinking"), None);
    let tool_loop = native(
        json!({
            "tools": tools,
            "messages": [
                { "role": "user", "content": "Hi" },
                { "role": "assistant", "tool_calls": [{ "id": "t1", "type": "function", "function": { "name": "f", "arguments": "" } }] },
                { "role": "tool", "tool_call_id": "t1", "content": "done" }
            ]
        }),
        Some(ReasoningEffort::High),
    );
    assert_eq!(tool_loop.get("thinking"), None);
    let prefilled = native(
        json!({ "messages": [
            { "role": "user", "content": "Hi" },
            { "role": "assistant", "content": "{" }
        ] }),
        Some(ReasoningEffort::High),
    );
    assert_eq!(prefilled.get("thinking"), None);
    assert_eq!(prefilled["temperature"], Value::Null);
    assert_eq!(tool_loop["messages"][1]["content"][0]["input"], json!({}));
}

#[test]
fn max_tokens_fallback() {
    let limit = |extra: Value, gateway: Option<u64>| {
        let n = to_native(&request(extra), &target(None, gateway)).unwrap();
        n.max_tokens
    };
    assert_eq!(
        limit(
            json!({ "max_completion_tokens": 100, "max_tokens": 200 }),
            Some(50)
        ),
        100
    );
    assert_eq!(limit(json!({ "max_tokens": 200 }), Some(50)), 200);
    assert_eq!(limit(json!({}), Some(50)), 50);
    assert_eq!(limit(json!({}), None), 4096);
}

#[test]
fn json_object_format_becomes_a_system_instruction() {
    let got = native(
        json!({ "response_format": { "type": "json_object" } }),
        None,
    );
    assert_eq!(
        got["system"],
        "Answer with a single valid JSON object, and nothing else (no prose, no code fences)."
    );
    assert_eq!(
        native(json!({ "response_format": { "type": "text" } }), None).get("system"),
        None
    );
}

#[test]
fn refusals_name_the_field() {
    let (_, param) = error(json!({ "n": 2 }));
    assert_eq!(param, Some(json!("n")));
    let (msg, param) = error(json!({ "messages": [
        { "role": "user", "content": "Hi" },
        { "role": "assistant", "tool_calls": [{ "id": "t1", "type": "function", "function": { "name": "f", "arguments": "{\"city\": " } }] }
    ] }));
    assert_eq!(param, Some(json!("messages[1].tool_calls")));
    assert_eq!(
        msg,
        "messages[1].tool_calls[0].function.arguments must be a JSON object encoded as a string."
    );
    let (_, param) = error(json!({ "messages": [{ "role": "function", "content": "x" }] }));
    assert_eq!(param, Some(json!("messages[0].role")));
    let (_, param) = error(json!({ "messages": [{ "role": "user", "content": [
        { "type": "image_url", "image_url": { "url": "file:///etc/passwd" } }
    ] }] }));
    assert_eq!(param, Some(json!("messages[0].content[0].image_url.url")));
    let (msg, _) = error(json!({ "messages": [{ "role": "user", "content": [
        { "type": "image_url", "image_url": { "url": "data:image/tiff;base64,AAAA" } }
    ] }] }));
    assert_eq!(
        msg,
        "messages[0].content[0].image_url.url holds \"image/tiff\", which this model does not take: use JPEG, PNG, GIF or WebP."
    );
    let (_, param) = error(json!({ "messages": [{ "role": "tool", "content": "x" }] }));
    assert_eq!(param, Some(json!("messages[0].tool_call_id")));
    let (_, param) = error(json!({ "tools": [{ "type": "web_search" }] }));
    assert_eq!(param, Some(json!("tools[0].type")));
}

#[test]
fn refusals_quote_client_strings_bounded() {
    let huge = "r".repeat(100_000);
    let (msg, _) = error(json!({ "messages": [{ "role": huge, "content": "x" }] }));
    assert!(msg.len() < 400, "{}", msg.len());
    let (msg, _) = error(json!({ "messages": [{ "role": "user", "content": [
        { "type": huge, "text": "x" }
    ] }] }));
    assert!(msg.len() < 400, "{}", msg.len());
}
