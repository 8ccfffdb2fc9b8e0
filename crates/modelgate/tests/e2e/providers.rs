//! The same OpenAI shapes from all three provider kinds (issue #5): the simulator
//! speaks OpenAI, Anthropic Messages and Gemini generateContent; the gateway
//! translates both ways.

use crate::chat::sse_events;
use crate::common::*;
use modelgate_simulator::{Simulator, SimulatorConfig};
use serde_json::{json, Value};

const KINDS: [&str; 3] = ["sim/gpt-4o", "sim/claude", "sim/gemini"];

async fn gateway() -> Gateway {
    gateway_with("").await
}

/// The three kinds, with `more` config appended.
async fn gateway_with(more: &str) -> Gateway {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            api_key: Some(SIM_KEY.into()),
        },
    )
    .await
    .unwrap();
    let extra = format!(
        r#"
[health]
consecutive_failures = 1000

[[providers]]
id = "sim-anthropic"
kind = "anthropic"
base_url = "{anthropic}"
api_key_env = "SIM_KEY"

[[providers]]
id = "sim-gemini"
kind = "gemini"
base_url = "{gemini}"
api_key_env = "SIM_KEY"

[[models]]
id = "sim/claude"
operations = ["chat_completions"]
context_window = 200000
max_output_tokens = 64000
pricing = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
reasoning_efforts = ["low", "medium", "high", "max"]
routes = [{{ provider = "sim-anthropic", upstream_model = "claude-sonnet-4-5" }}]

[[models]]
id = "sim/gemini"
operations = ["chat_completions"]
context_window = 1000000
max_output_tokens = 65536
pricing = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
reasoning_efforts = ["low", "medium", "high"]
routes = [{{ provider = "sim-gemini", upstream_model = "gemini-2.5-flash" }}]
{more}
"#,
        anthropic = sim.anthropic_base_url(),
        gemini = sim.gemini_base_url()
    );
    let config = sim_config(&sim, &extra);
    let mut gw = Gateway::start_with(&config, &[("SIM_KEY", SIM_KEY)]).await;
    gw.sim = Some(sim);
    gw
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "lookup", "description": "Look a thing up.", "parameters": {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}}}])
}

#[tokio::test]
async fn plain_answers_have_the_same_shape_from_every_kind() {
    let gw = gateway().await;
    for model in KINDS {
        let r = gw
            .chat(json!({"model": model, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello from afar"}]}))
            .await;
        assert_eq!(r.status(), 200, "{model}");
        let cost = r.headers()["x-modelgate-cost-usd"]
            .to_str()
            .unwrap()
            .to_owned();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion", "{model}: {v}");
        assert_eq!(v["model"], model);
        assert!(
            v["id"].as_str().unwrap().starts_with("chatcmpl-"),
            "{model}: {v}"
        );
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(
            v["choices"][0]["message"]["content"], "hello from afar",
            "{model}: {v}"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{model}: {v}");
        // 5 words of prompt (system included), 3 of answer: $0.000011.
        assert_eq!(v["usage"]["prompt_tokens"], 5, "{model}: {v}");
        assert_eq!(v["usage"]["completion_tokens"], 3, "{model}: {v}");
        assert_eq!(cost, "0.000011", "{model}");
    }
}

#[tokio::test]
async fn streams_have_the_same_shape_from_every_kind() {
    let gw = gateway().await;
    for model in KINDS {
        let r = gw
            .chat(json!({"model": model, "stream": true, "stream_options": {"include_usage": true}, "messages": user("one two three")}))
            .await;
        assert_eq!(r.status(), 200, "{model}");
        let events = sse_events(r).await;
        assert_eq!(events.last().unwrap().1, "[DONE]", "{model}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(
            chunks[0]["choices"][0]["delta"]["role"], "assistant",
            "{model}: first chunk is the role"
        );
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "one two three", "{model}");
        let finish: Vec<&Value> = chunks
            .iter()
            .filter(|c| !c["choices"][0]["finish_reason"].is_null())
            .collect();
        assert_eq!(finish.len(), 1, "{model}: one finish chunk");
        assert_eq!(finish[0]["choices"][0]["finish_reason"], "stop");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]), "{model}: usage chunk last");
        assert_eq!(usage["usage"]["completion_tokens"], 3, "{model}");
        assert!(chunks
            .iter()
            .all(|c| c["model"] == model && c["object"] == "chat.completion.chunk"));
    }
}

