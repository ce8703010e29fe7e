//! Google Gemini `generateContent`: `systemInstruction`, `contents` with `user`/`model` roles,
//! `functionDeclarations`, whole function calls (with `STOP` as the finish reason), cumulative
//! stream usage, CRLF-separated events and no end marker.

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

pub struct Gemini;

fn finish_reason(reason: &str, has_calls: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => "content_filter",
        _ if has_calls => "tool_calls",
        _ => "stop",
    }
}

fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let thoughts = n("thoughtsTokenCount");
    // Thinking tokens are outside candidatesTokenCount; OpenAI counts them in completion tokens.
    openai_usage(
        n("promptTokenCount"),
        n("candidatesTokenCount") + thoughts,
        n("cachedContentTokenCount"),
        0,
        thoughts,
    )
}

fn part(p: &Value) -> Option<Value> {
    match p.get("type").and_then(Value::as_str)? {
        "text" => Some(json!({"text": p.get("text").cloned().unwrap_or(json!(""))})),
        "image_url" => {
            let url = p.at("/image_url/url").and_then(Value::as_str)?;
            Some(match data_url(url) {
                Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                None => json!({"fileData": {"fileUri": url}}),
            })
        }
        _ => None,
    }
}

fn parts_of(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) if !s.is_empty() => vec![json!({"text": s})],
        Value::Array(items) => items.iter().filter_map(part).collect(),
        _ => vec![],
    }
}

fn push(turns: &mut Vec<Value>, role: &str, items: Vec<Value>) {
    super::dialect::push_turn(turns, role, "parts", items);
}

/// OpenAI tool calls from a candidate's `functionCall` parts (ids made up when absent).
fn calls_of(parts: &[Value], first_index: usize) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| p.get("functionCall"))
        .enumerate()
        .map(|(i, fc)| {
            let id = fc.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("call_{}", first_index + i));
            json!({"id": id, "type": "function", "function": {"name": fc["name"], "arguments": fc.get("args").unwrap_or(&json!({})).to_string()}})
        })
        .collect()
}

fn text_parts(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
}

fn blocked(body: &Value) -> Option<Error> {
    let reason = body.at("/promptFeedback/blockReason").and_then(Value::as_str)?;
    Some(
        Error::new(
            ErrorKind::GuardrailBlocked,
            format!("the provider blocked the prompt ({reason})"),
        )
        .with_retryable(false),
    )
}

