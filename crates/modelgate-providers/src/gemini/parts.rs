//! OpenAI message content (a string or typed parts) → Gemini parts: text, images
//! (base64 `data:` URLs unpacked, http(s) URLs replaced by what `fetch.rs` fetched),
//! `input_audio` and inline `file` data, all as `inlineData`.

use super::wire::{Blob, Part};
pub use crate::fetch::RemoteImage;
use modelgate_core::openai::ChatCompletionRequest;
use modelgate_core::GatewayError;
use serde_json::Value;

/// Fetched remote images by URL, already base64-encoded.
pub type Images = crate::fetch::FetchedImages;

/// Every remote image URL in the user messages, in order: what the gateway must
/// fetch before translating (DESIGN §5), each with the field it came from.
pub fn remote_images(req: &ChatCompletionRequest) -> Vec<RemoteImage> {
    let mut out = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let Some(Value::Array(parts)) = &m.content else {
            continue;
        };
        if m.role != "user" {
            continue;
        }
        for (j, p) in parts.iter().enumerate() {
            if p.get("type").and_then(Value::as_str) != Some("image_url") {
                continue;
            }
            if let Some(url) = image_url(p).filter(|u| is_http(u)) {
                out.push(RemoteImage {
                    param: format!("messages[{i}].content[{j}].image_url.url"),
                    url: url.to_owned(),
                });
            }
        }
    }
    out
}

/// A user message's content as Gemini parts (empty texts dropped: Gemini rejects them).
pub fn user_parts(
    content: Option<&Value>,
    param: &str,
    images: &Images,
) -> Result<Vec<Part>, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(text_part(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                out.extend(user_part(p, &format!("{param}.content[{j}]"), images)?);
            }
            Ok(out)
        }
        Some(_) => Err(content_type_error(param)),
    }
}

/// System and assistant content: text only (`refusal` parts read as text).
pub fn text_parts(content: Option<&Value>, param: &str) -> Result<Vec<Part>, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(text_part(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let here = format!("{param}.content[{j}]");
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
                let field = match kind {
                    "text" => "text",
                    "refusal" => "refusal",
                    _ => return Err(unsupported_part(&here, kind, "only text parts")),
                };
                out.extend(text_part(str_field(p, field, &here)?));
            }
            Ok(out)
        }
        Some(_) => Err(content_type_error(param)),
    }
}

fn user_part(p: &Value, param: &str, images: &Images) -> Result<Option<Part>, GatewayError> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    let blob = match kind {
        "text" => return Ok(text_part(str_field(p, "text", param)?)),
        "image_url" => image(p, param, images)?,
        "input_audio" => audio(p, param)?,
        "file" => file(p, param)?,
        _ => {
            return Err(unsupported_part(
                param,
                kind,
                "text, image_url, input_audio and file parts",
            ))
        }
    };
    Ok(Some(Part {
        inline_data: Some(blob),
        ..Part::default()
    }))
}

fn image(p: &Value, param: &str, images: &Images) -> Result<Blob, GatewayError> {
    let field = format!("{param}.image_url.url");
    let url = image_url(p).ok_or_else(|| {
        GatewayError::invalid(format!("'{field}' must be a string URL."), Some(&field))
    })?;
    if is_http(url) {
        return images
            .get(url)
            .map(|f| Blob {
                mime_type: f.mime_type.clone(),
                data: f.base64.clone(),
            })
            .ok_or_else(|| {
                GatewayError::internal(format!("remote image for {field} was not fetched"))
            });
    }
    if has_prefix(url, "data:") {
        return data_url(url, &field);
    }
    Err(GatewayError::invalid(
        format!("The image URL in '{field}' must be an http(s) URL or a base64 data: URL."),
        Some(&field),
    ))
}

fn audio(p: &Value, param: &str) -> Result<Blob, GatewayError> {
    let here = format!("{param}.input_audio");
    let a = p.get("input_audio").unwrap_or(&Value::Null);
    let data = str_field(a, "data", &here)?;
    let format = str_field(a, "format", &here)?;
    Ok(Blob {
        mime_type: format!("audio/{format}"),
        data: data.to_owned(),
    })
}

fn file(p: &Value, param: &str) -> Result<Blob, GatewayError> {
    let field = format!("{param}.file.file_data");
    match p.get("file").and_then(|f| f.get("file_data")).and_then(Value::as_str) {
        Some(d) => data_url(d, &field),
        None => Err(GatewayError::invalid(
            format!("'{field}' must hold the file as a base64 data: URL; this model cannot read uploaded file IDs in chat messages."),
            Some(&field),
        )),
    }
}

