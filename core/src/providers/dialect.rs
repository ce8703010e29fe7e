//! What a provider adapter must say about its wire format: where to send, how to authenticate,
//! how a request goes out and how answers, streams and errors come back as OpenAI JSON.
//! The HTTP mechanics are shared (see [`super::http`]); each dialect is pure translation.

use super::sse::SseEvent;
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{ErrorKind, Result};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub trait Dialect: Send + Sync {
    /// The URL for a chat call to this deployment.
    fn chat_url(&self, provider: &ProviderConfig, deployment: &DeploymentConfig, stream: bool) -> String;
    /// Authentication and protocol headers.
    fn headers(&self, provider: &ProviderConfig, headers: &mut HeaderMap);
    /// The OpenAI-format request in this provider's format (`request.model` is the deployment's).
    fn encode(&self, request: &Value, deployment: &DeploymentConfig, stream: bool) -> Result<Value>;
    /// A whole answer back in OpenAI format.
    fn decode(&self, body: Value, deployment: &DeploymentConfig) -> Result<Value>;
    /// A decoder for one stream.
    fn stream_decoder(&self, deployment: &DeploymentConfig) -> Box<dyn StreamDecoder>;
    /// The URL for an embeddings call, or `None` when the provider has no embeddings API.
    fn embeddings_url(&self, _provider: &ProviderConfig, _deployment: &DeploymentConfig) -> Option<String> {
        None
    }
    /// An OpenAI embeddings request in this provider's format.
    fn encode_embeddings(&self, request: &Value, _deployment: &DeploymentConfig) -> Result<Value> {
        Ok(request.clone())
    }
    /// An embeddings answer back in OpenAI format.
    fn decode_embeddings(&self, body: Value, _deployment: &DeploymentConfig) -> Result<Value> {
        Ok(body)
    }
    /// A better error kind than the HTTP status gives, when the body says more (bad key sent
    /// as 400, content filters, …), with whether a retry can help.
    fn classify(&self, _status: u16, _body: &Value) -> Option<(ErrorKind, bool)> {
        None
    }
}

/// Turns one provider stream's events into OpenAI chunks.
pub trait StreamDecoder: Send {
    /// The chunks for one event; an `Err` ends the stream.
    fn event(&mut self, event: &SseEvent) -> Result<Vec<Value>>;
    /// Whether the provider said the stream is complete.
    fn done(&self) -> bool;
    /// The body ended: final chunks, or an error when the stream was cut short.
    fn end(&mut self) -> Result<Vec<Value>>;
}

/// Builds OpenAI chunks for one stream (same id, created and model on every chunk).
pub struct ChunkMaker {
    pub id: String,
    pub model: String,
    pub created: u64,
}

impl ChunkMaker {
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> ChunkMaker {
        ChunkMaker {
            id: id.into(),
            model: model.into(),
            created: crate::runtime::unix_now(),
        }
    }

    pub fn delta(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]})
    }

    pub fn usage(&self, usage: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
               "choices": [], "usage": usage})
    }
}

/// An OpenAI `usage` object.
pub fn openai_usage(prompt: u64, completion: u64, cached: u64, cache_write: u64, reasoning: u64) -> Value {
    let mut usage =
        json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if cached > 0 || cache_write > 0 {
        usage["prompt_tokens_details"] = json!({"cached_tokens": cached, "cache_write_tokens": cache_write});
    }
    if reasoning > 0 {
        usage["completion_tokens_details"] = json!({"reasoning_tokens": reasoning});
    }
    usage
}

/// The text of an OpenAI message `content` (string or parts), for providers that take text.
pub fn text_of(content: &Value) -> String {
    crate::tokens::content_text(content)
}

/// Parses tool-call arguments (a JSON string) into the object providers want.
pub fn parse_arguments(arguments: &Value) -> Result<Value> {
    match arguments {
        Value::String(s) if s.trim().is_empty() => Ok(json!({})),
        Value::String(s) => serde_json::from_str(s).map_err(|e| {
            crate::Error::invalid_request(format!("tool call arguments must be a JSON object string: {e}"))
        }),
        Value::Object(_) => Ok(arguments.clone()),
        _ => Ok(json!({})),
    }
}

/// Splits `data:image/png;base64,AAAA` into (media type, data).
pub fn data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media = meta.strip_suffix(";base64")?;
    Some((media.to_owned(), data.to_owned()))
}

/// `stop` as a list of strings.
pub fn stop_list(request: &Value) -> Option<Value> {
    match request.get("stop")? {
        Value::String(s) => Some(json!([s])),
        Value::Array(a) if !a.is_empty() => Some(Value::Array(a.clone())),
        _ => None,
    }
}

/// `max_completion_tokens`, else the deprecated `max_tokens`.
pub fn max_tokens(request: &Value) -> Option<u64> {
    request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .and_then(Value::as_u64)
}

/// The `input` of an embeddings request as a list of texts.
pub fn embedding_inputs(request: &Value) -> Vec<String> {
    match request.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().map(|i| i.as_str().unwrap_or("").to_owned()).collect(),
        _ => vec![],
    }
}

/// An OpenAI embeddings response from vectors and a token count.
pub fn embeddings_response(model: &str, vectors: Vec<Value>, tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}

/// Appends `items` to the last turn when it has the same role (Anthropic and Gemini want
/// alternating roles), else starts a new turn `{role, <field>: items}`.
pub fn push_turn(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut().filter(|t| t["role"] == role)
        && let Some(existing) = last[field].as_array_mut()
    {
        existing.extend(items);
        return;
    }
    turns.push(json!({"role": role, field: items}));
}
