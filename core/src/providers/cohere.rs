//! Cohere Chat v2: OpenAI-like messages and tools, content as typed parts, `COMPLETE` /
//! `TOOL_CALL` finish reasons, billed-unit usage, and named stream events with tool-call
//! deltas carried as objects rather than lists.

use super::dialect::{ChunkMaker, Dialect, StreamDecoder, openai_usage};
use super::sse::SseEvent;
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

pub struct Cohere;

/// The one table for plain and streamed answers (Cohere SDK `ChatFinishReason`). `ERROR` and
/// `TIMEOUT` are failures, so they end the call with an error (partial text is not an answer);
/// an unknown reason is treated as a normal end.
fn finish_reason(reason: &str) -> Result<&'static str> {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => Ok("stop"),
        "MAX_TOKENS" => Ok("length"),
        "TOOL_CALL" => Ok("tool_calls"),
        "ERROR" => Err(Error::new(
            ErrorKind::ProviderError,
            "Cohere ended the answer with finish reason ERROR (the generation failed); retry or fall back",
        )),
        "TIMEOUT" => Err(Error::new(
            ErrorKind::Timeout,
            "Cohere ended the answer with finish reason TIMEOUT (the generation ran out of time); retry or fall back",
        )),
        _ => Ok("stop"),
    }
}

/// Billed units are what the caller pays for; raw token counts are the fallback.
fn usage(u: &Value) -> Value {
    let n = |k: &str| {
        u.at(&format!("/billed_units/{k}"))
            .and_then(Value::as_f64)
            .or_else(|| u.at(&format!("/tokens/{k}")).and_then(Value::as_f64))
            .unwrap_or(0.0) as u64
    };
    openai_usage(n("input_tokens"), n("output_tokens"), 0, 0, 0)
}

/// Cohere's `LogprobItem`s (a text chunk, the log probability of each of its tokens) as OpenAI
/// `logprobs.content` entries: one per chunk, whose log probability is the sum over its tokens
/// (Cohere gives no per-token text and no alternatives, so `top_logprobs` is empty).
fn logprobs<'a>(items: impl IntoIterator<Item = &'a Value>) -> Value {
    let content: Vec<Value> = items
        .into_iter()
        .filter_map(|item| {
            let text = item["text"].as_str()?;
            let logprob: f64 = item["logprobs"].as_array()?.iter().filter_map(Value::as_f64).sum();
            Some(json!({"token": text, "logprob": logprob, "bytes": text.as_bytes(), "top_logprobs": []}))
        })
        .collect();
    if content.is_empty() {
        Value::Null
    } else {
        json!({"content": content})
    }
}

fn content_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

impl Dialect for Cohere {
    fn chat_url(&self, provider: &ProviderConfig, _deployment: &DeploymentConfig, _stream: bool) -> String {
        let base = provider.api_base.as_deref().unwrap_or_default().trim_end_matches('/');
        let base = base.strip_suffix("/v2").unwrap_or(base);
        format!("{base}/v2/chat")
    }

    fn embeddings_url(&self, provider: &ProviderConfig, deployment: &DeploymentConfig) -> Option<String> {
        Some(
            self.chat_url(provider, deployment, false)
                .replace("/v2/chat", "/v2/embed"),
        )
    }

    fn encode_embeddings(&self, request: &Value, deployment: &DeploymentConfig) -> Result<Value> {
        let input_type = request
            .get("input_type")
            .and_then(Value::as_str)
            .unwrap_or("search_document");
        Ok(
            json!({"model": deployment.model, "texts": super::dialect::embedding_inputs(request), "input_type": input_type, "embedding_types": ["float"]}),
        )
    }

