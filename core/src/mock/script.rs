//! Scripts for the mock provider: what each model answers, call after call.
//!
//! A script maps a model name (or `"*"` for any model) to a list of steps. Call N to a model
//! plays step N; once the list is used up its last step repeats. The same script format drives
//! the in-process `type: mock` provider and the `sluicegate mock-provider` HTTP server, so a
//! test can move between the two without rewriting it. Reference: `docs/mock-provider.md`.

use crate::config::parse_duration;
use crate::json_path::At;
use crate::tokens;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Assistant text; by default a deterministic greeting naming the model.
    pub reply: Option<String>,
    /// With `n` > 1: the text of each choice, in order (cycled when shorter than `n`);
    /// `reply` otherwise serves every choice.
    pub replies: Vec<String>,
    /// OpenAI-format `tool_calls` to answer with (arguments as JSON strings).
    pub tool_calls: Option<Value>,
    /// HTTP status; anything but 200 answers with a provider-style error body.
    pub status: u16,
    /// Error message (or a whole OpenAI `error` object) for a non-200 status.
    pub error: Option<Value>,
    /// `retry-after` header value, in seconds.
    pub retry_after: Option<String>,
    /// Think time before the answer starts.
    pub delay: Option<Duration>,
    /// Pause between stream chunks.
    pub chunk_delay: Option<Duration>,
    /// Usage override: `{prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens,
    /// cache_write_1h_tokens, reasoning_tokens}`.
    pub usage: Option<Value>,
    /// `usage: false`: answer without any `usage` (some providers and proxies do).
    pub no_usage: bool,
    pub finish_reason: Option<String>,
    /// Streams only: send this many chunks, then cut the connection.
    pub cut_after: Option<usize>,
    /// Streams only: send this many chunks, then hang (a minute, or until the client leaves).
    pub stall_after: Option<usize>,
    /// Answer 200 with a body that is not JSON.
    pub malformed: bool,
}

const STEP_KEYS: [&str; 13] = [
    "reply",
    "replies",
    "tool_calls",
    "status",
    "error",
    "retry_after",
    "delay",
    "chunk_delay",
    "usage",
    "finish_reason",
    "cut_after",
    "stall_after",
    "malformed",
];

/// How long a scripted stall lasts.
pub const STALL: Duration = Duration::from_secs(60);

impl Step {
    fn from_value(v: &Value, path: &str) -> Result<Step, String> {
        let map = v
            .as_object()
            .ok_or_else(|| format!("{path}: a step must be a mapping"))?;
        for key in map.keys() {
            if !STEP_KEYS.contains(&key.as_str()) {
                let near = crate::config::suggest::hint(key, STEP_KEYS);
                return Err(format!("{path}.{key}: unknown step key `{key}`{near}"));
            }
        }
        let duration = |key: &str| -> Result<Option<Duration>, String> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => parse_duration(s).map(Some).map_err(|e| format!("{path}.{key}: {e}")),
                Some(Value::Number(n)) => Ok(Some(Duration::from_secs_f64(n.as_f64().unwrap_or(0.0).max(0.0)))),
                Some(_) => Err(format!("{path}.{key}: expected a duration like `50ms`")),
            }
        };
        let status = match map.get("status") {
            None => 200,
            Some(s) => s
                .as_u64()
                .filter(|s| (100..600).contains(s))
                .ok_or_else(|| format!("{path}.status: expected an HTTP status between 100 and 599"))?
                as u16,
        };
        Ok(Step {
            reply: map.get("reply").and_then(Value::as_str).map(str::to_owned),
            replies: match map.get("replies") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                    items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                }
                Some(_) => return Err(format!("{path}.replies: expected a list of texts, one per choice")),
            },
            tool_calls: map.get("tool_calls").cloned().filter(|v| !v.is_null()),
            status,
            error: map.get("error").cloned().filter(|v| !v.is_null()),
            retry_after: map.get("retry_after").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            delay: duration("delay")?,
            chunk_delay: duration("chunk_delay")?,
            usage: map.get("usage").cloned().filter(|v| !v.is_null() && !v.is_boolean()),
            no_usage: map.get("usage") == Some(&Value::Bool(false)),
            finish_reason: map.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
            cut_after: map.get("cut_after").and_then(Value::as_u64).map(|n| n as usize),
            stall_after: map.get("stall_after").and_then(Value::as_u64).map(|n| n as usize),
            malformed: map.get("malformed").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// A parsed script plus how far each model has got through it.
#[derive(Debug, Default)]
pub struct Script {
    steps: HashMap<String, Vec<Step>>,
    played: Mutex<HashMap<String, usize>>,
}

