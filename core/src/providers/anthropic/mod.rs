//! Anthropic Messages API: system messages to top-level `system`, tool calls to `tool_use`
//! blocks, tool results to `tool_result` blocks, a required `max_tokens`, and the event
//! stream (`message_start` … `message_stop`, `ping`, in-stream `error`) back to OpenAI chunks.
//! What each OpenAI field becomes is in `encode`; the stream decoder is in `stream`.

mod encode;
mod stream;

use super::dialect::{Dialect, StreamDecoder, openai_usage};
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

pub use encode::DEFAULT_MAX_TOKENS;

pub const DEFAULT_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    version: String,
}

impl Anthropic {
    pub fn for_provider(config: &ProviderConfig) -> Anthropic {
        Anthropic {
            version: config.api_version.clone().unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
        }
    }
}

fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Anthropic usage as OpenAI's: prompt tokens include cache reads and writes (Anthropic's
/// `input_tokens` excludes both); the 1-hour share of the writes, billed at a higher rate, is
/// `prompt_tokens_details.cache_write_1h_tokens`; thinking is `reasoning_tokens`.
fn usage(u: &Value) -> Value {
    let n = |p: &str| u.at(p).and_then(Value::as_u64).unwrap_or(0);
    let (read, write) = (n("/cache_read_input_tokens"), n("/cache_creation_input_tokens"));
    let hour = n("/cache_creation/ephemeral_1h_input_tokens").min(write);
    let thinking = n("/output_tokens_details/thinking_tokens");
    let mut out = openai_usage(
        n("/input_tokens") + read + write,
        n("/output_tokens"),
        read,
        write,
        thinking,
    );
    if hour > 0 {
        out["prompt_tokens_details"]["cache_write_1h_tokens"] = json!(hour);
    }
    out
}

impl Dialect for Anthropic {
    fn chat_url(&self, provider: &ProviderConfig, _deployment: &DeploymentConfig, _stream: bool) -> String {
        let base = provider.api_base.as_deref().unwrap_or_default().trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        format!("{base}/v1/messages")
    }

    fn headers(&self, provider: &ProviderConfig, headers: &mut HeaderMap) {
        if let Some(v) = provider.api_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
            headers.insert("x-api-key", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.version) {
            headers.insert("anthropic-version", v);
        }
    }

    fn encode(&self, request: &Value, deployment: &DeploymentConfig, stream: bool) -> Result<Value> {
        encode::encode(request, deployment, stream)
    }

    fn decode(&self, body: Value, _deployment: &DeploymentConfig) -> Result<Value> {
        let blocks = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::new(ErrorKind::ProviderError, "the response has no `content`"))?;
        let mut text = String::new();
        let mut calls = Vec::new();
        for b in blocks {
            match b["type"].as_str() {
                Some("text") => text.push_str(b["text"].as_str().unwrap_or("")),
                Some("tool_use") => calls.push(json!({
                    "id": b["id"], "type": "function",
                    "function": {"name": b["name"], "arguments": b.get("input").unwrap_or(&json!({})).to_string()},
                })),
                _ => {}
            }
        }
        let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls);
        }
        Ok(json!({
            "id": body["id"],
            "object": "chat.completion",
            "created": crate::runtime::unix_now(),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(body["stop_reason"].as_str().unwrap_or("end_turn"))}],
            "usage": usage(&body["usage"]),
        }))
    }

    fn stream_decoder(&self, deployment: &DeploymentConfig) -> Box<dyn StreamDecoder> {
        Box::new(stream::AnthropicStream::new(deployment))
    }

    fn classify(&self, status: u16, body: &Value) -> Option<(ErrorKind, bool)> {
        match body.at("/error/type").and_then(Value::as_str)? {
            "overloaded_error" => Some((ErrorKind::ProviderError, true)),
            "billing_error" => Some((ErrorKind::PermissionDenied, false)),
            "request_too_large" => Some((ErrorKind::InvalidRequest, false)),
            _ if status == 529 => Some((ErrorKind::ProviderError, true)),
            _ => None,
        }
    }
}
