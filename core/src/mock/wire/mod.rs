//! The mock server's provider formats: which provider a request path belongs to, what the
//! request asks for, and a scripted step rendered as that provider would send it (bodies,
//! event streams with their framing quirks, and error bodies).
//!
//! These renderers are written from the providers' documented wire formats, independently of
//! the adapters in `providers/`, so that a test through the mock exercises real translation.

mod anthropic;
mod cohere;
mod gemini;
mod openai;

use super::script::Step;
use crate::json_path::At;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OpenAi,
    Azure,
    /// Mistral's OpenAI-like API, served under `/mistral/` (e.g. `api_base: URL/mistral/v1`).
    Mistral,
    Anthropic,
    Gemini,
    Cohere,
}

/// What the server needs to know about one request, whatever its format.
pub struct Asked {
    pub flavor: Flavor,
    pub model: String,
    pub stream: bool,
    /// The request as OpenAI-format messages (for the default reply and token estimates).
    pub neutral: Value,
    /// The API key the request carried, however its provider sends it.
    pub key: String,
}

/// The provider a path belongs to, or `None` for an unknown endpoint.
pub fn flavor(path: &str) -> Option<Flavor> {
    if path.ends_with("/v1/messages") {
        Some(Flavor::Anthropic)
    } else if path.contains(":generateContent")
        || path.contains(":streamGenerateContent")
        || path.contains(":batchEmbedContents")
    {
        Some(Flavor::Gemini)
    } else if path.ends_with("/v2/chat") || path.ends_with("/v2/embed") {
        Some(Flavor::Cohere)
    } else if path.starts_with("/openai/") && (path.ends_with("/chat/completions") || path.ends_with("/embeddings")) {
        Some(Flavor::Azure)
    } else if path.starts_with("/mistral/") && (path.ends_with("/chat/completions") || path.ends_with("/embeddings")) {
        Some(Flavor::Mistral)
    } else if path.ends_with("/chat/completions") || path.ends_with("/embeddings") {
        Some(Flavor::OpenAi)
    } else {
        None
    }
}

/// Whether a path is an embeddings endpoint.
pub fn is_embeddings(path: &str) -> bool {
    path.ends_with("/embeddings") || path.ends_with("/v2/embed") || path.contains(":batchEmbedContents")
}

/// An embeddings answer in the provider's format (deterministic vectors).
pub fn embeddings(flavor: Flavor, asked: &Asked, body: &Value) -> Value {
    let texts: Vec<String> = match flavor {
        Flavor::Cohere => body["texts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t.as_str().unwrap_or("").to_owned())
            .collect(),
        Flavor::Gemini => body["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| text_of_parts(&r["content"]["parts"]))
            .collect(),
        _ => match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().map(|i| i.as_str().unwrap_or("").to_owned()).collect(),
            _ => vec![],
        },
    };
    let dims = body.get("dimensions").and_then(Value::as_u64).unwrap_or(8) as usize;
    let vectors: Vec<Vec<f64>> = texts.iter().map(|t| super::embedding_vector(t, dims)).collect();
    let tokens: u64 = texts.iter().map(|t| crate::tokens::estimate_text(t)).sum();
    match flavor {
        Flavor::Cohere => {
            json!({"id": "embed-mock", "embeddings": {"float": vectors}, "texts": texts, "meta": {"billed_units": {"input_tokens": tokens}}})
        }
        Flavor::Gemini => json!({"embeddings": vectors.iter().map(|v| json!({"values": v})).collect::<Vec<_>>()}),
        _ => {
            let data: Vec<Value> = vectors
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
                .collect();
            json!({"object": "list", "data": data, "model": asked.model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        }
    }
}

fn text_of_parts(parts: &Value) -> String {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

fn header<'a>(headers: &'a std::collections::BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    headers.get(name).map(String::as_str)
}

pub fn asked(
    flavor: Flavor,
    path: &str,
    query: &str,
    headers: &std::collections::BTreeMap<String, String>,
    body: &Value,
) -> Asked {
    let bearer = || header(headers, "authorization").map(|h| h.trim_start_matches("Bearer ").to_owned());
    let (model, stream, neutral, key) = match flavor {
        Flavor::OpenAi | Flavor::Mistral => (
            body["model"].as_str().unwrap_or("").to_owned(),
            body["stream"] == true,
            body.clone(),
            bearer(),
        ),
        Flavor::Azure => {
            let model = path
                .split("/deployments/")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .map(str::to_owned)
                .unwrap_or_else(|| body["model"].as_str().unwrap_or("").to_owned());
            (
                model,
                body["stream"] == true,
                body.clone(),
                header(headers, "api-key").map(str::to_owned).or_else(bearer),
            )
        }
        Flavor::Anthropic => (
            body["model"].as_str().unwrap_or("").to_owned(),
            body["stream"] == true,
            anthropic::neutral(body),
            header(headers, "x-api-key").map(str::to_owned),
        ),
        Flavor::Gemini => {
            let model = path
                .split("/models/")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .unwrap_or("")
                .to_owned();
            let key = header(headers, "x-goog-api-key").map(str::to_owned).or_else(|| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("key="))
                    .map(str::to_owned)
            });
            (
                model,
                path.contains(":streamGenerateContent"),
                gemini::neutral(body),
                key,
            )
        }
        Flavor::Cohere => (
            body["model"].as_str().unwrap_or("").to_owned(),
            body["stream"] == true,
            cohere::neutral(body),
            bearer(),
        ),
    };
    Asked {
        flavor,
        model,
        stream,
        neutral,
        key: key.unwrap_or_default(),
    }
}

/// The status and body a provider answers a request it does not accept with (fields its
/// schema lacks, values outside a documented range, a Gemini tool schema outside its subset),
/// before any scripted step plays.
pub fn refused(flavor: Flavor, query: &str, body: &Value) -> Option<(u16, Value)> {
    match flavor {
        Flavor::Cohere => cohere::refuse(body),
        Flavor::Anthropic => anthropic::refusal(body).map(|message| (400, anthropic::invalid(&message))),
        Flavor::Gemini => gemini::refuse(body),
        _ => openai::refused(flavor, query, body),
    }
}

/// What a provider refuses because of the model asked for: a Gemini 3 turn whose function call
/// comes back without its thought signature.
pub fn refused_for_model(asked: &Asked, body: &Value) -> Option<(u16, Value)> {
    match asked.flavor {
        Flavor::Gemini => gemini::refuse_for_model(&asked.model, body),
        _ => None,
    }
}

/// The status and body for a request whose key is wrong, as each provider answers it.
pub fn bad_key(flavor: Flavor, given: &str) -> (u16, Value) {
    match flavor {
        Flavor::OpenAi | Flavor::Azure | Flavor::Mistral => (
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {given}. You can find your API key in your account settings."), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        ),
        Flavor::Anthropic => (
            401,
            json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key: {given}")}, "request_id": "req_mock"}),
        ),
        Flavor::Gemini => (
            400,
            json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}),
        ),
        Flavor::Cohere => (
            401,
            json!({"id": "mock-error", "message": format!("invalid api token: {given}")}),
        ),
    }
}

