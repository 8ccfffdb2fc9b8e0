//! Requests on the wire over raw TCP: framing (exact, chunked, short, absurd),
//! mutations that break it, and a small HTTP/1.1 response reader.

use super::mutate::{mutate_bytes, pick, replace_all};
use super::seeds::Request;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request on the wire and what its answer may be.
pub(super) struct Wire {
    pub(super) bytes: Vec<u8>,
    /// Still well-formed HTTP: only a contract-shaped answer will do.
    pub(super) strict: bool,
    /// Half-close after sending (a body cut short must not wait for the body timeout).
    pub(super) shutdown: bool,
    pub(super) head: bool,
    pub(super) mutations: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Framing {
    Exact,
    Chunked,
    /// Declares `extra` more bytes than it sends, waits (408 after the body timeout).
    Short(usize),
    /// Declares an absurd length (413 at once).
    Absurd,
}

pub(super) fn render(r: &Request, framing: Framing) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", r.method, r.path).into_bytes();
    for (name, value) in &r.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let length = match framing {
        Framing::Exact if r.body.is_empty() && r.method == "GET" => None,
        Framing::Exact => Some(r.body.len().to_string()),
        Framing::Short(extra) => Some((r.body.len() + extra).to_string()),
        Framing::Absurd => Some("999999999999999".into()),
        Framing::Chunked => None,
    };
    if let Some(l) = length {
        out.extend_from_slice(format!("content-length: {l}\r\n").as_bytes());
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
        for piece in r.body.chunks(97) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&r.body);
    }
    out
}

/// Mutations that break the framing: the answer may be hyper's bare refusal.
pub(super) fn mutate_raw(rng: &mut fastrand::Rng, r: &Request, wire: &mut Wire) {
    match rng.u8(0..6) {
        0 => {
            let head_end = wire
                .bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(0);
            let n = rng.usize(1..4);
            let mut head = wire.bytes[..head_end].to_vec();
            mutate_bytes(rng, &mut head, n);
            wire.bytes.splice(..head_end, head);
            wire.mutations.push(format!("head-bytes x{n}"));
        }
        1 => {
            let value = pick(
                rng,
                &[
                    "-1",
                    "18446744073709551616",
                    "1e3",
                    "abc",
                    "0x10",
                    "+5",
                    "5, 6",
                ],
            );
            let mut h = r.clone();
            h.headers
                .push(("content-length".into(), value.as_bytes().to_vec()));
            wire.bytes = render(&h, Framing::Chunked);
            wire.bytes = replace_all(
                &wire.bytes,
                b"transfer-encoding: chunked\r\n",
                if rng.bool() {
                    b""
                } else {
                    b"transfer-encoding: chunked\r\n"
                },
            );
            wire.mutations
                .push(format!("content-length: {value} (+chunked?)"));
        }
        2 => {
            let cut = rng.usize(0..wire.bytes.len());
            wire.bytes.truncate(cut);
            wire.shutdown = true;
            wire.mutations.push(format!("cut at {cut}, half-closed"));
        }
        3 => {
            let bad: &[u8] = pick::<&[u8]>(
                rng,
                &[
                    b"x-bad: a\x00b",
                    b"x-bad: a\rb",
                    b"bad header: 1",
                    b"x-bad:\x01",
                    b": empty-name",
                    b"x\xffy: 1",
                ],
            );
            let at = wire
                .bytes
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(0, |p| p + 2);
            wire.bytes.splice(at..at, [bad, b"\r\n"].concat());
            wire.mutations
                .push(format!("header {}", bad.escape_ascii()));
        }
        4 => {
            let head_end = wire
                .bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |p| p + 4);
            let head = replace_all(&wire.bytes[..head_end], b"\r\n", b"\n");
            wire.bytes.splice(..head_end, head);
            wire.mutations.push("bare LF in the head".into());
        }
        _ => {
            let line: &[u8] = pick::<&[u8]>(
                rng,
                &[
                    b"FUZZ / HTTP/1.1",
                    b"GET /x HTTP/9.9",
                    b"GET /x",
                    b"GET  /healthz HTTP/1.1",
                    b"\x16\x03\x01\x02\x00",
                    b"PRI * HTTP/2.0",
                ],
            );
            let end = wire
                .bytes
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(0);
            wire.bytes.splice(..end, line.iter().copied());
            wire.mutations
                .push(format!("request line {}", line.escape_ascii()));
        }
    }
    wire.strict = false;
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// The connection ended before the declared body did.
    pub(super) truncated: bool,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) enum Parsed {
    Incomplete,
    Done(Answer),
}

