//! Upstream reasons reach clients only after this: no key-like tokens, no URLs
//! (which may carry credentials or internal hosts), bounded length (DESIGN §2).

const MAX_REASON_CHARS: usize = 300;

pub fn sanitize_reason(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REASON_CHARS));
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(if looks_secret(word) {
            "[redacted]"
        } else {
            word
        });
    }
    if out.chars().count() > MAX_REASON_CHARS {
        out = out.chars().take(MAX_REASON_CHARS).collect::<String>() + "…";
    }
    out
}

fn looks_secret(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
    let lower = w.to_ascii_lowercase();
    lower.contains("://")
        || word.contains("://")
        || [
            "sk-", "sk_", "key-", "mg-", "xai-", "aiza", "ghp_", "bearer",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
        || (w.len() >= 24
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// Ensures a reason ends as a sentence, so messages read "…: reason. What to do."
pub fn as_sentence(reason: &str) -> String {
    let r = reason.trim();
    if r.is_empty() {
        return "no reason was given.".into();
    }
    if r.ends_with(['.', '!', '?', '…']) {
        r.to_owned()
    } else {
        format!("{r}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys_and_urls() {
        let s = sanitize_reason(
            "Incorrect API key provided: sk-abc123def. See https://user:pw@host/v1 for help",
        );
        assert!(!s.contains("sk-abc"), "{s}");
        assert!(!s.contains("https://"), "{s}");
        assert!(s.contains("Incorrect API key provided:"));
    }
}