#[tokio::test]
async fn tool_calls_round_trip_plain_and_streamed() {
    let gw = gateway().await;
    for model in KINDS {
        let body =
            json!({"model": model, "tools": tools(), "messages": user("please call_tool now")});
        let v: Value = gw.chat(body.clone()).await.json().await.unwrap();
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(
            v["choices"][0]["finish_reason"], "tool_calls",
            "{model}: {v}"
        );
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "lookup");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"echo": "please call_tool now"}), "{model}");

        let mut streamed = body;
        streamed["stream"] = json!(true);
        let events = sse_events(gw.chat(streamed).await).await;
        let mut arguments = String::new();
        let mut name = None;
        for (_, d) in &events[..events.len() - 1] {
            let c: Value = serde_json::from_str(d).unwrap();
            if let Some(calls) = c["choices"][0]["delta"]["tool_calls"].as_array() {
                assert_eq!(calls[0]["index"], 0);
                if let Some(n) = calls[0]["function"]["name"].as_str() {
                    name = Some(n.to_owned());
                }
                arguments.push_str(calls[0]["function"]["arguments"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(name.as_deref(), Some("lookup"), "{model}");
        let args: Value = serde_json::from_str(&arguments)
            .unwrap_or_else(|e| panic!("{model}: {arguments}: {e}"));
        assert_eq!(args, json!({"echo": "please call_tool now"}), "{model}");

        // The tool's answer goes back in the native shape and the loop ends.
        let follow_up = json!({"model": model, "tools": tools(), "messages": [
            {"role": "user", "content": "please call_tool now"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": call["id"], "type": "function", "function": {"name": "lookup", "arguments": "{\"echo\":\"x\"}"}}]},
            {"role": "tool", "tool_call_id": call["id"], "content": "{\"found\": true}"},
        ]});
        let v: Value = gw.chat(follow_up).await.json().await.unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{model}: {v}");
    }
}

#[tokio::test]
async fn images_are_sent_in_the_native_shape() {
    let gw = gateway().await;
    let png = "data:image/png;base64,iVBORw0KGgo=";
    for (model, id) in [("sim/claude", "img-a"), ("sim/gemini", "img-g")] {
        let r = gw
            .chat(
                json!({"model": model, "messages": [{"role": "user", "content": [
                    {"type": "text", "text": format!("what is this [[sim:id={id}]]")},
                    {"type": "image_url", "image_url": {"url": png}},
                ]}]}),
            )
            .await;
        assert_eq!(r.status(), 200, "{model}");
        let sent = &gw.sim().requests_with_id(id)[0].body;
        let native = sent.to_string();
        assert!(native.contains("iVBORw0KGgo="), "{model}: {native}");
        assert!(native.contains("image/png"), "{model}: {native}");
        assert!(
            !native.contains("data:image"),
            "{model}: data URL unpacked: {native}"
        );
    }
}

#[tokio::test]
async fn reasoning_effort_reaches_each_upstream() {
    let gw = gateway().await;
    let r = gw.chat(json!({"model": "sim/claude:high", "max_tokens": 20000, "messages": user("think [[sim:id=think-a]]")})).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["model"], "sim/claude");
    assert_eq!(
        v["choices"][0]["message"]["reasoning_content"], "The user wants an echo.",
        "{v}"
    );
    let sent = &gw.sim().requests_with_id("think-a")[0].body;
    assert_eq!(sent["thinking"]["type"], "enabled", "{sent}");
    assert!(sent["thinking"]["budget_tokens"].as_u64().unwrap() >= 1024);

    gw.chat(json!({"model": "sim/gemini", "reasoning_effort": "low", "messages": user("think [[sim:id=think-g]]")})).await;
    let sent = &gw.sim().requests_with_id("think-g")[0].body;
    assert!(
        sent["generationConfig"]["thinkingConfig"].is_object(),
        "{sent}"
    );
}

