//! Property tests of the token bounds (issue 8): for any chat request the bounds are
//! ordered and never overflow, the bundled tokenizer's bounds lie within the cheap
//! upper bound, and the output bounds of any answer never panic (DESIGN §4).

use crate::openai::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};
use crate::tokens::{
    chat_prompt_bounds, check_boundable, chunk_output_upper, completion_output_upper,
    exact_chat_prompt_bounds, Tokenizer,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Text with the characters that move the bounds: every kind of whitespace,
/// multi-byte letters, emoji, NUL and other controls.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ \t\r\n\u{a0}\u{3000}\u{2028}a-zA-Z0-9é中😀\u{0}\u{7f}.,'{}\\[\\]\"]{0,48}",
        1 => any::<String>(),
    ]
}

/// Any JSON value, small.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A content part of every kind `classify` tells apart, and some it cannot.
fn part() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(|t| json!({"type": "text", "text": t})),
        text().prop_map(|t| json!({"text": t})),
        text().prop_map(|t| json!({"type": "image_url", "text": t, "image_url": {"url": t}})),
        text().prop_map(|d| json!({"type": "input_audio", "input_audio": {"data": d}})),
        text().prop_map(|d| json!({"type": "file", "file": {"file_data": d}})),
        text().prop_map(|id| json!({"type": "file", "file": {"file_id": id}})),
        (text(), value()).prop_map(|(t, v)| json!({"type": t, "text": v})),
        value(),
    ]
}

fn content() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        text().prop_map(|t| Some(Value::String(t))),
        prop::collection::vec(part(), 0..4).prop_map(|p| Some(Value::Array(p))),
        value().prop_map(Some),
    ]
}

fn message() -> impl Strategy<Value = Value> {
    (
        text(),
        content(),
        prop::collection::vec((text(), value()), 0..3),
    )
        .prop_map(|(role, content, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            m.insert("role".into(), Value::String(role));
            match content {
                Some(c) => m.insert("content".into(), c),
                None => m.remove("content"),
            };
            Value::Object(m)
        })
}

fn chat_request() -> impl Strategy<Value = ChatCompletionRequest> {
    (
        prop::collection::vec(message(), 0..5),
        proptest::option::of(prop::collection::vec(value(), 0..3)),
        proptest::option::of(value()),
        proptest::option::of(value()),
    )
        .prop_filter_map(
            "a chat request",
            |(messages, tools, tool_choice, response_format)| {
                let mut body = json!({"model": "openai/gpt-4o", "messages": messages});
                for (k, v) in [
                    ("tools", tools.map(Value::Array)),
                    ("tool_choice", tool_choice),
                    ("response_format", response_format),
                ] {
                    if let Some(v) = v.filter(|v| !v.is_null()) {
                        body[k] = v;
                    }
                }
                serde_json::from_value(body).ok()
            },
        )
}

fn chunk() -> impl Strategy<Value = Option<ChatCompletionChunk>> {
    let choice = (
        proptest::option::of(text()),
        proptest::option::of(text()),
        prop::collection::vec((any::<u32>(), proptest::option::of(text()), text()), 0..3),
    )
        .prop_map(|(content, reasoning, calls)| {
            let calls: Vec<Value> = calls
                .into_iter()
                .map(|(index, name, arguments)| {
                    json!({"index": index, "function": {"name": name, "arguments": arguments}})
                })
                .collect();
            json!({"delta": {"content": content, "reasoning_content": reasoning, "tool_calls": calls}})
        });
    prop::collection::vec(choice, 0..4).prop_map(|choices| {
        serde_json::from_value(json!({"id": "c", "model": "m", "choices": choices})).ok()
    })
}

fn completion() -> impl Strategy<Value = Option<ChatCompletion>> {
    let choice = (
        proptest::option::of(text()),
        proptest::option::of(text()),
        prop::collection::vec((text(), proptest::option::of(text()), text()), 0..3),
    )
        .prop_map(|(content, reasoning, calls)| {
            let calls: Vec<Value> = calls
                .into_iter()
                .map(|(id, name, arguments)| {
                    json!({"id": id, "function": {"name": name, "arguments": arguments}})
                })
                .collect();
            json!({"message": {"content": content, "reasoning_content": reasoning, "tool_calls": calls}})
        });
    prop::collection::vec(choice, 0..4).prop_map(|choices| {
        serde_json::from_value(json!({"id": "c", "model": "m", "choices": choices})).ok()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn cheap_bounds_are_ordered(r in chat_request()) {
        let cheap = chat_prompt_bounds(&r);
        prop_assert!(cheap.lower <= cheap.upper, "{:?}", cheap);
        prop_assert!(!cheap.exact);
        // Refused or not, a request is checked without panicking.
        let _ = check_boundable(&r);
    }

    #[test]
    fn exact_bounds_lie_within_the_cheap_upper_bound(r in chat_request()) {
        let cheap = chat_prompt_bounds(&r);
        for tokenizer in [Tokenizer::O200k, Tokenizer::Cl100k] {
            let exact = exact_chat_prompt_bounds(&r, tokenizer).unwrap();
            prop_assert!(exact.exact);
            prop_assert!(exact.lower <= exact.upper, "{:?}", exact);
            // A token encodes at least one byte: the exact count never exceeds the bytes.
            prop_assert!(exact.upper <= cheap.upper, "{:?} > {:?}", exact, cheap);
        }
    }

    #[test]
    fn output_bounds_never_panic(c in chunk(), whole in completion()) {
        if let Some(c) = c {
            let bytes: u64 = c.choices.iter().map(|ch| {
                ch.delta.content.as_deref().map_or(0, str::len) as u64
                    + ch.delta.reasoning_content.as_deref().map_or(0, str::len) as u64
            }).sum();
            prop_assert!(chunk_output_upper(&c) >= bytes);
        }
        if let Some(whole) = whole {
            prop_assert!(completion_output_upper(&whole) >= whole.choices.len() as u64);
        }
    }
}