impl Dialect for Gemini {
    fn chat_url(&self, provider: &ProviderConfig, deployment: &DeploymentConfig, stream: bool) -> String {
        let base = provider.api_base.as_deref().unwrap_or_default().trim_end_matches('/');
        let model = deployment.model.strip_prefix("gemini/").unwrap_or(&deployment.model);
        if stream {
            format!("{base}/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("{base}/models/{model}:generateContent")
        }
    }

    fn embeddings_url(&self, provider: &ProviderConfig, deployment: &DeploymentConfig) -> Option<String> {
        let base = provider.api_base.as_deref().unwrap_or_default().trim_end_matches('/');
        let model = deployment.model.strip_prefix("gemini/").unwrap_or(&deployment.model);
        Some(format!("{base}/models/{model}:batchEmbedContents"))
    }

    fn encode_embeddings(&self, request: &Value, deployment: &DeploymentConfig) -> Result<Value> {
        let model = format!(
            "models/{}",
            deployment.model.strip_prefix("gemini/").unwrap_or(&deployment.model)
        );
        let requests: Vec<Value> = super::dialect::embedding_inputs(request)
            .into_iter()
            .map(|text| {
                let mut r = json!({"model": model, "content": {"parts": [{"text": text}]}});
                if let Some(d) = request.get("dimensions") {
                    r["outputDimensionality"] = d.clone();
                }
                r
            })
            .collect();
        Ok(json!({"requests": requests}))
    }

    fn decode_embeddings(&self, body: Value, deployment: &DeploymentConfig) -> Result<Value> {
        let vectors: Vec<Value> = body
            .get("embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::new(ErrorKind::ProviderError, "the embeddings response has no `embeddings`"))?
            .iter()
            .map(|e| e.get("values").cloned().unwrap_or(json!([])))
            .collect();
        // Gemini reports no token count for embeddings.
        Ok(super::dialect::embeddings_response(&deployment.model, vectors, 0))
    }

    fn headers(&self, provider: &ProviderConfig, headers: &mut HeaderMap) {
        if let Some(v) = provider.api_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
            headers.insert("x-goog-api-key", v);
        }
    }

    fn encode(&self, request: &Value, _deployment: &DeploymentConfig, _stream: bool) -> Result<Value> {
        let mut system = Vec::new();
        let mut contents = Vec::new();
        let mut call_names: HashMap<String, Value> = HashMap::new();
        for m in request["messages"].as_array().into_iter().flatten() {
            let content = m.get("content").unwrap_or(&Value::Null);
            match m["role"].as_str().unwrap_or("") {
                "system" | "developer" => system.push(json!({"text": text_of(content)})),
                "assistant" => {
                    let mut parts = parts_of(content);
                    for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                        let name = call.at("/function/name").cloned().unwrap_or(json!(""));
                        if let Some(id) = call.get("id").and_then(Value::as_str) {
                            call_names.insert(id.to_owned(), name.clone());
                        }
                        let args = parse_arguments(call.at("/function/arguments").unwrap_or(&Value::Null))?;
                        parts.push(json!({"functionCall": {"name": name, "args": args}}));
                    }
                    push(&mut contents, "model", parts);
                }
                "tool" | "function" => {
                    let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
                    let name = call_names
                        .get(id)
                        .cloned()
                        .or_else(|| m.get("name").cloned())
                        .unwrap_or(json!(id));
                    let text = text_of(content);
                    let response = match serde_json::from_str::<Value>(&text) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => json!({"content": text}),
                    };
                    push(
                        &mut contents,
                        "user",
                        vec![json!({"functionResponse": {"name": name, "response": response}})],
                    );
                }
                _ => push(&mut contents, "user", parts_of(content)),
            }
        }
        let mut body = Map::new();
        body.insert("contents".into(), Value::Array(contents));
        if !system.is_empty() {
            body.insert("systemInstruction".into(), json!({"parts": system}));
        }
        let mut generation = Map::new();
        let copy = [
            ("temperature", "temperature"),
            ("top_p", "topP"),
            ("n", "candidateCount"),
            ("seed", "seed"),
            ("presence_penalty", "presencePenalty"),
            ("frequency_penalty", "frequencyPenalty"),
        ];
        for (from, to) in copy {
            if let Some(v) = request.get(from).filter(|v| !v.is_null()) {
                generation.insert(to.into(), v.clone());
            }
        }
        if let Some(max) = max_tokens(request) {
            generation.insert("maxOutputTokens".into(), json!(max));
        }
        if let Some(stop) = stop_list(request) {
            generation.insert("stopSequences".into(), stop);
        }
        match request.at("/response_format/type").and_then(Value::as_str) {
            Some("json_object") => {
                generation.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                generation.insert("responseMimeType".into(), json!("application/json"));
                if let Some(schema) = request.at("/response_format/json_schema/schema") {
                    generation.insert("responseJsonSchema".into(), schema.clone());
                }
            }
            _ => {}
        }
        if !generation.is_empty() {
            body.insert("generationConfig".into(), Value::Object(generation));
        }
        if let Some(tools) = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty()) {
            let decls: Vec<Value> = tools
                .iter()
                .map(|t| {
                    let f = t.get("function").unwrap_or(t);
                    let mut d = json!({"name": f["name"]});
                    for key in ["description", "parameters"] {
                        if let Some(v) = f.get(key) {
                            d[key] = v.clone();
                        }
                    }
                    d
                })
                .collect();
            body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
        }
        let mode = match request.get("tool_choice") {
            Some(Value::String(s)) if s == "auto" => Some(json!({"mode": "AUTO"})),
            Some(Value::String(s)) if s == "required" => Some(json!({"mode": "ANY"})),
            Some(Value::String(s)) if s == "none" => Some(json!({"mode": "NONE"})),
            Some(choice @ Value::Object(_)) => Some(
                json!({"mode": "ANY", "allowedFunctionNames": [choice.at("/function/name").cloned().unwrap_or(json!(""))]}),
            ),
            _ => None,
        };
        if let Some(mode) = mode {
            body.insert("toolConfig".into(), json!({"functionCallingConfig": mode}));
        }
        Ok(Value::Object(body))
    }

    fn decode(&self, body: Value, deployment: &DeploymentConfig) -> Result<Value> {
        let candidates = body
            .get("candidates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if candidates.is_empty() {
            return Err(blocked(&body)
                .unwrap_or_else(|| Error::new(ErrorKind::ProviderError, "the response has no candidates")));
        }
        let choices: Vec<Value> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let parts = c.at("/content/parts").and_then(Value::as_array).cloned().unwrap_or_default();
                let calls = calls_of(&parts, 0);
                let text = text_parts(&parts);
                let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    message["tool_calls"] = Value::Array(calls.clone());
                }
                let reason = finish_reason(c["finishReason"].as_str().unwrap_or("STOP"), !calls.is_empty());
                json!({"index": c.get("index").and_then(Value::as_u64).unwrap_or(i as u64), "message": message, "logprobs": null, "finish_reason": reason})
            })
            .collect();
        Ok(json!({
            "id": body.get("responseId").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("gemini-{}", crate::runtime::unix_now())),
            "object": "chat.completion",
            "created": crate::runtime::unix_now(),
            "model": body.get("modelVersion").cloned().unwrap_or(json!(deployment.model)),
            "choices": choices,
            "usage": usage(body.get("usageMetadata").unwrap_or(&json!({}))),
        }))
    }

    fn stream_decoder(&self, deployment: &DeploymentConfig) -> Box<dyn StreamDecoder> {
        Box::new(GeminiStream {
            maker: ChunkMaker::new(
                format!("gemini-{}", crate::runtime::unix_now()),
                deployment.model.clone(),
            ),
            started: false,
            calls: 0,
            finished: false,
            usage: None,
        })
    }

    fn classify(&self, status: u16, body: &Value) -> Option<(ErrorKind, bool)> {
        let reason_is = |r: &str| {
            body.at("/error/details")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|x| x["reason"] == r))
        };
        let message = body.at("/error/message").and_then(Value::as_str).unwrap_or("");
        if reason_is("API_KEY_INVALID") || (status == 400 && message.contains("API key not valid")) {
            return Some((ErrorKind::Authentication, false));
        }
        match body.at("/error/status").and_then(Value::as_str)? {
            "RESOURCE_EXHAUSTED" => Some((ErrorKind::RateLimited, true)),
            "UNAVAILABLE" => Some((ErrorKind::ProviderError, true)),
            "PERMISSION_DENIED" => Some((ErrorKind::PermissionDenied, false)),
            _ => None,
        }
    }
}

