//! Google Gemini `generateContent`: `systemInstruction`, `contents` with `user`/`model` roles,
//! `functionDeclarations` with full JSON Schema (`parametersJsonSchema`), whole function calls
//! (with `STOP` as the finish reason) whose thought signatures travel in the tool-call ids
//! ([`signature`]), one choice per candidate, finish reasons from one table ([`finish`]),
//! cumulative stream usage, CRLF-separated events and no end marker. Fields Gemini cannot
//! honour are refused ([`fields`]).

mod fields;
mod finish;
pub mod signature;
mod stream;

use super::dialect::{Dialect, StreamDecoder, data_url, max_tokens, openai_usage, parse_arguments, stop_list, text_of};
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub struct Gemini;

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

fn unsupported_part(kind: &str) -> Error {
    Error::invalid_request(format!(
        "content parts of type `{kind}` are not supported by the gemini provider; send text, image_url, input_audio or file (file_data) parts"
    ))
}

fn part(p: &Value) -> Result<Option<Value>> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    Ok(match kind {
        "text" => Some(json!({"text": p.get("text").cloned().unwrap_or(json!(""))})),
        "refusal" => Some(json!({"text": p.get("refusal").cloned().unwrap_or(json!(""))})),
        "image_url" => {
            let Some(url) = p.at("/image_url/url").and_then(Value::as_str) else {
                return Err(Error::invalid_request("an image_url part needs `image_url.url`"));
            };
            Some(match data_url(url) {
                Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                None => json!({"fileData": {"fileUri": url}}),
            })
        }
        "input_audio" => {
            let data = p.at("/input_audio/data").cloned().unwrap_or(json!(""));
            let format = p.at("/input_audio/format").and_then(Value::as_str).unwrap_or("wav");
            Some(json!({"inlineData": {"mimeType": format!("audio/{format}"), "data": data}}))
        }
        "file" => match p.at("/file/file_data").and_then(Value::as_str).and_then(data_url) {
            Some((mime, data)) => Some(json!({"inlineData": {"mimeType": mime, "data": data}})),
            None => {
                return Err(Error::invalid_request(
                    "a file part for the gemini provider needs `file.file_data` as a data: URL (an OpenAI `file_id` means nothing to Gemini)",
                ));
            }
        },
        other => return Err(unsupported_part(other)),
    })
}

fn parts_of(content: &Value) -> Result<Vec<Value>> {
    Ok(match content {
        Value::String(s) if !s.is_empty() => vec![json!({"text": s})],
        Value::Array(items) => items
            .iter()
            .map(part)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        _ => vec![],
    })
}

fn push(turns: &mut Vec<Value>, role: &str, items: Vec<Value>) {
    super::dialect::push_turn(turns, role, "parts", items);
}

/// The `functionCall` parts of one assistant step, thought signatures restored from the ids
/// (or taken from `extra_content.google.thought_signature`, where Google's own OpenAI-compatible
/// endpoint puts them). A step that carries none gets the documented placeholder on its first
/// call, which is where Gemini 3 looks for it.
fn call_parts(calls: &[Value], names: &mut HashMap<String, Value>) -> Result<Vec<Value>> {
    let mut parts = Vec::new();
    let mut signed = false;
    for call in calls {
        let name = call.at("/function/name").cloned().unwrap_or(json!(""));
        let id = call.get("id").and_then(Value::as_str).unwrap_or("");
        if !id.is_empty() {
            names.insert(id.to_owned(), name.clone());
        }
        let args = parse_arguments(call.at("/function/arguments").unwrap_or(&Value::Null))?;
        let mut part = json!({"functionCall": {"name": name, "args": args}});
        let carried = signature::signature_of(id).or_else(|| {
            call.at("/extra_content/google/thought_signature")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if let Some(sig) = carried {
            part["thoughtSignature"] = json!(sig);
            signed = true;
        }
        parts.push(part);
    }
    if !signed && let Some(first) = parts.first_mut() {
        first["thoughtSignature"] = json!(signature::PLACEHOLDER);
    }
    Ok(parts)
}

/// OpenAI tool calls from a candidate's `functionCall` parts, each with a unique id that
/// carries the part's thought signature (see [`signature`]). `first` numbers the calls.
fn calls_of(parts: &[Value], response_id: &str, candidate: u64, first: usize) -> Vec<Value> {
    parts
        .iter()
        .filter(|p| p.get("functionCall").is_some())
        .enumerate()
        .map(|(i, p)| {
            let fc = &p["functionCall"];
            let id = signature::attach(
                &signature::unique_id(response_id, candidate, first + i),
                p.get("thoughtSignature").and_then(Value::as_str),
            );
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

/// A response id to derive tool-call ids from: the API's, or a random one when it sent none.
fn response_id(body: &Value) -> String {
    body.get("responseId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("gemini-{:016x}", rand::random::<u64>()))
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

    fn encode(&self, request: &Value, deployment: &DeploymentConfig, _stream: bool) -> Result<Value> {
        fields::check(request)?;
        let mut system = Vec::new();
        let mut contents = Vec::new();
        let mut call_names: HashMap<String, Value> = HashMap::new();
        for m in request["messages"].as_array().into_iter().flatten() {
            let content = m.get("content").unwrap_or(&Value::Null);
            match m["role"].as_str().unwrap_or("") {
                "system" | "developer" => system.push(json!({"text": text_of(content)})),
                "assistant" => {
                    let mut parts = parts_of(content)?;
                    let calls = m
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    parts.extend(call_parts(calls, &mut call_names)?);
                    push(&mut contents, "model", parts);
                }
                "tool" | "function" => {
                    let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
                    let name = call_names
                        .get(id)
                        .cloned()
                        .or_else(|| m.get("name").cloned())
                        .unwrap_or(json!(signature::plain_id(id)));
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
                _ => push(&mut contents, "user", parts_of(content)?),
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
        if let Some(thinking) = fields::thinking(request, &deployment.model)? {
            generation.insert("thinkingConfig".into(), thinking);
        }
        if !generation.is_empty() {
            body.insert("generationConfig".into(), Value::Object(generation));
        }
        if let Some(tools) = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty()) {
            // `parameters` takes only an OpenAPI subset (no additionalProperties, $schema, const…);
            // `parametersJsonSchema` takes the JSON Schema an OpenAI tool is written in, unchanged.
            let decls: Vec<Value> = tools
                .iter()
                .map(|t| {
                    let f = t.get("function").unwrap_or(t);
                    let mut d = json!({"name": f["name"]});
                    if let Some(v) = f.get("description") {
                        d["description"] = v.clone();
                    }
                    if let Some(v) = f.get("parameters").filter(|v| !v.is_null()) {
                        d["parametersJsonSchema"] = v.clone();
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
        let response_id = response_id(&body);
        let choices = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let index = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
                let parts = c.at("/content/parts").and_then(Value::as_array).cloned().unwrap_or_default();
                let calls = calls_of(&parts, &response_id, index, 0);
                let text = text_parts(&parts);
                let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    message["tool_calls"] = Value::Array(calls.clone());
                }
                let reason = finish::finish_reason(
                    c["finishReason"].as_str().unwrap_or("STOP"),
                    !calls.is_empty(),
                    c["finishMessage"].as_str(),
                )?;
                Ok(json!({"index": index, "message": message, "logprobs": null, "finish_reason": reason}))
            })
            .collect::<Result<Vec<Value>>>()?;
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
        Box::new(stream::GeminiStream::new(deployment))
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
