//! The HTTP side shared by all kinds: client construction (timeouts, rustls, no
//! redirects), the first-byte deadline, transport-error mapping and a Server-Sent
//! Events decoder.

use crate::UpstreamError;
use bytes::{Buf, BytesMut};
use modelgate_core::catalog::ProviderSpec;
use modelgate_core::GatewayError;
use std::time::Duration;

pub fn client(spec: &ProviderSpec) -> Result<reqwest::Client, GatewayError> {
    reqwest::Client::builder()
        .connect_timeout(spec.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        // Every request carries the provider key (`authorization`, `x-api-key`,
        // `x-goog-api-key`): a redirect would hand it to whatever host the 3xx names.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            GatewayError::internal(format!("building the HTTP client for {}: {e}", spec.id))
        })
}

/// How a kind presents the provider's key.
pub enum Auth {
    Bearer,
    /// A header of its own (`x-api-key`, `x-goog-api-key`), marked sensitive.
    Header(&'static str),
}

/// The kind's mapping of an upstream error answer into the contract.
pub type MapError = fn(u16, &[u8], Option<Duration>, &str) -> UpstreamError;

/// One JSON request to an upstream.
pub struct JsonPost<'a> {
    pub url: String,
    pub body: Vec<u8>,
    pub auth: Auth,
    pub headers: &'a [(&'static str, &'static str)],
}

/// POSTs a JSON body with the provider's key and timeouts; a non-2xx answer is read
/// (bounded) and mapped with the kind's `map_error`, never passed through.
pub async fn post_json(
    client: &reqwest::Client,
    spec: &ProviderSpec,
    post: JsonPost<'_>,
    model: &str,
    map_error: MapError,
) -> Result<reqwest::Response, UpstreamError> {
    let JsonPost {
        url,
        body,
        auth,
        headers,
    } = post;
    let mut builder = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(spec.total_timeout)
        .body(body);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(key) = &spec.api_key {
        let mut value = reqwest::header::HeaderValue::from_str(&match auth {
            Auth::Bearer => format!("Bearer {}", key.expose()),
            Auth::Header(_) => key.expose().to_owned(),
        })
        .map_err(|_| {
            UpstreamError::fatal(GatewayError::internal(format!(
                "the API key of provider {} is not a valid header value",
                spec.id
            )))
        })?;
        value.set_sensitive(true);
        let name = match auth {
            Auth::Bearer => "authorization",
            Auth::Header(name) => name,
        };
        builder = builder.header(name, value);
    }
    let resp = send(builder, spec.first_byte_timeout, model).await?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    if resp.status().is_redirection() {
        // Whatever the body says: a 3xx is the deployment's URL, not an error answer.
        return Err(crate::classify::redirected(model));
    }
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let body = read_error_body(resp).await;
    Err(map_error(status, &body, retry_after, model))
}

/// Reads and parses a whole (non-stream) answer; an unparsable one is a retriable 502.
pub async fn parse_answer<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    model: &str,
) -> Result<T, UpstreamError> {
    let bytes = resp.bytes().await.map_err(|e| transport_error(&e, model))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        UpstreamError::retriable(GatewayError::ProviderError {
            model: model.to_owned(),
            reason: "the provider's answer was not valid.".into(),
        })
    })
}

/// Sends and waits for the response headers within the first-byte deadline.
pub async fn send(
    builder: reqwest::RequestBuilder,
    first_byte: Duration,
    model: &str,
) -> Result<reqwest::Response, UpstreamError> {
    match tokio::time::timeout(first_byte, builder.send()).await {
        Err(_) => Err(timeout(model)),
        Ok(Err(e)) => Err(transport_error(&e, model)),
        Ok(Ok(resp)) => Ok(resp),
    }
}

/// Error bodies are read only this far: enough for any real error, bounded for a
/// misbehaving upstream.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The body of an upstream error answer, bounded.
pub async fn read_error_body(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() >= MAX_ERROR_BODY {
            out.truncate(MAX_ERROR_BODY);
            break;
        }
    }
    out
}

/// `retry-after-ms` (exact, OpenAI) or `retry-after` in (fractional) seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_millis(ms as u64));
        }
    }
    get("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_millis((s * 1000.0) as u64))
}

pub fn timeout(model: &str) -> UpstreamError {
    UpstreamError::retriable(GatewayError::Timeout {
        model: model.to_owned(),
    })
}

