//! Model prices and the cost of a call.
//!
//! Precedence, highest first: `pricing.models` in config, then `pricing.file` (LiteLLM's
//! `model_prices_and_context_window.json` format), then the built-in catalog below. Prices are
//! never fetched at run time. An unknown model costs `null`, never a guess.

use crate::config::PricingConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::usage::Usage;
use serde_json::Value;
use std::collections::HashMap;

/// The date the built-in catalog was taken from public price lists.
pub const CATALOG_DATE: &str = "2026-11-01";

/// USD per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
    /// Cache writes with the default (5-minute) lifetime.
    pub cache_write: Option<f64>,
    /// Cache writes kept for an hour (Anthropic: 2× input, against 1.25× for 5 minutes).
    pub cache_write_1h: Option<f64>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

const fn p(input_mtok: f64, output_mtok: f64, cached_mtok: f64, max_in: u64, max_out: u64) -> Price {
    Price {
        input: input_mtok / 1e6,
        output: output_mtok / 1e6,
        cached_input: if cached_mtok > 0.0 {
            Some(cached_mtok / 1e6)
        } else {
            None
        },
        cache_write: None,
        cache_write_1h: None,
        max_input_tokens: Some(max_in),
        max_output_tokens: Some(max_out),
    }
}

/// An Anthropic price: 5-minute cache writes at `write_mtok` (1.25× input on current models),
/// 1-hour writes at 2× input, as Anthropic's prompt-caching price list gives them.
const fn with_write(price: Price, write_mtok: f64) -> Price {
    Price {
        cache_write: Some(write_mtok / 1e6),
        cache_write_1h: Some(price.input * 2.0),
        ..price
    }
}

