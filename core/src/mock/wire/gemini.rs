//! Gemini `generateContent` as the mock sends it: whole function calls with `STOP`, a
//! `thoughtSignature` on the first function call of each answer from a Gemini 3 model, one
//! candidate per `candidateCount`, usage repeated cumulatively, CRLF event separators, and no
//! end marker. What the API refuses is in [`check`].

mod check;

pub use check::{refuse, refuse_for_model};

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
    json!({"messages": messages, "max_tokens": body.at("/generationConfig/maxOutputTokens").cloned().unwrap_or(Value::Null),
           "n": body.at("/generationConfig/candidateCount").cloned().unwrap_or(Value::Null)})
}

fn text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A scripted OpenAI finish reason in Gemini's words; a Gemini reason (upper case, such as
/// `MALFORMED_FUNCTION_CALL`) is sent as written.
fn finish_reason(finish: &str) -> String {
    match finish {
        "length" => "MAX_TOKENS".into(),
        "content_filter" => "SAFETY".into(),
        native if !native.is_empty() && native.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => native.into(),
        _ => "STOP".into(), // Gemini says STOP for function calls too
    }
}

/// How many candidates the request asked for (`generationConfig.candidateCount`).
fn candidates(asked: &Asked) -> u64 {
    asked.neutral["n"].as_u64().unwrap_or(1).max(1)
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

/// Function-call parts; from a Gemini 3 model the first one carries a thought signature, as
/// the API documents for parallel calls.
fn call_parts(a: &super::Answer, asked: &Asked, id: &str) -> Vec<Value> {
    a.calls
        .iter()
        .enumerate()
        .map(|(i, (_, name, args))| {
            let mut part = json!({"functionCall": {"name": name, "args": args}});
            if i == 0 && check::checks_signatures(&asked.model) {
                part["thoughtSignature"] = json!(signature(&format!("mock thought for {name} in {id}")));
            }
            part
        })
        .collect()
}

/// A stand-in signature: standard base64 (with `+`, `/` and padding, as the API sends bytes).
fn signature(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = text.bytes().map(|b| b ^ 0xfb).collect(); // high bits, so `+` and `/` appear
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The same candidate `count` times, indexed.
fn each(candidate: &Value, count: u64) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let mut c = candidate.clone();
            c["index"] = json!(i);
            c
        })
        .collect()
}

pub fn body(step: &Step, id: &str, asked: &Asked) -> Value {
    let a = answer(step, asked);
    let mut parts: Vec<Value> = a.text.iter().map(|t| json!({"text": t})).collect();
    parts.extend(call_parts(&a, asked, id));
    let candidate = json!({"content": {"parts": parts, "role": "model"}, "finishReason": finish_reason(&a.finish)});
    json!({"candidates": each(&candidate, candidates(asked)),
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
    let calls = call_parts(&a, asked, id);
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
            let chunk = json!({"candidates": each(&candidate, candidates(asked)), "usageMetadata": usage(&a, i == last), "modelVersion": asked.model, "responseId": id});
            format!("data: {chunk}\r\n\r\n")
        })
        .collect()
}