/// Maps a transport failure without leaking the URL (reqwest errors name it).
pub fn transport_error(e: &reqwest::Error, model: &str) -> UpstreamError {
    let model = model.to_owned();
    if e.is_timeout() {
        return timeout(&model);
    }
    if e.is_connect() {
        return UpstreamError::retriable(GatewayError::ProviderUnavailable {
            model,
            reason: "the provider refused the connection.".into(),
            retry_after: None,
        });
    }
    UpstreamError::retriable(GatewayError::ProviderError {
        model,
        reason: "the connection to the provider broke before a complete answer.".into(),
    })
}

/// One Server-Sent Event: its `event:` name (if any) and joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental SSE decoder (WHATWG event-stream rules for `event`/`data`, comments
/// ignored). Hand-written because it must run per chunk on the hot path without
/// allocating more than the event itself.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: BytesMut,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the buffer holds one.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let nl = self.buf.iter().position(|b| *b == b'\n')?;
            let mut line = &self.buf[..nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            self.buf.advance(nl + 1);
            if line.is_empty() {
                if self.has_data {
                    self.has_data = false;
                    return Some(SseEvent {
                        event: self.event.take(),
                        data: std::mem::take(&mut self.data),
                    });
                }
                self.event = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => self.event = Some(value.to_owned()),
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::tests::test_server::{self, response, Reply};
    use modelgate_core::config::ProviderKind;
    use modelgate_core::secret::Secret;
    use std::sync::atomic::Ordering;

    fn spec(base_url: &str) -> ProviderSpec {
        ProviderSpec {
            id: "test".into(),
            kind: ProviderKind::Openai,
            base_url: base_url.into(),
            api_key_env: None,
            api_key: Some(Secret::new("sk-test-provider-key-0123456789")),
            configured: true,
            connect_timeout: Duration::from_secs(2),
            first_byte_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(10),
        }
    }

    /// A 3xx from a provider is a misconfigured deployment: following it would hand
    /// the provider key (in whichever header the kind uses) to the host it names.
    #[tokio::test]
    async fn redirects_are_not_followed_with_the_providers_key() {
        let elsewhere = test_server::start(|_, _| {
            Reply::Raw(response(
                "200 OK",
                &[("content-type", "application/json")],
                b"{}",
            ))
        })
        .await;
        let location = format!("http://{}/steal", elsewhere.addr);
        let redirecting = test_server::start(move |_, _| {
            Reply::Raw(response(
                "307 Temporary Redirect",
                &[("location", &location)],
                b"",
            ))
        })
        .await;
        let base = format!("http://{}", redirecting.addr);
        let spec = spec(&base);
        let client = client(&spec).unwrap();
        for auth in [
            Auth::Bearer,
            Auth::Header("x-api-key"),
            Auth::Header("x-goog-api-key"),
        ] {
            let post = JsonPost {
                url: format!("{base}/v1/chat/completions"),
                body: b"{}".to_vec(),
                auth,
                headers: &[],
            };
            let e = post_json(&client, &spec, post, "test/model", crate::openai::map_error)
                .await
                .expect_err("a redirect is no answer");
            assert_eq!(
                (e.error.status(), e.error.error_type()),
                (502, "provider_error"),
                "{}",
                e.error.message()
            );
            assert!(!e.retriable, "a misconfigured deployment is not retried");
            assert!(!e.error.message().contains("127.0.0.1"));
        }
        assert_eq!(redirecting.requests.lock().unwrap().len(), 3);
        assert_eq!(
            elsewhere.connections.load(Ordering::SeqCst),
            0,
            "the redirect target must never be contacted"
        );
    }

    #[test]
    fn decodes_events_split_across_reads() {
        let mut d = SseDecoder::default();
        d.push(b"event: a\ndata: {\"x\"");
        assert_eq!(d.next_event(), None);
        d.push(b":1}\r\n\r\n: comment\n\ndata: [DONE]\n\n");
        assert_eq!(
            d.next_event(),
            Some(SseEvent {
                event: Some("a".into()),
                data: "{\"x\":1}".into()
            })
        );
        assert_eq!(d.next_event().map(|e| e.data), Some("[DONE]".into()));
        assert_eq!(d.next_event(), None);
    }

    #[test]
    fn joins_multi_line_data() {
        let mut d = SseDecoder::default();
        d.push(b"data: a\ndata: b\n\n");
        assert_eq!(d.next_event().map(|e| e.data), Some("a\nb".into()));
    }
}
