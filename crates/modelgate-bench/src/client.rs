//! One keep-alive HTTP/1.1 client for one loopback target, and the two request
//! shapes: a plain completion (latency to the last body byte) and a stream (time to
//! the first chunk that carries content, then drained to the end).

use crate::LoadArgs;
use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// No single request may hold the run longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    auth: Option<HeaderValue>,
    plain_body: Bytes,
    stream_body: Bytes,
}

/// What one successful request took, from its start.
pub struct Outcome {
    pub total: Duration,
    pub ttfb: Option<Duration>,
}

impl Target {
    pub fn new(args: &LoadArgs) -> Result<Target, String> {
        let uri: Uri = args
            .url
            .parse()
            .map_err(|e| format!("bad --url {}: {e}", args.url))?;
        check_loopback(&uri)?;
        let auth = match &args.auth {
            Some(a) => Some(HeaderValue::from_str(a).map_err(|e| format!("bad --auth: {e}"))?),
            None => None,
        };
        let messages = serde_json::json!([{ "role": "user", "content": args.prompt }]);
        let plain = serde_json::json!({ "model": args.model, "messages": messages });
        let stream = serde_json::json!({
            "model": args.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(true);
        Ok(Target {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(connector),
            uri,
            auth,
            plain_body: Bytes::from(plain.to_string()),
            stream_body: Bytes::from(stream.to_string()),
        })
    }

    /// Sends one request and times it.
    pub async fn send(&self, stream: bool) -> Result<Outcome, String> {
        let start = Instant::now();
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(stream, start)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
        }
    }

    async fn exchange(&self, stream: bool, start: Instant) -> Result<Outcome, String> {
        let body = if stream {
            &self.stream_body
        } else {
            &self.plain_body
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let req = req
            .body(Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let mut body = resp.into_body();
        if status != StatusCode::OK {
            let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            return Err(format!(
                "status {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        let mut ttfb = None;
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if stream && ttfb.is_none() {
                pending.extend_from_slice(&data);
                if has_content(&mut pending) {
                    ttfb = Some(start.elapsed());
                }
            }
        }
        if stream && ttfb.is_none() {
            return Err("the stream ended without a content chunk".into());
        }
        Ok(Outcome {
            total: start.elapsed(),
            ttfb,
        })
    }
}

/// Consumes the complete SSE lines in `buf`; true once one is a chunk with
/// non-empty `choices[0].delta.content`.
fn has_content(buf: &mut Vec<u8>) -> bool {
    while let Some(end) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=end).collect();
        let Some(data) = line.strip_prefix(b"data:") else {
            continue;
        };
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(data.trim_ascii()) else {
            continue;
        };
        let content = event.pointer("/choices/0/delta/content");
        if content
            .and_then(|c| c.as_str())
            .is_some_and(|s| !s.is_empty())
        {
            return true;
        }
    }
    false
}

/// The benchmark only ever talks to this machine: an IP literal that is loopback.
pub fn check_loopback(uri: &Uri) -> Result<(), String> {
    if uri.scheme_str() != Some("http") {
        return Err(format!("{uri}: only http:// targets are supported"));
    }
    let host = uri.host().unwrap_or_default();
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("{uri}: the host must be a loopback IP such as 127.0.0.1"))?;
    if !ip.is_loopback() {
        return Err(format!("{uri}: refusing a non-loopback target"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        let ok = |s: &str| check_loopback(&s.parse().unwrap()).is_ok();
        assert!(ok("http://127.0.0.1:8080/v1/chat/completions"));
        assert!(ok("http://[::1]:8080/v1/chat/completions"));
        assert!(!ok("http://10.0.0.1:8080/v1/chat/completions"));
        assert!(!ok("http://localhost:8080/v1/chat/completions"));
        assert!(!ok("http://example.com/v1/chat/completions"));
        assert!(!ok("https://127.0.0.1/v1/chat/completions"));
    }

    #[test]
    fn content_detection_skips_role_and_empty_chunks() {
        let mut buf =
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
                .to_vec();
        assert!(!has_content(&mut buf));
        buf.extend_from_slice(b"data: {\"choices\":[{\"delta\":{\"content\":\"hel");
        assert!(!has_content(&mut buf));
        buf.extend_from_slice(b"lo\"}}]}\n\n");
        assert!(has_content(&mut buf));
    }
}
