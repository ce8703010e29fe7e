//! What an OpenAI-compatible provider accepts of an OpenAI Chat Completions request.
//!
//! Servers that speak "the OpenAI format" differ in the details, and most answer a field they
//! do not know with a 4xx (Mistral: 422 "Extra inputs are not permitted"; Azure before
//! `2024-10-21`: 400 on `stream_options`). The adapter encodes each request from this record
//! (see `openai::OpenAi::encode`), and the per-provider field table can consult it.

use super::presets::Wire;
use crate::config::ProviderConfig;

/// The name the output-token limit is sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    /// As the caller sent it: `max_completion_tokens` or the older `max_tokens`.
    AsGiven,
    /// Only `max_tokens` exists: `max_completion_tokens` is sent as `max_tokens`.
    MaxTokens,
}

/// One provider's record. Fields are public so that documentation tables can read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `stream_options` is accepted, so streams can ask for the usage chunk. Without it, usage
    /// is recorded when the provider sends it anyway (Mistral: in the last chunk), else estimated.
    pub stream_options: bool,
    /// Where `max_completion_tokens` goes.
    pub max_tokens: MaxTokensField,
    /// The field `seed` is sent as (Mistral calls it `random_seed`).
    pub seed_field: &'static str,
    /// `parallel_tool_calls` is accepted.
    pub parallel_tool_calls: bool,
    /// `n` above 1 is honoured.
    pub n: bool,
    /// The `response_format.type` values accepted.
    pub response_formats: &'static [&'static str],
    /// `image_url` content parts are accepted.
    pub images: bool,
    /// `strict: true` on tool functions and `json_schema` is accepted.
    pub strict_schemas: bool,
}

const ALL_FORMATS: &[&str] = &["text", "json_object", "json_schema"];

/// OpenAI itself, and the default for OpenAI-compatible servers.
pub const OPENAI: Capabilities = Capabilities {
    stream_options: true,
    max_tokens: MaxTokensField::AsGiven,
    seed_field: "seed",
    parallel_tool_calls: true,
    n: true,
    response_formats: ALL_FORMATS,
    images: true,
    strict_schemas: true,
};

/// Mistral (docs.mistral.ai API reference; mistralai/client-python `ChatCompletionRequest`):
/// no `stream_options`, no `max_completion_tokens`, `random_seed` for `seed`.
pub const MISTRAL: Capabilities = Capabilities {
    stream_options: false,
    max_tokens: MaxTokensField::MaxTokens,
    seed_field: "random_seed",
    ..OPENAI
};

/// Azure OpenAI with a dated `api_version` whose request schema lacks `stream_options` (before
/// `2024-10-21`) and `max_completion_tokens` (e.g. `2024-06-01`).
pub const AZURE_BEFORE_2024_10_21: Capabilities = Capabilities {
    stream_options: false,
    max_tokens: MaxTokensField::MaxTokens,
    ..OPENAI
};

/// The first dated Azure `api_version` that accepts `stream_options`.
pub const AZURE_STREAM_OPTIONS_SINCE: &str = "2024-10-21";

/// The record for a configured provider (an OpenAI-wire preset or Azure with its version).
pub fn of(config: &ProviderConfig) -> Capabilities {
    match (config.preset.wire, config.preset.name) {
        (Wire::AzureOpenAi, _) => azure(config.api_version.as_deref()),
        (_, "mistral") => MISTRAL,
        _ => OPENAI,
    }
}

/// Azure by `api_version` (Azure/azure-rest-api-specs, `inference/{stable,preview}/<version>`):
/// `None` is the `/openai/v1` API, which follows OpenAI's. Dated versions
/// (`YYYY-MM-DD[-preview]`) compare as text. `stream_options` exists from `2024-10-21`;
/// `max_completion_tokens` is absent from the GA versions up to `2024-10-21` (its schema has
/// only `max_tokens`) and from previews before `2024-09-01-preview` (the reasoning-model preview).
pub fn azure(api_version: Option<&str>) -> Capabilities {
    let Some(v) = api_version else {
        return OPENAI;
    };
    let preview = v.ends_with("-preview");
    let old_limit_name = if preview {
        v < "2024-09-01-preview"
    } else {
        v <= "2024-10-21"
    };
    Capabilities {
        stream_options: v >= AZURE_STREAM_OPTIONS_SINCE,
        max_tokens: if old_limit_name {
            MaxTokensField::MaxTokens
        } else {
            MaxTokensField::AsGiven
        },
        ..OPENAI
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_max_completion_tokens_by_version() {
        let renamed = |v| azure(Some(v)).max_tokens == MaxTokensField::MaxTokens;
        assert!(renamed("2024-06-01"));
        assert!(renamed("2024-10-21"));
        assert!(renamed("2024-08-01-preview"));
        assert!(!renamed("2024-09-01-preview"));
        assert!(!renamed("2025-04-01-preview"));
        assert_eq!(azure(None).max_tokens, MaxTokensField::AsGiven);
        assert_eq!(azure(Some("2024-06-01")), AZURE_BEFORE_2024_10_21);
    }

    #[test]
    fn azure_versions_split_at_2024_10_21() {
        assert!(!azure(Some("2024-06-01")).stream_options);
        assert!(!azure(Some("2024-09-01-preview")).stream_options);
        assert!(azure(Some("2024-10-21")).stream_options);
        assert!(azure(Some("2025-04-01-preview")).stream_options);
        assert!(azure(None).stream_options);
    }
}
