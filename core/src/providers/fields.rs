//! What each provider type does with every OpenAI Chat Completions request field: **mapped**
//! (to what), **ignored** because harmless (why), or **rejected** with `invalid_request` before any
//! network call (what to do instead). The table itself is in [`super::fields_table`];
//! docs/providers.md publishes it, and a test (core/tests/provider_fields.rs) keeps the two equal.
//!
//! A rejected field counts only when the request asks for something with it: `n` above 1,
//! `logprobs: true`, `parallel_tool_calls: false`, a non-zero penalty, a non-empty `logit_bias`,
//! `modalities` other than `["text"]`; `null` and the default values always pass. Ignored
//! top-level fields are removed before encoding, so that a provider that refuses unknown fields
//! (Mistral) never sees them.

use super::presets::{Preset, Wire};
use crate::error::{Error, Result};
use serde_json::Value;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Mapped,
    Ignored,
    Rejected,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Mapped => "mapped",
            Disposition::Ignored => "ignored",
            Disposition::Rejected => "rejected",
        }
    }
}

/// One row: a request field (or a kind of content, e.g. `image parts`), what happens to it,
/// and the detail (mapped: to what; ignored: why; rejected: what to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub field: &'static str,
    pub disposition: Disposition,
    pub note: &'static str,
}

/// The table names, in the order docs/providers.md lists them.
pub const PROVIDERS: &[&str] = &[
    "openai",
    "azure_openai",
    "mistral",
    "openai_compatible",
    "anthropic",
    "gemini",
    "cohere",
];

/// The table a provider type uses (`None` for the mock, which takes everything).
pub fn table_name(preset: &Preset) -> Option<&'static str> {
    Some(match preset.wire {
        Wire::Mock => return None,
        Wire::OpenAi if preset.name == "openai" => "openai",
        Wire::OpenAi if preset.name == "mistral" => "mistral",
        Wire::OpenAi => "openai_compatible",
        Wire::AzureOpenAi => "azure_openai",
        Wire::Anthropic => "anthropic",
        Wire::Gemini => "gemini",
        Wire::Cohere => "cohere",
    })
}

/// The rows of one table.
pub fn table(provider: &str) -> Vec<Rule> {
    super::fields_table::rules(provider)
}

fn parts(request: &Value) -> impl Iterator<Item = &Value> {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
}

fn has_part(request: &Value, kind: &str) -> bool {
    parts(request).any(|p| p["type"] == kind)
}

/// Whether the request asks for something with `field` (see the module doc).
pub fn asks_for(request: &Value, field: &str) -> bool {
    let value = request.get(field).unwrap_or(&Value::Null);
    let format = request.pointer("/response_format/type").and_then(Value::as_str);
    match field {
        "n" => value.as_u64().is_some_and(|n| n > 1),
        "logprobs" => value == true,
        "top_logprobs" => value.as_u64().is_some_and(|n| n > 0),
        "parallel_tool_calls" => value == false,
        "frequency_penalty" | "presence_penalty" => value.as_f64().is_some_and(|v| v != 0.0),
        "logit_bias" => value.as_object().is_some_and(|o| !o.is_empty()),
        "modalities" => value.as_array().is_some_and(|m| m.iter().any(|x| x != "text")),
        "tool_choice" => value.is_string(),
        "tool_choice (named)" => request.get("tool_choice").is_some_and(Value::is_object),
        "response_format json_object" => format == Some("json_object"),
        "response_format json_schema" => format == Some("json_schema"),
        "image parts" => has_part(request, "image_url"),
        "file parts" => has_part(request, "file"),
        "audio parts" => has_part(request, "input_audio"),
        "developer role" => request["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "developer")),
        _ => !value.is_null(),
    }
}

/// Applies a provider type's table to a request: the first rejected field asked for fails the
/// call with `invalid_request`; ignored top-level fields are removed. `provider` names the
/// configured provider for the message.
pub fn apply<'a>(preset: &Preset, provider: &str, request: &'a Value) -> Result<Cow<'a, Value>> {
    let Some(name) = table_name(preset) else {
        return Ok(Cow::Borrowed(request));
    };
    let rules = table(name);
    if let Some(rule) = rules
        .iter()
        .find(|r| r.disposition == Disposition::Rejected && asks_for(request, r.field))
    {
        return Err(Error::invalid_request(format!(
            "the request field `{}` is not supported by provider `{provider}` (type `{}`): {}",
            rule.field, preset.name, rule.note
        )));
    }
    let drop: Vec<&str> = rules
        .iter()
        .filter(|r| r.disposition == Disposition::Ignored && request.get(r.field).is_some())
        .map(|r| r.field)
        .collect();
    if drop.is_empty() {
        return Ok(Cow::Borrowed(request));
    }
    let mut owned = request.clone();
    if let Some(map) = owned.as_object_mut() {
        for field in drop {
            map.remove(field);
        }
    }
    Ok(Cow::Owned(owned))
}
