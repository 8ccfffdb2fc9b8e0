//! HTTP-level fuzzing (issue 8): valid requests to every route, mutated at the byte
//! level (bodies, JSON strings and numbers, headers, methods, paths, framing), sent
//! over raw TCP to the real binary. Each answer must arrive within `DEADLINE` and be a
//! 2xx or an error in the contract's shape (DESIGN §2), never a 500; at the end
//! /healthz still answers.
//!
//! Request `i` depends only on the seed and `i`, so a failure reproduces:
//! `MODELGATE_FUZZ_SEED` (default `DEFAULT_SEED`), `MODELGATE_FUZZ_REQUESTS` (default
//! 3,000) for longer runs.
//!
//! A mutation that keeps the request well-formed HTTP is "strict": its answer must be
//! the contract's. One that breaks the framing (bytes flipped in the head, conflicting
//! Content-Length, a body cut short and the connection half-closed) may also get
//! hyper's bare refusal or a closed connection: DESIGN §1 promises the contract only
//! to requests that parse as HTTP.

mod known;
mod mutate;
mod seeds;
mod wire;

use crate::common::Gateway;
use mutate::mutate_strict;
use seeds::{multipart, seeds, Ids, Request};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wire::{exchange, mutate_raw, render, Answer, Framing, Wire};

const DEFAULT_REQUESTS: usize = 3_000;
const DEFAULT_SEED: u64 = 0x6d67_f022;
const WORKERS: usize = 8;
/// No answer within this is a hang (the body timeout below is 2 s).
const DEADLINE: Duration = Duration::from_secs(20);

/// Requests this large may see the answer cut by a reset when the route leaves the
/// body unread (known bug 2).
const UNREAD_BODY_RESETS: usize = 64 * 1024;

/// Small limits so that the 408 and 413 paths are cheap to reach.
const CONFIG: &str =
    "[server]\nbody_timeout_ms = 2000\nmax_body_bytes = 1048576\n[files]\nmax_bytes = 262144\n";

