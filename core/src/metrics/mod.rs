//! Metering: every finished call becomes an [`Event`]; events feed the `usage` rollup (grouped
//! by any dimension, with latency percentiles) and the Prometheus exposition.

mod prometheus;
pub(crate) mod query;
mod usage;

pub use usage::{Rollup, usage_report};

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: f64,
    pub operation: &'static str,
    pub key: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub route: String,
    pub deployment: Option<String>,
    pub provider: Option<String>,
    /// The provider's type for OpenTelemetry (`openai`, `anthropic`, `gcp.gemini`, …).
    pub provider_system: Option<String>,
    pub model: Option<String>,
    /// `ok`, or the error code.
    pub outcome: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub overhead_us: Option<u64>,
}

#[derive(Default)]
pub struct Meter {
    rollup: Mutex<Rollup>,
    prometheus: Mutex<prometheus::Registry>,
}

impl Meter {
    pub fn observe(&self, event: Event) {
        self.prometheus
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(&event);
        self.rollup.lock().unwrap_or_else(|e| e.into_inner()).add(&event);
    }

    pub fn report(&self, group_by: &[String], since: f64) -> crate::Result<serde_json::Value> {
        self.rollup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .report(group_by, since)
    }

    pub fn metrics_text(&self) -> String {
        self.prometheus.lock().unwrap_or_else(|e| e.into_inner()).render()
    }
}

/// OpenTelemetry's `gen_ai.provider.name` for a provider type.
pub fn provider_system(type_name: &str) -> &'static str {
    match type_name {
        "openai" => "openai",
        "azure_openai" => "azure.ai.openai",
        "anthropic" => "anthropic",
        "gemini" => "gcp.gemini",
        "cohere" => "cohere",
        "mistral" => "mistral_ai",
        "groq" => "groq",
        "deepseek" => "deepseek",
        "xai" => "x_ai",
        "mock" => "sluicegate.mock",
        _ => "_OTHER",
    }
}
