//! The Messages event stream (`message_start` … `message_stop`, `ping`, in-stream `error`) as
//! OpenAI chunks. A tool call whose input is empty streams only an empty `input_json_delta`;
//! its arguments are sent as `"{}"` when its block stops, as a plain answer would give them.

use super::{finish_reason, usage};
use crate::config::DeploymentConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use crate::providers::dialect::{ChunkMaker, StreamDecoder};
use crate::providers::sse::SseEvent;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) struct AnthropicStream {
    maker: ChunkMaker,
    /// Anthropic block index → (OpenAI tool-call index, whether any arguments arrived).
    tools: HashMap<u64, (usize, bool)>,
    usage: Value,
    done: bool,
}

impl AnthropicStream {
    pub(super) fn new(deployment: &DeploymentConfig) -> AnthropicStream {
        AnthropicStream {
            maker: ChunkMaker::new("", deployment.model.clone()),
            tools: HashMap::new(),
            usage: json!({}),
            done: false,
        }
    }
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
                    self.tools.insert(data["index"].as_u64().unwrap_or(0), (index, false));
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
                        let Some((index, sent)) = self.tools.get_mut(&data["index"].as_u64().unwrap_or(0)) else {
                            return Ok(vec![]); // arguments of a block that is not a tool call
                        };
                        if part.is_empty() {
                            vec![]
                        } else {
                            *sent = true;
                            let index = *index;
                            vec![self.maker.delta(
                                json!({"tool_calls": [{"index": index, "function": {"arguments": part}}]}),
                                None,
                            )]
                        }
                    }
                    _ => vec![],
                }
            }
            "content_block_stop" => match self.tools.get(&data["index"].as_u64().unwrap_or(0)) {
                // No input at all: the same `{}` a plain answer's `input: {}` gives.
                Some(&(index, false)) => vec![self.maker.delta(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": "{}"}}]}),
                    None,
                )],
                _ => vec![],
            },
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
            _ => vec![], // ping, thinking and signature deltas
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
    /// `message_delta` usage is cumulative and may repeat the input counts; the cache TTL split
    /// (`cache_creation`) comes only in `message_start`.
    fn merge_usage(&mut self, u: &Value) {
        if let (Some(into), Some(from)) = (self.usage.as_object_mut(), u.as_object()) {
            for (k, v) in from {
                if v.is_u64() || v.is_object() {
                    into.insert(k.clone(), v.clone());
                }
            }
        }
    }
}