fn build(seed: u64, i: usize, seeds: &[Request], ids: &Ids) -> Wire {
    let mut rng = fastrand::Rng::with_seed(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let which = rng.usize(0..seeds.len());
    let mut r = seeds[which].clone();
    let mut mutations = vec![format!("seed {which}: {} {}", r.method, r.path)];
    for _ in 0..rng.usize(1..4) {
        mutate_strict(&mut rng, &mut r, ids, &mut mutations);
    }
    let framing = match rng.u8(0..20) {
        0 | 1 => Framing::Chunked,
        2 => Framing::Short(rng.usize(1..100)),
        3 => Framing::Absurd,
        _ => Framing::Exact,
    };
    if framing != Framing::Exact {
        mutations.push(format!(
            "framing {}",
            match framing {
                Framing::Chunked => "chunked".to_owned(),
                Framing::Short(n) => format!("short by {n}"),
                Framing::Absurd => "absurd length".to_owned(),
                Framing::Exact => String::new(),
            }
        ));
    }
    let mut wire = Wire {
        bytes: render(&r, framing),
        strict: true,
        shutdown: false,
        head: r.method == "HEAD",
        mutations,
    };
    if rng.u8(0..4) == 0 {
        mutate_raw(&mut rng, &r, &mut wire);
    }
    let short = matches!(framing, Framing::Short(_));
    if (short || !wire.strict) && fixed_body_timeout(&r, !wire.strict) {
        // Known bug 1: half-closing ends the 30 s wait for a body that never comes.
        wire.shutdown = true;
        wire.strict = false;
        wire.mutations
            .push("half-closed (30 s body timeout)".into());
    }
    wire
}

/// Whether the route reads its body with a fixed 30 s timeout (known bug 1): the
/// admin API, and /v1/images/edits without a multipart boundary (a flipped head
/// byte may have taken it away).
fn fixed_body_timeout(r: &Request, head_mutated: bool) -> bool {
    let multipart = r
        .headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .is_some_and(|(_, v)| v.windows(9).any(|w| w == b"boundary="));
    r.path.starts_with("/admin")
        || (r.path.starts_with("/v1/images/edits") && (head_mutated || !multipart))
}

// Known bugs the run steps around (reported with issue 8):
// 1. the admin API, and the JSON form of /v1/images/edits, time out a body that
//    stops coming after a fixed 30 s, not `[server] body_timeout_ms`;
// 2. a route that does not read the body (GET) closes the connection with a large
//    body unread: the kernel's reset can cut a large answer short.
// The bugs it found that were fixed since are reproduced in `known.rs`.

/// The contract's error shape (DESIGN §2), or why not.
fn contract_error(a: &Answer, head: bool) -> Result<String, String> {
    let (kind, not_configured) = if head {
        // No body to tell the one non-retriable 503 by: its headers do.
        let bare_503 = a.status == 503 && a.header("x-should-retry") == Some("false");
        ("(HEAD)".to_owned(), bare_503)
    } else {
        let body: Value =
            serde_json::from_slice(&a.body).map_err(|_| "a body that is not JSON".to_owned())?;
        let error = body
            .get("error")
            .filter(|_| body.as_object().is_some_and(|o| o.len() == 1))
            .ok_or("not only `error` at the top level")?;
        let kind = error["type"].as_str().ok_or("no error.type")?;
        let message = error["message"].as_str().ok_or("no error.message")?;
        if !message.ends_with('.') {
            return Err(format!("a message that is not a sentence: {message:?}"));
        }
        (kind.to_owned(), error["details"]["env_vars"].is_array())
    };
    // A model whose provider key is unset is the one 503 not worth retrying (issue 11).
    let retriable = matches!(a.status, 409 | 429 | 500 | 502 | 503 | 504) && !not_configured;
    let retry = a.header("x-should-retry").ok_or("no x-should-retry")?;
    if retry != retriable.to_string() {
        return Err(format!("x-should-retry: {retry}"));
    }
    if matches!(a.status, 429 | 503) && !not_configured {
        let after: u64 = a
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .ok_or("no Retry-After")?;
        if !(1..=60).contains(&after) || a.header("retry-after-ms").is_none() {
            return Err(format!("Retry-After {after} or retry-after-ms"));
        }
    }
    if not_configured && a.header("retry-after").is_some() {
        return Err("Retry-After on a 503 that is not worth retrying".into());
    }
    Ok(kind)
}

/// The outcome's label for the tally, or why the answer breaks the contract.
fn judge(wire: &Wire, answer: Option<&Answer>) -> Result<String, String> {
    let Some(a) = answer else {
        return if wire.strict {
            Err("the connection closed without an answer".into())
        } else {
            Ok("closed".into())
        };
    };
    if a.status == 500 {
        return Err(format!("500: {}", String::from_utf8_lossy(&a.body)));
    }
    if a.truncated {
        // Known bug 2: a route that ignores a large request body closes with it
        // unread, and the reset cuts the tail of a large answer.
        return match wire.bytes.len() > UNREAD_BODY_RESETS {
            true => Ok(format!("{} cut short (request body left unread)", a.status)),
            false => Err(format!("{} cut short: {} bytes", a.status, a.body.len())),
        };
    }
    let through_app = a.header("x-request-id").is_some();
    if !through_app {
        return match wire.strict {
            true => Err(format!("{} without x-request-id", a.status)),
            false if a.status >= 400 => Ok(format!("{} bare (hyper)", a.status)),
            false => Err(format!("{} without x-request-id", a.status)),
        };
    }
    match a.status {
        200..=299 => Ok("2xx".into()),
        400..=599 => contract_error(a, wire.head)
            .map(|kind| format!("{} {kind}", a.status))
            .map_err(|why| format!("{}: {why}: {}", a.status, String::from_utf8_lossy(&a.body))),
        s => Err(format!("unexpected status {s}")),
    }
}

fn show(wire: &Wire) -> String {
    let text = wire.bytes.escape_ascii().to_string();
    let cut: String = text.chars().take(1500).collect();
    format!(
        "mutations {:?}\n{cut}{}",
        wire.mutations,
        if cut.len() < text.len() { " …" } else { "" }
    )
}

async fn raw_json(gw: &Gateway, r: &Request) -> Value {
    let wire = Wire {
        bytes: render(r, Framing::Exact),
        strict: true,
        shutdown: false,
        head: false,
        mutations: Vec::new(),
    };
    let a = exchange(gw.addr, &wire).await.unwrap().unwrap();
    assert!(
        a.status < 300,
        "setup {}: {}",
        r.path,
        String::from_utf8_lossy(&a.body)
    );
    serde_json::from_slice(&a.body).unwrap()
}

async fn setup(gw: &Gateway) -> Ids {
    let (_, key) = gw.account_key(1_000_000.0, json!({}), json!({})).await;
    let (account, _) = gw.account_key(10.0, json!({}), json!({})).await;
    let (_, created) = gw
        .admin(
            reqwest::Method::POST,
            &format!("/admin/accounts/{account}/keys"),
            Some(json!({})),
        )
        .await;
    let upload = |name: &str| {
        multipart(
            "/v1/files",
            &key,
            &[
                ("purpose", None, b"user_data"),
                ("file", Some(name), b"fuzz"),
            ],
        )
    };
    let file = raw_json(gw, &upload("a.txt")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deletable_file = raw_json(gw, &upload("b.txt")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Ids {
        key,
        demo_key: gw.key.clone(),
        account,
        revocable_key: created["id"].as_str().unwrap().to_owned(),
        file,
        deletable_file,
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_requests_get_contract_answers() {
    let gw = Gateway::start(CONFIG).await;
    let ids = setup(&gw).await;
    let seeds = Arc::new(seeds(&ids));
    let total = env_number("MODELGATE_FUZZ_REQUESTS", DEFAULT_REQUESTS as u64) as usize;
    let seed = env_number("MODELGATE_FUZZ_SEED", DEFAULT_SEED);
    let ids = Arc::new(ids);
    let tally = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (seeds, ids, tally, failures) =
            (seeds.clone(), ids.clone(), tally.clone(), failures.clone());
        let addr = gw.addr;
        workers.push(tokio::spawn(async move {
            for i in (w..total).step_by(WORKERS) {
                let wire = build(seed, i, &seeds, &ids);
                let outcome = match tokio::time::timeout(DEADLINE, exchange(addr, &wire)).await {
                    Err(_) => Err(format!("no answer within {DEADLINE:?} (a hang)")),
                    Ok(Err(e)) => Err(format!("an unreadable answer: {e}")),
                    Ok(Ok(answer)) => judge(&wire, answer.as_ref()),
                };
                let label = match outcome {
                    Ok(label) => label,
                    Err(why) => {
                        failures.lock().unwrap().push(format!(
                            "request {i} (seed {seed:#x}): {why}\n{}",
                            show(&wire)
                        ));
                        "FAILED".into()
                    }
                };
                *tally.lock().unwrap().entry(label).or_default() += 1;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let health = gw
        .http
        .get(gw.url("/healthz"))
        .send()
        .await
        .expect("/healthz after the fuzz run");
    let tally = tally.lock().unwrap().clone();
    eprintln!(
        "fuzz: {total} requests, seed {seed:#x}, {:.1} s",
        elapsed.as_secs_f64()
    );
    for (label, n) in &tally {
        eprintln!("  {n:>7}  {label}");
    }
    let failures = failures.lock().unwrap();
    for f in failures.iter().take(20) {
        eprintln!("\n{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {total} requests broke the contract (first ones above)",
        failures.len()
    );
    assert_eq!(health.status(), 200, "/healthz after the fuzz run");
}