/// Built-in prices in USD per million tokens: (model, price).
static CATALOG: &[(&str, Price)] = &[
    // OpenAI
    ("gpt-4o", p(2.5, 10.0, 1.25, 128_000, 16_384)),
    ("gpt-4o-mini", p(0.15, 0.6, 0.075, 128_000, 16_384)),
    ("gpt-4.1", p(2.0, 8.0, 0.5, 1_047_576, 32_768)),
    ("gpt-4.1-mini", p(0.4, 1.6, 0.1, 1_047_576, 32_768)),
    ("gpt-4.1-nano", p(0.1, 0.4, 0.025, 1_047_576, 32_768)),
    ("o3", p(2.0, 8.0, 0.5, 200_000, 100_000)),
    ("o4-mini", p(1.1, 4.4, 0.275, 200_000, 100_000)),
    ("gpt-5", p(1.25, 10.0, 0.125, 272_000, 128_000)),
    ("gpt-5-mini", p(0.25, 2.0, 0.025, 272_000, 128_000)),
    ("gpt-5-nano", p(0.05, 0.4, 0.005, 272_000, 128_000)),
    // Anthropic
    (
        "claude-sonnet-4-5",
        with_write(p(3.0, 15.0, 0.3, 200_000, 64_000), 3.75),
    ),
    (
        "claude-sonnet-4-20250514",
        with_write(p(3.0, 15.0, 0.3, 1_000_000, 64_000), 3.75),
    ),
    ("claude-haiku-4-5", with_write(p(1.0, 5.0, 0.1, 200_000, 64_000), 1.25)),
    (
        "claude-opus-4-1",
        with_write(p(15.0, 75.0, 1.5, 200_000, 32_000), 18.75),
    ),
    (
        "claude-3-haiku-20240307",
        with_write(p(0.25, 1.25, 0.03, 200_000, 4_096), 0.3),
    ),
    // Google
    ("gemini-2.5-flash", p(0.3, 2.5, 0.03, 1_048_576, 65_535)),
    ("gemini-2.5-pro", p(1.25, 10.0, 0.125, 1_048_576, 65_536)),
    ("gemini-2.0-flash", p(0.1, 0.4, 0.025, 1_048_576, 8_192)),
    ("gemini-3.1-pro-preview", p(2.0, 12.0, 0.2, 1_048_576, 65_536)),
    // Cohere
    ("command-a-03-2025", p(2.5, 10.0, 0.0, 256_000, 8_000)),
    ("command-r", p(0.15, 0.6, 0.0, 128_000, 4_096)),
    // Mistral
    ("mistral-large-latest", p(0.5, 1.5, 0.0, 262_144, 262_144)),
    ("mistral-large-2411", p(2.0, 6.0, 0.0, 128_000, 128_000)),
    ("mistral-small-latest", p(0.1, 0.3, 0.0, 128_000, 128_000)),
    // OpenAI, more
    ("gpt-4o-2024-08-06", p(2.5, 10.0, 1.25, 128_000, 16_384)),
    ("gpt-4o-2024-11-20", p(2.5, 10.0, 1.25, 128_000, 16_384)),
    ("gpt-4o-mini-2024-07-18", p(0.15, 0.6, 0.075, 128_000, 16_384)),
    ("chatgpt-4o-latest", p(5.0, 15.0, 0.0, 128_000, 16_384)),
    ("gpt-4-turbo", p(10.0, 30.0, 0.0, 128_000, 4_096)),
    ("gpt-4", p(30.0, 60.0, 0.0, 8_192, 8_192)),
    ("gpt-3.5-turbo", p(0.5, 1.5, 0.0, 16_385, 4_096)),
    ("o1", p(15.0, 60.0, 7.5, 200_000, 100_000)),
    ("o1-mini", p(1.1, 4.4, 0.55, 128_000, 65_536)),
    ("o3-mini", p(1.1, 4.4, 0.55, 200_000, 100_000)),
    ("o3-pro", p(20.0, 80.0, 0.0, 200_000, 100_000)),
    ("gpt-5-chat-latest", p(1.25, 10.0, 0.125, 128_000, 16_384)),
    ("text-embedding-3-small", p(0.02, 0.0, 0.0, 8_191, 0)),
    ("text-embedding-3-large", p(0.13, 0.0, 0.0, 8_191, 0)),
    ("text-embedding-ada-002", p(0.1, 0.0, 0.0, 8_191, 0)),
    // Anthropic, more
    (
        "claude-opus-4-20250514",
        with_write(p(15.0, 75.0, 1.5, 200_000, 32_000), 18.75),
    ),
    (
        "claude-opus-4-1-20250805",
        with_write(p(15.0, 75.0, 1.5, 200_000, 32_000), 18.75),
    ),
    (
        "claude-sonnet-4-5-20250929",
        with_write(p(3.0, 15.0, 0.3, 200_000, 64_000), 3.75),
    ),
    (
        "claude-haiku-4-5-20251001",
        with_write(p(1.0, 5.0, 0.1, 200_000, 64_000), 1.25),
    ),
    (
        "claude-3-7-sonnet-20250219",
        with_write(p(3.0, 15.0, 0.3, 200_000, 64_000), 3.75),
    ),
    (
        "claude-3-5-haiku-20241022",
        with_write(p(0.8, 4.0, 0.08, 200_000, 8_192), 1.0),
    ),
    (
        "claude-3-opus-20240229",
        with_write(p(15.0, 75.0, 1.5, 200_000, 4_096), 18.75),
    ),
    // Google, more
    ("gemini-2.5-flash-lite", p(0.1, 0.4, 0.01, 1_048_576, 65_535)),
    ("gemini-2.0-flash-lite", p(0.075, 0.3, 0.0, 1_048_576, 8_192)),
    ("gemini-1.5-pro", p(1.25, 5.0, 0.0, 2_097_152, 8_192)),
    ("gemini-1.5-flash", p(0.075, 0.3, 0.0, 1_048_576, 8_192)),
    ("gemini-3-pro-preview", p(2.0, 12.0, 0.2, 1_048_576, 65_536)),
    ("gemini-embedding-001", p(0.15, 0.0, 0.0, 2_048, 0)),
    // Cohere, more
    ("command-r-plus", p(2.5, 10.0, 0.0, 128_000, 4_096)),
    ("command-r7b-12-2024", p(0.0375, 0.15, 0.0, 128_000, 4_096)),
    ("embed-v4.0", p(0.12, 0.0, 0.0, 128_000, 0)),
    ("embed-english-v3.0", p(0.1, 0.0, 0.0, 512, 0)),
    // Mistral, more
    ("mistral-medium-latest", p(0.4, 2.0, 0.0, 128_000, 128_000)),
    ("codestral-latest", p(0.3, 0.9, 0.0, 256_000, 256_000)),
    ("open-mistral-nemo", p(0.15, 0.15, 0.0, 128_000, 128_000)),
    ("pixtral-large-latest", p(2.0, 6.0, 0.0, 128_000, 128_000)),
    ("ministral-8b-latest", p(0.1, 0.1, 0.0, 128_000, 128_000)),
    ("mistral-embed", p(0.1, 0.0, 0.0, 8_192, 0)),
    // DeepSeek, xAI, Groq-hosted open models
    ("deepseek-chat", p(0.27, 1.1, 0.07, 64_000, 8_192)),
    ("deepseek-reasoner", p(0.55, 2.19, 0.14, 64_000, 32_768)),
    ("grok-4", p(3.0, 15.0, 0.75, 256_000, 256_000)),
    ("grok-3", p(3.0, 15.0, 0.0, 131_072, 131_072)),
    ("grok-3-mini", p(0.3, 0.5, 0.0, 131_072, 131_072)),
    ("llama-3.3-70b-versatile", p(0.59, 0.79, 0.0, 128_000, 32_768)),
    ("llama-3.1-8b-instant", p(0.05, 0.08, 0.0, 128_000, 8_192)),
];

