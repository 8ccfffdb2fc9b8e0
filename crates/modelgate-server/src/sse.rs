//! Server-Sent Events as the gateway writes them (DESIGN §5).

use bytes::Bytes;

pub const DONE: &[u8] = b"data: [DONE]\n\n";
pub const KEEPALIVE: &[u8] = b": keep-alive\n\n";

pub fn data_event(json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
