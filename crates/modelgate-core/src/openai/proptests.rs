//! Property tests of the request parsers (issue 8): whatever bytes a client sends,
//! `parse_json_body` then `validate()` never panic, and a refusal is always a 400
//! `invalid_request_error` whose message is a full sentence (DESIGN §2).

use super::{
    parse_json_body, ChatCompletionRequest, EmbeddingsRequest, ImagesRequest, ResponsesRequest,
};
use crate::GatewayError;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;

/// The requests under test, parsed then validated as the server does.
trait Validate: DeserializeOwned {
    fn check(&self) -> Result<(), GatewayError>;
}

impl Validate for ChatCompletionRequest {
    fn check(&self) -> Result<(), GatewayError> {
        self.validate()
    }
}

impl Validate for EmbeddingsRequest {
    fn check(&self) -> Result<(), GatewayError> {
        self.validate()
    }
}

impl Validate for ResponsesRequest {
    fn check(&self) -> Result<(), GatewayError> {
        self.validate()
    }
}

impl Validate for ImagesRequest {
    fn check(&self) -> Result<(), GatewayError> {
        self.validate()
    }
}

/// Parses and validates `bytes` as a `T`; a refusal must be in the contract's shape.
fn refusal_is_a_contract_400<T: Validate>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let err = match parse_json_body::<T>(bytes) {
        Ok(req) => match req.check() {
            Ok(()) => return Ok(()),
            Err(e) => e,
        },
        Err(e) => e,
    };
    prop_assert_eq!(err.status(), 400, "{}", err.message());
    prop_assert_eq!(err.error_type(), "invalid_request_error");
    let body = err.to_body();
    prop_assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{}", body);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    prop_assert!(message.ends_with('.'), "not a sentence: {:?}", message);
    prop_assert!(
        body["error"]["details"].is_null() || body["error"]["details"]["param"].is_string(),
        "{}",
        body
    );
    Ok(())
}

fn all_four(bytes: &[u8]) -> Result<(), TestCaseError> {
    refusal_is_a_contract_400::<ChatCompletionRequest>(bytes)?;
    refusal_is_a_contract_400::<EmbeddingsRequest>(bytes)?;
    refusal_is_a_contract_400::<ResponsesRequest>(bytes)?;
    refusal_is_a_contract_400::<ImagesRequest>(bytes)
}

/// Every field name the four request types read, so that generated objects reach
/// their deeper checks.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "image_url",
    "url",
    "input_audio",
    "data",
    "file",
    "file_data",
    "stream",
    "stream_options",
    "include_usage",
    "max_tokens",
    "max_completion_tokens",
    "reasoning_effort",
    "reasoning",
    "effort",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "tools",
    "tool_choice",
    "response_format",
    "input",
    "encoding_format",
    "dimensions",
    "instructions",
    "max_output_tokens",
    "prompt",
    "size",
    "file_id",
    "file_ids",
    "image_urls",
];

/// Numbers at and beyond every integer and float limit serde meets.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "1.5",
    "0.0",
    "2.0000000001",
    "128",
    "129",
    "1000000000",
    "1000000001",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "1e999",
    "-1e999",
    "1e-999",
    "1E400",
    "5e-324",
    "1.7976931348623157e308",
];

/// Strings serde_json must refuse or keep: escapes, NULs, lone surrogates.
const STRINGS: &[&str] = &[
    r#""""#,
    r#"" ""#,
    r#""\u0000""#,
    r#""a\u0000b""#,
    r#""\ud800""#,
    r#""\udc00x""#,
    r#""\ud83d\ude00""#,
    r#""\"""#,
    r#""\\""#,
    r#""a/b""#,
    r#""openai/gpt-4o""#,
    r#""float""#,
    r#""base64""#,
    r#""url""#,
    r#""b64_json""#,
    r#""user""#,
    r#""text""#,
    r#""image_url""#,
    r#""file""#,
    r#""input_audio""#,
];

fn json_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        prop::sample::select(NUMBERS).prop_map(str::to_owned),
        prop::sample::select(STRINGS).prop_map(str::to_owned),
        // Any Unicode, control characters and NUL included, properly escaped.
        any::<String>().prop_map(|s| serde_json::Value::String(s).to_string()),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(|f| format!("\"{f}\"")),
        1 => any::<String>().prop_map(|s| serde_json::Value::String(s).to_string()),
    ]
}

/// JSON text (not `Value`: numbers beyond f64 and lone surrogates stay possible).
fn json_text() -> impl Strategy<Value = String> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((json_key(), inner), 0..6).prop_map(|fields| {
                let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// A JSON string of any Unicode, mostly; sometimes any leaf.
fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>().prop_map(|s| serde_json::Value::String(s).to_string()),
        1 => json_leaf(),
    ]
}

