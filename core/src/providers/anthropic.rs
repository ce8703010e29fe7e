//! Anthropic Messages API: system messages to top-level `system`, tool calls to `tool_use`
//! blocks, tool results to `tool_result` blocks, a required `max_tokens`, and the event
//! stream (`message_start` … `message_stop`, `ping`, in-stream `error`) back to OpenAI chunks.

use super::dialect::{
    ChunkMaker, Dialect, StreamDecoder, data_url, max_tokens, openai_usage, parse_arguments, stop_list, text_of,
};
use super::sse::SseEvent;
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub const DEFAULT_VERSION: &str = "2023-06-01";
/// `max_tokens` when neither the caller nor the catalog gives one.
const FALLBACK_MAX_TOKENS: u64 = 4096;

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

fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (read, write) = (n("cache_read_input_tokens"), n("cache_creation_input_tokens"));
    openai_usage(n("input_tokens") + read + write, n("output_tokens"), read, write, 0)
}

/// One OpenAI content part as an Anthropic block.
fn block(part: &Value) -> Option<Value> {
    match part.get("type").and_then(Value::as_str)? {
        "text" => Some(json!({"type": "text", "text": part.get("text").cloned().unwrap_or(json!(""))})),
        "image_url" => {
            let url = part.at("/image_url/url").and_then(Value::as_str)?;
            Some(match data_url(url) {
                Some((media, data)) => {
                    json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
                }
                None => json!({"type": "image", "source": {"type": "url", "url": url}}),
            })
        }
        _ => None,
    }
}

fn content_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
        Value::Array(parts) => parts.iter().filter_map(block).collect(),
        _ => vec![],
    }
}

fn push(turns: &mut Vec<Value>, role: &str, items: Vec<Value>) {
    super::dialect::push_turn(turns, role, "content", items);
}

