//! The async part end to end: against a raw local server (exact request line and
//! headers, recorded transcripts, cut streams) and against the simulator the
//! gateway's end-to-end tests use.

use super::*;
use crate::fetch::tests::test_server::{self, response, Reply};
use crate::gemini::request::tests::route;
use modelgate_core::catalog::Route;
use modelgate_core::config::FetchConfig;
use modelgate_core::model_id::ReasoningEffort;
use modelgate_core::openai::ChatCompletionRequest;
use modelgate_core::secret::Secret;
use modelgate_simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};
use std::sync::Arc;

const KEY: &str = "AIzaSyTEST-secret-key-0123456789";
const MODEL: &str = "google/gemini-2.5-flash";

fn route_to(base_url: &str, upstream_model: &str) -> Route {
    let mut r = route(upstream_model);
    let mut spec = (*r.provider).clone();
    spec.base_url = base_url.to_owned();
    spec.api_key = Some(Secret::new(KEY));
    spec.first_byte_timeout = std::time::Duration::from_secs(5);
    spec.total_timeout = std::time::Duration::from_secs(10);
    r.provider = Arc::new(spec);
    r
}

async fn call(
    route: &Route,
    body: Value,
    fetch: &FetchConfig,
    effort: Option<ReasoningEffort>,
) -> Result<ChatResponse, UpstreamError> {
    let mut body = body;
    body["model"] = json!(MODEL);
    let request: ChatCompletionRequest = serde_json::from_value(body).unwrap();
    let call = ChatCall {
        route,
        request: &request,
        canonical_model: MODEL,
        effort,
        max_output_tokens: None,
        mock_fault: None,
        fetch,
        images: &crate::ImageCache::default(),
    };
    chat(&reqwest::Client::new(), &call).await
}

async fn collect(resp: ChatResponse) -> Vec<Result<Value, UpstreamError>> {
    let ChatResponse::Stream(mut s) = resp else {
        panic!("not a stream")
    };
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.push(item.map(|c| serde_json::to_value(c).unwrap()));
    }
    out
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

#[tokio::test]
async fn the_key_goes_in_a_header_never_in_the_url() {
    let answer = include_str!("../../tests/fixtures/gemini/response_text.json");
    let fixture: Value = serde_json::from_str(answer).unwrap();
    let body = serde_json::to_vec(&fixture["cases"][0]["gemini"]).unwrap();
    let server = test_server::start(move |_, _| {
        Reply::Raw(response(
            "200 OK",
            &[("content-type", "application/json")],
            &body,
        ))
    })
    .await;
    let route = route_to(&format!("http://{}/", server.addr), "gemini-2.5-flash");
    let resp = call(
        &route,
        json!({"messages": user("hi")}),
        &FetchConfig::default(),
        None,
    )
    .await
    .unwrap();
    let ChatResponse::Complete(c) = resp else {
        panic!("not complete")
    };
    assert_eq!(c.model, MODEL);
    assert_eq!(c.id, "chatcmpl-bHsNaLqRFZ2Vz7IPmNGHuAs");
    assert_eq!(
        c.choices[0].message.content.as_deref(),
        Some("Hello! How can I help?")
    );

    let (head, sent) = server.requests.lock().unwrap()[0].clone();
    let request_line = head.lines().next().unwrap();
    assert_eq!(
        request_line,
        "POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("x-goog-api-key: {}", KEY.to_ascii_lowercase())),
        "{head}"
    );
    assert!(!request_line.contains("key="));
    let sent: Value = serde_json::from_slice(&sent).unwrap();
    assert_eq!(
        sent,
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    );
}

#[tokio::test]
async fn a_recorded_stream_over_http() {
    let transcript = include_str!("../../tests/fixtures/gemini/stream_text.sse")
        .as_bytes()
        .to_vec();
    let server = test_server::start(move |_, _| {
        let mut r =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                .to_vec();
        r.extend_from_slice(&transcript);
        Reply::Raw(r)
    })
    .await;
    let route = route_to(&format!("http://{}", server.addr), "gemini-2.5-flash");
    let resp = call(
        &route,
        json!({"stream": true, "messages": user("hi")}),
        &FetchConfig::default(),
        Some(ReasoningEffort::Low),
    )
    .await
    .unwrap();
    let mut got: Vec<Value> = collect(resp)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    for c in &mut got {
        c["created"] = json!(1_700_000_000);
    }
    let expected: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/gemini/stream_text.expected.json"
    ))
    .unwrap();
    assert_eq!(Value::Array(got), expected["chunks"]);
    let (head, sent) = server.requests.lock().unwrap()[0].clone();
    assert!(
        head.starts_with(
            "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse HTTP/1.1"
        ),
        "{head}"
    );
    let sent: Value = serde_json::from_slice(&sent).unwrap();
    assert_eq!(
        sent["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingBudget": 1024})
    );
}

#[tokio::test]
async fn a_stream_without_a_finish_or_with_an_error_event_fails_retriably() {
    let cut = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}], \"role\": \"model\"}, \"index\": 0}], \"responseId\": \"cut\"}\r\n\r\n";
    let failed = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}], \"role\": \"model\"}, \"index\": 0}]}\r\n\r\ndata: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n";
    for transcript in [cut, failed] {
        let server = test_server::start(move |_, _| {
            let mut r =
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                    .to_vec();
            r.extend_from_slice(transcript.as_bytes());
            Reply::Raw(r)
        })
        .await;
        let route = route_to(&format!("http://{}", server.addr), "gemini-2.5-flash");
        let resp = call(
            &route,
            json!({"stream": true, "messages": user("hi")}),
            &FetchConfig::default(),
            None,
        )
        .await
        .unwrap();
        let items = collect(resp).await;
        assert_eq!(items.len(), 3, "role, text, error");
        let e = items.into_iter().last().unwrap().unwrap_err();
        assert!(e.retriable);
        assert_eq!(e.error.error_type(), "provider_error");
    }
}

