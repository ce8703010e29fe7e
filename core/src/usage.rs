//! Token usage in the gateway's own shape, read from OpenAI-format `usage` objects.

use crate::json_path::At;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Completion tokens, reasoning ones included.
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// Prompt tokens written to the provider's cache (Anthropic bills them at a premium).
    pub cache_write_tokens: u64,
    /// The part of `cache_write_tokens` cached for an hour (Anthropic's 1-hour TTL, billed
    /// higher than the default 5 minutes).
    pub cache_write_1h_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Reads an OpenAI `usage` object; `None` when there is none.
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        if !usage.is_object() {
            return None;
        }
        let n = |ptr: &str| usage.at(ptr).and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            input_tokens: n("/prompt_tokens"),
            output_tokens: n("/completion_tokens"),
            cached_tokens: n("/prompt_tokens_details/cached_tokens"),
            cache_write_tokens: n("/prompt_tokens_details/cache_write_tokens"),
            cache_write_1h_tokens: n("/prompt_tokens_details/cache_write_1h_tokens"),
            reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        })
    }
}
