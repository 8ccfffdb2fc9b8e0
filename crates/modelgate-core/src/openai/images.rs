//! Image generation wire types (POST /v1/images/generations), with the gateway's
//! reference-image fields (DESIGN §1).

use crate::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many reference images across the four reference fields.
pub const MAX_REFERENCES: usize = 8;
pub const MAX_IMAGES: u32 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImagesRequest {
    pub model: String,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_urls: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImagesRequest {
    pub fn count(&self) -> u32 {
        self.n.unwrap_or(1)
    }

    /// (field, reference) for every reference image, in field order.
    pub fn references(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(f) = &self.file_id {
            out.push(("file_id", f.as_str()));
        }
        out.extend(
            self.file_ids
                .iter()
                .flatten()
                .map(|f| ("file_ids", f.as_str())),
        );
        if let Some(u) = &self.image_url {
            out.push(("image_url", u.as_str()));
        }
        out.extend(
            self.image_urls
                .iter()
                .flatten()
                .map(|u| ("image_urls", u.as_str())),
        );
        out
    }

    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.prompt.trim().is_empty() {
            return Err(GatewayError::invalid(
                "'prompt' must not be empty: describe the image to generate.",
                Some("prompt"),
            ));
        }
        if !(1..=MAX_IMAGES).contains(&self.count()) {
            return Err(GatewayError::invalid(
                format!("'n' must be from 1 to {MAX_IMAGES}."),
                Some("n"),
            ));
        }
        if let Some(f) = self.response_format.as_deref() {
            if f != "url" && f != "b64_json" {
                return Err(GatewayError::invalid(
                    format!(
                        "'response_format' must be \"url\" or \"b64_json\"; got \"{}\".",
                        crate::model_id::quoted(f)
                    ),
                    Some("response_format"),
                ));
            }
        }
        let refs = self.references();
        if refs.len() > MAX_REFERENCES {
            return Err(GatewayError::invalid(
                format!("The request has {} reference images; at most {MAX_REFERENCES} are allowed across file_id, file_ids, image_url and image_urls.", refs.len()),
                Some(refs[MAX_REFERENCES].0),
            ));
        }
        Ok(())
    }

    /// 400 naming the first reference field when the model takes fewer references.
    pub fn check_references(&self, model_id: &str, max: u32) -> Result<(), GatewayError> {
        let refs = self.references();
        if refs.len() <= max as usize {
            return Ok(());
        }
        let field = refs.get(max as usize).map_or("image_urls", |(f, _)| f);
        let msg = if max == 0 {
            format!("The model \"{model_id}\" takes no reference images. Remove '{field}', or pick a model whose max_reference_images is above 0 (GET /api/models).")
        } else {
            format!("The model \"{model_id}\" takes at most {max} reference images; the request has {}. Send fewer.", refs.len())
        };
        Err(GatewayError::invalid(msg, Some(field)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImagesResponse {
    #[serde(default)]
    pub created: i64,
    pub data: Vec<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_json_body;

    #[test]
    fn references_are_counted_across_fields() {
        let req: ImagesRequest = parse_json_body(br#"{"model":"m/i","prompt":"cat","file_id":"f1","image_urls":["https://x/a.png","https://x/b.png"]}"#).unwrap();
        assert_eq!(req.references().len(), 3);
        req.validate().unwrap();
        let err = req.check_references("m/i", 0).unwrap_err();
        assert_eq!(err.to_body()["error"]["details"]["param"], "file_id");
        let err = req.check_references("m/i", 2).unwrap_err();
        assert_eq!(err.to_body()["error"]["details"]["param"], "image_urls");
        let nine = format!(
            r#"{{"model":"m/i","prompt":"cat","image_urls":[{}]}}"#,
            ["\"https://x/a.png\""; 9].join(",")
        );
        let req: ImagesRequest = parse_json_body(nine.as_bytes()).unwrap();
        assert_eq!(
            req.validate().unwrap_err().to_body()["error"]["details"]["param"],
            "image_urls"
        );
    }
}
