//! OpenAI Chat Completions: OpenAI, Azure OpenAI, and every OpenAI-compatible server (Mistral,
//! Groq, Together, Fireworks, DeepSeek, xAI, OpenRouter, vLLM, Ollama, the mock server).
//! Requests pass through (unknown fields included); answers are normalised for the known quirks.

use super::capabilities::{self, Capabilities, MaxTokensField};
use super::dialect::{Dialect, StreamDecoder};
use super::http_error::provider_message;
use super::presets::Wire;
use super::sse::SseEvent;
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::collections::HashMap;

pub struct OpenAi {
    pub azure: bool,
    pub nine_char_tool_ids: bool,
    /// What this provider accepts; requests are encoded from it.
    pub caps: Capabilities,
    /// The provider type, for messages.
    pub kind: &'static str,
}

impl OpenAi {
    pub fn for_provider(config: &ProviderConfig) -> OpenAi {
        OpenAi {
            azure: config.preset.wire == Wire::AzureOpenAi,
            nine_char_tool_ids: config.preset.nine_char_tool_ids,
            caps: capabilities::of(config),
            kind: config.preset.name,
        }
    }

    /// Fits the request to what the provider accepts: renames what it calls otherwise, and
    /// refuses what it cannot do rather than silently doing less.
    fn fit(&self, body: &mut Value, stream: bool) -> Result<()> {
        let caps = &self.caps;
        let Some(map) = body.as_object_mut() else {
            return Ok(());
        };
        if stream && caps.stream_options {
            // Ask for the usage chunk so that streamed calls are metered exactly.
            ask_for_usage(body);
        } else {
            // Not accepted (or meaningless without a stream): usage still counts when the
            // provider sends it unasked, else it is estimated.
            map.remove("stream_options");
        }
        let Some(map) = body.as_object_mut() else {
            return Ok(());
        };
        if caps.max_tokens == MaxTokensField::MaxTokens
            && let Some(limit) = map.remove("max_completion_tokens").filter(|v| !v.is_null())
        {
            map.insert("max_tokens".into(), limit);
        }
        if caps.seed_field != "seed"
            && let Some(seed) = map.remove("seed")
        {
            map.insert(caps.seed_field.into(), seed);
        }
        if !caps.n && map.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
            return Err(self.unsupported("`n` above 1", "send one request per answer"));
        }
        if !caps.parallel_tool_calls && map.remove("parallel_tool_calls") == Some(Value::Bool(false)) {
            return Err(self.unsupported("`parallel_tool_calls: false`", "remove it"));
        }
        if let Some(kind) = body.at("/response_format/type").and_then(Value::as_str)
            && !caps.response_formats.contains(&kind)
        {
            return Err(self.unsupported(
                &format!("`response_format` `{kind}`"),
                &format!("use one of {}", caps.response_formats.join(", ")),
            ));
        }
        if !caps.strict_schemas && has_strict(body) {
            return Err(self.unsupported("`strict` schemas", "remove `strict: true`"));
        }
        if !caps.images && has_images(body) {
            return Err(self.unsupported("image content parts", "route images to a provider that takes them"));
        }
        Ok(())
    }

    fn unsupported(&self, what: &str, fix: &str) -> Error {
        Error::invalid_request(format!(
            "{what} is not supported by provider type `{}`: {fix}",
            self.kind
        ))
    }
}

fn has_strict(body: &Value) -> bool {
    body.at("/response_format/json_schema/strict") == Some(&Value::Bool(true))
        || body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t.at("/function/strict") == Some(&Value::Bool(true)))
}

fn has_images(body: &Value) -> bool {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .any(|part| part["type"] == "image_url")
}

fn header(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}

impl Dialect for OpenAi {
    fn chat_url(&self, provider: &ProviderConfig, deployment: &DeploymentConfig, _stream: bool) -> String {
        let base = provider.api_base.as_deref().unwrap_or_default().trim_end_matches('/');
        match (self.azure, &provider.api_version) {
            (false, _) => format!("{base}/chat/completions"),
            (true, Some(version)) => format!(
                "{base}/openai/deployments/{}/chat/completions?api-version={version}",
                deployment.model
            ),
            (true, None) => format!("{base}/openai/v1/chat/completions"),
        }
    }

    fn embeddings_url(&self, provider: &ProviderConfig, deployment: &DeploymentConfig) -> Option<String> {
        let chat = self.chat_url(provider, deployment, false);
        Some(chat.replacen("/chat/completions", "/embeddings", 1))
    }

