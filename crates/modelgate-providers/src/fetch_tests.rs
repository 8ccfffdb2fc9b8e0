//! The SSRF classifier (every range and spelling) and the fetch rules (scheme,
//! redirects, size, type, timeout) against a raw local HTTP server.

use super::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use test_server::{response, Reply};

fn cfg(allow_private: bool) -> FetchConfig {
    FetchConfig {
        allow_private,
        timeout_ms: 5_000,
        max_bytes: 1024,
        max_total_bytes: 4096,
    }
}

const PARAM: &str = "messages[0].content[1].image_url.url";

fn assert_refused(result: Result<(String, Vec<u8>), UpstreamError>, what: &str) {
    let e = result.expect_err(what).error;
    assert_eq!(
        (e.status(), e.error_type()),
        (400, "invalid_request_error"),
        "{what}"
    );
    assert_eq!(
        e.message(),
        format!("The image URL in '{PARAM}' points to a private or local address; the gateway does not fetch those."),
        "{what}"
    );
    assert_eq!(e.details(), Some(json!({"param": PARAM})), "{what}");
}

fn assert_failed(result: Result<(String, Vec<u8>), UpstreamError>, status: u16, contains: &str) {
    let e = result.expect_err(contains);
    assert!(!e.retriable, "{contains}");
    let e = e.error;
    assert_eq!(e.status(), status, "{contains}: {}", e.message());
    assert!(
        e.message().contains(contains),
        "{contains}: {}",
        e.message()
    );
    assert!(
        !e.message().contains("127.0.0.1"),
        "no URL in: {}",
        e.message()
    );
    if status == 400 {
        assert_eq!(e.details(), Some(json!({"param": PARAM})));
    }
}

