//! Deterministic embeddings: unit vectors derived from a hash of each input's
//! normalised text, so equal texts embed equally across runs and machines.

use serde_json::{json, Value};

use crate::answer::words;

use super::request::EmbeddingsRequest;

/// FNV-1a: tiny, stable across platforms and releases (unlike std's hasher).
fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(crate) fn vector(text: &str, dims: usize) -> Vec<f32> {
    let norm = words(text).join(" ");
    let raw: Vec<f64> = (0..dims)
        .map(|i| {
            let h = fnv1a(norm.as_bytes(), i as u64);
            (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let len = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / len) as f32).collect()
}

pub(crate) fn response(req: &EmbeddingsRequest, model: &str) -> Value {
    let data: Vec<Value> = req
        .inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = vector(text, req.dimensions);
            let embedding = if req.base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64(&bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": i, "embedding": embedding })
        })
        .collect();
    let tokens = crate::answer::count_words(&req.inputs);
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens }
    })
}

/// Standard base64 with padding (`encoding_format: "base64"`, the OpenAI SDKs' default).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_length() {
        let a = vector("hello  world", 8);
        assert_eq!(a, vector("hello world", 8));
        assert_ne!(a, vector("hello there", 8));
        let len: f32 = a.iter().map(|x| x * x).sum();
        assert!((len - 1.0).abs() < 1e-5);
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
