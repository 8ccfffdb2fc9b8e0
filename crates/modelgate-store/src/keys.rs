//! API keys: `mg-` plus 256 random bits in base62, stored only as a SHA-256 hash and a
//! short display prefix (DESIGN §4: a slow password hash adds nothing for random keys).

use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "mg-";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 digits carry 256 bits.
const KEY_DIGITS: usize = 43;
const DISPLAY_CHARS: usize = 11;

pub struct GeneratedKey {
    pub plaintext: String,
    pub hash: String,
    pub prefix: String,
}

pub fn generate_key() -> Result<GeneratedKey, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    let plaintext = format!("{KEY_PREFIX}{}", base62(&bytes));
    Ok(GeneratedKey {
        hash: hash_key(&plaintext),
        prefix: plaintext.chars().take(DISPLAY_CHARS).collect(),
        plaintext,
    })
}

/// Runs on every authenticated request: hex by table, not by `format!`.
pub fn hash_key(plaintext: &str) -> String {
    hex(&Sha256::digest(plaintext.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Random identifiers for rows (accounts, keys): 16 random bytes in base62.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        bytes = (fastrand_fallback()).to_le_bytes();
    }
    let digits = base62(&bytes);
    // 16 bytes need 22 base62 digits: the rest of the 43 are leading zeros.
    format!("{prefix}{}", &digits[digits.len() - 22..])
}

fn fastrand_fallback() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn base62(bytes: &[u8]) -> String {
    // Big-number base conversion: fine for 32 bytes, done once per key.
    let mut digits: Vec<u8> = bytes.to_vec();
    let mut out = Vec::with_capacity(KEY_DIGITS);
    while out.len() < KEY_DIGITS {
        let mut rem: u32 = 0;
        for d in digits.iter_mut() {
            let acc = (rem << 8) | u32::from(*d);
            *d = (acc / 62) as u8;
            rem = acc % 62;
        }
        out.push(BASE62[rem as usize]);
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), 3 + 43);
        assert!(a.plaintext.starts_with("mg-"));
        assert_eq!(a.hash, hash_key(&a.plaintext));
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(random_id("acct_").len(), 5 + 22);
    }
}
