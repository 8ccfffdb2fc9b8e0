//! The seeds: one valid request to every route, with the IDs they name.

use crate::common::ADMIN_TOKEN;
use serde_json::{json, Value};

pub(super) const BOUNDARY: &str = "mgfuzzboundary";

#[derive(Clone)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Vec<u8>,
    pub(super) json: bool,
}

pub(super) struct Ids {
    pub(super) key: String,
    pub(super) demo_key: String,
    pub(super) account: String,
    pub(super) revocable_key: String,
    pub(super) file: String,
    pub(super) deletable_file: String,
}

pub(super) fn headers(auth: Option<&str>, content_type: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut h = vec![("host".to_owned(), b"localhost".to_vec())];
    if let Some(a) = auth {
        h.push(("authorization".into(), format!("Bearer {a}").into_bytes()));
    }
    if let Some(c) = content_type {
        h.push(("content-type".into(), c.as_bytes().to_vec()));
    }
    h.push(("connection".into(), b"close".to_vec()));
    h
}

pub(super) fn post(path: &str, auth: &str, body: Value) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        headers: headers(Some(auth), Some("application/json")),
        body: body.to_string().into_bytes(),
        json: true,
    }
}

pub(super) fn get(path: &str, auth: Option<&str>) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        headers: headers(auth, None),
        body: Vec::new(),
        json: false,
    }
}

pub(super) fn multipart(path: &str, auth: &str, fields: &[(&str, Option<&str>, &[u8])]) -> Request {
    let mut body = Vec::new();
    for (name, filename, data) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream"),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    Request {
        method: "POST".into(),
        path: path.into(),
        headers: headers(Some(auth), Some(&content_type)),
        body,
        json: false,
    }
}

/// Valid requests to every route.
pub(super) fn seeds(ids: &Ids) -> Vec<Request> {
    let k = ids.key.as_str();
    let chat = |model: &str, stream: bool| {
        json!({"model": model, "messages": [{"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
            "max_tokens": 16, "temperature": 0.5, "stream": stream,
            "stream_options": {"include_usage": true}, "user": "fuzz"})
    };
    let account = &ids.account;
    vec![
        post("/v1/chat/completions", k, chat("demo/echo", false)),
        post("/v1/chat/completions", k, chat("demo/echo", true)),
        post("/v1/chat/completions", k, chat("sim/gpt-4o", false)),
        post("/v1/chat/completions", k, chat("sim/gpt-4o", true)),
        post(
            "/v1/chat/completions",
            k,
            json!({"model": "demo/think:high", "messages": [{"role": "user", "content": "call f"}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                "tool_choice": "auto", "n": 2, "seed": 7, "stop": ["x"], "response_format": {"type": "text"}}),
        ),
        post(
            "/v1/embeddings",
            k,
            json!({"model": "demo/embed", "input": ["a b", "c"], "encoding_format": "float", "dimensions": 4}),
        ),
        post(
            "/v1/responses",
            k,
            json!({"model": "demo/echo", "input": [{"role": "user", "content": "hi"}], "instructions": "be brief", "max_output_tokens": 16}),
        ),
        post(
            "/v1/responses",
            k,
            json!({"model": "demo/echo", "input": "hi there", "stream": true}),
        ),
        post(
            "/v1/images/generations",
            k,
            json!({"model": "demo/image", "prompt": "a cat", "n": 1, "size": "256x256",
                "response_format": "b64_json", "file_ids": [ids.file], "image_url": "http://localhost/a.png"}),
        ),
        multipart(
            "/v1/images/edits",
            k,
            &[
                ("model", None, b"demo/image"),
                ("prompt", None, b"a hat"),
                ("image", Some("a.png"), b"\x89PNG\r\n"),
            ],
        ),
        multipart(
            "/v1/files",
            k,
            &[
                ("purpose", None, b"user_data"),
                ("file", Some("notes.txt"), b"some notes\n"),
            ],
        ),
        get("/v1/files?limit=5", Some(k)),
        get(&format!("/v1/files/{}", ids.file), Some(k)),
        get(&format!("/v1/files/{}/content", ids.file), Some(k)),
        Request {
            method: "DELETE".into(),
            ..get(&format!("/v1/files/{}", ids.deletable_file), Some(k))
        },
        get("/v1/models", Some(k)),
        get("/v1/models/demo/echo", Some(&ids.demo_key)),
        get("/api/models?operation=chat_completions", None),
        get("/api/balance", Some(k)),
        get(
            "/api/usage?limit=5&model=demo/echo&from=2020-01-01T00:00:00Z",
            Some(k),
        ),
        get("/healthz", None),
        get("/readyz", None),
        get("/metrics", Some(ADMIN_TOKEN)),
        post(
            "/admin/accounts",
            ADMIN_TOKEN,
            json!({"name": "fuzz", "credits_usd": 1.5, "allowed_models": ["demo/echo"]}),
        ),
        get(&format!("/admin/accounts/{account}"), Some(ADMIN_TOKEN)),
        post(
            &format!("/admin/accounts/{account}/credits"),
            ADMIN_TOKEN,
            json!({"amount_usd": 0.25, "note": "fuzz"}),
        ),
        post(
            &format!("/admin/accounts/{account}/keys"),
            ADMIN_TOKEN,
            json!({"name": "k", "max_spend_usd": 1.0, "spend_period": "day", "expires_at": "2099-01-01T00:00:00Z"}),
        ),
        Request {
            method: "DELETE".into(),
            ..get(
                &format!("/admin/keys/{}", ids.revocable_key),
                Some(ADMIN_TOKEN),
            )
        },
        get("/admin/usage?limit=3", Some(ADMIN_TOKEN)),
        post(
            "/v1/messages",
            k,
            json!({"model": "demo/echo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ]
}
