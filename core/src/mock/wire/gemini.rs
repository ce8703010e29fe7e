//! Gemini `generateContent` as the mock sends it: whole function calls with `STOP`, usage
//! repeated cumulatively, CRLF event separators, and no end marker.

use super::{Asked, Step, answer, message, words};
use crate::json_path::At;
use serde_json::{Value, json};

pub fn neutral(body: &Value) -> Value {
    let mut messages = Vec::new();
    if let Some(parts) = body.at("/systemInstruction/parts").and_then(Value::as_array) {
        messages.push(json!({"role": "system", "content": text(parts)}));
    }
    for c in body["contents"].as_array().into_iter().flatten() {
        let parts = c["parts"].as_array().map(Vec::as_slice).unwrap_or_default();
        let role = if c["role"] == "model" { "assistant" } else { "user" };
        let responses: Vec<&Value> = parts.iter().filter_map(|p| p.get("functionResponse")).collect();
        if responses.is_empty() {
            messages.push(json!({"role": role, "content": text(parts)}));
        }
        for r in responses {
            let said = match r["response"].get("content") {
                Some(Value::String(s)) => s.clone(),
                _ => r["response"].to_string(),
            };
            messages.push(json!({"role": "tool", "content": said}));
        }
    }
    json!({"messages": messages, "max_tokens": body.at("/generationConfig/maxOutputTokens").cloned().unwrap_or(Value::Null)})
}

fn text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

fn finish_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "STOP", // Gemini says STOP for function calls too
    }
}

pub fn error(step: &Step) -> Value {
    let status = match step.status {
        400 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    json!({"error": {"code": step.status, "message": message(step), "status": status}})
}

fn usage(a: &super::Answer, done: bool) -> Value {
    let mut u = json!({"promptTokenCount": a.prompt, "totalTokenCount": a.prompt});
    if done {
        let candidates = a.completion - a.reasoning.min(a.completion);
        u["candidatesTokenCount"] = json!(candidates);
        u["totalTokenCount"] = json!(a.prompt + a.completion);
        if a.reasoning > 0 {
            u["thoughtsTokenCount"] = json!(a.reasoning);
        }
    }
    if a.cached > 0 {
        u["cachedContentTokenCount"] = json!(a.cached);
    }
    u
}

fn call_parts(a: &super::Answer) -> Vec<Value> {
    a.calls
        .iter()
        .map(|(_, name, args)| json!({"functionCall": {"name": name, "args": args}}))
        .collect()
}

pub fn body(step: &Step, id: &str, asked: &Asked) -> Value {
    let a = answer(step, asked);
    let mut parts: Vec<Value> = a.text.iter().map(|t| json!({"text": t})).collect();
    parts.extend(call_parts(&a));
    json!({"candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": finish_reason(&a.finish), "index": 0}],
           "usageMetadata": usage(&a, true), "modelVersion": asked.model, "responseId": id})
}

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let a = answer(step, asked);
    let mut pieces: Vec<Vec<Value>> = a
        .text
        .as_deref()
        .map(words)
        .unwrap_or_default()
        .into_iter()
        .map(|w| vec![json!({"text": w})])
        .collect();
    let calls = call_parts(&a);
    if !calls.is_empty() {
        pieces.push(calls);
    }
    if pieces.is_empty() {
        pieces.push(vec![json!({"text": ""})]);
    }
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, parts)| {
            let mut candidate = json!({"content": {"parts": parts, "role": "model"}});
            if i == last {
                candidate["finishReason"] = json!(finish_reason(&a.finish));
            }
            let chunk = json!({"candidates": [candidate], "usageMetadata": usage(&a, i == last), "modelVersion": asked.model, "responseId": id});
            format!("data: {chunk}\r\n\r\n")
        })
        .collect()
}
