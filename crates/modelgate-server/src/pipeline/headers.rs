//! Response headers the pipeline adds: deprecation notices (RFC 9745 `Deprecation`,
//! RFC 8594 `Sunset`, `Link` to the replacement), `Server-Timing`, cost.

use http::{HeaderMap, HeaderValue};
use modelgate_core::catalog::{Lifecycle, Model};
use std::time::Duration;

pub fn deprecation(model: &Model, headers: &mut HeaderMap) {
    let Lifecycle::Deprecated {
        deprecated_on,
        retired_on,
    } = model.lifecycle(modelgate_core::time_fmt::today_utc())
    else {
        return;
    };
    let unix = |d: time::Date| d.midnight().assume_utc().unix_timestamp();
    if let Ok(v) = HeaderValue::from_str(&format!("@{}", unix(deprecated_on))) {
        headers.insert("deprecation", v);
    }
    let sunset = time::OffsetDateTime::from_unix_timestamp(unix(retired_on))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .map(|s| s.replace("+0000", "GMT"));
    if let Some(v) = sunset.and_then(|s| HeaderValue::from_str(&s).ok()) {
        headers.insert("sunset", v);
    }
    if let Some(rep) = &model.replacement {
        if let Ok(v) =
            HeaderValue::from_str(&format!("</v1/models/{rep}>; rel=\"successor-version\""))
        {
            headers.insert("link", v);
        }
    }
}

pub fn server_timing(total: Duration, upstream: Duration, headers: &mut HeaderMap) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let gateway = total.saturating_sub(upstream);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "gateway;dur={:.3}, upstream;dur={:.3}",
        ms(gateway),
        ms(upstream)
    )) {
        headers.insert("server-timing", v);
    }
}