    fn encode_embeddings(&self, request: &Value, deployment: &DeploymentConfig) -> Result<Value> {
        let mut body = request.clone();
        body["model"] = Value::String(deployment.model.clone());
        Ok(body)
    }

    fn headers(&self, provider: &ProviderConfig, headers: &mut HeaderMap) {
        let Some(key) = provider.api_key.as_deref().filter(|k| !k.is_empty()) else {
            return;
        };
        if self.azure {
            if let Some(v) = header(key) {
                headers.insert("api-key", v);
            }
        } else if let Some(v) = header(&format!("Bearer {key}")) {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
    }

    fn encode(&self, request: &Value, deployment: &DeploymentConfig, stream: bool) -> Result<Value> {
        let mut body = request.clone();
        body["model"] = Value::String(deployment.model.clone());
        self.fit(&mut body, stream)?;
        rewrite_tool_ids(&mut body, self.nine_char_tool_ids);
        Ok(body)
    }

    fn decode(&self, body: Value, _deployment: &DeploymentConfig) -> Result<Value> {
        if !body.get("choices").is_some_and(Value::is_array) {
            return Err(Error::new(ErrorKind::ProviderError, "the response has no `choices`"));
        }
        Ok(body)
    }

    fn stream_decoder(&self, _deployment: &DeploymentConfig) -> Box<dyn StreamDecoder> {
        Box::new(OpenAiStream { done: false })
    }

    fn classify(&self, status: u16, body: &Value) -> Option<(ErrorKind, bool)> {
        let code = body.at("/error/code").and_then(Value::as_str);
        match (status, code) {
            (_, Some("content_filter")) => Some((ErrorKind::GuardrailBlocked, false)),
            (429, Some("insufficient_quota")) => Some((ErrorKind::RateLimited, false)),
            _ => None,
        }
    }
}

/// The highest tool-call `index` (and choice `index`) a stream may use: callers merge deltas
/// by index into arrays, so a runaway index from a buggy provider must not size them.
pub const MAX_STREAM_INDEX: u64 = 128;

/// Refuses an OpenAI chunk whose choice or tool-call `index` is past [`MAX_STREAM_INDEX`]
/// (every dialect's decoded chunks pass here, see `http::Pump`).
pub(crate) fn check_indexes(chunk: &Value) -> Result<()> {
    for choice in chunk["choices"].as_array().into_iter().flatten() {
        let calls = choice.at("/delta/tool_calls").and_then(Value::as_array);
        let indexes = std::iter::once(&choice["index"]).chain(calls.into_iter().flatten().map(|c| &c["index"]));
        for index in indexes.filter(|i| !i.is_null()) {
            if index.as_u64().is_none_or(|i| i > MAX_STREAM_INDEX) {
                return Err(Error::new(
                    ErrorKind::ProviderError,
                    format!("sent a stream chunk with index {index}; indexes above {MAX_STREAM_INDEX} are refused"),
                ));
            }
        }
    }
    Ok(())
}

struct OpenAiStream {
    done: bool,
}

impl StreamDecoder for OpenAiStream {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<Value>> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(vec![]);
        }
        let mut chunk: Value = serde_json::from_str(data).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("sent a stream event that is not JSON: {e}"),
            )
        })?;
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            return Err(Error::new(
                ErrorKind::ProviderError,
                format!("sent an error in the stream: {}", provider_message(data)),
            ));
        }
        // vLLM sends `choices: null` (or none) on the usage chunk; Groq's older streams put
        // usage under `x_groq`.
        if !chunk.get("choices").is_some_and(Value::is_array) {
            chunk["choices"] = json!([]);
        }
        if chunk.get("usage").is_none_or(Value::is_null)
            && let Some(usage) = chunk.at("/x_groq/usage").cloned()
        {
            chunk["usage"] = usage;
        }
        let empty = chunk["choices"].as_array().is_some_and(Vec::is_empty);
        let has_usage = chunk.get("usage").is_some_and(|u| !u.is_null());
        if empty && !has_usage {
            // Azure's first chunk carries only prompt filter results.
            return Ok(vec![]);
        }
        if !empty && has_usage {
            // Mistral puts usage on its last content chunk: split it into OpenAI's shape (a
            // usage-only chunk), which callers get only when they asked for usage.
            let mut usage_chunk = chunk.clone();
            usage_chunk["choices"] = json!([]);
            chunk["usage"] = Value::Null;
            return Ok(vec![chunk, usage_chunk]);
        }
        Ok(vec![chunk])
    }

    fn done(&self) -> bool {
        self.done
    }

    fn end(&mut self) -> Result<Vec<Value>> {
        if self.done {
            Ok(vec![])
        } else {
            Err(Error::new(ErrorKind::Connection, "the stream ended without `[DONE]`"))
        }
    }
}

