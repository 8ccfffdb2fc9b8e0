//! Checks of the sections' values that serde cannot make: addresses, URL schemes,
//! numbers that must be positive. `serve` and `check-config` both run them (through
//! `config::check`), so a file one accepts the other accepts.

use super::parse::Problem;
use super::tree::FieldPath;
use super::ConfigFile;
use std::net::SocketAddr;

/// Every problem in the sections of `config` (`[[providers]]` and `[[models]]` are
/// checked while the catalog is built).
pub fn sections(config: &ConfigFile) -> Vec<Problem> {
    let mut out = Checks(Vec::new());
    let s = &config.server;
    if let Err(problem) = check_listen(&s.listen) {
        out.push(&["server", "listen"], problem);
    }
    out.positive(&["server", "max_body_bytes"], s.max_body_bytes);
    out.positive(&["server", "body_timeout_ms"], s.body_timeout_ms);
    if let Some(url) = &s.docs_base_url {
        out.http_url(&["server", "docs_base_url"], url);
    }
    let st = &config.storage;
    let db = &st.database_url;
    if !(db.starts_with("sqlite:")
        || db.starts_with("postgres://")
        || db.starts_with("postgresql://"))
    {
        out.push(
            &["storage", "database_url"],
            format!(
                "unsupported database \"{}\": use sqlite://PATH or postgres://USER@HOST/DB",
                scheme(db)
            ),
        );
    }
    if let Some(url) = &st.redis_url {
        if let Err(problem) = check_redis_url(url) {
            out.push(&["storage", "redis_url"], problem);
        }
    }
    if st.files_dir.trim().is_empty() {
        out.push(&["storage", "files_dir"], "must name a directory".into());
    } else if std::path::Path::new(&st.files_dir).is_file() {
        out.push(
            &["storage", "files_dir"],
            format!("\"{}\" is a file, not a directory", st.files_dir),
        );
    }
    out.positive(
        &["storage", "max_unwritten_records"],
        st.max_unwritten_records as u64,
    );
    if st.lease_ttl_ms < 1000 {
        out.push(
            &["storage", "lease_ttl_ms"],
            "must be at least 1000 (leases are renewed every sixth of it)".into(),
        );
    }
    if config.admin.token_env.trim().is_empty() {
        out.push(
            &["admin", "token_env"],
            "must name an environment variable".into(),
        );
    }
    let r = &config.retry;
    if r.max_delay_ms < r.base_delay_ms {
        out.push(
            &["retry", "max_delay_ms"],
            format!("must be at least base_delay_ms ({})", r.base_delay_ms),
        );
    }
    out.positive(&["retry", "stream_keepalive_ms"], r.stream_keepalive_ms);
    out.positive(
        &["health", "consecutive_failures"],
        config.health.consecutive_failures.into(),
    );
    out.positive(&["health", "cooldown_ms"], config.health.cooldown_ms);
    out.positive(&["idempotency", "max_bytes"], config.idempotency.max_bytes);
    out.positive(&["files", "max_bytes"], config.files.max_bytes);
    out.positive(&["fetch", "timeout_ms"], config.fetch.timeout_ms);
    out.positive(&["fetch", "max_bytes"], config.fetch.max_bytes);
    out.positive(&["fetch", "max_total_bytes"], config.fetch.max_total_bytes);
    if let Some(url) = &config.dashboard.top_up_url {
        out.http_url(&["dashboard", "top_up_url"], url);
    }
    out.0
}

/// `HOST:PORT` as `serve` binds it: an IP address, or a name resolved at start.
pub fn check_listen(listen: &str) -> Result<(), String> {
    if listen.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let named = listen.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok()
            && !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    });
    if named {
        Ok(())
    } else {
        Err(format!(
            "\"{listen}\" is not an address: use HOST:PORT, e.g. 127.0.0.1:8080"
        ))
    }
}

/// The schemes the Redis client is built with (no TLS).
fn check_redis_url(url: &str) -> Result<(), String> {
    let rest = ["redis://", "redis+unix://", "unix://"]
        .iter()
        .find_map(|s| url.strip_prefix(s));
    match rest {
        // Credentials (`redis://:pw@host`) are not a host.
        Some(rest)
            if !rest
                .rsplit_once('@')
                .map_or(rest, |(_, host)| host)
                .is_empty() =>
        {
            Ok(())
        }
        Some(_) => Err("names no host or socket: use redis://HOST:PORT".into()),
        None => Err(format!(
            "unsupported scheme \"{}\": use redis://HOST:PORT or unix:///PATH",
            scheme(url)
        )),
    }
}

fn scheme(url: &str) -> &str {
    url.split_once(':').map_or(url, |(s, _)| s)
}

struct Checks(Vec<Problem>);

impl Checks {
    fn push(&mut self, keys: &[&str], text: String) {
        let path = keys.iter().fold(FieldPath::default(), |p, k| p.key(k));
        self.0.push(Problem::new(path, text));
    }

    fn positive(&mut self, keys: &[&str], value: u64) {
        if value == 0 {
            self.push(keys, "must be greater than 0".into());
        }
    }

    fn http_url(&mut self, keys: &[&str], url: &str) {
        if !is_http_url(url) {
            self.push(keys, format!("\"{url}\" is not an http:// or https:// URL"));
        }
    }
}

/// An http(s) URL with a host and no whitespace (config URLs: base, docs, top-up).
pub(crate) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) && !url.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_ips_and_names_with_ports() {
        assert!(check_listen("127.0.0.1:0").is_ok());
        assert!(check_listen("[::1]:8080").is_ok());
        assert!(check_listen("localhost:8080").is_ok());
        assert!(check_listen("not-an-address").is_err());
        assert!(check_listen("127.0.0.1:99999").is_err());
        assert!(check_listen(":8080").is_err());
    }

    #[test]
    fn redis_urls_need_a_known_scheme_and_a_host() {
        assert!(check_redis_url("redis://127.0.0.1:6379").is_ok());
        assert!(check_redis_url("redis://:pw@host/0").is_ok());
        assert!(check_redis_url("unix:///run/redis.sock").is_ok());
        assert!(check_redis_url("rediss://host").is_err());
        assert!(check_redis_url("http://host").is_err());
        assert!(check_redis_url("redis://").is_err());
    }

    #[test]
    fn defaults_pass() {
        assert!(sections(&ConfigFile::default()).is_empty());
    }
}
