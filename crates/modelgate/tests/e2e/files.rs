//! What one account can make the gateway hold through /v1/files (issue 8): a quota of
//! files and bytes (exact under concurrent uploads), an upload rate, and the body
//! deadline for multipart uploads (a trickled upload is cut off and its file removed).

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BOUNDARY: &str = "b1";

fn form(size: usize) -> Vec<u8> {
    let mut body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nvision\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(gw: &Gateway, key: &str, size: usize) -> reqwest::Response {
    gw.http
        .post(gw.url("/v1/files"))
        .bearer_auth(key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(size))
        .send()
        .await
        .unwrap()
}

async fn delete(gw: &Gateway, key: &str, id: &str) {
    let r = gw
        .http
        .delete(gw.url(&format!("/v1/files/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn listed(gw: &Gateway, key: &str) -> Vec<Value> {
    let v: Value = gw
        .http
        .get(gw.url("/v1/files"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].as_array().unwrap().clone()
}

async fn quota_error(r: reqwest::Response) -> Value {
    let b = expect_error(r, 413, "request_too_large").await;
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains("DELETE /v1/files/{id}"), "{msg}");
    assert_eq!(b["error"]["details"]["param"], "file", "{b}");
    b
}

#[tokio::test]
async fn an_accounts_files_and_bytes_are_bounded_until_it_deletes() {
    let gw = Gateway::start(
        "[files]\nmax_account_bytes = 10000\nmax_account_files = 3\nuploads_per_minute = 0\n",
    )
    .await;
    let (_, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let first: Value = upload(&gw, &key, 6000).await.json().await.unwrap();
    assert_eq!(first["bytes"], 6000, "{first}");
    let b = quota_error(upload(&gw, &key, 6000).await).await;
    assert_eq!(b["error"]["details"]["max_account_bytes"], 10000, "{b}");
    // Another account has its own room.
    let (_, other) = gw.account_key(1.0, json!({}), json!({})).await;
    assert_eq!(upload(&gw, &other, 6000).await.status(), 200);
    // Deleting makes room again.
    delete(&gw, &key, first["id"].as_str().unwrap()).await;
    assert_eq!(upload(&gw, &key, 6000).await.status(), 200);
    for _ in 0..2 {
        assert_eq!(upload(&gw, &key, 10).await.status(), 200);
    }
    let b = quota_error(upload(&gw, &key, 10).await).await;
    assert_eq!(b["error"]["details"]["max_account_files"], 3, "{b}");
    assert_eq!(listed(&gw, &key).await.len(), 3);
}

#[tokio::test]
async fn concurrent_uploads_never_pass_the_quota_together() {
    let gw = Gateway::start("[files]\nmax_account_bytes = 100000\nuploads_per_minute = 0\n").await;
    let (_, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let uploads = (0..10).map(|_| upload(&gw, &key, 30_000));
    let answers = futures_util::future::join_all(uploads).await;
    let mut ok = 0;
    for r in answers {
        if r.status() == 200 {
            ok += 1;
        } else {
            quota_error(r).await;
        }
    }
    // Each reserves its bytes before writing: three fit, the rest are refused.
    assert_eq!(ok, 3);
    let files = listed(&gw, &key).await;
    let stored: u64 = files.iter().map(|f| f["bytes"].as_u64().unwrap()).sum();
    assert_eq!((files.len(), stored), (3, 90_000));
}

#[tokio::test]
async fn uploads_per_minute_are_limited_per_account() {
    let gw = Gateway::start("[files]\nuploads_per_minute = 2\n").await;
    let (_, key) = gw.account_key(1.0, json!({}), json!({})).await;
    for _ in 0..2 {
        assert_eq!(upload(&gw, &key, 10).await.status(), 200);
    }
    let r = upload(&gw, &key, 10).await;
    let b = expect_error(r, 429, "rate_limit_exceeded").await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("Retry"),
        "{b}"
    );
    let (_, other) = gw.account_key(1.0, json!({}), json!({})).await;
    assert_eq!(upload(&gw, &other, 10).await.status(), 200);
}

/// Sends the head and the first part of an upload, then nothing: the answer.
async fn trickle(gw: &Gateway, key: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let body = form(50_000);
    let head = format!(
        "POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..20_000]).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.unwrap_or(0);
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&answer).contains("\"type\"") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the gateway held the trickled upload open");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_trickled_upload_gets_408_and_leaves_no_file() {
    let gw = Gateway::start(
        "[server]\nbody_timeout_ms = 500\n[files]\nmax_account_files = 1\nuploads_per_minute = 0\n",
    )
    .await;
    let (_, key) = gw.account_key(1.0, json!({}), json!({})).await;
    let answer = trickle(&gw, &key).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"type\":\"invalid_request_error\""),
        "{answer}"
    );
    // The partial file is removed (off the request path: poll for it).
    let dir = gw.dir.0.join("data/files");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = std::fs::read_dir(&dir)
            .map(|d| d.count())
            .unwrap_or_default();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} partial file(s) left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The failed upload gave its reservation back: the one file allowed still fits.
    assert_eq!(upload(&gw, &key, 10).await.status(), 200);
}

#[tokio::test]
async fn content_returns_the_uploaded_bytes_whole() {
    let gw = Gateway::start("[files]\nuploads_per_minute = 0\n").await;
    let (_, key) = gw.account_key(1.0, json!({}), json!({})).await;
    // Several read chunks' worth, so a download is streamed in more than one piece.
    let size = 300_000;
    let up: Value = upload(&gw, &key, size).await.json().await.unwrap();
    let id = up["id"].as_str().unwrap();
    let r = gw
        .http
        .get(gw.url(&format!("/v1/files/{id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), Some(size as u64));
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), size);
    assert!(body.iter().all(|b| *b == b'x'));
}