/// `data:<mime>[;params];base64,<data>` → inline data.
pub fn data_url(url: &str, param: &str) -> Result<Blob, GatewayError> {
    let bad = || {
        GatewayError::invalid(
            format!("'{param}' is not a valid base64 data: URL (expected data:<mime type>;base64,<data>)."),
            Some(param),
        )
    };
    let rest = url.get(5..).ok_or_else(bad)?;
    let (header, data) = rest.split_once(',').ok_or_else(bad)?;
    let mut fields = header.split(';');
    let mime = fields.next().unwrap_or("").trim();
    let base64 = fields.any(|f| f.trim().eq_ignore_ascii_case("base64"));
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    if mime.is_empty()
        || !mime.contains('/')
        || !base64
        || data.is_empty()
        || !data.chars().all(valid)
    {
        return Err(bad());
    }
    Ok(Blob {
        mime_type: mime.to_ascii_lowercase(),
        data: data.to_owned(),
    })
}

fn image_url(p: &Value) -> Option<&str> {
    match p.get("image_url")? {
        Value::String(s) => Some(s),
        v => v.get("url").and_then(Value::as_str),
    }
}

fn is_http(url: &str) -> bool {
    has_prefix(url, "http://") || has_prefix(url, "https://")
}

fn has_prefix(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn text_part(s: &str) -> Option<Part> {
    (!s.is_empty()).then(|| Part::text(s))
}

fn str_field<'a>(v: &'a Value, key: &str, param: &str) -> Result<&'a str, GatewayError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| {
        let field = format!("{param}.{key}");
        GatewayError::invalid(format!("'{field}' must be a string."), Some(&field))
    })
}

fn content_type_error(param: &str) -> GatewayError {
    let field = format!("{param}.content");
    GatewayError::invalid(
        format!("'{field}' must be a string or an array of content parts."),
        Some(&field),
    )
}

fn unsupported_part(param: &str, kind: &str, allowed: &str) -> GatewayError {
    let field = format!("{param}.type");
    GatewayError::invalid(
        format!(
            "The content part type \"{}\" in '{field}' is not supported here; use {allowed}.",
            modelgate_core::model_id::quoted(kind)
        ),
        Some(&field),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_urls_are_unpacked_and_checked() {
        let b = data_url("data:image/PNG;base64,iVBORw0KGgo=", "p").unwrap();
        assert_eq!(
            (b.mime_type.as_str(), b.data.as_str()),
            ("image/png", "iVBORw0KGgo=")
        );
        for bad in [
            "data:image/png,rawbytes",
            "data:;base64,AAAA",
            "data:image/png;base64,",
            "data:image/png;base64,a b",
        ] {
            let e = data_url(bad, "messages[0].content[1].image_url.url").unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
            assert_eq!(
                e.details(),
                Some(json!({"param": "messages[0].content[1].image_url.url"}))
            );
        }
    }

    #[test]
    fn finds_remote_images_with_their_fields() {
        let req: ChatCompletionRequest = serde_json::from_value(json!({"model": "m", "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "HTTPS://example.com/a.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]}
        ]}))
        .unwrap();
        assert_eq!(
            remote_images(&req),
            vec![RemoteImage {
                param: "messages[1].content[1].image_url.url".into(),
                url: "HTTPS://example.com/a.png".into()
            }]
        );
    }

    #[test]
    fn unsupported_parts_name_their_field() {
        let content =
            json!([{"type": "text", "text": "a"}, {"type": "video_url", "video_url": "x"}]);
        let e = user_parts(Some(&content), "messages[2]", &Images::new()).unwrap_err();
        assert_eq!(
            e.details(),
            Some(json!({"param": "messages[2].content[1].type"}))
        );
        let e = user_parts(
            Some(&json!([{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}])),
            "messages[0]",
            &Images::new(),
        )
        .unwrap_err();
        assert_eq!(
            e.details(),
            Some(json!({"param": "messages[0].content[0].image_url.url"}))
        );
        let e = user_parts(
            Some(&json!([{"type": "file", "file": {"file_id": "file-1"}}])),
            "messages[0]",
            &Images::new(),
        )
        .unwrap_err();
        assert_eq!(
            e.details(),
            Some(json!({"param": "messages[0].content[0].file.file_data"}))
        );
    }
}
