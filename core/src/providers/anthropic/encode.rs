//! An OpenAI Chat Completions request as an Anthropic Messages request, shaped so that current
//! Claude models accept it (each rule below is a 400 from the live API otherwise):
//! - `temperature` wins over `top_p` (both together are refused); `temperature` must be 0–1.
//! - `user` goes to `metadata.user_id` as its SHA-256 hex: the API wants an opaque id, never
//!   an e-mail address, name or phone number, and a hash keeps one id per user.
//! - Empty and whitespace-only text is dropped; a message left with nothing is dropped.
//! - A history with `tool_use`/`tool_result` blocks needs `tools`: when the caller sent none,
//!   each tool the history called is declared with an open schema and `tool_choice: none`, so
//!   the model answers in text as the caller asked.
//! - `max_tokens` is required: the caller's, else the deployment's `max_tokens_default`, else
//!   [`DEFAULT_MAX_TOKENS`].
//! - `cache_control` passes through on system parts (system is then sent as blocks), content
//!   parts, tool results, whole messages (their last block), tools, and at the top level.

use super::super::dialect::{data_url, max_tokens, parse_arguments, push_turn, stop_list};
use crate::config::DeploymentConfig;
use crate::error::{Error, Result};
use crate::json_path::At;
use serde_json::{Map, Value, json};

/// `max_tokens` when neither the caller nor the deployment's `max_tokens_default` gives one:
/// enough for an ordinary answer, far below the 64k some models allow (which would let one
/// runaway answer cost dollars).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// What a tool declared only because the history called it says about itself.
const HISTORY_TOOL: &str = "Called earlier in this conversation.";

/// The `cache_control` of an OpenAI part, message or tool, when it has one.
fn cache_control(of: &Value) -> Option<&Value> {
    of.get("cache_control").filter(|c| !c.is_null())
}

fn with_cache_control(mut block: Value, from: &Value) -> Value {
    if let Some(c) = cache_control(from) {
        block["cache_control"] = c.clone();
    }
    block
}

/// One OpenAI content part as an Anthropic block; `None` for blank text and unknown parts.
fn block(part: &Value) -> Option<Value> {
    let out = match part.get("type").and_then(Value::as_str)? {
        "text" => {
            let text = part
                .get("text")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())?;
            json!({"type": "text", "text": text})
        }
        "image_url" => {
            let url = part.at("/image_url/url").and_then(Value::as_str)?;
            match data_url(url) {
                Some((media, data)) => {
                    json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
                }
                None => json!({"type": "image", "source": {"type": "url", "url": url}}),
            }
        }
        _ => return None,
    };
    Some(with_cache_control(out, part))
}

fn content_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) if !s.trim().is_empty() => vec![json!({"type": "text", "text": s})],
        Value::Array(parts) => parts.iter().filter_map(block).collect(),
        _ => vec![],
    }
}

/// A whole-message `cache_control` marks the message's last block, where Anthropic's
/// breakpoint means "cache everything up to here".
fn mark_last(message: &Value, blocks: &mut [Value]) {
    if let (Some(c), Some(last)) = (cache_control(message), blocks.last_mut()) {
        last["cache_control"] = c.clone();
    }
}

