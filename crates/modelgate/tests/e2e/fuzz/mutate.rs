//! Mutations that keep a request well-formed HTTP: bodies flipped, cut and replaced,
//! nasty JSON strings and numbers spliced in at the byte level, headers added,
//! duplicated and changed, methods and paths swapped.

use super::seeds::{Ids, Request};
use crate::common::ADMIN_TOKEN;
use serde_json::Value;

const NASTY_STRINGS: &[&[u8]] = &[
    b"\\u0000",
    b"a\\u0000b",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\\ud800",
    b"\\udfff\\ud800x",
    b"\x1b[31m",
    b"",
    b" ",
    b"demo/echo:max",
    b"openai/gpt-4o",
    b"../../etc/passwd",
    b"\xe2\x80\xae",
    b"\\n\\r\\t",
    b"%00%ff",
    b"\\\"",
];

const NASTY_NUMBERS: &str = concat!(
    "1e999 -1e999 1e-999 18446744073709551615 18446744073709551616 ",
    "9223372036854775807 9223372036854775808 -9223372036854775809 ",
    "4294967296 1000000001 -1 0 -0 1.5 ",
    "340282366920938463463374607431768211456 ",
    "123456789012345678901234567890e-10",
);

const NUMERIC_FIELDS: &str = concat!(
    "max_tokens max_completion_tokens n max_output_tokens dimensions ",
    "temperature top_p seed credits_usd amount_usd max_spend_usd ",
    "presence_penalty",
);

const STRING_MARK: &str = "\u{1}mgfuzz\u{1}";
const NUMBER_MARK: &str = "\u{2}mgnum\u{2}";

fn slots<'a>(v: &'a mut Value, want_string: bool, out: &mut Vec<&'a mut Value>) {
    if (want_string && v.is_string()) || (!want_string && v.is_number()) {
        out.push(v);
        return;
    }
    match v {
        Value::Array(items) => items.iter_mut().for_each(|x| slots(x, want_string, out)),
        Value::Object(fields) => fields.values_mut().for_each(|x| slots(x, want_string, out)),
        _ => {}
    }
}

pub(super) fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Replaces one (or every) JSON string, or one number, with something nasty, at the
/// byte level: raw NULs and invalid UTF-8 are not expressible as a `Value`.
fn mutate_json(rng: &mut fastrand::Rng, body: &[u8], label: &mut Vec<String>) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    match rng.u8(0..4) {
        0 | 1 => {
            let every = rng.u8(0..4) == 0;
            let mut found = Vec::new();
            slots(&mut v, true, &mut found);
            if found.is_empty() {
                return None;
            }
            let pick = rng.usize(0..found.len());
            for (i, s) in found.into_iter().enumerate() {
                if every || i == pick {
                    *s = Value::String(STRING_MARK.into());
                }
            }
            let nasty: Vec<u8> = if rng.u8(0..10) == 0 {
                vec![b'A'; 200_000]
            } else {
                NASTY_STRINGS[rng.usize(0..NASTY_STRINGS.len())].to_vec()
            };
            label.push(format!(
                "json-string{} {}",
                if every { "s" } else { "" },
                nasty
                    .escape_ascii()
                    .to_string()
                    .chars()
                    .take(40)
                    .collect::<String>()
            ));
            let text = serde_json::to_vec(&v).ok()?;
            Some(replace_all(&text, br"\u0001mgfuzz\u0001", &nasty))
        }
        2 => {
            let mut found = Vec::new();
            slots(&mut v, false, &mut found);
            let n = found.len();
            if n == 0 {
                return None;
            }
            *found.swap_remove(rng.usize(0..n)) = Value::String(NUMBER_MARK.into());
            let number = word(rng, NASTY_NUMBERS);
            label.push(format!("json-number {number}"));
            let text = serde_json::to_vec(&v).ok()?;
            Some(replace_all(
                &text,
                br#""\u0002mgnum\u0002""#,
                number.as_bytes(),
            ))
        }
        _ => {
            let field = word(rng, NUMERIC_FIELDS);
            let number = word(rng, NASTY_NUMBERS);
            v.as_object_mut()?
                .insert(field.into(), Value::String(NUMBER_MARK.into()));
            label.push(format!("json-field {field}={number}"));
            let text = serde_json::to_vec(&v).ok()?;
            Some(replace_all(
                &text,
                br#""\u0002mgnum\u0002""#,
                number.as_bytes(),
            ))
        }
    }
}

