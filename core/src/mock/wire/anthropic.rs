//! Anthropic Messages as the mock sends them, with the live API's quirks: `data:` lines padded
//! with trailing spaces and `ping` events written with spaces after the colons. Like the live
//! API it refuses (400) what current Claude models refuse: no `max_tokens`, `temperature` with
//! `top_p`, `temperature` above 1, an e-mail address as `metadata.user_id`, empty or
//! whitespace-only text, and `tool_use`/`tool_result` blocks without `tools`.

use super::{Asked, Step, answer, halves, message, words};
use serde_json::{Value, json};

/// The request's messages as OpenAI-format text messages.
pub fn neutral(body: &Value) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = body.get("system") {
        messages.push(json!({"role": "system", "content": text(system)}));
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        let results: Vec<&Value> = m["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "tool_result")
            .collect();
        if results.is_empty() {
            messages.push(json!({"role": m["role"], "content": text(&m["content"])}));
        }
        for r in results {
            messages.push(json!({"role": "tool", "content": text(&r["content"])}));
        }
    }
    json!({"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"], "cache_control": marks_cache(body)})
}

/// Whether the request sets any cache breakpoint: without one the API caches nothing, so the
/// mock then reports no cache reads or writes whatever the script says.
fn marks_cache(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| (k == "cache_control" && !v.is_null()) || marks_cache(v)),
        Value::Array(a) => a.iter().any(marks_cache),
        _ => false,
    }
}

fn text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

pub fn error(step: &Step) -> Value {
    let kind = match step.status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message(step)}, "request_id": "req_mock"})
}

/// A 400 body as the API words it.
pub fn invalid(message: &str) -> Value {
    json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}, "request_id": "req_mock"})
}

fn blank(text: &Value) -> bool {
    text.as_str().is_none_or(|t| t.trim().is_empty())
}

/// Why the live API would refuse this request body, if it would.
pub fn refusal(body: &Value) -> Option<String> {
    if !body["max_tokens"].is_u64() {
        return Some("max_tokens: Field required".into());
    }
    let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
    if has("temperature") && has("top_p") {
        return Some("`temperature` and `top_p` cannot both be specified for this model. Please use only one.".into());
    }
    if body["temperature"].as_f64().is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Some("temperature: Input should be less than or equal to 1".into());
    }
    if body
        .pointer("/metadata/user_id")
        .and_then(Value::as_str)
        .is_some_and(|u| u.contains('@'))
    {
        return Some("metadata.user_id: must be an opaque identifier, not an email address".into());
    }
    for (j, block) in body["system"].as_array().into_iter().flatten().enumerate() {
        if block["type"] == "text" && blank(&block["text"]) {
            return Some(format!(
                "system.{j}: text content blocks must contain non-whitespace text"
            ));
        }
    }
    let mut tool_blocks = false;
    for (i, m) in body["messages"].as_array().into_iter().flatten().enumerate() {
        let empty = match &m["content"] {
            Value::String(s) => s.trim().is_empty(),
            Value::Array(blocks) => blocks.is_empty(),
            _ => true,
        };
        if empty {
            return Some(format!(
                "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
            ));
        }
        for (j, block) in m["content"].as_array().into_iter().flatten().enumerate() {
            tool_blocks |= block["type"] == "tool_use" || block["type"] == "tool_result";
            if block["type"] == "text" && blank(&block["text"]) {
                return Some(format!(
                    "messages.{i}.content.{j}: text content blocks must contain non-whitespace text"
                ));
            }
        }
    }
    if tool_blocks && body["tools"].as_array().is_none_or(Vec::is_empty) {
        return Some("Requests which include `tool_use` or `tool_result` blocks must define tools.".into());
    }
    None
}

/// Usage as `message_start` and whole answers carry it (`message_delta` omits the TTL split).
fn usage(a: &super::Answer, asked: &Asked) -> Value {
    let (cached, write) = match asked.neutral["cache_control"] == true {
        true => (a.cached, a.cache_write),
        false => (0, 0),
    };
    let fresh = a.prompt.saturating_sub(cached + write);
    let hour = a.cache_write_1h.min(write);
    json!({"input_tokens": fresh, "cache_creation_input_tokens": write, "cache_read_input_tokens": cached,
           "cache_creation": {"ephemeral_5m_input_tokens": write - hour, "ephemeral_1h_input_tokens": hour},
           "output_tokens": a.completion})
}

pub fn body(step: &Step, id: &str, asked: &Asked) -> Value {
    let a = answer(step, asked);
    let mut content = Vec::new();
    if let Some(t) = &a.text {
        content.push(json!({"type": "text", "text": t}));
    }
    for (call_id, name, args) in &a.calls {
        content.push(json!({"type": "tool_use", "id": call_id, "name": name, "input": args}));
    }
    json!({"model": asked.model, "id": format!("msg_{id}"), "type": "message", "role": "assistant", "content": content,
           "stop_reason": stop_reason(&a.finish), "stop_sequence": null, "usage": usage(&a, asked)})
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}      \n\n")
}

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let a = answer(step, asked);
    let mut start_usage = usage(&a, asked);
    start_usage["output_tokens"] = json!(1);
    let mut out = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"model": asked.model, "id": format!("msg_{id}"), "type": "message", "role": "assistant", "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
    )];
    let mut index = 0;
    if let Some(t) = &a.text {
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        ));
        out.push("event: ping\ndata: {\"type\": \"ping\"}\n\n".to_owned());
        for w in words(t) {
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": w}}),
            ));
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for (call_id, name, args) in &a.calls {
        out.push(event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}})));
        out.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": ""}})));
        // Like the API, a call without arguments streams only the empty delta above.
        let empty = args.as_object().is_some_and(|o| o.is_empty());
        for piece in halves(&args.to_string()).into_iter().filter(|_| !empty) {
            out.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    let mut end_usage = usage(&a, asked);
    end_usage.as_object_mut().map(|u| u.remove("cache_creation"));
    out.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(&a.finish), "stop_sequence": null}, "usage": end_usage})));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}
