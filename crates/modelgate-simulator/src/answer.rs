//! The deterministic answer: echo of the last user text, word-based token counts,
//! truncation by the request's output limit, and the tool-call decision.

use serde_json::Value;

use crate::directives;

/// What a chat request asks, in provider-neutral terms.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prompt {
    /// The model string exactly as sent (directives included).
    pub model: String,
    /// Every message text, system included, raw (directives still inside).
    pub texts: Vec<String>,
    /// Raw text of the last user message that has text.
    pub last_user: String,
    /// Whether the conversation ends with that user message (no tool result after it).
    pub ends_with_user: bool,
    pub max_tokens: Option<u64>,
    pub stream: bool,
    /// Name of the first declared tool.
    pub tool: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Finish {
    Stop,
    Length,
    ToolCall,
    Safety,
}

#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub name: String,
    /// The `echo` argument's value.
    pub echo: String,
}

impl ToolCall {
    /// The arguments as a JSON object.
    pub(crate) fn args(&self) -> Value {
        serde_json::json!({ "echo": self.echo })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// The answer's words (empty for tool calls and safety blocks).
    pub words: Vec<String>,
    pub finish: Finish,
    pub tool_call: Option<ToolCall>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Answer {
    pub(crate) fn text(&self) -> String {
        self.words.join(" ")
    }

    /// The stream pieces: each word plus a space, except the last.
    pub(crate) fn pieces(&self) -> Vec<String> {
        pieces(&self.words)
    }
}

/// Each word plus a space, except the last: how answers are streamed.
pub(crate) fn pieces(words: &[String]) -> Vec<String> {
    let last = words.len().saturating_sub(1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == last {
                w.clone()
            } else {
                format!("{w} ")
            }
        })
        .collect()
}

/// Splits tool-call arguments JSON into stream fragments: the `{"echo":` key, then
/// pieces of at most 16 characters, so clients must concatenate at least two.
pub(crate) fn fragments(args: &str) -> Vec<String> {
    let split = args.find(':').map_or(0, |i| i + 1);
    let (head, rest) = args.split_at(split);
    let mut out = vec![head.to_string()];
    let chars: Vec<char> = rest.chars().collect();
    out.extend(chars.chunks(16).map(|c| c.iter().collect::<String>()));
    out.retain(|f| !f.is_empty());
    out
}

/// Words of `text` once directive markers are removed.
pub(crate) fn words(text: &str) -> Vec<String> {
    directives::strip(text)
        .0
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Word count over all texts: the simulator's token count.
pub(crate) fn count_words<S: AsRef<str>>(texts: &[S]) -> u64 {
    texts.iter().map(|t| words(t.as_ref()).len() as u64).sum()
}

pub(crate) fn answer(prompt: &Prompt, safety: bool) -> Answer {
    let prompt_tokens = count_words(&prompt.texts);
    let mut echo = words(&prompt.last_user);
    if echo.is_empty() {
        echo.push("ok".to_string());
    }
    if safety {
        return Answer {
            words: Vec::new(),
            finish: Finish::Safety,
            tool_call: None,
            prompt_tokens,
            completion_tokens: 0,
        };
    }
    if let Some(name) = prompt.tool.as_ref().filter(|_| wants_tool(prompt)) {
        return Answer {
            words: Vec::new(),
            finish: Finish::ToolCall,
            completion_tokens: echo.len() as u64,
            tool_call: Some(ToolCall {
                name: name.clone(),
                echo: echo.join(" "),
            }),
            prompt_tokens,
        };
    }
    let mut finish = Finish::Stop;
    if let Some(max) = prompt.max_tokens {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if echo.len() > max {
            echo.truncate(max);
            finish = Finish::Length;
        }
    }
    Answer {
        completion_tokens: echo.len() as u64,
        words: echo,
        finish,
        tool_call: None,
        prompt_tokens,
    }
}

fn wants_tool(prompt: &Prompt) -> bool {
    prompt.ends_with_user && prompt.last_user.contains("call_tool")
}

/// Text of a content value: a string, or the `text` fields of an array of parts
/// joined by a space. With `nested`, tool results' contents count too (for prompt
/// tokens), without it only direct text parts (for the echo).
pub(crate) fn content_text(content: &Value, nested: bool) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            let mut out: Vec<String> = Vec::new();
            for part in parts {
                if let Some(t) = part.get("text").and_then(Value::as_str) {
                    out.push(t.to_string());
                } else if nested {
                    if let Some(inner) = part.get("content") {
                        out.push(content_text(inner, true));
                    }
                }
            }
            out.join(" ")
        }
        _ => String::new(),
    }
}

/// An optional non-negative integer field; present but wrong-typed is an error.
pub(crate) fn opt_u64(body: &Value, field: &str) -> Result<Option<u64>, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("'{field}' must be a non-negative integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(last: &str) -> Prompt {
        Prompt {
            model: "m".into(),
            texts: vec!["be brief".into(), last.into()],
            last_user: last.into(),
            ends_with_user: true,
            ..Prompt::default()
        }
    }

    #[test]
    fn echo_normalises_and_counts_words() {
        let a = answer(&prompt("  hello \n [[sim:id=x]]  world "), false);
        assert_eq!(a.text(), "hello world");
        assert_eq!(a.prompt_tokens, 4);
        assert_eq!(a.completion_tokens, 2);
        assert_eq!(a.pieces(), vec!["hello ", "world"]);
    }

    #[test]
    fn empty_echo_is_ok_and_limit_truncates() {
        assert_eq!(answer(&prompt("[[sim:id=x]]"), false).text(), "ok");
        let mut p = prompt("one two three");
        p.max_tokens = Some(2);
        let a = answer(&p, false);
        assert_eq!(a.text(), "one two");
        assert_eq!(a.finish, Finish::Length);
    }

    #[test]
    fn fragments_rejoin_to_the_arguments() {
        let args = r#"{"echo":"please call_tool now, with ünïcode"}"#;
        let parts = fragments(args);
        assert!(parts.len() >= 2);
        assert_eq!(parts[0], r#"{"echo":"#);
        assert_eq!(parts.concat(), args);
    }

    #[test]
    fn tool_call_only_when_the_user_spoke_last() {
        let mut p = prompt("please call_tool now");
        p.tool = Some("lookup".into());
        let a = answer(&p, false);
        assert_eq!(a.finish, Finish::ToolCall);
        assert_eq!(a.tool_call.unwrap().echo, "please call_tool now");
        p.ends_with_user = false;
        assert_eq!(answer(&p, false).finish, Finish::Stop);
    }
}
