//! OpenAI, Azure OpenAI and Mistral as the mock sends them. Azure adds content-filter results,
//! opens its stream with an empty-choices chunk, and separates events with three newlines.
//! Mistral puts usage in its last chunk unasked. Azure before `2024-10-21` and Mistral refuse
//! the fields their request schemas lack, as the real services do.

use super::{Asked, Flavor, Step};
use serde_json::{Value, json};

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let mut out: Vec<String> = step
        .chunks(id, &asked.model, &asked.neutral)
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .collect();
    out.push("data: [DONE]\n\n".to_owned());
    out
}

fn filters() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

pub fn azure_completion(step: &Step, id: &str, asked: &Asked) -> Value {
    let mut body = step.completion(id, &asked.model, &asked.neutral);
    body["prompt_filter_results"] = json!([{"prompt_index": 0, "content_filter_results": filters()}]);
    for choice in body["choices"].as_array_mut().into_iter().flatten() {
        choice["content_filter_results"] = filters();
    }
    body
}

pub fn azure_events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let first = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                       "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filters()}]});
    let mut out = vec![format!("data: {first}\n\n\n")];
    for mut chunk in step.chunks(id, &asked.model, &asked.neutral) {
        for choice in chunk["choices"].as_array_mut().into_iter().flatten() {
            choice["content_filter_results"] = json!({});
        }
        out.push(format!("data: {chunk}\n\n\n"));
    }
    out.push("data: [DONE]\n\n\n".to_owned());
    out
}

/// Mistral's stream: usage rides on the finish chunk, whether or not it was asked for (it has
/// no `stream_options`), and choices have no `logprobs` (docs/models/completionchunk.md).
pub fn mistral_events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let mut neutral = asked.neutral.clone();
    neutral["stream_options"] = json!({"include_usage": true});
    let mut chunks = step.chunks(id, &asked.model, &neutral);
    if let Some(usage) = chunks.pop().map(|c| c["usage"].clone())
        && let Some(last) = chunks.last_mut()
    {
        last["usage"] = usage;
    }
    for choice in chunks.iter_mut().filter_map(|c| c["choices"].as_array_mut()).flatten() {
        choice.as_object_mut().map(|c| c.remove("logprobs"));
    }
    let mut out: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    out.push("data: [DONE]\n\n".to_owned());
    out
}

/// The request fields of Mistral's chat completions schema (mistralai/client-python,
/// `docs/models/chatcompletionrequest.md`, read 2026-12-05); it forbids any other.
const MISTRAL_FIELDS: &[&str] = &[
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "metadata",
    "messages",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "reasoning_effort",
    "prompt_mode",
    "guardrails",
    "prompt_cache_key",
    "safe_prompt",
];

/// The fields a dated Azure API version's request schema lacks (it answers 400): `stream_options`
/// before `2024-10-21`; `max_completion_tokens` in GA versions up to `2024-10-21` and previews
/// before `2024-09-01-preview` (Azure/azure-rest-api-specs, `inference/*/<version>`).
fn azure_lacks(version: &str, field: &str) -> bool {
    match field {
        "stream_options" => version < "2024-10-21",
        "max_completion_tokens" if version.ends_with("-preview") => version < "2024-09-01-preview",
        "max_completion_tokens" => version <= "2024-10-21",
        _ => false,
    }
}

pub fn refused(flavor: Flavor, query: &str, body: &Value) -> Option<(u16, Value)> {
    let fields = body.as_object()?;
    match flavor {
        Flavor::Mistral => {
            let detail: Vec<Value> = fields
                .iter()
                .filter(|(k, _)| !MISTRAL_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| json!({"type": "extra_forbidden", "loc": ["body", k], "msg": "Extra inputs are not permitted", "input": v}))
                .collect();
            (!detail.is_empty()).then(|| {
                (
                    422,
                    json!({"object": "error", "message": {"detail": detail}, "type": "invalid_request_error", "param": null, "code": null}),
                )
            })
        }
        Flavor::Azure => {
            let version = query.split('&').find_map(|kv| kv.strip_prefix("api-version="))?;
            let field = fields.keys().find(|f| azure_lacks(version, f))?;
            Some((
                400,
                json!({"error": {"message": format!("Unrecognized request argument supplied: {field}"), "type": "invalid_request_error", "param": null, "code": null}}),
            ))
        }
        _ => None,
    }
}