/// The error body for a scripted failure.
pub fn error_body(flavor: Flavor, step: &Step) -> Value {
    match flavor {
        Flavor::OpenAi | Flavor::Azure | Flavor::Mistral => step.error_body(),
        Flavor::Anthropic => anthropic::error(step),
        Flavor::Gemini => gemini::error(step),
        Flavor::Cohere => json!({"id": "mock-error", "message": message(step)}),
    }
}

/// A whole answer.
pub fn body(flavor: Flavor, step: &Step, id: &str, asked: &Asked) -> Value {
    match flavor {
        Flavor::OpenAi | Flavor::Mistral => step.completion(id, &asked.model, &asked.neutral),
        Flavor::Azure => openai::azure_completion(step, id, asked),
        Flavor::Anthropic => anthropic::body(step, id, asked),
        Flavor::Gemini => gemini::body(step, id, asked),
        Flavor::Cohere => cohere::body(step, id, asked),
    }
}

/// A stream, as the exact bytes of each event (framing included).
pub fn events(flavor: Flavor, step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    match flavor {
        Flavor::OpenAi => openai::events(step, id, asked),
        Flavor::Mistral => openai::mistral_events(step, id, asked),
        Flavor::Azure => openai::azure_events(step, id, asked),
        Flavor::Anthropic => anthropic::events(step, id, asked),
        Flavor::Gemini => gemini::events(step, id, asked),
        Flavor::Cohere => cohere::events(step, id, asked),
    }
}

/// The scripted error message, or a default one.
fn message(step: &Step) -> String {
    match &step.error {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("scripted failure")
            .to_owned(),
        _ => format!("mock provider scripted failure: HTTP {}", step.status),
    }
}

/// The step's answer in neutral terms: text, tool calls (name, arguments object, id), usage.
pub(crate) struct Answer {
    text: Option<String>,
    calls: Vec<(String, String, Value)>,
    prompt: u64,
    completion: u64,
    cached: u64,
    cache_write: u64,
    /// The part of `cache_write` written for an hour (Anthropic's `ephemeral_1h_input_tokens`).
    cache_write_1h: u64,
    reasoning: u64,
    finish: String,
}

fn answer(step: &Step, asked: &Asked) -> Answer {
    let usage = step.usage(&asked.model, &asked.neutral);
    let n = |p: &str| usage.at(p).and_then(Value::as_u64).unwrap_or(0);
    let calls = step
        .tool_calls
        .as_ref()
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let args = c
                        .at("/function/arguments")
                        .and_then(Value::as_str)
                        .and_then(|a| serde_json::from_str(a).ok())
                        .unwrap_or(json!({}));
                    (
                        c["id"].as_str().unwrap_or("call_mock").to_owned(),
                        c.at("/function/name").and_then(Value::as_str).unwrap_or("").to_owned(),
                        args,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut a = Answer {
        text: step.reply_text(&asked.model, &asked.neutral).filter(|t| !t.is_empty()),
        calls,
        prompt: n("/prompt_tokens"),
        completion: n("/completion_tokens"),
        cached: n("/prompt_tokens_details/cached_tokens"),
        cache_write: n("/prompt_tokens_details/cache_write_tokens"),
        cache_write_1h: n("/prompt_tokens_details/cache_write_1h_tokens"),
        reasoning: n("/completion_tokens_details/reasoning_tokens"),
        finish: step.finish_reason(&asked.model, &asked.neutral),
    };
    // A request that forces a tool (`tool_choice` "required" or named) gets a call to it, as a
    // real model would make, when the script names neither calls nor a finish reason.
    if a.calls.is_empty()
        && step.finish_reason.is_none()
        && let Some(name) = forced_tool(&asked.neutral)
    {
        a.text = None;
        a.calls = vec![("call_forced".into(), name, json!({}))];
        a.completion = 3;
        a.finish = "tool_calls".into();
    }
    a
}

/// The tool a neutral request forces: the named one, or the first with "required".
fn forced_tool(neutral: &Value) -> Option<String> {
    let choice = neutral.get("tool_choice")?;
    let name = if choice == "required" {
        neutral.at("/tools/0/function/name")
    } else {
        choice.at("/function/name")
    };
    name.and_then(Value::as_str).map(str::to_owned)
}

pub(crate) use super::script::{halves, split_words as words};