/// An object with a model, the fields each request type requires and some of the
/// others, with any values: it gets past the missing-field errors into the range
/// checks.
fn request_text() -> impl Strategy<Value = String> {
    let message = (
        prop::sample::select(&["user", "system", "assistant", "tool", ""][..]),
        json_text(),
    )
        .prop_map(|(role, content)| format!(r#"{{"role":"{role}","content":{content}}}"#));
    let input = prop_oneof![
        json_string(),
        prop::collection::vec(json_string(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
        json_text(),
    ];
    let value = prop_oneof![
        prop::sample::select(NUMBERS).prop_map(str::to_owned),
        json_text()
    ];
    (
        json_string(),
        prop::collection::vec(message, 0..3),
        input,
        json_string(),
        prop::collection::vec((prop::sample::select(FIELDS), value), 0..6),
    )
        .prop_map(|(model, messages, input, prompt, fields)| {
            let mut body = vec![
                format!(r#""model":{model}"#),
                format!(r#""messages":[{}]"#, messages.join(",")),
                format!(r#""input":{input}"#),
                format!(r#""prompt":{prompt}"#),
            ];
            body.extend(fields.iter().map(|(k, v)| format!(r#""{k}":{v}"#)));
            format!("{{{}}}", body.join(","))
        })
}

/// Valid requests of each kind: the seeds the byte mutations start from.
const SEEDS: &[&str] = &[
    r#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi there"}],"max_tokens":16,"n":2,"temperature":0.5,"stream":true,"stream_options":{"include_usage":true}}"#,
    r#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:x"}}]}],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
    r#"{"model":"openai/text-embedding-3-small","input":["a","b c"],"encoding_format":"float","dimensions":8}"#,
    r#"{"model":"openai/text-embedding-3-small","input":[[1,2],[3]]}"#,
    r#"{"model":"openai/gpt-4o","input":[{"role":"user","content":"hi"}],"instructions":"be brief","max_output_tokens":32}"#,
    r#"{"model":"google/imagen","prompt":"a cat","n":2,"size":"1024x1024","response_format":"b64_json","file_ids":["f1"],"image_urls":["https://x/a.png"]}"#,
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Splice(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), json_leaf()).prop_map(|(i, s)| Mutation::Splice(i, s)),
    ]
}

fn mutate(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match m {
            Mutation::Flip(i, b) if !bytes.is_empty() => {
                let i = at(*i, bytes.len());
                bytes[i] ^= b | 1;
            }
            Mutation::Insert(i, b) => bytes.insert(at(*i, bytes.len() + 1), *b),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(at(*i, bytes.len()));
            }
            Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len() + 1)),
            Mutation::Splice(i, s) => {
                let i = at(*i, bytes.len() + 1);
                bytes.splice(i..i, s.bytes());
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_refused_in_the_contract_shape(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        all_four(&bytes)?;
    }

    #[test]
    fn arbitrary_json_is_refused_in_the_contract_shape(text in json_text()) {
        all_four(text.as_bytes())?;
    }

    #[test]
    fn request_shaped_json_is_refused_in_the_contract_shape(text in request_text()) {
        all_four(text.as_bytes())?;
    }

    #[test]
    fn mutated_valid_requests_are_refused_in_the_contract_shape(
        seed in prop::sample::select(SEEDS),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        all_four(&mutate(seed, &mutations))?;
    }
}

#[test]
fn seeds_are_valid() {
    let chat = |s: &str| parse_json_body::<ChatCompletionRequest>(s.as_bytes())?.validate();
    let emb = |s: &str| parse_json_body::<EmbeddingsRequest>(s.as_bytes())?.validate();
    let resp = |s: &str| parse_json_body::<ResponsesRequest>(s.as_bytes())?.validate();
    let img = |s: &str| parse_json_body::<ImagesRequest>(s.as_bytes())?.validate();
    chat(SEEDS[0]).unwrap();
    chat(SEEDS[1]).unwrap();
    emb(SEEDS[2]).unwrap();
    emb(SEEDS[3]).unwrap();
    resp(SEEDS[4]).unwrap();
    img(SEEDS[5]).unwrap();
}

/// Regression: `Usage::new` summed the counts unchecked; an upstream reporting
/// absurd counts panicked (debug) or wrapped (release).
#[test]
fn usage_total_saturates() {
    let u = super::Usage::new(u64::MAX, 7);
    assert_eq!(u.total_tokens, u64::MAX);
}
