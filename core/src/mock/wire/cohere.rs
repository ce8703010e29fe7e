//! Cohere Chat v2 as the mock sends it: typed content parts, billed units, and named events
//! whose tool-call deltas are objects with the index beside them. It refuses, with a 400 as the
//! real API does, the requests Cohere documents as invalid (see [`refuse`]); the shapes are
//! checked against Cohere's own examples in core/tests/fixtures_cohere.rs.

use super::{Asked, Step, answer, halves, words};
use serde_json::{Value, json};

pub fn neutral(body: &Value) -> Value {
    let messages: Vec<Value> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let content = match &m["content"] {
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            json!({"role": m["role"], "content": content})
        })
        .collect();
    // `tool_choice: REQUIRED` makes the model call a tool; the neutral form says so in OpenAI terms.
    let tool_choice = match body["tool_choice"].as_str() {
        Some("REQUIRED") => json!("required"),
        Some("NONE") => json!("none"),
        _ => Value::Null,
    };
    json!({"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"],
           "tools": body["tools"], "tool_choice": tool_choice, "logprobs": body["logprobs"]})
}

fn bad_request(message: String) -> Option<(u16, Value)> {
    Some((400, json!({"id": "mock-error", "message": message})))
}

/// The 400 the real API gives for a request it documents as invalid (cohere-python
/// `v2/client.py`, `types/content.py`, `types/response_format_v2.py`), or `None`.
pub fn refuse(body: &Value) -> Option<(u16, Value)> {
    if let Some(p) = body.get("p").and_then(Value::as_f64)
        && !(0.01..=0.99).contains(&p)
    {
        return bad_request(format!("invalid request: p must be between 0.01 and 0.99, got {p}"));
    }
    if let Some(thinking) = body.get("thinking")
        && !matches!(thinking["type"].as_str(), Some("enabled" | "disabled"))
    {
        return bad_request(format!(
            "invalid request: thinking.type must be enabled or disabled, got {}",
            thinking["type"]
        ));
    }
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    match body.get("tool_choice") {
        None => {}
        Some(c) if c == "NONE" => {}
        Some(c) if c == "REQUIRED" && has_tools => {}
        Some(c) if c == "REQUIRED" => {
            return bad_request("invalid request: tool_choice REQUIRED needs tools".into());
        }
        Some(c) => {
            return bad_request(format!(
                "invalid request: tool_choice must be one of REQUIRED, NONE, got {c}"
            ));
        }
    }
    if let Some(format) = body.get("response_format") {
        if !matches!(format["type"].as_str(), Some("text" | "json_object")) {
            return bad_request(format!(
                "invalid request: unknown response_format type {}",
                format["type"]
            ));
        }
        if has_tools {
            return bad_request("invalid request: response_format is not supported with tools".into());
        }
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        for part in m["content"].as_array().into_iter().flatten() {
            let allowed = match m["role"].as_str() {
                Some("user") => matches!(part["type"].as_str(), Some("text" | "image_url")),
                Some("tool") => matches!(part["type"].as_str(), Some("text" | "document")),
                _ => part["type"] == "text",
            };
            if !allowed {
                return bad_request(format!(
                    "invalid request: unknown content type {} in a {} message",
                    part["type"], m["role"]
                ));
            }
        }
    }
    None
}

/// The OpenAI finish reason a script names, in Cohere's terms; a script may also name one of
/// Cohere's own reasons (`ERROR`, `TIMEOUT`, …), which is sent as it is.
fn finish_reason(finish: &str) -> &str {
    match finish {
        "COMPLETE" | "STOP_SEQUENCE" | "MAX_TOKENS" | "TOOL_CALL" | "ERROR" | "TIMEOUT" => finish,
        "length" => "MAX_TOKENS",
        "tool_calls" => "TOOL_CALL",
        "content_filter" => "ERROR",
        _ => "COMPLETE",
    }
}

fn usage(a: &super::Answer) -> Value {
    json!({"billed_units": {"input_tokens": a.prompt, "output_tokens": a.completion}, "tokens": {"input_tokens": a.prompt + 64, "output_tokens": a.completion}})
}

fn calls(a: &super::Answer) -> Vec<Value> {
    a.calls.iter().map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}})).collect()
}

/// A `LogprobItem` for one streamed word, when the request asked for `logprobs` (a fixed,
/// deterministic -0.5 per token, a token per character run of up to 4).
fn logprob(asked: &Asked, word: &str) -> Option<Value> {
    (asked.neutral["logprobs"] == true).then(|| {
        let tokens = word.chars().count().div_ceil(4).max(1);
        json!({"text": word, "token_ids": (0..tokens).collect::<Vec<_>>(), "logprobs": vec![-0.5; tokens]})
    })
}

pub fn body(step: &Step, id: &str, asked: &Asked) -> Value {
    let a = answer(step, asked);
    let mut message = json!({"role": "assistant", "content": a.text.iter().map(|t| json!({"type": "text", "text": t})).collect::<Vec<_>>()});
    if !a.calls.is_empty() {
        message["tool_calls"] = json!(calls(&a));
    }
    let mut out = json!({"id": id, "message": message, "finish_reason": finish_reason(&a.finish), "usage": usage(&a)});
    let items: Vec<Value> = a
        .text
        .iter()
        .flat_map(|t| words(t))
        .filter_map(|w| logprob(asked, &w))
        .collect();
    if !items.is_empty() {
        out["logprobs"] = json!(items);
    }
    out
}

fn event(name: &str, mut data: Value) -> String {
    data["type"] = json!(name);
    format!("event: {name}\ndata: {data}\n\n")
}

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let a = answer(step, asked);
    let mut out = vec![event(
        "message-start",
        json!({"id": id, "delta": {"message": {"role": "assistant"}}}),
    )];
    if let Some(t) = &a.text {
        out.push(event(
            "content-start",
            json!({"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        ));
        for w in words(t) {
            let mut delta = json!({"index": 0, "delta": {"message": {"content": {"text": w}}}});
            if let Some(item) = logprob(asked, &w) {
                delta["logprobs"] = item;
            }
            out.push(event("content-delta", delta));
        }
        out.push(event("content-end", json!({"index": 0})));
    }
    for (i, call) in calls(&a).into_iter().enumerate() {
        let args = call["function"]["arguments"].as_str().unwrap_or("").to_owned();
        let mut start = call.clone();
        start["function"]["arguments"] = json!("");
        out.push(event(
            "tool-call-start",
            json!({"index": i, "delta": {"message": {"tool_calls": start}}}),
        ));
        for piece in halves(&args) {
            out.push(event(
                "tool-call-delta",
                json!({"index": i, "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}),
            ));
        }
        out.push(event("tool-call-end", json!({"index": i})));
    }
    out.push(event(
        "message-end",
        json!({"delta": {"finish_reason": finish_reason(&a.finish), "usage": usage(&a)}}),
    ));
    out
}
