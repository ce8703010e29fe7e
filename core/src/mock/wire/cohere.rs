//! Cohere Chat v2 as the mock sends it: typed content parts, billed units, and named events
//! whose tool-call deltas are objects with the index beside them.

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
    json!({"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]})
}

fn finish_reason(finish: &str) -> &'static str {
    match finish {
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

pub fn body(step: &Step, id: &str, asked: &Asked) -> Value {
    let a = answer(step, asked);
    let mut message = json!({"role": "assistant", "content": a.text.iter().map(|t| json!({"type": "text", "text": t})).collect::<Vec<_>>()});
    if !a.calls.is_empty() {
        message["tool_calls"] = json!(calls(&a));
    }
    json!({"id": id, "message": message, "finish_reason": finish_reason(&a.finish), "usage": usage(&a)})
}

fn event(name: &str, mut data: Value) -> String {
    data["type"] = json!(name);
    format!("event: {name}\ndata: {data}\n\n")
}

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let a = answer(step, asked);
    let mut out = vec![event(
        "message-start",
        json!({"id": id, "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
    )];
    if let Some(t) = &a.text {
        out.push(event(
            "content-start",
            json!({"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        ));
        for w in words(t) {
            out.push(event(
                "content-delta",
                json!({"index": 0, "delta": {"message": {"content": {"text": w}}}}),
            ));
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