    fn decode_embeddings(&self, body: Value, deployment: &DeploymentConfig) -> Result<Value> {
        let vectors = body
            .at("/embeddings/float")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::ProviderError,
                    "the embeddings response has no `embeddings.float`",
                )
            })?;
        let tokens = body
            .at("/meta/billed_units/input_tokens")
            .and_then(Value::as_f64)
            .unwrap_or(0.0) as u64;
        Ok(super::dialect::embeddings_response(&deployment.model, vectors, tokens))
    }

    fn headers(&self, provider: &ProviderConfig, headers: &mut HeaderMap) {
        if let Some(v) = provider
            .api_key
            .as_deref()
            .and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok())
        {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
    }

    fn encode(&self, request: &Value, deployment: &DeploymentConfig, stream: bool) -> Result<Value> {
        super::cohere_request::encode(request, deployment, stream)
    }

    fn decode(&self, body: Value, deployment: &DeploymentConfig) -> Result<Value> {
        let message = body
            .get("message")
            .ok_or_else(|| Error::new(ErrorKind::ProviderError, "the response has no `message`"))?;
        let calls = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let finish = finish_reason(body["finish_reason"].as_str().unwrap_or("COMPLETE"))?;
        let text = content_text(message);
        let mut out = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
        if !calls.is_empty() {
            out["tool_calls"] = Value::Array(calls);
        }
        Ok(json!({
            "id": body["id"],
            "object": "chat.completion",
            "created": crate::runtime::unix_now(),
            "model": deployment.model,
            "choices": [{"index": 0, "message": out, "logprobs": logprobs(body["logprobs"].as_array().into_iter().flatten()), "finish_reason": finish}],
            "usage": usage(body.get("usage").unwrap_or(&json!({}))),
        }))
    }

    fn stream_decoder(&self, deployment: &DeploymentConfig) -> Box<dyn StreamDecoder> {
        Box::new(CohereStream {
            maker: ChunkMaker::new("", deployment.model.clone()),
            done: false,
            usage: None,
        })
    }

    fn classify(&self, status: u16, _body: &Value) -> Option<(ErrorKind, bool)> {
        match status {
            498 => Some((ErrorKind::Authentication, false)),
            499 => Some((ErrorKind::Cancelled, false)),
            _ => None,
        }
    }
}

struct CohereStream {
    maker: ChunkMaker,
    done: bool,
    usage: Option<Value>,
}

impl StreamDecoder for CohereStream {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<Value>> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(vec![]);
        }
        let data: Value = serde_json::from_str(data).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("sent a stream event that is not JSON: {e}"),
            )
        })?;
        let index = data["index"].as_u64().unwrap_or(0);
        Ok(match data["type"].as_str().or(event.event.as_deref()).unwrap_or("") {
            "message-start" => {
                self.maker.id = data["id"].as_str().unwrap_or("").to_owned();
                vec![self.maker.delta(json!({"role": "assistant", "content": ""}), None)]
            }
            "content-delta" => match data.at("/delta/message/content/text").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => {
                    let mut chunk = self.maker.delta(json!({"content": t}), None);
                    chunk["choices"][0]["logprobs"] = logprobs(data.get("logprobs"));
                    vec![chunk]
                }
                _ => vec![],
            },
            "tool-call-start" => {
                let call = data.at("/delta/message/tool_calls").cloned().unwrap_or(json!({}));
                vec![self.maker.delta(json!({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call.at("/function/name").cloned().unwrap_or(json!("")), "arguments": call.at("/function/arguments").cloned().unwrap_or(json!(""))}}]}), None)]
            }
            "tool-call-delta" => match data
                .at("/delta/message/tool_calls/function/arguments")
                .and_then(Value::as_str)
            {
                Some(a) if !a.is_empty() => vec![self.maker.delta(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": a}}]}),
                    None,
                )],
                _ => vec![],
            },
            "message-end" => {
                self.done = true;
                self.usage = data.at("/delta/usage").map(usage);
                let reason = data
                    .at("/delta/finish_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("COMPLETE");
                vec![self.maker.delta(json!({}), Some(finish_reason(reason)?))]
            }
            _ => vec![],
        })
    }

    fn done(&self) -> bool {
        self.done
    }

    fn end(&mut self) -> Result<Vec<Value>> {
        if !self.done {
            return Err(Error::new(
                ErrorKind::Connection,
                "the stream ended before `message-end`",
            ));
        }
        Ok(self.usage.take().map(|u| vec![self.maker.usage(u)]).unwrap_or_default())
    }
}
