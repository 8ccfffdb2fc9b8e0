//! Request bodies are parsed with the failing field's path, so that a 400 names it
//! in `details.param` (DESIGN §2).

use crate::error::GatewayError;
use serde::de::DeserializeOwned;

pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid(
            "The request body is empty. Send a JSON object.",
            None,
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return GatewayError::invalid(
                format!(
                    "The request body is not valid JSON ({inner}). Send a well-formed JSON object."
                ),
                None,
            );
        }
        let problem = strip_position(&inner.to_string());
        // serde reports a missing field at its parent: name the field itself.
        let missing = problem
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(|field| {
                if path == "." {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                }
            });
        let param = missing.or_else(|| (path != ".").then_some(path));
        let msg = match &param {
            Some(p) => format!("Invalid value for '{p}': {problem}. Fix the field and retry."),
            None => format!("Invalid request body: {problem}. Fix the request and retry."),
        };
        GatewayError::invalid(msg, param.as_deref())
    })?;
    de.end().map_err(|_| {
        GatewayError::invalid(
            "The request body has trailing data after the JSON object. Send exactly one JSON object.",
            None,
        )
    })?;
    Ok(value)
}

/// serde_json appends " at line 1 column 42", which helps nobody reading an API error.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::ChatCompletionRequest;

    #[test]
    fn names_the_missing_field() {
        let err = parse_json_body::<ChatCompletionRequest>(br#"{"model":"a/b"}"#).unwrap_err();
        let body = err.to_body();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("messages"),
            "{body}"
        );
    }

    #[test]
    fn names_the_wrong_type() {
        let err = parse_json_body::<ChatCompletionRequest>(
            br#"{"model":"a/b","messages":[{"role":"user","content":"x"}],"max_tokens":"many"}"#,
        )
        .unwrap_err();
        assert_eq!(err.to_body()["error"]["details"]["param"], "max_tokens");
    }

    #[test]
    fn keeps_unknown_fields() {
        let req: ChatCompletionRequest = parse_json_body(
            br#"{"model":"a/b","messages":[{"role":"user","content":"hi"}],"foo":{"bar":1}}"#,
        )
        .unwrap();
        assert_eq!(req.extra["foo"]["bar"], 1);
    }

    #[test]
    fn bad_json_is_a_400() {
        let err = parse_json_body::<ChatCompletionRequest>(b"{nope").unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
