//! Deterministic embeddings for `demo/embed`: each input's vector is derived from a
//! hash of its text (same text, same vector), unit length, `dimensions` long
//! (default 8); tokens are words, as in the chat echo.

use super::fault::Fault;
use crate::{EmbeddingsCall, UpstreamError};
use base64::Engine;
use modelgate_core::openai::{EmbeddingInput, EmbeddingsResponse, EmbeddingsUsage};
use serde_json::{json, Map, Value};
use std::time::Duration;

const DEFAULT_DIMENSIONS: usize = 8;

pub async fn embeddings(call: &EmbeddingsCall<'_>) -> Result<EmbeddingsResponse, UpstreamError> {
    let fault = Fault::parse(call.mock_fault.unwrap_or(""))?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(err) = fault.failure(call.canonical_model) {
        return Err(err);
    }
    let items: Vec<String> = match &call.request.input {
        EmbeddingInput::Text(t) => vec![t.clone()],
        EmbeddingInput::Texts(ts) => ts.clone(),
        EmbeddingInput::Tokens(t) => vec![join_tokens(t)],
        EmbeddingInput::TokenLists(ts) => ts.iter().map(|t| join_tokens(t)).collect(),
    };
    let dims = call
        .request
        .dimensions
        .map_or(DEFAULT_DIMENSIONS, |d| d as usize)
        .min(4096);
    let base64 = call.request.encoding_format.as_deref() == Some("base64");
    let data: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let v = vector(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = items
        .iter()
        .map(|t| t.split_whitespace().count() as u64)
        .sum();
    Ok(EmbeddingsResponse {
        object: "list".into(),
        data,
        model: call.canonical_model.to_owned(),
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
        extra: Map::new(),
    })
}

fn join_tokens(tokens: &[u32]) -> String {
    tokens
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// FNV-1a seeded per dimension, scaled to unit length.
fn vector(text: &str, dims: usize) -> Vec<f32> {
    let raw: Vec<f32> = (0..dims as u64)
        .map(|d| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ d.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for b in text.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            (h % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_and_unit_length() {
        let a = vector("hello", 8);
        assert_eq!(a, vector("hello", 8));
        assert_ne!(a, vector("world", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