/// The built-in catalog entry for a model (exact name, then without a `provider/` prefix).
pub fn catalog_price(model: &str) -> Option<&'static Price> {
    let find = |name: &str| CATALOG.iter().find(|(n, _)| *n == name).map(|(_, p)| p);
    find(model).or_else(|| model.split_once('/').and_then(|(_, bare)| find(bare)))
}

/// A call's cost in USD by part; `reasoning` is the share of `output` spent on reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CostBreakdown {
    pub input: f64,
    pub cached_input: f64,
    pub cache_write: f64,
    pub output: f64,
    pub reasoning: f64,
    pub total: f64,
}

impl CostBreakdown {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"input": self.input, "cached_input": self.cached_input, "cache_write": self.cache_write,
                           "output": self.output, "reasoning": self.reasoning, "total": self.total})
    }
}

/// The prices a gateway uses: the catalog with the file and config overrides applied.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    prices: HashMap<String, Price>,
}

impl PriceBook {
    pub fn builtin() -> PriceBook {
        PriceBook {
            prices: CATALOG
                .iter()
                .map(|(name, price)| ((*name).to_owned(), *price))
                .collect(),
        }
    }

    /// Builds the book for a config; `file` is already resolved against the config's folder.
    pub fn from_config(pricing: &PricingConfig, file: Option<&std::path::Path>) -> Result<PriceBook> {
        let mut book = PriceBook::builtin();
        if let Some(path) = file {
            book.load_litellm_file(path)?;
        }
        for (model, o) in &pricing.models {
            let base = book.prices.get(model).copied();
            book.prices.insert(
                model.clone(),
                Price {
                    input: o.input_per_mtok / 1e6,
                    output: o.output_per_mtok / 1e6,
                    cached_input: o.cached_input_per_mtok.map(|c| c / 1e6),
                    cache_write: None,
                    cache_write_1h: None,
                    max_input_tokens: base.and_then(|b| b.max_input_tokens),
                    max_output_tokens: base.and_then(|b| b.max_output_tokens),
                },
            );
        }
        Ok(book)
    }

