//! The gateway: the public handle every language uses. One config, its providers and prices,
//! and the calls: each runs through the [`pipeline`] on the shared runtime,
//! cancellable by dropping its future or by the call's [`CancelToken`](crate::CancelToken).

use crate::cancel;
use crate::config::Config;
use crate::engine::Engine;
pub use crate::engine::Hook;
use crate::error::Result;
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::pipeline;
use crate::runtime;
use crate::stream::ChatStream;
use serde_json::Value;
use std::sync::Arc;

/// A configured gateway. Cheap to clone; every clone shares providers and state.
#[derive(Clone)]
pub struct Gateway {
    engine: Arc<Engine>,
}

impl Gateway {
    pub fn new(config: Config) -> Result<Gateway> {
        Ok(Gateway {
            engine: Arc::new(Engine::new(config)?),
        })
    }

    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Gateway> {
        runtime::no_panic(|| Gateway::new(Config::from_file(path)?))
    }

    /// From YAML or JSON text.
    pub fn from_text(text: &str) -> Result<Gateway> {
        runtime::no_panic(|| Gateway::new(Config::from_text(text)?))
    }

    pub fn from_value(value: Value) -> Result<Gateway> {
        runtime::no_panic(|| Gateway::new(Config::from_value(value)?))
    }

    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    pub fn prices(&self) -> &crate::pricing::PriceBook {
        &self.engine.prices
    }

    /// A non-streaming chat completion. Dropping the future (or cancelling the options'
    /// token) cancels the upstream request.
    pub async fn chat(&self, request: Value, options: CallOptions) -> Result<Value> {
        self.run(options, |engine, options| async move {
            pipeline::plain::call(&engine, Operation::Chat, request, options).await
        })
        .await
    }

    /// A streaming chat completion; errors before the first content come back here.
    pub async fn chat_stream(&self, request: Value, options: CallOptions) -> Result<ChatStream> {
        self.run(options, |engine, options| {
            pipeline::stream::open(engine, request, options)
        })
        .await
    }

    /// An embeddings call, routed like chat (same strategies, fallbacks and metering).
    pub async fn embeddings(&self, request: Value, options: CallOptions) -> Result<Value> {
        self.run(options, |engine, options| async move {
            pipeline::plain::call(&engine, Operation::Embeddings, request, options).await
        })
        .await
    }

    /// Runs one call on the shared runtime, raced against the options' cancellation token.
    async fn run<T, F, Fut>(&self, options: CallOptions, call: F) -> Result<T>
    where
        F: FnOnce(Arc<Engine>, CallOptions) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let cancel = options.cancel.clone();
        // Boxed: the call's future is large, and nesting it unboxed in the race and the
        // runtime hand-off overflows the compiler's layout queries in callers' crates.
        let call = Box::pin(runtime::spawn(call(self.engine.clone(), options)));
        cancel::race_opt(cancel.as_ref(), call).await
    }

    /// `chat`, blocking the calling thread (which must not be inside an async runtime).
    pub fn chat_blocking(&self, request: Value, options: CallOptions) -> Result<Value> {
        runtime::no_panic(|| runtime::block_on_here(self.chat(request, options)))
    }

    pub fn chat_stream_blocking(&self, request: Value, options: CallOptions) -> Result<ChatStream> {
        runtime::no_panic(|| runtime::block_on(self.chat_stream(request, options)))
    }

    pub fn embeddings_blocking(&self, request: Value, options: CallOptions) -> Result<Value> {
        runtime::no_panic(|| runtime::block_on_here(self.embeddings(request, options)))
    }

    /// Adds a hook run after every call (success or failure) on a background thread, with the
    /// call's event: route, deployment, outcome, usage, cost, latency. Hooks belong to this
    /// gateway only.
    pub fn on_request_end(&self, hook: impl Fn(&Value) + Send + Sync + 'static) {
        self.engine
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(hook));
    }

    /// Sends every queued trace span now (spans are otherwise sent every 200 ms).
    pub async fn flush_telemetry(&self) {
        if let Some(exporter) = self.engine.exporter.clone() {
            let _ = runtime::spawn(async move {
                exporter.flush().await;
                Ok(())
            })
            .await;
        }
    }

    pub fn flush_telemetry_blocking(&self) {
        let _ = runtime::block_on(async {
            self.flush_telemetry().await;
            Ok(())
        });
    }

    /// Waits, up to `limit`, until the spend of finished calls has reached the shared state
    /// store (settling runs in the background); `true` when nothing is left. Blocking: not for
    /// use inside an async runtime. The bindings' `close` calls it, and dropping the last clone
    /// of a gateway does too, so that spend is not lost when a process ends.
    pub fn flush(&self, limit: std::time::Duration) -> bool {
        match &self.engine.policy.redis {
            Some(store) if tokio::runtime::Handle::try_current().is_err() => store.flush(limit),
            _ => true,
        }
    }

    /// What `sluicegate validate` warns about: a config that loads but may not do what its
    /// author expects. Every deployment without a price while a USD budget exists (a typo in a
    /// model name would otherwise make its calls free for the budget).
    pub fn warnings(&self) -> Vec<String> {
        let config = &self.engine.config;
        if config.policies.budgets.is_empty() {
            return Vec::new();
        }
        config
            .deployments
            .iter()
            .filter(|(_, d)| self.engine.prices.get(&d.model).is_none())
            .map(|(name, d)| {
                format!(
                    "deployments.{name}: model `{}` has no price, so budgets cannot count its cost; add it under pricing.models (or pricing.file). Under a budget its calls are refused unless the budget sets on_unpriced: allow or {{estimate_with: MODEL}}",
                    d.model
                )
            })
            .collect()
    }

    /// Which deployment would serve `model` for a call with these options, and why.
    /// `prompt_tokens` is the prompt size to plan for; `None` plans for
    /// [`routing::explain::DEFAULT_PROMPT_TOKENS`](crate::routing::explain::DEFAULT_PROMPT_TOKENS).
    pub fn explain(&self, model: &str, options: &CallOptions, prompt_tokens: Option<u64>) -> Result<Value> {
        runtime::no_panic(|| {
            crate::routing::explain::explain(
                &self.engine.config,
                &self.engine.prices,
                &self.engine.router,
                model,
                options,
                prompt_tokens,
            )
        })
    }

    /// Usage grouped by dimensions since a time: `{"group_by": ["team", "model"], "since": "2026-11-01" | unix seconds | "1h"}`.
    pub fn usage(&self, query: &Value) -> Result<Value> {
        runtime::no_panic(|| {
            let (group_by, since) = crate::metrics::query::parse(query)?;
            self.engine.meter.report(&group_by, since)
        })
    }

    /// Prometheus text exposition of the gateway's metrics.
    pub fn metrics_text(&self) -> String {
        self.engine.meter.metrics_text()
    }
}
