//! Integration tests: a real simulator on 127.0.0.1:0 driven by a real HTTP client.

mod anthropic;
mod common;
mod faults;
mod gemini;
mod lifecycle;
mod openai;
