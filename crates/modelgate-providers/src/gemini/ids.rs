//! Completion and tool-call IDs for Gemini answers, which carry none of their own.
//!
//! Gemini 3 requires the `thoughtSignature` of each `functionCall` part back on the
//! next turn (a 400 otherwise), but OpenAI's tool-call objects have no field for it.
//! The signature therefore rides in the tool-call ID, which every client echoes
//! verbatim: `call_<response>_<n>__thought__<signature>` (the separator LiteLLM also
//! uses, so histories move between the two).

const SEPARATOR: &str = "__thought__";

/// `chatcmpl-<responseId>`, or `chatcmpl-<fallback>` when Gemini sent none.
pub fn completion_id(response_id: Option<&str>, fallback: &str) -> String {
    let base = response_id.filter(|r| !r.is_empty()).unwrap_or(fallback);
    format!("chatcmpl-{base}")
}

/// The `n`th tool call (0-based, across candidates) of the completion `id`.
pub fn tool_call_id(completion_id: &str, n: u32, signature: Option<&str>) -> String {
    let base = completion_id
        .strip_prefix("chatcmpl-")
        .unwrap_or(completion_id);
    match signature.filter(|s| !s.is_empty()) {
        Some(sig) => format!("call_{base}_{n}{SEPARATOR}{sig}"),
        None => format!("call_{base}_{n}"),
    }
}

/// The thought signature carried by a tool-call ID, if any.
pub fn signature_of(tool_call_id: &str) -> Option<&str> {
    tool_call_id
        .split_once(SEPARATOR)
        .map(|(_, sig)| sig)
        .filter(|s| !s.is_empty())
}

/// A fresh suffix for answers without a `responseId`.
pub fn random_suffix() -> String {
    format!("gm{:016x}", fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_through_tool_call_ids() {
        let id = tool_call_id("chatcmpl-abc", 2, Some("c2lnbmF0dXJl+/="));
        assert_eq!(id, "call_abc_2__thought__c2lnbmF0dXJl+/=");
        assert_eq!(signature_of(&id), Some("c2lnbmF0dXJl+/="));
        assert_eq!(tool_call_id("chatcmpl-abc", 0, None), "call_abc_0");
        assert_eq!(signature_of("call_abc_0"), None);
        assert_eq!(signature_of("toolu_01XYZ"), None);
        assert_eq!(completion_id(Some(""), "x"), "chatcmpl-x");
        assert_eq!(completion_id(Some("r1"), "x"), "chatcmpl-r1");
    }
}
