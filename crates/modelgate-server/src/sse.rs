//! Server-Sent Events as the gateway writes them (DESIGN §5).

use bytes::Bytes;

pub const DONE: &[u8] = b"data: [DONE]\n\n";
pub const KEEPALIVE: &[u8] = b": keep-alive\n\n";

pub fn data_event(json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// A 200 SSE response whose body is what arrives on `rx`.
pub fn response(mut rx: tokio::sync::mpsc::Receiver<Bytes>) -> axum::response::Response {
    use http::{header, HeaderValue};
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|o| o.map(Ok::<_, std::convert::Infallible>))
    });
    let mut resp = axum::response::Response::new(axum::body::Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
