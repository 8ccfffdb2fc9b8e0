//! Model access by glob patterns (`openai/*`, `*/gpt-4o*`, `?`), for accounts and keys.

/// Whether `id` is allowed by `patterns`; `None` allows everything.
pub fn allowed(patterns: Option<&[String]>, id: &str) -> bool {
    match patterns {
        None => true,
        Some(list) => list.iter().any(|p| glob_match(p.as_bytes(), id.as_bytes())),
    }
}

/// `*` matches any run (including `/`), `?` one character; iterative with
/// backtracking to the last star, so it is linear for practical patterns.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"openai/*", b"openai/gpt-4o"));
        assert!(!glob_match(b"openai/*", b"anthropic/claude"));
        assert!(glob_match(b"*", b"x/y"));
        assert!(glob_match(b"*/gpt-4?", b"openai/gpt-4o"));
        assert!(glob_match(b"demo/echo", b"demo/echo"));
        assert!(!glob_match(b"demo/echo", b"demo/echo2"));
        assert!(allowed(None, "a/b"));
        assert!(!allowed(Some(&[]), "a/b"));
    }
}