struct GeminiStream {
    maker: ChunkMaker,
    started: bool,
    calls: usize,
    finished: bool,
    usage: Option<Value>,
}

impl StreamDecoder for GeminiStream {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<Value>> {
        let data: Value = serde_json::from_str(event.data.trim()).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("sent a stream event that is not JSON: {e}"),
            )
        })?;
        if data.get("error").is_some() {
            let message = data.at("/error/message").and_then(Value::as_str).unwrap_or("");
            return Err(Error::new(
                ErrorKind::ProviderError,
                format!("sent an error in the stream: {message}"),
            ));
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            if let Some(id) = data.get("responseId").and_then(Value::as_str) {
                self.maker.id = id.to_owned();
            }
            if let Some(model) = data.get("modelVersion").and_then(Value::as_str) {
                self.maker.model = model.to_owned();
            }
            if data
                .get("candidates")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
                && let Some(e) = blocked(&data)
            {
                return Err(e);
            }
            out.push(self.maker.delta(json!({"role": "assistant", "content": ""}), None));
        }
        if let Some(u) = data.get("usageMetadata") {
            self.usage = Some(usage(u));
        }
        let candidate = data.at("/candidates/0").cloned().unwrap_or(json!({}));
        let parts = candidate
            .at("/content/parts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let text = text_parts(&parts);
        if !text.is_empty() {
            out.push(self.maker.delta(json!({"content": text}), None));
        }
        for call in calls_of(&parts, self.calls) {
            out.push(self.maker.delta(json!({"tool_calls": [{"index": self.calls, "id": call["id"], "type": "function", "function": call["function"]}]}), None));
            self.calls += 1;
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            self.finished = true;
            out.push(self.maker.delta(json!({}), Some(finish_reason(reason, self.calls > 0))));
        }
        Ok(out)
    }

    fn done(&self) -> bool {
        false // Gemini has no end marker: the stream ends when the body does.
    }

    fn end(&mut self) -> Result<Vec<Value>> {
        if !self.finished {
            return Err(Error::new(
                ErrorKind::Connection,
                "the stream ended before a finish reason",
            ));
        }
        Ok(self.usage.take().map(|u| vec![self.maker.usage(u)]).unwrap_or_default())
    }
}