#[test]
fn classifier_covers_every_range() {
    let cases: &[(&str, bool)] = &[
        ("8.8.8.8", true),
        ("1.1.1.1", true),
        ("100.63.255.255", true),
        ("100.128.0.0", true),
        ("172.15.255.255", true),
        ("172.32.0.0", true),
        ("192.169.0.1", true),
        ("223.255.255.255", true),
        ("127.0.0.1", false),
        ("127.255.255.254", false),
        ("10.1.2.3", false),
        ("172.16.0.1", false),
        ("172.31.255.255", false),
        ("192.168.0.1", false),
        ("169.254.169.254", false),
        ("100.64.0.1", false),
        ("100.127.255.255", false),
        ("0.0.0.0", false),
        ("0.1.2.3", false),
        ("224.0.0.1", false),
        ("239.255.255.250", false),
        ("240.0.0.1", false),
        ("255.255.255.255", false),
        ("192.0.0.8", false),
        ("192.0.2.1", false),
        ("198.18.0.1", false),
        ("198.51.100.1", false),
        ("203.0.113.1", false),
        ("2606:4700:4700::1111", true),
        ("2a00:1450:4001:82a::200e", true),
        ("::1", false),
        ("::", false),
        ("fc00::1", false),
        ("fd12:3456::1", false),
        ("fe80::1", false),
        ("febf::1", false),
        ("fec0::1", false),
        ("ff02::1", false),
        ("2001:db8::1", false),
        ("2001:0:4136:e378::1", false),
        ("100::1", false),
        ("64:ff9b:1::1", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:10.0.0.1", false),
        ("::ffff:169.254.169.254", false),
        ("::ffff:8.8.8.8", true),
        ("::ffff:0:127.0.0.1", false),
        ("::127.0.0.1", false),
        ("::8.8.8.8", true),
        ("64:ff9b::127.0.0.1", false),
        ("64:ff9b::a9fe:a9fe", false),
        ("64:ff9b::8.8.8.8", true),
        ("2002:7f00:1::1", false),
        ("2002:c0a8:101::1", false),
        ("2002:808:808::1", true),
    ];
    for (text, public) in cases {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(is_public(ip), *public, "{text}");
    }
}

/// What the URL parser makes of each spelling: every one is refused before any
/// connection or DNS lookup.
#[tokio::test]
async fn every_spelling_of_a_private_address_is_refused() {
    let urls = [
        "http://127.0.0.1/a.png",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://0177.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::1]:8080/",
        "http://[::]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://10.0.0.1/",
        "http://012.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://2852039166/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[::127.0.0.1]/",
        "https://192.168.1.1:8443/x.png",
        "http://user:pw@127.0.0.1/",
        "HTTP://127.0.0.1/",
        "http://%31%32%37.0.0.1/",
        "http://１２７.０.０.１/",
    ];
    for url in urls {
        assert_refused(fetch_image(url, &cfg(false), PARAM).await, url);
    }
}

#[test]
fn the_url_parser_normalises_numeric_hosts() {
    for (url, host) in [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
        ("http://%31%32%37.0.0.1/", "127.0.0.1"),
    ] {
        assert_eq!(Url::parse(url).unwrap().host_str(), Some(host), "{url}");
    }
}

#[tokio::test]
async fn localhost_by_name_is_refused_after_resolving() {
    assert_refused(
        fetch_image("http://localhost/", &cfg(false), PARAM).await,
        "localhost",
    );
}

#[tokio::test]
async fn only_http_and_https() {
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "gopher://example.com/",
        "data:image/png;base64,AAAA",
    ] {
        let e = fetch_image(url, &cfg(true), PARAM)
            .await
            .expect_err(url)
            .error;
        assert_eq!(e.status(), 400, "{url}");
        assert!(
            e.message().contains("must use http or https"),
            "{url}: {}",
            e.message()
        );
        assert_eq!(e.details(), Some(json!({"param": PARAM})));
    }
    let e = fetch_image("not a url", &cfg(true), PARAM)
        .await
        .unwrap_err()
        .error;
    assert!(
        e.message().contains("is not a valid URL"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn a_private_server_is_refused_before_any_connection() {
    let server = test_server::start(|_, _| {
        Reply::Raw(response(
            "200 OK",
            &[("content-type", "image/png")],
            b"\x89PNG",
        ))
    })
    .await;
    let url = format!("http://{}/a.png", server.addr);
    assert_refused(
        fetch_image(&url, &cfg(false), PARAM).await,
        "loopback server",
    );
    // Connections are served in order: had the refused fetch connected, this one
    // would be the second.
    let (mime, bytes) = fetch_image(&url, &cfg(true), PARAM).await.unwrap();
    assert_eq!(
        (mime.as_str(), bytes.as_slice()),
        ("image/png", b"\x89PNG".as_slice())
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn follows_redirects_and_rechecks_every_hop() {
    let server = test_server::start(|head, _| {
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        Reply::Raw(match path.as_str() {
            "/start" => response("302 Found", &[("location", "/hop")], b""),
            "/hop" => response("301 Moved Permanently", &[("location", "/img.png")], b""),
            "/img.png" => response(
                "200 OK",
                &[("content-type", "image/png; charset=binary")],
                b"PNGDATA",
            ),
            "/loop" => response("302 Found", &[("location", "/loop")], b""),
            "/ftp" => response("302 Found", &[("location", "ftp://example.com/a.png")], b""),
            "/nowhere" => response("302 Found", &[], b""),
            _ => response("404 Not Found", &[("content-type", "text/plain")], b"no"),
        })
    })
    .await;
    let base = format!("http://{}", server.addr);
    let (mime, bytes) = fetch_image(&format!("{base}/start"), &cfg(true), PARAM)
        .await
        .unwrap();
    assert_eq!(
        (mime.as_str(), bytes.as_slice()),
        ("image/png", b"PNGDATA".as_slice())
    );
    assert_failed(
        fetch_image(&format!("{base}/loop"), &cfg(true), PARAM).await,
        400,
        "redirected more than 5 times",
    );
    assert_failed(
        fetch_image(&format!("{base}/nowhere"), &cfg(true), PARAM).await,
        400,
        "without a valid Location",
    );
    let e = fetch_image(&format!("{base}/ftp"), &cfg(true), PARAM)
        .await
        .unwrap_err()
        .error;
    assert!(
        e.message().contains("must use http or https"),
        "{}",
        e.message()
    );

    // A redirect to another address is checked before it is followed.
    let port = server.addr.port();
    let redirecting = test_server::start(move |_, _| {
        let to = format!("http://127.0.0.2:{port}/img.png");
        Reply::Raw(response("302 Found", &[("location", &to)], b""))
    })
    .await;
    let only_first = |ip: IpAddr| ip == IpAddr::V4(Ipv4Addr::LOCALHOST);
    let url = format!("http://{}/x", redirecting.addr);
    assert_refused(
        fetch_with(
            &url,
            &Fetch {
                cfg: &cfg(true),
                param: PARAM,
                allowed: &only_first,
                budget: &Budget::new(0),
            },
        )
        .await,
        "redirect hop",
    );
}

#[tokio::test]
async fn non_images_errors_and_sizes() {
    let big = vec![b'x'; 2048];
    let server = test_server::start(move |head, _| {
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        Reply::Raw(match path.as_str() {
            "/page" => response("200 OK", &[("content-type", "text/html")], b"<html>"),
            "/untyped" => response("200 OK", &[], b"GIF89a"),
            "/big" => response("200 OK", &[("content-type", "image/png")], &big),
            // No Content-Length: the limit must hold while streaming.
            "/big-stream" => {
                let mut r =
                    b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\nconnection: close\r\n\r\n"
                        .to_vec();
                r.extend_from_slice(&big);
                r
            }
            "/gone" => response("410 Gone", &[], b""),
            _ => response("500 Internal Server Error", &[], b""),
        })
    })
    .await;
    let base = format!("http://{}", server.addr);
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move { fetch_image(&url, &cfg(true), PARAM).await }
    };
    assert_failed(
        get("/page").await,
        400,
        "Content-Type \"text/html\", not an image",
    );
    assert_failed(get("/untyped").await, 400, "not an image");
    assert_failed(get("/gone").await, 400, "it answered HTTP 410");
    assert_failed(get("/big").await, 413, "1024 bytes");
    assert_failed(get("/big-stream").await, 413, "1024 bytes");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = test_server::start(|_, _| Reply::Hang).await;
    let mut c = cfg(true);
    c.timeout_ms = 200;
    let url = format!("http://{}/slow.png", server.addr);
    assert_failed(
        fetch_image(&url, &c, PARAM).await,
        400,
        "did not answer within 200 ms",
    );
}

#[tokio::test]
async fn an_unreachable_host_is_the_clients_400() {
    // Bind and drop: nothing listens on this port any more.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/a.png");
    assert_failed(
        fetch_image(&url, &cfg(true), PARAM).await,
        400,
        "connection to its host failed",
    );
    assert_failed(
        fetch_image("http://no-such-host.invalid/a.png", &cfg(true), PARAM).await,
        400,
        "could not be resolved",
    );
}

fn remote(n: usize, base: &str) -> Vec<RemoteImage> {
    (0..n)
        .map(|i| RemoteImage {
            param: format!("messages[0].content[{i}].image_url.url"),
            url: format!("{base}/{i}.png"),
        })
        .collect()
}

#[tokio::test]
async fn one_requests_fetches_share_a_byte_budget() {
    let image = vec![b'x'; 1000];
    let server = test_server::start(move |_, _| {
        Reply::Raw(response("200 OK", &[("content-type", "image/png")], &image))
    })
    .await;
    let base = format!("http://{}", server.addr);
    // Three of 1000 bytes fit 4096; five do not, whichever crosses the line first.
    let fetched = fetch_all(remote(3, &base), &cfg(true)).await.unwrap();
    assert_eq!(fetched.len(), 3);
    let e = fetch_all(remote(5, &base), &cfg(true))
        .await
        .unwrap_err()
        .error;
    assert_eq!((e.status(), e.error_type()), (413, "request_too_large"));
    let details = e.details().unwrap();
    assert_eq!(details["limit_bytes"], 4096);
    let param = details["param"].as_str().unwrap();
    assert!(
        param.starts_with("messages[0].content[") && e.message().contains(param),
        "{}",
        e.message()
    );
    let unlimited = FetchConfig {
        max_total_bytes: 0,
        ..cfg(true)
    };
    assert_eq!(
        fetch_all(remote(5, &base), &unlimited).await.unwrap().len(),
        5
    );
}

#[tokio::test]
async fn at_most_four_fetches_at_once_and_each_url_once() {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let count = Arc::clone(&connections);
    let server = tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let mut released = released.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = released.wait_for(|r| *r).await;
                let reply = response("200 OK", &[("content-type", "image/png")], b"PNG");
                let _ = sock.write_all(&reply).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    let cache = ImageCache::default();
    let mut wanted = remote(6, &base);
    wanted.push(wanted[0].clone());
    let allow = cfg(true);
    let fetching = cache.get_or_fetch(wanted.clone(), &allow);
    tokio::pin!(fetching);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while connections.load(Ordering::SeqCst) < 4 {
        tokio::select! {
            _ = &mut fetching => panic!("finished before the server answered"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than 4 fetches started"
        );
    }
    // Give a fifth fetch the chance to start, if the bound were missing.
    tokio::select! {
        _ = &mut fetching => panic!("finished before the server answered"),
        _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
    }
    assert_eq!(connections.load(Ordering::SeqCst), 4);
    release.send(true).unwrap();
    assert_eq!(fetching.await.unwrap().len(), 6);
    // Later attempts of the same request reuse what was fetched.
    assert_eq!(
        cache.get_or_fetch(wanted, &cfg(true)).await.unwrap().len(),
        6
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        6,
        "each URL fetched once"
    );
    server.abort();
}

/// A raw HTTP/1.1 server on 127.0.0.1:0 for tests: one canned reply per
/// connection, connections counted, requests recorded.
pub(crate) mod test_server {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub enum Reply {
        Raw(Vec<u8>),
        /// Read the request, never answer.
        Hang,
    }

    /// Each request's head (request line and headers) and body.
    pub type Log = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    pub struct Server {
        pub addr: SocketAddr,
        pub connections: Arc<AtomicUsize>,
        pub requests: Log,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        out
    }

    pub async fn start<F>(handler: F) -> Server
    where
        F: Fn(&str, &[u8]) -> Reply + Send + Sync + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests: Log = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let (count, log) = (Arc::clone(&connections), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                tokio::spawn(async move {
                    let (head, body) = read_request(&mut sock).await;
                    log.lock().unwrap().push((head.clone(), body.clone()));
                    match handler(&head, &body) {
                        Reply::Raw(bytes) => {
                            let _ = sock.write_all(&bytes).await;
                            let _ = sock.shutdown().await;
                        }
                        Reply::Hang => std::future::pending::<()>().await,
                    }
                });
            }
        });
        Server {
            addr,
            connections,
            requests,
            task,
        }
    }

    async fn read_request(sock: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break buf.len(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        (head, buf[head_end..].to_vec())
    }
}