/// Flips, inserts, deletes or duplicates a few bytes.
pub(super) fn mutate_bytes(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>, n: usize) {
    for _ in 0..n {
        let len = bytes.len();
        match rng.u8(0..4) {
            0 if len > 0 => {
                let i = rng.usize(0..len);
                bytes[i] ^= 1 << rng.u8(0..8);
            }
            1 => bytes.insert(rng.usize(0..=len), rng.u8(..)),
            2 if len > 0 => {
                bytes.remove(rng.usize(0..len));
            }
            _ if len > 0 => {
                let a = rng.usize(0..len);
                let b = rng.usize(a..=len.min(a + 64));
                let copy = bytes[a..b].to_vec();
                let at = rng.usize(0..=len);
                bytes.splice(at..at, copy);
            }
            _ => {}
        }
    }
}

fn set_header(r: &mut Request, name: &str, value: Option<Vec<u8>>) {
    r.headers.retain(|(n, _)| n != name);
    if let Some(v) = value {
        r.headers.push((name.into(), v));
    }
}

/// One of the space-separated words of `list`.
fn word(rng: &mut fastrand::Rng, list: &'static str) -> &'static str {
    let words: Vec<&'static str> = list.split(' ').collect();
    words[rng.usize(0..words.len())]
}

pub(super) fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(0..items.len())]
}

/// Mutations that keep the request well-formed HTTP: one of 14 kinds.
pub(super) fn mutate_strict(
    rng: &mut fastrand::Rng,
    r: &mut Request,
    ids: &Ids,
    label: &mut Vec<String>,
) {
    match rng.u8(0..14) {
        kind @ (0..=4 | 12) => mutate_body(rng, r, kind, label),
        kind @ 9..=11 => mutate_target(rng, r, kind, label),
        kind => mutate_headers(rng, r, ids, kind, label),
    }
}

fn mutate_body(rng: &mut fastrand::Rng, r: &mut Request, kind: u8, label: &mut Vec<String>) {
    match kind {
        0 | 1 => {
            if let Some(body) = r.json.then(|| mutate_json(rng, &r.body, label)).flatten() {
                r.body = body;
            } else {
                mutate_bytes(rng, &mut r.body, 1);
                label.push("body-bytes".into());
            }
        }
        2 => {
            let n = rng.usize(1..5);
            mutate_bytes(rng, &mut r.body, n);
            label.push(format!("body-bytes x{n}"));
        }
        3 => {
            let cut = rng.usize(0..=r.body.len());
            r.body.truncate(cut);
            label.push(format!("body-truncated {cut}"));
        }
        4 => {
            let body: &[u8] = pick::<&[u8]>(
                rng,
                &[
                    b"[]",
                    b"null",
                    b"\"x\"",
                    b"{}",
                    b"1e999",
                    b"",
                    b"   ",
                    b"{\"model\":",
                    b"\xef\xbb\xbf{}",
                ],
            );
            r.body = if rng.u8(0..6) == 0 {
                let depth = rng.usize(100..100_000);
                [vec![b'['; depth], vec![b']'; depth]].concat()
            } else {
                body.to_vec()
            };
            label.push(format!(
                "body={}",
                String::from_utf8_lossy(&r.body)
                    .chars()
                    .take(20)
                    .collect::<String>()
            ));
        }
        _ => {
            r.body = vec![b'x'; rng.usize(1_048_577..1_300_000)];
            label.push(format!("body {} bytes", r.body.len()));
        }
    }
}