fn tool(t: &Value) -> Value {
    let f = t.get("function").unwrap_or(t);
    let mut out = json!({"name": f.get("name").cloned().unwrap_or(json!("")), "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))});
    if let Some(d) = f.get("description") {
        out["description"] = d.clone();
    }
    // LiteLLM and OpenRouter put it beside `function`; accept it inside too.
    match cache_control(t).or_else(|| cache_control(f)) {
        Some(c) => with_cache_control(out, &json!({"cache_control": c})),
        None => out,
    }
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

/// The system prompt: a string, or text blocks when any part carries `cache_control`.
fn system(parts: Vec<Value>) -> Option<Value> {
    if parts.is_empty() {
        return None;
    }
    if parts.iter().any(|p| cache_control(p).is_some()) {
        return Some(Value::Array(parts));
    }
    let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    Some(json!(texts.join("\n\n")))
}

/// Tools for a history that used some while the request declares none: the API refuses
/// `tool_use`/`tool_result` blocks without `tools` ("Requests which include `tool_use` or
/// `tool_result` blocks must define tools.").
fn history_tools(messages: &[Value]) -> Vec<Value> {
    let mut names: Vec<&str> = Vec::new();
    for block in messages.iter().filter_map(|m| m["content"].as_array()).flatten() {
        if block["type"] == "tool_use"
            && let Some(name) = block["name"].as_str()
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| json!({"name": name, "description": HISTORY_TOOL, "input_schema": {"type": "object"}}))
        .collect()
}

fn sampling(request: &Value, body: &mut Map<String, Value>) -> Result<()> {
    let given = |k: &str| request.get(k).filter(|v| !v.is_null());
    if let Some(t) = given("temperature") {
        let value = t
            .as_f64()
            .ok_or_else(|| Error::invalid_request("`temperature` must be a number"))?;
        if !(0.0..=1.0).contains(&value) {
            return Err(Error::invalid_request(format!(
                "`temperature` {value} is outside Anthropic's range 0 to 1 (OpenAI allows up to 2); \
                 send a temperature from 0 to 1 for routes that can reach Anthropic"
            )));
        }
        body.insert("temperature".into(), t.clone());
    } else if let Some(p) = given("top_p") {
        // Current Claude models refuse `temperature` and `top_p` together: temperature wins.
        body.insert("top_p".into(), p.clone());
    }
    if let Some(k) = given("top_k") {
        body.insert("top_k".into(), k.clone());
    }
    Ok(())
}

pub fn encode(request: &Value, deployment: &DeploymentConfig, stream: bool) -> Result<Value> {
    let mut system_parts: Vec<Value> = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in request["messages"].as_array().into_iter().flatten() {
        let content = m.get("content").unwrap_or(&Value::Null);
        match m["role"].as_str().unwrap_or("") {
            "system" | "developer" => {
                let mut blocks: Vec<Value> = content_blocks(content)
                    .into_iter()
                    .filter(|b| b["type"] == "text")
                    .collect();
                mark_last(m, &mut blocks);
                system_parts.extend(blocks);
            }
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
                mark_last(m, &mut blocks);
                push_turn(&mut messages, "assistant", "content", blocks);
            }
            "tool" | "function" => {
                let mut result =
                    json!({"type": "tool_result", "tool_use_id": m.get("tool_call_id").cloned().unwrap_or(json!(""))});
                let text = super::super::dialect::text_of(content);
                if !text.trim().is_empty() {
                    result["content"] = json!(text);
                }
                // The result is sent as text, so a breakpoint on any of its parts marks the block.
                let parts = content.as_array().into_iter().flatten();
                if let Some(c) = parts.filter_map(cache_control).next_back() {
                    result["cache_control"] = c.clone();
                }
                let mut blocks = vec![result];
                mark_last(m, &mut blocks);
                push_turn(&mut messages, "user", "content", blocks);
            }
            _ => {
                let mut blocks = content_blocks(content);
                mark_last(m, &mut blocks);
                push_turn(&mut messages, "user", "content", blocks);
            }
        }
    }
    if messages.is_empty() {
        return Err(Error::invalid_request(
            "every message is empty once blank text is left out; Anthropic needs at least one message with content",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(deployment.model));
    let limit = max_tokens(request)
        .or(deployment.max_tokens_default)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(limit));
    if let Some(system) = system(system_parts) {
        body.insert("system".into(), system);
    }
    sampling(request, &mut body)?;
    if let Some(stop) = stop_list(request) {
        body.insert("stop_sequences".into(), stop);
    }
    if let Some(user) = request.get("user").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        body.insert("metadata".into(), json!({"user_id": crate::policy::sha256_hex(user)}));
    }
    if let Some(c) = cache_control(request) {
        body.insert("cache_control".into(), c.clone());
    }
    let declared = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty());
    let from_history = if declared.is_none() {
        history_tools(&messages)
    } else {
        Vec::new()
    };
    if let Some(tools) = declared {
        body.insert("tools".into(), Value::Array(tools.iter().map(tool).collect()));
        let parallel = request.get("parallel_tool_calls").and_then(Value::as_bool);
        if let Some(choice) = tool_choice(request.get("tool_choice").unwrap_or(&Value::Null), parallel) {
            body.insert("tool_choice".into(), choice);
        }
    } else if !from_history.is_empty() {
        body.insert("tools".into(), Value::Array(from_history));
        body.insert("tool_choice".into(), json!({"type": "none"}));
    }
    body.insert("messages".into(), Value::Array(messages));
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(body))
}