#[tokio::test]
async fn upstream_errors_are_mapped_with_retry_after() {
    let body = br#"{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}"#;
    let server = test_server::start(move |_, _| {
        Reply::Raw(response(
            "429 Too Many Requests",
            &[("content-type", "application/json"), ("retry-after", "7")],
            body,
        ))
    })
    .await;
    let route = route_to(&format!("http://{}", server.addr), "gemini-2.5-flash");
    let e = call(
        &route,
        json!({"messages": user("hi")}),
        &FetchConfig::default(),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(e.error.status(), 429);
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(7)));
}

#[tokio::test]
async fn remote_images_are_fetched_inlined_and_guarded() {
    let image_server = test_server::start(|_, _| {
        Reply::Raw(response(
            "200 OK",
            &[("content-type", "image/jpeg")],
            b"JPEGDATA",
        ))
    })
    .await;
    let gemini = test_server::start(|_, _| {
        let body = br#"{"candidates": [{"content": {"parts": [{"text": "a cat"}], "role": "model"}, "finishReason": "STOP"}]}"#;
        Reply::Raw(response("200 OK", &[("content-type", "application/json")], body))
    })
    .await;
    let route = route_to(&format!("http://{}", gemini.addr), "gemini-2.5-flash");
    let image_url = format!("http://{}/cat.jpg", image_server.addr);
    let body = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": image_url}},
        {"type": "image_url", "image_url": {"url": image_url}}
    ]}]});

    // [fetch] allow_private = false: refused before the image server or Gemini is asked.
    let e = call(&route, body.clone(), &FetchConfig::default(), None)
        .await
        .err()
        .unwrap()
        .error;
    assert_eq!(e.status(), 400);
    assert_eq!(
        e.details(),
        Some(json!({"param": "messages[0].content[1].image_url.url"}))
    );
    assert_eq!(
        image_server
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(
        gemini.connections.load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    let allow = FetchConfig {
        allow_private: true,
        ..FetchConfig::default()
    };
    call(&route, body, &allow, None).await.unwrap();
    // The same URL twice is fetched once.
    assert_eq!(
        image_server
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let sent: Value = serde_json::from_slice(&gemini.requests.lock().unwrap()[0].1).unwrap();
    let inline = json!({"inlineData": {"mimeType": "image/jpeg", "data": "SlBFR0RBVEE="}});
    assert_eq!(
        sent["contents"][0]["parts"],
        json!([{"text": "what is this"}, inline, inline])
    );
}

/// The simulator the gateway's end-to-end tests talk to: plain, streamed, tool
/// round trip, safety block, and its API_KEY_INVALID answer.
#[tokio::test]
async fn against_the_simulator() {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            api_key: Some(KEY.into()),
        },
    )
    .await
    .unwrap();
    let route = route_to(&sim.gemini_base_url(), "gemini-2.5-flash");
    let fetch = FetchConfig::default();
    let plain = |r: ChatResponse| match r {
        ChatResponse::Complete(c) => serde_json::to_value(c).unwrap(),
        ChatResponse::Stream(_) => panic!("stream"),
    };

    let v = plain(call(&route, json!({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello from afar"}]}), &fetch, None).await.unwrap());
    assert_eq!(
        v["choices"][0]["message"]["content"], "hello from afar",
        "{v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        (
            v["usage"]["prompt_tokens"].as_u64(),
            v["usage"]["completion_tokens"].as_u64()
        ),
        (Some(5), Some(3))
    );

    let items = collect(
        call(
            &route,
            json!({"stream": true, "messages": user("one two three")}),
            &fetch,
            None,
        )
        .await
        .unwrap(),
    )
    .await;
    let chunks: Vec<Value> = items.into_iter().map(|r| r.unwrap()).collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    assert_eq!(
        chunks
            .iter()
            .filter(|c| !c["choices"][0]["finish_reason"].is_null())
            .count(),
        1
    );
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 3);

    let tools = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"echo": {"type": "string"}}}}}]);
    let v = plain(
        call(
            &route,
            json!({"tools": tools, "messages": user("please call_tool now")}),
            &fetch,
            None,
        )
        .await
        .unwrap(),
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    let tool_call = v["choices"][0]["message"]["tool_calls"][0].clone();
    let items = collect(
        call(
            &route,
            json!({"stream": true, "tools": tools, "messages": user("please call_tool now")}),
            &fetch,
            None,
        )
        .await
        .unwrap(),
    )
    .await;
    let finish: Vec<Value> = items
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "tool_calls");
    let follow_up = json!({"tools": tools, "messages": [
        {"role": "user", "content": "please call_tool now"},
        {"role": "assistant", "content": null, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": tool_call["id"], "content": "{\"found\": true}"}
    ]});
    let v = plain(call(&route, follow_up, &fetch, None).await.unwrap());
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");

    let v = plain(
        call(
            &route,
            json!({"messages": user("x [[sim:safety]]")}),
            &fetch,
            None,
        )
        .await
        .unwrap(),
    );
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter", "{v}");

    let mut wrong_key = (*route.provider).clone();
    wrong_key.api_key = Some(Secret::new("AIzaSyWRONG-0123456789abcdef"));
    let wrong = Route {
        provider: Arc::new(wrong_key),
        ..route.clone()
    };
    let e = call(&wrong, json!({"messages": user("hi")}), &fetch, None)
        .await
        .err()
        .unwrap()
        .error;
    assert_eq!((e.status(), e.error_type()), (502, "provider_error"));
    assert!(!e.message().contains("AIza"), "{}", e.message());
}