impl Script {
    pub fn from_value(v: &Value) -> Result<Script, String> {
        let map = v
            .as_object()
            .ok_or("a script maps model names (or \"*\") to lists of steps")?;
        let mut steps = HashMap::new();
        for (model, list) in map {
            let parsed = match list {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Step::from_value(s, &format!("{model}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                single @ Value::Object(_) => vec![Step::from_value(single, model)?],
                _ => return Err(format!("{model}: expected a list of steps")),
            };
            steps.insert(model.clone(), parsed);
        }
        Ok(Script {
            steps,
            played: Mutex::new(HashMap::new()),
        })
    }

    /// The step for the next call to `model` (a plain 200 when the script says nothing).
    pub fn next_step(&self, model: &str) -> Step {
        let key = if self.steps.contains_key(model) { model } else { "*" };
        let Some(list) = self.steps.get(key).filter(|l| !l.is_empty()) else {
            return Step {
                status: 200,
                ..Step::default()
            };
        };
        let mut played = self.played.lock().unwrap_or_else(|e| e.into_inner());
        let n = played.entry(key.to_owned()).or_insert(0);
        let step = list[(*n).min(list.len() - 1)].clone();
        *n += 1;
        step
    }
}

/// The last message a caller sent: a user message, or a tool result.
fn last_said(request: &Value) -> Option<(String, String)> {
    let m = request
        .get("messages")
        .and_then(Value::as_array)?
        .iter()
        .rev()
        .find(|m| matches!(m.get("role").and_then(Value::as_str), Some("user" | "tool")))?;
    let role = m.get("role").and_then(Value::as_str).unwrap_or("user").to_owned();
    Some((role, m.get("content").map(tokens::content_text).unwrap_or_default()))
}

fn max_tokens(request: &Value) -> Option<u64> {
    request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .and_then(Value::as_u64)
}

/// The deterministic default reply: it names the model and echoes what it was last told, so
/// that a test can see the request got through translation intact.
pub fn default_reply(model: &str, request: &Value) -> String {
    match last_said(request) {
        Some((role, said)) if role == "tool" => format!("Hello from {model}! The tool said: {said}"),
        Some((_, said)) if !said.is_empty() => format!("Hello from {model}! You said: {said}"),
        _ => format!("Hello from {model}!"),
    }
}

impl Step {
    /// The reply, cut to the request's `max_tokens` as a real model would stop there.
    pub fn reply_text(&self, model: &str, request: &Value) -> Option<String> {
        let full = if self.tool_calls.is_some() {
            self.reply.clone()
        } else {
            Some(self.reply.clone().unwrap_or_else(|| default_reply(model, request)))
        };
        full.map(|text| match max_tokens(request) {
            Some(max) if tokens::estimate_text(&text) > max => text.chars().take((max * 4) as usize).collect(),
            _ => text,
        })
    }

    /// The text of choice `index` (see `replies`), cut like [`Step::reply_text`].
    pub fn choice_text(&self, index: u64, model: &str, request: &Value) -> Option<String> {
        if self.replies.is_empty() {
            return self.reply_text(model, request);
        }
        let text = &self.replies[index as usize % self.replies.len()];
        Some(match max_tokens(request) {
            Some(max) if tokens::estimate_text(text) > max => text.chars().take((max * 4) as usize).collect(),
            _ => text.clone(),
        })
    }

    fn cut(&self, model: &str, request: &Value) -> bool {
        let full = self.reply.clone().unwrap_or_else(|| default_reply(model, request));
        self.tool_calls.is_none() && max_tokens(request).is_some_and(|max| tokens::estimate_text(&full) > max)
    }

    pub fn finish_reason(&self, model: &str, request: &Value) -> String {
        self.finish_reason.clone().unwrap_or_else(|| {
            if self.tool_calls.is_some() {
                "tool_calls".into()
            } else if self.cut(model, request) {
                "length".into()
            } else {
                "stop".into()
            }
        })
    }

    /// OpenAI `usage`, computed deterministically unless the step overrides it.
    pub fn usage(&self, model: &str, request: &Value) -> Value {
        let tool_tokens: u64 = self
            .tool_calls
            .as_ref()
            .and_then(Value::as_array)
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        tokens::estimate_text(c.at("/function/arguments").and_then(Value::as_str).unwrap_or("")) + 3
                    })
                    .sum()
            })
            .unwrap_or(0);
        let get = |k: &str| self.usage.as_ref().and_then(|u| u.get(k)).and_then(Value::as_u64);
        let prompt = get("prompt_tokens").unwrap_or_else(|| tokens::estimate_prompt(request));
        // Each of the `n` choices is billed its own output.
        let completion = get("completion_tokens").unwrap_or_else(|| {
            (0..tokens::choices(request))
                .map(|i| tokens::estimate_text(&self.choice_text(i, model, request).unwrap_or_default()) + tool_tokens)
                .sum()
        });
        let mut usage = json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        });
        if get("cached_tokens").is_some() || get("cache_write_tokens").is_some() {
            usage["prompt_tokens_details"] = json!({"cached_tokens": get("cached_tokens").unwrap_or(0), "cache_write_tokens": get("cache_write_tokens").unwrap_or(0)});
            if let Some(hour) = get("cache_write_1h_tokens") {
                usage["prompt_tokens_details"]["cache_write_1h_tokens"] = json!(hour);
            }
        }
        if let Some(reasoning) = get("reasoning_tokens") {
            usage["completion_tokens_details"] = json!({"reasoning_tokens": reasoning});
        }
        usage
    }

    /// The OpenAI-style error body for a non-200 step.
    pub fn error_body(&self) -> Value {
        let (kind, code) = match self.status {
            400 => ("invalid_request_error", "invalid_request"),
            401 => ("invalid_request_error", "invalid_api_key"),
            403 => ("permission_error", "permission_denied"),
            404 => ("invalid_request_error", "model_not_found"),
            429 => ("requests", "rate_limit_exceeded"),
            _ => ("server_error", "server_error"),
        };
        match &self.error {
            Some(Value::Object(e)) => json!({ "error": e }),
            Some(Value::String(message)) => {
                json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            }
            _ => json!({"error": {
                "message": format!("mock provider scripted failure: HTTP {}", self.status),
                "type": kind, "param": null, "code": code,
            }}),
        }
    }

    /// A whole Chat Completions response.
    pub fn completion(&self, id: &str, model: &str, request: &Value) -> Value {
        let finish = self.finish_reason(model, request);
        let choices: Vec<Value> = (0..tokens::choices(request))
            .map(|index| {
                let mut message = json!({"role": "assistant", "content": self.choice_text(index, model, request)});
                if let Some(calls) = &self.tool_calls {
                    message["tool_calls"] = calls.clone();
                }
                json!({"index": index, "message": message, "logprobs": null, "finish_reason": finish})
            })
            .collect();
        let mut response = json!({
            "id": id,
            "object": "chat.completion",
            "created": crate::runtime::unix_now(),
            "model": model,
            "choices": choices,
        });
        if !self.no_usage {
            response["usage"] = self.usage(model, request);
        }
        response
    }

    /// The stream a provider would send, as chunk objects (a usage chunk last when asked for).
    pub fn chunks(&self, id: &str, model: &str, request: &Value) -> Vec<Value> {
        let created = crate::runtime::unix_now();
        let choice = |index: u64, delta: Value, finish: Value| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        };
        let chunk = |delta: Value, finish: Value| choice(0, delta, finish);
        let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
        // With `n` > 1 the choices' words interleave, one chunk each in turn, as OpenAI sends
        // them; the other choices then finish, and choice 0 goes on with its tool calls.
        let n = tokens::choices(request);
        let pieces: Vec<Vec<String>> = (0..n)
            .map(|i| {
                self.choice_text(i, model, request)
                    .as_deref()
                    .map(split_words)
                    .unwrap_or_default()
            })
            .collect();
        for at in 0..pieces.iter().map(Vec::len).max().unwrap_or(0) {
            for (index, words) in pieces.iter().enumerate() {
                if let Some(piece) = words.get(at) {
                    out.push(choice(index as u64, json!({"content": piece}), Value::Null));
                }
            }
        }
        for index in 1..n {
            out.push(choice(index, json!({}), json!(self.finish_reason(model, request))));
        }
        if let Some(calls) = self.tool_calls.as_ref().and_then(Value::as_array) {
            for (index, call) in calls.iter().enumerate() {
                let args = call.at("/function/arguments").and_then(Value::as_str).unwrap_or("");
                let name = call.at("/function/name").cloned().unwrap_or(Value::Null);
                let id = call.get("id").cloned().unwrap_or(Value::Null);
                out.push(chunk(
                    json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                    Value::Null,
                ));
                for part in halves(args) {
                    out.push(chunk(
                        json!({"tool_calls": [{"index": index, "function": {"arguments": part}}]}),
                        Value::Null,
                    ));
                }
            }
        }
        out.push(chunk(json!({}), json!(self.finish_reason(model, request))));
        let wants_usage = request.at("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        if wants_usage && !self.no_usage {
            out.push(
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": self.usage(model, request)}),
            );
        }
        out
    }
}