/// Parses one HTTP/1.1 response from `buf` (1xx interim answers skipped); `eof` ends
/// a body delimited by the connection's close.
pub(super) fn parse(buf: &[u8], head_request: bool, eof: bool) -> Result<Parsed, String> {
    let mut buf = buf;
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return if eof && !buf.is_empty() {
                Err("a truncated response head".into())
            } else {
                Ok(Parsed::Incomplete)
            };
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let rest = &buf[end + 4..];
        if (100..200).contains(&status) {
            buf = rest;
            continue;
        }
        let answer = |body: Vec<u8>| Answer {
            status,
            headers: headers.clone(),
            body,
            truncated: false,
        };
        if head_request || status == 204 || status == 304 {
            return Ok(Parsed::Done(answer(Vec::new())));
        }
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        if chunked {
            let mut body = Vec::new();
            let mut at = 0;
            loop {
                let Some(nl) = rest[at..].windows(2).position(|w| w == b"\r\n") else {
                    return if eof {
                        Err("a truncated chunked body".into())
                    } else {
                        Ok(Parsed::Incomplete)
                    };
                };
                let size_text = String::from_utf8_lossy(&rest[at..at + nl]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| format!("bad chunk size {size_text:?}"))?;
                let start = at + nl + 2;
                if rest.len() < start + size + 2 {
                    return if eof {
                        Err("a truncated chunk".into())
                    } else {
                        Ok(Parsed::Incomplete)
                    };
                }
                if size == 0 {
                    return Ok(Parsed::Done(answer(body)));
                }
                body.extend_from_slice(&rest[start..start + size]);
                at = start + size + 2;
            }
        }
        if let Some(len) = headers.iter().find(|(n, _)| n == "content-length") {
            let len: usize = len
                .1
                .parse()
                .map_err(|_| format!("bad content-length {:?}", len.1))?;
            return match rest.len() >= len {
                true => Ok(Parsed::Done(answer(rest[..len].to_vec()))),
                false if eof => Ok(Parsed::Done(Answer {
                    truncated: true,
                    ..answer(rest.to_vec())
                })),
                false => Ok(Parsed::Incomplete),
            };
        }
        return Ok(if eof {
            Parsed::Done(answer(rest.to_vec()))
        } else {
            Parsed::Incomplete
        });
    }
}

/// Sends the request and reads one answer; `Ok(None)`: the connection closed unanswered.
pub(super) async fn exchange(addr: SocketAddr, wire: &Wire) -> Result<Option<Answer>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut rd, mut wr) = stream.into_split();
    let bytes = wire.bytes.clone();
    let shutdown = wire.shutdown;
    // Written concurrently: the gateway may answer (413) before reading everything.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        if shutdown {
            let _ = wr.shutdown().await;
        }
        wr
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let result = loop {
        // A reset after a refusal reads as the end: judge what arrived.
        let n = rd.read(&mut chunk).await.unwrap_or_default();
        buf.extend_from_slice(&chunk[..n]);
        match parse(&buf, wire.head, n == 0) {
            Ok(Parsed::Done(a)) => break Ok(Some(a)),
            Ok(Parsed::Incomplete) if n == 0 => break Ok(None),
            Ok(Parsed::Incomplete) => {}
            Err(e) => break Err(e),
        }
    };
    writer.abort();
    result
}
