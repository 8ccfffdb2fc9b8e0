//! The server bugs the fuzz run found, each kept as a small reproduction that failed
//! before its fix.

use super::seeds::{multipart, Request};
use super::wire::{exchange, render, Framing, Wire};
use super::CONFIG;
use crate::common::{Gateway, ADMIN_TOKEN};
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn wire(r: &Request, framing: Framing) -> Wire {
    Wire {
        bytes: render(r, framing),
        strict: true,
        shutdown: false,
        head: false,
        mutations: Vec::new(),
    }
}

/// Closes with a reset (SO_LINGER 0), as a client that gives up does.
#[expect(
    deprecated,
    reason = "a zero linger resets at once: the drop does not block"
)]
fn reset(s: TcpStream) {
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
}

/// Found by the fuzz run: a client that drops the connection (RST) while an admin write is in
/// flight can cancel it inside sqlx's `begin_with`, after SQLite's BEGIN ran: the
/// single writer connection goes back to its pool inside a transaction, and every
/// later write fails ("attempted to call begin_with at non-zero transaction depth"):
/// admin 500s, usage records refused, chat 503 "cannot reach its database" until a
/// restart, usually within 100 aborted requests. Fixed: BEGIN runs in a task of its
/// own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_admin_writes_leave_the_store_writable() {
    let gw = Gateway::start("").await;
    let body = json!({"name": "a", "credits_usd": 1}).to_string();
    let request = format!(
        "POST /admin/accounts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..1000 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_micros(rng.u64(0..4000))).await;
        reset(s);
        if i % 50 == 49 {
            let (status, body) = gw
                .admin(
                    reqwest::Method::POST,
                    "/admin/accounts",
                    Some(json!({"name": "b"})),
                )
                .await;
            assert_eq!(status, 201, "after {} aborted writes: {body}", i + 1);
        }
    }
    let resp = gw
        .chat(json!({"model": "demo/echo", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(resp.status(), 200);
}

/// Credits that would take a balance past i64::MAX nano-USD (about 9.2e9 USD):
/// SQLite's `balance_nano + ?` turns into a REAL, decoding it fails, and the
/// answer was a 500 (the balance left unchanged). Now a 400 naming `amount_usd`.
#[tokio::test]
async fn credits_past_the_largest_balance_are_a_400() {
    let gw = Gateway::start("").await;
    let (account, _) = gw.account_key(9e9, json!({}), json!({})).await;
    let (status, body) = gw
        .admin(
            reqwest::Method::POST,
            &format!("/admin/accounts/{account}/credits"),
            Some(json!({"amount_usd": 9e9})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"]["param"], "amount_usd", "{body}");
}

/// Found by the fuzz run: POST /v1/images/edits waits for a multipart body that stops coming
/// for as long as the client kept the connection; now 408 after
/// `[server] body_timeout_ms`, like the other endpoints.
#[tokio::test]
async fn multipart_bodies_that_stop_coming_time_out() {
    let gw = Gateway::start(CONFIG).await;
    for path in ["/v1/files", "/v1/images/edits"] {
        let mut r = multipart(
            path,
            &gw.key,
            &[
                ("purpose", None, b"user_data"),
                ("model", None, b"demo/image"),
                ("file", Some("a.txt"), b"x"),
            ],
        );
        let missing = r.body.len() / 2;
        r.body.truncate(r.body.len() - missing);
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            exchange(gw.addr, &wire(&r, Framing::Short(missing))),
        )
        .await
        .unwrap_or_else(|_| panic!("{path}: no answer within 10 s (body timeout 2 s)"))
        .unwrap()
        .unwrap();
        assert_eq!(answer.status, 408, "{path}");
    }
}

/// Found by the fuzz run: the admin API and the JSON form of /v1/images/edits waited
/// a fixed 30 s for a body that stopped coming; now `[server] body_timeout_ms`.
#[tokio::test]
async fn json_bodies_that_stop_coming_time_out_everywhere() {
    use tokio::io::AsyncReadExt;
    let gw = Gateway::start(CONFIG).await;
    for (path, auth) in [
        ("/admin/accounts", ADMIN_TOKEN.to_owned()),
        ("/v1/images/edits", gw.key.clone()),
    ] {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {auth}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\""
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 4096];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        assert!(
            read.is_ok(),
            "{path}: no answer within 10 s (body timeout 2 s)"
        );
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
    }
}