/// A JSON text split in two pieces, as tool-call arguments arrive in fragments.
pub(crate) fn halves(text: &str) -> Vec<String> {
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map(|(i, _)| i)
        .unwrap_or(0);
    [&text[..mid], &text[mid..]]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits text into word-sized pieces that concatenate back to the original.
pub fn split_words(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        current.push(ch);
        if ch == ' ' {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_play_in_order_then_repeat() {
        let s = Script::from_value(&json!({"m": [{"status": 503}, {"reply": "ok"}]})).unwrap();
        assert_eq!(s.next_step("m").status, 503);
        assert_eq!(s.next_step("m").reply.as_deref(), Some("ok"));
        assert_eq!(s.next_step("m").reply.as_deref(), Some("ok"));
        assert_eq!(s.next_step("other").status, 200);
    }

    #[test]
    fn stream_pieces_concatenate_to_the_reply() {
        let step = Step {
            status: 200,
            reply: Some("one two three".into()),
            ..Step::default()
        };
        let chunks = step.chunks("id", "m", &json!({}));
        let text: String = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/delta/content").and_then(Value::as_str))
            .collect();
        assert_eq!(text, "one two three");
    }

    #[test]
    fn rejects_unknown_step_keys() {
        let err = Script::from_value(&json!({"m": [{"statsu": 503}]})).unwrap_err();
        assert!(err.contains("did you mean `status`"), "{err}");
    }
}
