//! Anthropic Messages as the mock sends them, with the live API's quirks: `data:` lines padded
//! with trailing spaces and `ping` events written with spaces after the colons.

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
    json!({"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]})
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

fn usage(a: &super::Answer) -> Value {
    let fresh = a.prompt.saturating_sub(a.cached + a.cache_write);
    json!({"input_tokens": fresh, "cache_creation_input_tokens": a.cache_write, "cache_read_input_tokens": a.cached, "output_tokens": a.completion})
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
           "stop_reason": stop_reason(&a.finish), "stop_sequence": null, "usage": usage(&a)})
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}      \n\n")
}

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let a = answer(step, asked);
    let mut start_usage = usage(&a);
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
        for piece in halves(&args.to_string()) {
            out.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    out.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(&a.finish), "stop_sequence": null}, "usage": usage(&a)})));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}