fn tool(t: &Value) -> Value {
    let f = t.get("function").unwrap_or(t);
    let mut out = json!({"name": f.get("name").cloned().unwrap_or(json!("")), "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))});
    if let Some(d) = f.get("description") {
        out["description"] = d.clone();
    }
    out
}

fn tool_choice(choice: &Value, parallel: Option<bool>) -> Option<Value> {
    let mut out = match choice {
        Value::String(s) if s == "auto" => json!({"type": "auto"}),
        Value::String(s) if s == "required" => json!({"type": "any"}),
        Value::String(s) if s == "none" => json!({"type": "none"}),
        Value::Object(_) => {
            json!({"type": "tool", "name": choice.at("/function/name").cloned().unwrap_or(json!(""))})
        }
        Value::Null if parallel == Some(false) => json!({"type": "auto"}),
        _ => return None,
    };
    if parallel == Some(false) && out["type"] != "none" {
        out["disable_parallel_tool_use"] = json!(true);
    }
    Some(out)
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
        let mut system: Vec<String> = Vec::new();
        let mut messages: Vec<Value> = Vec::new();
        for m in request["messages"].as_array().into_iter().flatten() {
            let content = m.get("content").unwrap_or(&Value::Null);
            match m["role"].as_str().unwrap_or("") {
                "system" | "developer" => system.push(text_of(content)),
                "assistant" => {
                    let mut blocks = content_blocks(content);
                    for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                        blocks.push(json!({
                            "type": "tool_use",
                            "id": call.get("id").cloned().unwrap_or(json!("")),
                            "name": call.at("/function/name").cloned().unwrap_or(json!("")),
                            "input": parse_arguments(call.at("/function/arguments").unwrap_or(&Value::Null))?,
                        }));
                    }
                    push(&mut messages, "assistant", blocks);
                }
                "tool" | "function" => {
                    let result = json!({"type": "tool_result", "tool_use_id": m.get("tool_call_id").cloned().unwrap_or(json!("")), "content": text_of(content)});
                    push(&mut messages, "user", vec![result]);
                }
                _ => push(&mut messages, "user", content_blocks(content)),
            }
        }
        let catalog_max = crate::pricing::catalog_price(&deployment.model).and_then(|p| p.max_output_tokens);
        let mut body = Map::new();
        body.insert("model".into(), json!(deployment.model));
        body.insert(
            "max_tokens".into(),
            json!(max_tokens(request).or(catalog_max).unwrap_or(FALLBACK_MAX_TOKENS)),
        );
        body.insert("messages".into(), Value::Array(messages));
        if !system.is_empty() {
            body.insert("system".into(), json!(system.join("\n\n")));
        }
        for key in ["temperature", "top_p", "top_k"] {
            if let Some(v) = request.get(key).filter(|v| !v.is_null()) {
                body.insert(key.into(), v.clone());
            }
        }
        if let Some(stop) = stop_list(request) {
            body.insert("stop_sequences".into(), stop);
        }
        if let Some(user) = request.get("user").and_then(Value::as_str) {
            body.insert("metadata".into(), json!({"user_id": user}));
        }
        if let Some(tools) = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty()) {
            body.insert("tools".into(), Value::Array(tools.iter().map(tool).collect()));
        }
        let parallel = request.get("parallel_tool_calls").and_then(Value::as_bool);
        if let Some(choice) = tool_choice(request.get("tool_choice").unwrap_or(&Value::Null), parallel) {
            body.insert("tool_choice".into(), choice);
        }
        if stream {
            body.insert("stream".into(), json!(true));
        }
        Ok(Value::Object(body))
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
        Box::new(AnthropicStream {
            maker: ChunkMaker::new("", deployment.model.clone()),
            tools: HashMap::new(),
            usage: json!({}),
            done: false,
        })
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

struct AnthropicStream {
    maker: ChunkMaker,
    /// Anthropic block index → OpenAI tool-call index.
    tools: HashMap<u64, usize>,
    usage: Value,
    done: bool,
}

impl StreamDecoder for AnthropicStream {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<Value>> {
        let data: Value = serde_json::from_str(event.data.trim()).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("sent a stream event that is not JSON: {e}"),
            )
        })?;
        let kind = data["type"].as_str().or(event.event.as_deref()).unwrap_or("");
        Ok(match kind {
            "message_start" => {
                let m = &data["message"];
                self.maker.id = m["id"].as_str().unwrap_or("").to_owned();
                if let Some(model) = m["model"].as_str() {
                    self.maker.model = model.to_owned();
                }
                self.merge_usage(&m["usage"]);
                vec![self.maker.delta(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" => {
                let b = &data["content_block"];
                if b["type"] == "tool_use" {
                    let index = self.tools.len();
                    self.tools.insert(data["index"].as_u64().unwrap_or(0), index);
                    vec![self.maker.delta(json!({"tool_calls": [{"index": index, "id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": ""}}]}), None)]
                } else {
                    vec![]
                }
            }
            "content_block_delta" => {
                let d = &data["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => vec![self.maker.delta(json!({"content": d["text"]}), None)],
                    Some("input_json_delta") => {
                        let part = d["partial_json"].as_str().unwrap_or("");
                        let index = self
                            .tools
                            .get(&data["index"].as_u64().unwrap_or(0))
                            .copied()
                            .unwrap_or(0);
                        if part.is_empty() {
                            vec![]
                        } else {
                            vec![self.maker.delta(
                                json!({"tool_calls": [{"index": index, "function": {"arguments": part}}]}),
                                None,
                            )]
                        }
                    }
                    _ => vec![],
                }
            }
            "message_delta" => {
                self.merge_usage(&data["usage"]);
                match data.at("/delta/stop_reason").and_then(Value::as_str) {
                    Some(stop) => vec![self.maker.delta(json!({}), Some(finish_reason(stop)))],
                    None => vec![],
                }
            }
            "message_stop" => {
                self.done = true;
                vec![]
            }
            "error" => {
                let etype = data.at("/error/type").and_then(Value::as_str).unwrap_or("error");
                let message = data.at("/error/message").and_then(Value::as_str).unwrap_or("");
                let retryable = matches!(etype, "overloaded_error" | "api_error" | "rate_limit_error");
                return Err(Error::new(
                    ErrorKind::ProviderError,
                    format!("sent an error in the stream: {etype}: {message}"),
                )
                .with_retryable(retryable));
            }
            _ => vec![], // ping, content_block_stop, thinking and signature deltas
        })
    }

    fn done(&self) -> bool {
        self.done
    }

    fn end(&mut self) -> Result<Vec<Value>> {
        if !self.done {
            return Err(Error::new(
                ErrorKind::Connection,
                "the stream ended before `message_stop`",
            ));
        }
        Ok(vec![self.maker.usage(usage(&self.usage))])
    }
}

impl AnthropicStream {
    /// `message_delta` usage is cumulative and may repeat the input counts.
    fn merge_usage(&mut self, u: &Value) {
        if let (Some(into), Some(from)) = (self.usage.as_object_mut(), u.as_object()) {
            for (k, v) in from {
                if v.is_u64() {
                    into.insert(k.clone(), v.clone());
                }
            }
        }
    }
}
