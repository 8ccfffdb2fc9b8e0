//! Response bodies with pacing and injected transport faults: streams paced by
//! `chunk_delay_ms`, cut by `cut_after`, and non-JSON `garbage`.
//!
//! A body error makes hyper abort the connection mid-message, which is exactly what
//! a client sees when an upstream dies after the headers: no finish, no `[DONE]`.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::Value;

use crate::exchange::Active;

/// One wire event; `content` marks events that carry answer data (cut_after counts them).
pub(crate) struct Event {
    pub bytes: Bytes,
    pub content: bool,
}

impl Event {
    pub(crate) fn content(bytes: impl Into<Bytes>) -> Event {
        Event {
            bytes: bytes.into(),
            content: true,
        }
    }

    pub(crate) fn meta(bytes: impl Into<Bytes>) -> Event {
        Event {
            bytes: bytes.into(),
            content: false,
        }
    }
}

/// Extra response headers, such as a provider's request id.
pub(crate) type Headers = Vec<(&'static str, String)>;

pub(crate) const SSE: &str = "text/event-stream; charset=utf-8";
pub(crate) const JSON: &str = "application/json";

/// A streamed 200 answer from `events`, honouring chunk_delay_ms and cut_after.
pub(crate) fn stream(
    events: Vec<Event>,
    active: &Active,
    content_type: &str,
    extra: Headers,
) -> Response {
    let (events, cut) = plan(events, active.cut_after);
    let mut resp = paced(events, cut, active.chunk_delay);
    finish_headers(&mut resp, content_type, extra);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A 200 JSON answer; `garbage` replaces it with broken JSON, `cut_after` sends the
/// headers (with the full Content-Length) and half of the body, then aborts.
pub(crate) fn json(value: &Value, active: &Active, extra: Headers) -> Response {
    if active.garbage {
        let mut resp = Response::new(Body::from(
            "{\"id\": \"sim-garbage\", \"choices\": [{not json",
        ));
        finish_headers(&mut resp, JSON, extra);
        return resp;
    }
    let full = Bytes::from(value.to_string());
    let mut resp = match active.cut_after {
        None => Response::new(Body::from(full)),
        Some(_) => {
            let len = full.len();
            let mut resp = paced(
                VecDeque::from([full.slice(..len / 2)]),
                true,
                Duration::ZERO,
            );
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            resp
        }
    };
    finish_headers(&mut resp, JSON, extra);
    resp
}

fn finish_headers(resp: &mut Response, content_type: &str, extra: Headers) {
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Applies cut_after: keep events up to the n-th content event, stopping before
/// the (n+1)-th content event or any event after the last content (finish, usage,
/// `[DONE]`). Returns the kept events and whether to cut after them.
fn plan(events: Vec<Event>, cut_after: Option<usize>) -> (VecDeque<Bytes>, bool) {
    let Some(n) = cut_after else {
        return (events.into_iter().map(|e| e.bytes).collect(), false);
    };
    let last_content = events.iter().rposition(|e| e.content);
    let mut kept = VecDeque::new();
    let mut sent = 0;
    for (i, e) in events.into_iter().enumerate() {
        if e.content {
            if sent == n {
                break;
            }
            sent += 1;
        } else if last_content.is_none_or(|last| i > last) {
            break;
        }
        kept.push_back(e.bytes);
    }
    (kept, true)
}

struct Pacer {
    events: VecDeque<Bytes>,
    cut: bool,
    delay: Duration,
    first: bool,
}

/// A body that yields each event as its own frame, waiting `delay` between them,
/// then ends cleanly or, with `cut`, with an error that aborts the connection.
/// Its state lives in the body itself (no spawned producer), so a client that
/// goes away stops it at once.
fn paced(events: VecDeque<Bytes>, cut: bool, delay: Duration) -> Response {
    let pacer = Pacer {
        events,
        cut,
        delay,
        first: true,
    };
    let stream = futures_util::stream::unfold(pacer, |mut p| async move {
        if let Some(bytes) = p.events.pop_front() {
            if !p.first && !p.delay.is_zero() {
                tokio::time::sleep(p.delay).await;
            }
            p.first = false;
            return Some((Ok(bytes), p));
        }
        if p.cut {
            p.cut = false;
            // One pending poll lets hyper flush what it buffered before the abort.
            tokio::task::yield_now().await;
            let err = io::Error::new(io::ErrorKind::ConnectionAborted, "simulated cut");
            return Some((Err(err), p));
        }
        None
    });
    Response::new(Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Vec<Event> {
        vec![
            Event::meta("role"),
            Event::content("a"),
            Event::meta("between"),
            Event::content("b"),
            Event::meta("finish"),
            Event::meta("done"),
        ]
    }

    #[test]
    fn cut_keeps_n_content_events_and_never_the_trailer() {
        let names = |n| {
            let (kept, cut) = plan(events(), Some(n));
            assert!(cut);
            kept.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(names(0), vec![Bytes::from("role")]);
        assert_eq!(names(1), vec!["role", "a", "between"]);
        assert_eq!(names(5), vec!["role", "a", "between", "b"]);
        assert_eq!(plan(events(), None).0.len(), 6);
    }
}