/// Sets `stream_options.include_usage`, keeping the caller's other stream options (the request
/// check already refused a `stream_options` that is not an object).
pub(crate) fn ask_for_usage(body: &mut Value) {
    if !body.get("stream_options").is_some_and(Value::is_object) {
        body["stream_options"] = json!({});
    }
    body["stream_options"]["include_usage"] = Value::Bool(true);
}

/// The longest tool-call id OpenAI accepts in a history: a longer one is a 400
/// (`string_above_max_length`, "Expected a string with maximum length 40").
const MAX_TOOL_ID: usize = 40;

/// Makes every tool-call id in the history one the provider accepts, consistently within the
/// request (a call and its result keep matching): Mistral accepts only 9 alphanumerics; OpenAI
/// at most 40 characters, which an id from another provider may exceed (a Gemini id carrying
/// its thought signature, which this provider has no use for, loses it first).
fn rewrite_tool_ids(body: &mut Value, nine_chars: bool) {
    fn nine(id: &str) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut hash: u64 = 0xcbf29ce484222325;
        for b in id.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
        (0..9)
            .map(|i| ALPHABET[((hash >> (i * 6)) % 62) as usize] as char)
            .collect()
    }
    let rewrite = |id: &str| -> Option<String> {
        if nine_chars {
            let valid = id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric());
            return (!valid).then(|| nine(id));
        }
        if id.len() <= MAX_TOOL_ID {
            return None;
        }
        let plain = crate::providers::gemini::signature::plain_id(id);
        Some(if plain.len() <= MAX_TOOL_ID {
            plain.to_owned()
        } else {
            use sha2::{Digest, Sha256};
            format!("call_{}", &hex::encode(Sha256::digest(id.as_bytes()))[..32])
        })
    };
    let mut mapped: HashMap<String, String> = HashMap::new();
    let mut map_id = |v: &mut Value| {
        let Some(id) = v.as_str() else { return };
        if let Some(new) = mapped.get(id) {
            *v = Value::String(new.clone());
        } else if let Some(new) = rewrite(id) {
            mapped.insert(id.to_owned(), new.clone());
            *v = Value::String(new);
        }
    };
    for message in body
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(id) = message.get_mut("tool_call_id") {
            map_id(id);
        }
        for call in message
            .get_mut("tool_calls")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(id) = call.get_mut("id") {
                map_id(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ids_from_other_providers_fit_openai_and_still_match() {
        let signed = crate::providers::gemini::signature::attach(
            "call_0123456789abcdef01234567",
            Some("CiQBjz1rX2VzdGluZyBhIHRob3VnaHQgc2lnbmF0dXJl+/8="),
        );
        let long = "fc_0f0e50a1476a6c35006912c58dc9f8819192c25864eb16f07f";
        let mut body = json!({"messages": [
            {"role": "assistant", "tool_calls": [
                {"id": signed, "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": long, "type": "function", "function": {"name": "g", "arguments": "{}"}},
                {"id": "call_short", "type": "function", "function": {"name": "h", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": signed, "content": "1"},
            {"role": "tool", "tool_call_id": long, "content": "2"},
            {"role": "tool", "tool_call_id": "call_short", "content": "3"}
        ]});
        rewrite_tool_ids(&mut body, false);
        let calls = body.pointer("/messages/0/tool_calls").unwrap().as_array().unwrap();
        for (i, call) in calls.iter().enumerate() {
            let id = call["id"].as_str().unwrap();
            assert!(id.len() <= MAX_TOOL_ID, "{id}");
            assert_eq!(
                body["messages"][i + 1]["tool_call_id"],
                json!(id),
                "call {i} and its result"
            );
        }
        assert_eq!(
            calls[0]["id"], "call_0123456789abcdef01234567",
            "the signature is dropped"
        );
        assert_eq!(calls[2]["id"], "call_short", "a short id is left alone");
        assert_ne!(calls[0]["id"], calls[1]["id"]);
    }

    #[test]
    fn mistral_ids_are_rewritten_consistently() {
        let mut body = json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "call_0fypS1hVX_long", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_0fypS1hVX_long", "content": "42"},
        ]});
        rewrite_tool_ids(&mut body, true);
        let a = body
            .pointer("/messages/0/tool_calls/0/id")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(a.len(), 9);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(body.pointer("/messages/1/tool_call_id").unwrap(), &json!(a));
    }
}