fn mutate_headers(
    rng: &mut fastrand::Rng,
    r: &mut Request,
    ids: &Ids,
    kind: u8,
    label: &mut Vec<String>,
) {
    match kind {
        5 => {
            let ct: &[u8] = pick::<&[u8]>(
                rng,
                &[
                    b"text/plain",
                    b"application/x-www-form-urlencoded",
                    b"multipart/form-data; boundary=x",
                    b"application/json; charset=utf-16",
                    b"APPLICATION/JSON",
                    b"application/vnd.api+json",
                    b"",
                    b"application/json\xff",
                    b"multipart/form-data",
                    b"application/json",
                ],
            );
            let ct = if rng.bool() { Some(ct.to_vec()) } else { None };
            label.push(format!(
                "content-type={:?}",
                ct.as_ref().map(|c| c.escape_ascii().to_string())
            ));
            set_header(r, "content-type", ct);
        }
        6 => {
            let auth = match rng.u8(0..9) {
                0 => None,
                1 => Some(b"Bearer".to_vec()),
                2 => Some(format!("bearer {}", ids.key).into_bytes()),
                3 => Some(b"Basic Zm9vOmJhcg==".to_vec()),
                4 => Some(format!("Bearer {}x", ids.key).into_bytes()),
                5 => Some([&b"Bearer "[..], &[b'k'; 10_000]].concat()),
                6 => Some(b"Bearer \xff\xfe\x80".to_vec()),
                7 => Some(format!("Bearer {ADMIN_TOKEN}").into_bytes()),
                _ => Some(format!("Bearer {}", ids.demo_key).into_bytes()),
            };
            label.push(format!(
                "authorization={:?}",
                auth.as_ref().map(|a| a
                    .escape_ascii()
                    .to_string()
                    .chars()
                    .take(40)
                    .collect::<String>())
            ));
            set_header(r, "authorization", auth);
        }
        7 => {
            let (name, value): (&str, Vec<u8>) = match rng.u8(0..10) {
                0 => (
                    "authorization",
                    format!("Bearer {}", ids.demo_key).into_bytes(),
                ),
                1 => ("content-type", b"text/plain".to_vec()),
                2 => ("x-request-id", vec![b'r'; rng.usize(0..300)]),
                3 => ("x-request-id", b"\xff\xfe id".to_vec()),
                4 => (
                    "idempotency-key",
                    format!("fuzz-{}", rng.u8(0..4)).into_bytes(),
                ),
                5 => ("idempotency-key", vec![b'i'; rng.usize(200..5000)]),
                6 => (
                    "x-mock-fault",
                    pick(
                        rng,
                        &[
                            "status=500",
                            "status=503",
                            "status=429",
                            "status=400",
                            "reset",
                            "cut_after=1",
                            "status=999",
                            "explode",
                            "status=",
                            "status=401",
                        ],
                    )
                    .as_bytes()
                    .to_vec(),
                ),
                7 => ("accept-encoding", b"gzip, br".to_vec()),
                8 => ("x-fuzz", vec![b'h'; 70_000]),
                _ => ("expect", b"100-continue".to_vec()),
            };
            label.push(format!("+header {name} ({} bytes)", value.len()));
            r.headers.push((name.into(), value));
        }
        8 => {
            let n = rng.usize(100..6000);
            label.push(format!("+{n} headers"));
            for i in 0..n {
                r.headers.push((format!("x-f{i}"), b"1".to_vec()));
            }
        }
        _ => {
            set_header(
                r,
                "connection",
                if rng.bool() {
                    Some(b"keep-alive".to_vec())
                } else {
                    None
                },
            );
            label.push("no connection: close".into());
        }
    }
}

/// Methods and paths.
fn mutate_target(rng: &mut fastrand::Rng, r: &mut Request, kind: u8, label: &mut Vec<String>) {
    match kind {
        9 => {
            let method = pick(
                rng,
                &[
                    "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "FUZZ", "get",
                ],
            );
            label.push(format!("method {method}"));
            r.method = (*method).into();
        }
        10 => {
            let suffix = pick(
                rng,
                &[
                    "?x=1",
                    "?limit=18446744073709551616",
                    "?limit=-1",
                    "?limit=1&limit=2",
                    "?cursor=%ff%fe",
                    "?from=not-a-date",
                    "?model=%00",
                    "?operation=IMAGES_GENERATIONS",
                    "/%FF",
                    "%2F..%2F",
                    "/",
                    "/x",
                    "?",
                    "#frag",
                    "?limit=1001",
                    "?to=2020-01-01T00:00:00Z&from=2030-01-01T00:00:00Z",
                ],
            );
            label.push(format!("path+{suffix}"));
            r.path.push_str(suffix);
        }
        _ => {
            let path = pick(
                rng,
                &[
                    "/",
                    "/v1",
                    "/v1/chat/completions/",
                    "//v1/chat/completions",
                    "/v1/messages/count_tokens",
                    "/admin/accounts/%00",
                    "/v1/files/%ff",
                    "/v1/models/a%2Fb%2Fc",
                    "/api/models?operation=nope",
                ],
            );
            let path = if rng.u8(0..8) == 0 {
                format!("/{}", "a".repeat(rng.usize(1000..20_000)))
            } else {
                (*path).to_owned()
            };
            label.push(format!(
                "path={}",
                path.chars().take(40).collect::<String>()
            ));
            r.path = path;
        }
    }
}