    fn load_litellm_file(&mut self, path: &std::path::Path) -> Result<()> {
        let bad = |why: String| {
            let mut e = Error::new(ErrorKind::InvalidConfig, format!("invalid config: pricing.file: {why}"));
            e.problems = vec![format!("pricing.file: {why}")];
            e
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read `{}`: {e}; check the path", path.display())))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("`{}` is not JSON: {e}", path.display())))?;
        let map = value
            .as_object()
            .ok_or_else(|| bad("expected an object keyed by model name".into()))?;
        for (model, entry) in map {
            let num = |k: &str| entry.get(k).and_then(Value::as_f64);
            let whole = |k: &str| entry.get(k).and_then(Value::as_u64);
            let (Some(input), Some(output)) = (num("input_cost_per_token"), num("output_cost_per_token")) else {
                continue;
            };
            self.prices.insert(
                model.clone(),
                Price {
                    input,
                    output,
                    cached_input: num("cache_read_input_token_cost"),
                    cache_write: num("cache_creation_input_token_cost"),
                    cache_write_1h: num("cache_creation_input_token_cost_above_1hr"),
                    max_input_tokens: whole("max_input_tokens"),
                    max_output_tokens: whole("max_output_tokens").or_else(|| whole("max_tokens")),
                },
            );
        }
        Ok(())
    }

    /// Looks a model up by its exact name, then without a `provider/` prefix.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.prices
            .get(model)
            .or_else(|| model.split_once('/').and_then(|(_, bare)| self.prices.get(bare)))
    }

    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The cost of a call in USD, or `None` when the model has no price.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.breakdown(model, usage).map(|b| b.total)
    }

    /// The cost split by what was paid for. Cached and written tokens are counted inside input
    /// tokens and reasoning tokens inside output tokens (OpenAI's convention, which usage follows);
    /// `cache_write` prices 1-hour writes at the 1-hour rate and the rest at the 5-minute rate.
    pub fn breakdown(&self, model: &str, usage: &Usage) -> Option<CostBreakdown> {
        self.get(model).map(|price| price.breakdown(usage))
    }
}

impl Price {
    /// What `usage` costs at this price (see [`PriceBook::breakdown`]).
    pub fn breakdown(&self, usage: &Usage) -> CostBreakdown {
        let price = self;
        let round = |x: f64| (x * 1e12).round() / 1e12;
        let cached = usage.cached_tokens.min(usage.input_tokens);
        let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
        let hour = usage.cache_write_1h_tokens.min(written);
        let fresh = usage.input_tokens - cached - written;
        let input = round(fresh as f64 * price.input);
        let cached_input = round(cached as f64 * price.cached_input.unwrap_or(price.input));
        // Without a 1-hour price the hour is billed as a 5-minute write: never below that.
        let write_5m = price.cache_write.unwrap_or(price.input);
        let write_1h = price.cache_write_1h.unwrap_or(write_5m);
        let cache_write = round((written - hour) as f64 * write_5m + hour as f64 * write_1h);
        let output = round(usage.output_tokens as f64 * price.output);
        let reasoning = round(usage.reasoning_tokens.min(usage.output_tokens) as f64 * price.output);
        CostBreakdown {
            input,
            cached_input,
            cache_write,
            output,
            reasoning,
            total: round(input + cached_input + cache_write + output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_at_least_sixty_models() {
        assert!(PriceBook::builtin().len() >= 60);
    }

    #[test]
    fn cost_counts_cached_tokens_once() {
        let book = PriceBook::builtin();
        let usage = Usage {
            input_tokens: 1000,
            output_tokens: 100,
            cached_tokens: 400,
            ..Usage::default()
        };
        let cost = book.cost("gpt-4o", &usage).unwrap();
        let expected = 600.0 * 2.5e-6 + 400.0 * 1.25e-6 + 100.0 * 1e-5;
        assert!((cost - expected).abs() < 1e-12);
        assert_eq!(book.cost("no-such-model", &usage), None);
        assert!(book.cost("openai/gpt-4o", &usage).is_some());
    }

    #[test]
    fn anthropic_cache_writes_cost_by_lifetime() {
        // Anthropic's prompt-caching prices: 5-minute writes 1.25× input, 1-hour writes 2×,
        // reads 0.1× (claude-sonnet-4-5: $3 input, $3.75, $6, $0.30 per million).
        let book = PriceBook::builtin();
        let usage = Usage {
            input_tokens: 10_000,
            cached_tokens: 5_000,
            cache_write_tokens: 3_000,
            cache_write_1h_tokens: 2_000,
            ..Usage::default()
        };
        let b = book.breakdown("claude-sonnet-4-5", &usage).unwrap();
        assert!((b.input - 2_000.0 * 3e-6).abs() < 1e-12);
        assert!((b.cached_input - 5_000.0 * 0.3e-6).abs() < 1e-12);
        assert!(
            (b.cache_write - (1_000.0 * 3.75e-6 + 2_000.0 * 6e-6)).abs() < 1e-12,
            "{b:?}"
        );
    }
}
