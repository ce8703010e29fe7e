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
    pub cache_write: Option<f64>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

const fn p(input_mtok: f64, output_mtok: f64, cached_mtok: f64, max_in: u64, max_out: u64) -> Price {
    Price {
        input: input_mtok / 1e6,
        output: output_mtok / 1e6,
        cached_input: if cached_mtok > 0.0 { Some(cached_mtok / 1e6) } else { None },
        cache_write: None,
        max_input_tokens: Some(max_in),
        max_output_tokens: Some(max_out),
    }
}

const fn with_write(price: Price, write_mtok: f64) -> Price {
    Price { cache_write: Some(write_mtok / 1e6), ..price }
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
    ("claude-sonnet-4-5", with_write(p(3.0, 15.0, 0.3, 200_000, 64_000), 3.75)),
    ("claude-sonnet-4-20250514", with_write(p(3.0, 15.0, 0.3, 1_000_000, 64_000), 3.75)),
    ("claude-haiku-4-5", with_write(p(1.0, 5.0, 0.1, 200_000, 64_000), 1.25)),
    ("claude-opus-4-1", with_write(p(15.0, 75.0, 1.5, 200_000, 32_000), 18.75)),
    ("claude-3-haiku-20240307", with_write(p(0.25, 1.25, 0.03, 200_000, 4_096), 0.3)),
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
];

/// The built-in catalog entry for a model (exact name, then without a `provider/` prefix).
pub fn catalog_price(model: &str) -> Option<&'static Price> {
    let find = |name: &str| CATALOG.iter().find(|(n, _)| *n == name).map(|(_, p)| p);
    find(model).or_else(|| model.split_once('/').and_then(|(_, bare)| find(bare)))
}

/// The prices a gateway uses: the catalog with the file and config overrides applied.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    prices: HashMap<String, Price>,
}

impl PriceBook {
    pub fn builtin() -> PriceBook {
        PriceBook { prices: CATALOG.iter().map(|(name, price)| ((*name).to_owned(), *price)).collect() }
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
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("`{}` is not JSON: {e}", path.display())))?;
        let map = value.as_object().ok_or_else(|| bad("expected an object keyed by model name".into()))?;
        for (model, entry) in map {
            let num = |k: &str| entry.get(k).and_then(Value::as_f64);
            let whole = |k: &str| entry.get(k).and_then(Value::as_u64);
            let (Some(input), Some(output)) = (num("input_cost_per_token"), num("output_cost_per_token")) else { continue };
            self.prices.insert(
                model.clone(),
                Price {
                    input,
                    output,
                    cached_input: num("cache_read_input_token_cost"),
                    cache_write: num("cache_creation_input_token_cost"),
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
        let price = self.get(model)?;
        // Cached tokens are counted inside input tokens (OpenAI's convention, which usage follows).
        let cached = usage.cached_tokens.min(usage.input_tokens);
        let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
        let fresh = usage.input_tokens - cached - written;
        let cost = fresh as f64 * price.input
            + cached as f64 * price.cached_input.unwrap_or(price.input)
            + written as f64 * price.cache_write.unwrap_or(price.input)
            + usage.output_tokens as f64 * price.output;
        Some((cost * 1e12).round() / 1e12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_at_least_twenty_models() {
        assert!(PriceBook::builtin().len() >= 20);
    }

    #[test]
    fn cost_counts_cached_tokens_once() {
        let book = PriceBook::builtin();
        let usage = Usage { input_tokens: 1000, output_tokens: 100, cached_tokens: 400, ..Usage::default() };
        let cost = book.cost("gpt-4o", &usage).unwrap();
        let expected = 600.0 * 2.5e-6 + 400.0 * 1.25e-6 + 100.0 * 1e-5;
        assert!((cost - expected).abs() < 1e-12);
        assert_eq!(book.cost("no-such-model", &usage), None);
        assert!(book.cost("openai/gpt-4o", &usage).is_some());
    }
}
