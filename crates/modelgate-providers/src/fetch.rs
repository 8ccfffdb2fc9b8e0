//! Server-side fetches of client-supplied image URLs, guarded against SSRF
//! (DESIGN §5): only http(s); every address the host resolves to must be public
//! (loopback, private, link-local, unique-local, CGNAT, unspecified, multicast,
//! broadcast and reserved ranges are refused in any spelling, IPv4-in-IPv6 forms
//! included) unless `[fetch] allow_private`; the connection is pinned to the checked
//! addresses and the peer actually connected to is checked again; redirects are
//! followed by hand (at most 5), each hop checked the same way. Bounded by
//! `[fetch] timeout_ms` overall and `max_bytes`; the answer must be `image/*`.
//!
//! What one request may make the gateway hold is bounded too (issue 8): its images
//! are fetched at most `CONCURRENT` at a time, `max_total_bytes` together, and once
//! per request: an `ImageCache` on the call keeps them for the retries.
//!
//! Host spellings need no parsing here: the WHATWG URL parser (the `url` crate
//! behind reqwest) already turns `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1`
//! into `127.0.0.1`, and `[::ffff:127.0.0.1]` into an IPv6 address.

use crate::UpstreamError;
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use modelgate_core::config::FetchConfig;
use modelgate_core::GatewayError;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::Url;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const MAX_REDIRECTS: usize = 5;
/// Fetches of one request in flight at once.
const CONCURRENT: usize = 4;

/// An http(s) image URL a request names, with the field it came from (for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteImage {
    pub param: String,
    pub url: String,
}

/// A fetched image, base64-encoded for inlining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    pub mime_type: String,
    pub base64: String,
}

/// Fetched images by URL.
pub type FetchedImages = HashMap<String, FetchedImage>;

/// The remote images of one request, fetched on its first attempt and kept for the
/// retries and failovers, so a retried request costs its image hosts one fetch each.
/// Only a success is kept: every fetch failure is the client's final error.
#[derive(Debug, Default)]
pub struct ImageCache {
    fetched: tokio::sync::OnceCell<FetchedImages>,
}

impl ImageCache {
    pub async fn get_or_fetch(
        &self,
        wanted: Vec<RemoteImage>,
        cfg: &FetchConfig,
    ) -> Result<&FetchedImages, UpstreamError> {
        self.fetched
            .get_or_try_init(|| fetch_all(wanted, cfg))
            .await
    }
}

/// Fetches every distinct URL, `CONCURRENT` at a time, within `max_total_bytes`
/// together; the first failure (400/413 naming its field) ends the rest.
pub async fn fetch_all(
    mut wanted: Vec<RemoteImage>,
    cfg: &FetchConfig,
) -> Result<FetchedImages, UpstreamError> {
    let mut seen = HashSet::new();
    wanted.retain(|r| seen.insert(r.url.clone()));
    let budget = Budget::new(cfg.max_total_bytes);
    let budget = &budget;
    futures_util::stream::iter(wanted)
        .map(|r| async move {
            let (mime_type, bytes) = fetch_counted(&r.url, cfg, &r.param, budget).await?;
            let base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok::<_, UpstreamError>((r.url, FetchedImage { mime_type, base64 }))
        })
        .buffered(CONCURRENT)
        .try_collect()
        .await
}

/// The bytes all fetches of one request may read together (0: unlimited).
struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    fn new(limit: u64) -> Self {
        Self {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Takes `n` bytes; false when that goes over (the request then fails whole,
    /// so what was taken is not given back).
    fn take(&self, n: u64) -> bool {
        let used = self.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        self.limit == 0 || used <= self.limit
    }
}

/// Fetches one image for a request field (`param` names it in every error), outside
/// any request's budget. Returns the MIME type (lowercase, without parameters) and
/// the bytes.
#[cfg(test)]
pub async fn fetch_image(
    url: &str,
    cfg: &FetchConfig,
    param: &str,
) -> Result<(String, Vec<u8>), UpstreamError> {
    fetch_counted(url, cfg, param, &Budget::new(0)).await
}

async fn fetch_counted(
    url: &str,
    cfg: &FetchConfig,
    param: &str,
    budget: &Budget,
) -> Result<(String, Vec<u8>), UpstreamError> {
    let allow_private = cfg.allow_private;
    let allowed = move |ip| allow_private || is_public(ip);
    let fetch = Fetch {
        cfg,
        param,
        allowed: &allowed,
        budget,
    };
    fetch_with(url, &fetch).await
}

/// Which peer addresses may be contacted.
type Guard<'a> = &'a (dyn Fn(IpAddr) -> bool + Sync);

/// One fetch's rules: limits, the field it is for, the SSRF guard, the request's budget.
struct Fetch<'a> {
    cfg: &'a FetchConfig,
    param: &'a str,
    allowed: Guard<'a>,
    budget: &'a Budget,
}

async fn fetch_with(url: &str, f: &Fetch<'_>) -> Result<(String, Vec<u8>), UpstreamError> {
    let deadline = Duration::from_millis(f.cfg.timeout_ms.max(1));
    match tokio::time::timeout(deadline, follow(url, f)).await {
        Ok(result) => result,
        Err(_) => Err(failed(
            f.param,
            &format!("it did not answer within {} ms", f.cfg.timeout_ms),
        )),
    }
}

async fn follow(url: &str, f: &Fetch<'_>) -> Result<(String, Vec<u8>), UpstreamError> {
    let param = f.param;
    let mut url = Url::parse(url).map_err(|_| {
        invalid(
            param,
            format!("The image URL in '{param}' is not a valid URL."),
        )
    })?;
    for _ in 0..=MAX_REDIRECTS {
        check_scheme(&url, param)?;
        let resp = get(&url, param, f.allowed).await?;
        if !resp.status().is_redirection() {
            return read_image(resp, f).await;
        }
        let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok());
        url = location
            .and_then(|l| url.join(l).ok())
            .ok_or_else(|| failed(param, "it redirected without a valid Location"))?;
    }
    Err(failed(
        param,
        &format!("it redirected more than {MAX_REDIRECTS} times"),
    ))
}

