//! Fault directives: parsed from the model name after `@` and from
//! `[[sim:...]]` markers in message texts (which are removed from the echo).

const OPEN: &str = "[[sim:";
const CLOSE: &str = "]]";

/// The faults and pacing one request asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Directives {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub retry_after: Option<f64>,
    pub fail_times: Option<u64>,
    pub delay_ms: Option<u64>,
    pub chunk_delay_ms: Option<u64>,
    pub reset: bool,
    pub cut_after: Option<usize>,
    pub garbage: bool,
    pub safety: bool,
    /// Answer 307 with this `Location` (a provider that moved, or a hostile one).
    pub redirect: Option<String>,
    pub id: Option<String>,
    /// Every directive text seen, joined: the fail_times key when there is no id.
    pub source: String,
}

impl Directives {
    /// Keeps only what is not a fault (id, pacing): the answer after fail_times ran out.
    pub(crate) fn without_faults(self) -> Directives {
        Directives {
            id: self.id,
            chunk_delay_ms: self.chunk_delay_ms,
            source: self.source,
            ..Directives::default()
        }
    }

    /// Applies one comma-separated directive list; later values win.
    fn apply(&mut self, spec: &str) -> Result<(), String> {
        if !self.source.is_empty() {
            self.source.push(';');
        }
        self.source.push_str(spec);
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            self.apply_one(key, value)?;
        }
        Ok(())
    }

    fn apply_one(&mut self, key: &str, value: Option<&str>) -> Result<(), String> {
        match key {
            "reset" => self.reset = flag(key, value)?,
            "garbage" => self.garbage = flag(key, value)?,
            "safety" => self.safety = flag(key, value)?,
            "status" => {
                let status = number::<u16>(key, value)?;
                if !(100..=999).contains(&status) {
                    return Err(format!(
                        "simulator directive status={status} is not an HTTP status"
                    ));
                }
                self.status = Some(status);
            }
            "code" => self.code = Some(text(key, value)?),
            "id" => self.id = Some(text(key, value)?),
            "redirect" => self.redirect = Some(text(key, value)?),
            "retry_after" => {
                let secs = number::<f64>(key, value)?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(format!(
                        "simulator directive retry_after={secs} must be >= 0"
                    ));
                }
                self.retry_after = Some(secs);
            }
            "fail_times" => self.fail_times = Some(number(key, value)?),
            "delay_ms" => self.delay_ms = Some(number(key, value)?),
            "chunk_delay_ms" => self.chunk_delay_ms = Some(number(key, value)?),
            "cut_after" => self.cut_after = Some(number(key, value)?),
            _ => {
                return Err(format!(
                    "unknown simulator directive '{key}' (known: status, code, retry_after, \
                     fail_times, delay_ms, chunk_delay_ms, reset, cut_after, garbage, safety, redirect, id)"
                ))
            }
        }
        Ok(())
    }
}

fn flag(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(format!("simulator directive {key}={v}: expected no value")),
    }
}

fn text(key: &str, value: Option<&str>) -> Result<String, String> {
    match value {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(format!(
            "simulator directive {key} needs a value ({key}=...)"
        )),
    }
}

fn number<T: std::str::FromStr>(key: &str, value: Option<&str>) -> Result<T, String> {
    let v = text(key, value)?;
    v.parse()
        .map_err(|_| format!("simulator directive {key}={v}: not a valid number"))
}

/// Splits `gpt-4o@status=503` into the base model and its directive list.
pub(crate) fn split_model(model: &str) -> (&str, Option<&str>) {
    match model.split_once('@') {
        Some((base, spec)) => (base, Some(spec)),
        None => (model, None),
    }
}

/// Removes every `[[sim:...]]` marker from `text`, returning the rest and the markers'
/// contents. An unterminated marker is ordinary text.
pub(crate) fn strip(text: &str) -> (String, Vec<&str>) {
    let mut rest = text;
    let mut clean = String::with_capacity(text.len());
    let mut specs = Vec::new();
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            break;
        };
        clean.push_str(&rest[..start]);
        // Keep words on either side of the marker apart.
        clean.push(' ');
        specs.push(&after[..end]);
        rest = &after[end + CLOSE.len()..];
    }
    clean.push_str(rest);
    (clean, specs)
}

/// Collects the directives of a request from its model name and all message texts.
pub(crate) fn collect<'a>(
    model: &str,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<Directives, String> {
    let mut d = Directives::default();
    if let (_, Some(spec)) = split_model(model) {
        d.apply(spec)?;
    }
    for t in texts {
        for spec in strip(t).1 {
            d.apply(spec)?;
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_text_directives_merge() {
        let d = collect(
            "gpt-4o@status=503,id=abc",
            ["hi [[sim:retry_after=2,reset]] there"],
        )
        .unwrap();
        assert_eq!(d.status, Some(503));
        assert_eq!(d.id.as_deref(), Some("abc"));
        assert_eq!(d.retry_after, Some(2.0));
        assert!(d.reset);
    }

    #[test]
    fn strip_removes_markers_and_keeps_words_apart() {
        let (clean, specs) = strip("a[[sim:garbage]]b [[sim:x");
        assert_eq!(clean, "a b [[sim:x");
        assert_eq!(specs, vec!["garbage"]);
    }

    #[test]
    fn unknown_key_and_bad_number_are_errors() {
        assert!(collect("m@stauts=503", []).unwrap_err().contains("stauts"));
        assert!(collect("m@status=abc", []).is_err());
        assert!(collect("m@status=42", []).is_err());
    }

    #[test]
    fn redirect_takes_a_url() {
        let d = collect("m", ["[[sim:redirect=http://127.0.0.1:9/v1/x,id=r]]"]).unwrap();
        assert_eq!(d.redirect.as_deref(), Some("http://127.0.0.1:9/v1/x"));
        assert_eq!(d.without_faults().redirect, None);
        assert!(collect("m@redirect", []).is_err());
    }

    #[test]
    fn without_faults_keeps_id_and_pacing() {
        let d = collect("m@status=500,chunk_delay_ms=5,id=x,fail_times=1", []).unwrap();
        let clean = d.without_faults();
        assert_eq!(clean.status, None);
        assert_eq!(clean.chunk_delay_ms, Some(5));
        assert_eq!(clean.id.as_deref(), Some("x"));
    }
}