#[tokio::test]
async fn upstream_failures_map_the_same_for_every_kind() {
    let gw = gateway().await;
    let cases: &[(&str, u16, &str)] = &[
        ("status=500", 502, "provider_error"),
        ("status=503", 502, "provider_error"),
        ("status=401", 502, "provider_error"),
        ("status=404", 502, "provider_error"),
        ("status=400", 400, "invalid_request_error"),
        ("code=context_length_exceeded", 413, "request_too_large"),
        ("status=429,retry_after=30", 429, "rate_limit_exceeded"),
        ("garbage", 502, "provider_error"),
        ("reset", 502, "provider_error"),
    ];
    for model in KINDS {
        for (directive, status, kind) in cases {
            let r = gw
                .chat(json!({"model": model, "messages": user(&format!("x [[sim:{directive}]]"))}))
                .await;
            assert_eq!(r.status().as_u16(), *status, "{model} {directive}");
            let b = expect_error(r, *status, kind).await;
            let msg = b["error"]["message"].as_str().unwrap();
            assert!(
                !msg.contains(SIM_KEY) && !msg.contains("127.0.0.1") && !msg.contains("http"),
                "{model} {directive}: {msg}"
            );
        }
        // A safety block is an answer, not an error.
        let v: Value = gw
            .chat(json!({"model": model, "messages": user("x [[sim:safety]]")}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            v["choices"][0]["finish_reason"], "content_filter",
            "{model}: {v}"
        );
    }
}

#[tokio::test]
async fn image_urls_to_private_addresses_are_refused() {
    let gw = gateway().await;
    for url in [
        "http://127.0.0.1:9/cat.png",
        "http://2130706433/cat.png",
        "http://[::ffff:10.0.0.1]/cat.png",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let r = gw
            .chat(
                json!({"model": "sim/gemini", "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "what is this [[sim:id=ssrf]]"},
                    {"type": "image_url", "image_url": {"url": url}},
                ]}]}),
            )
            .await;
        let b = expect_error(r, 400, "invalid_request_error").await;
        assert_eq!(
            b["error"]["details"]["param"], "messages[0].content[1].image_url.url",
            "{url}: {b}"
        );
    }
    assert!(
        gw.sim().requests_with_id("ssrf").is_empty(),
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn a_402_or_a_redirect_is_the_deployments_problem_for_every_kind() {
    let gw = gateway().await;
    let elsewhere = Simulator::start("127.0.0.1:0".parse().unwrap(), SimulatorConfig::default())
        .await
        .unwrap();
    for model in KINDS {
        // A redirect is never followed: each kind's key header stays home.
        let text = format!(
            "x [[sim:redirect=http://{}/v1/steal,id=moved-{model}]]",
            elsewhere.addr()
        );
        let r = gw
            .chat(json!({"model": model, "messages": user(&text)}))
            .await;
        expect_error(r, 502, "provider_error").await;
        let moved = format!("moved-{model}");
        assert_eq!(gw.sim().requests_with_id(&moved).len(), 1, "{model}");
        // The gateway's account is out of money: 502, then the deployment cools down.
        let r = gw
            .chat(json!({"model": model, "messages": user("x [[sim:status=402]]")}))
            .await;
        expect_error(r, 502, "provider_error").await;
        let after = format!("after-{model}");
        let r = gw
            .chat(json!({"model": model, "messages": user(&format!("x [[sim:id={after}]]"))}))
            .await;
        expect_error(r, 503, "provider_unavailable").await;
        assert!(gw.sim().requests_with_id(&after).is_empty(), "{model}");
    }
    assert!(
        elsewhere.requests().is_empty(),
        "no provider key reached the host a redirect names"
    );
}

/// A loopback image host: every path answers `size` bytes of PNG; fetches counted
/// per path.
struct ImageHost {
    base: String,
    fetched: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ImageHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ImageHost {
    async fn start(size: usize) -> ImageHost {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fetched: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> =
            std::sync::Arc::default();
        let counts = std::sync::Arc::clone(&fetched);
        let task = tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let counts = std::sync::Arc::clone(&counts);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split_whitespace().nth(1).unwrap_or("").to_owned();
                    *counts.lock().unwrap().entry(path).or_insert(0) += 1;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.write_all(&vec![b'P'; size]).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        ImageHost {
            base,
            fetched,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn count(&self, path: &str) -> usize {
        self.fetched.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn with_images(text: &str, urls: &[String]) -> Value {
    let mut content = vec![json!({"type": "text", "text": text})];
    content.extend(
        urls.iter()
            .map(|u| json!({"type": "image_url", "image_url": {"url": u}})),
    );
    json!([{"role": "user", "content": content}])
}

#[tokio::test]
async fn a_retried_request_fetches_each_image_once() {
    let gw = gateway_with("[fetch]\nallow_private = true\n").await;
    let host = ImageHost::start(1000).await;
    for (stream, case) in [(false, "plain"), (true, "stream")] {
        let (a, b) = (format!("/{case}-a.png"), format!("/{case}-b.png"));
        let urls = [host.url(&a), host.url(&b), host.url(&a)];
        // The simulator fails the first attempt: the gateway retries.
        let text = format!("what is this [[sim:status=503,fail_times=1,id=fetch-{case}]]");
        let r = gw
            .chat(json!({"model": "sim/gemini", "stream": stream, "messages": with_images(&text, &urls)}))
            .await;
        assert_eq!(r.status(), 200, "{case}");
        let _ = r.bytes().await.unwrap();
        let id = format!("fetch-{case}");
        let sent = gw.sim().requests_with_id(&id);
        assert_eq!(sent.len(), 2, "{case}: one failed attempt, one retry");
        assert!(
            sent[1].body.to_string().contains("image/png"),
            "{case}: the retry carries the images"
        );
        assert_eq!((host.count(&a), host.count(&b)), (1, 1), "{case}");
    }
}

#[tokio::test]
async fn the_images_of_one_request_are_bounded_in_total() {
    let gw = gateway_with("[fetch]\nallow_private = true\nmax_total_bytes = 2500\n").await;
    let host = ImageHost::start(1000).await;
    let fits: Vec<String> = (0..2)
        .map(|i| host.url(&format!("/fits-{i}.png")))
        .collect();
    let r = gw
        .chat(json!({"model": "sim/gemini", "messages": with_images("look [[sim:id=total-ok]]", &fits)}))
        .await;
    assert_eq!(r.status(), 200);
    let over: Vec<String> = (0..4)
        .map(|i| host.url(&format!("/over-{i}.png")))
        .collect();
    let r = gw
        .chat(json!({"model": "sim/gemini", "messages": with_images("look [[sim:id=total-over]]", &over)}))
        .await;
    let b = expect_error(r, 413, "request_too_large").await;
    let param = b["error"]["details"]["param"].as_str().unwrap();
    assert!(
        (1..=4).any(|i| param == format!("messages[0].content[{i}].image_url.url")),
        "{b}"
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains(param),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["limit_bytes"], 2500, "{b}");
    assert!(
        gw.sim().requests_with_id("total-over").is_empty(),
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn a_cut_anthropic_stream_bills_the_input_it_reported() {
    let gw = gateway().await;
    let text = "one two three four five six seven eight nine ten eleven twelve";
    let body = json!({"model": "sim/claude", "stream": true,
        "messages": user(&format!("{text} [[sim:cut_after=2]]"))});
    let r = gw.chat(body).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(r).await;
    assert!(
        events.iter().any(|(_, d)| d.contains("\"error\"")),
        "{events:?}"
    );
    let records = gw.usage(&gw.key, 1).await;
    let prompt = records[0]["prompt_tokens"].as_u64().unwrap();
    // The simulator's message_start reported the input (a token per word, plus the
    // directive's); the prompt's byte bound would be over 80.
    assert!(
        (12..40).contains(&prompt),
        "billed {prompt} prompt tokens: {}",
        records[0]
    );
    assert!(records[0]["completion_tokens"].as_u64().unwrap() >= 2);
}