/// One hop: resolve, check every address, connect only to those, check the peer.
async fn get(
    url: &Url,
    param: &str,
    allowed: Guard<'_>,
) -> Result<reqwest::Response, UpstreamError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    // The URL parser already normalised every IP spelling; a bracketed host is IPv6.
    let host = url.host_str().unwrap_or("");
    let literal = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    };
    let addrs: Vec<SocketAddr> = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None if host.is_empty() => Vec::new(),
        None => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map(Iterator::collect)
                .unwrap_or_default();
            // Pinned: reqwest must not resolve the name again (DNS rebinding).
            builder = builder.resolve_to_addrs(host, &addrs);
            addrs
        }
    };
    if addrs.is_empty() {
        return Err(failed(param, "its host name could not be resolved"));
    }
    if !addrs.iter().all(|a| allowed(a.ip())) {
        return Err(refused(param));
    }
    let client = builder
        .build()
        .map_err(|e| UpstreamError::fatal(GatewayError::internal(format!("fetch client: {e}"))))?;
    let resp = client
        .get(url.clone())
        .header(ACCEPT, "image/*")
        .send()
        .await
        .map_err(|e| {
            failed(
                param,
                if e.is_connect() {
                    "the connection to its host failed"
                } else {
                    "the connection broke"
                },
            )
        })?;
    // §5: checked on the address actually connected to, not only the one resolved.
    match resp.remote_addr() {
        Some(peer) if allowed(peer.ip()) => Ok(resp),
        _ => Err(refused(param)),
    }
}

fn check_scheme(url: &Url, param: &str) -> Result<(), UpstreamError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        _ => Err(invalid(
            param,
            format!("The image URL in '{param}' must use http or https, or be a base64 data: URL."),
        )),
    }
}

async fn read_image(
    mut resp: reqwest::Response,
    f: &Fetch<'_>,
) -> Result<(String, Vec<u8>), UpstreamError> {
    let param = f.param;
    let status = resp.status();
    if !status.is_success() {
        return Err(failed(
            param,
            &format!("it answered HTTP {}", status.as_u16()),
        ));
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
    };
    let mime = header(CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !mime.starts_with("image/") || mime.len() > 100 {
        let shown: String = mime
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(60)
            .collect();
        return Err(failed(
            param,
            &format!("it sent Content-Type \"{shown}\", not an image"),
        ));
    }
    let limit = f.cfg.max_bytes;
    let too_large = || {
        UpstreamError::fatal(GatewayError::FetchTooLarge {
            param: param.to_owned(),
            limit_bytes: limit,
        })
    };
    let over_total = || {
        UpstreamError::fatal(GatewayError::FetchTotalTooLarge {
            param: param.to_owned(),
            limit_bytes: f.budget.limit,
        })
    };
    if header(CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(too_large());
                }
                // Counted as it arrives: concurrent fetches share the budget.
                if !f.budget.take(chunk.len() as u64) {
                    return Err(over_total());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok((mime, bytes)),
            Err(_) => {
                return Err(failed(
                    param,
                    "the connection broke while reading the image",
                ))
            }
        }
    }
}

fn refused(param: &str) -> UpstreamError {
    invalid(
        param,
        format!("The image URL in '{param}' points to a private or local address; the gateway does not fetch those."),
    )
}

fn failed(param: &str, reason: &str) -> UpstreamError {
    invalid(
        param,
        format!("The image URL in '{param}' could not be fetched: {reason}. Use a publicly reachable image URL, or send the image as a base64 data: URL."),
    )
}

fn invalid(param: &str, message: String) -> UpstreamError {
    UpstreamError::fatal(GatewayError::invalid(message, Some(param)))
}

/// Whether an address is globally reachable: the SSRF classifier.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => v6_public(v6),
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let local = a == 0 // "this network", unspecified
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF assignments, TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !local
}

fn v6_public(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return v4_public(v4);
    }
    let s = ip.segments();
    let local = (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && (s[1] == 0 || s[1] == 0x0db8)) // Teredo, documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1); // local-use NAT64
    !local
}

/// An IPv4 address spelled as IPv6: mapped (`::ffff:a.b.c.d`), SIIT
/// (`::ffff:0:a.b.c.d`), compatible (`::a.b.c.d`, which also covers `::` and
/// `::1`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
pub(crate) mod tests;
