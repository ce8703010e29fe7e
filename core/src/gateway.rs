//! The gateway: one config, its providers and prices, and the call path every language uses.
//!
//! A call is checked, planned onto a route's candidates (see [`crate::routing`]), tried
//! candidate by candidate until one answers or a non-retryable error stops it, then metered.

use crate::cache::{CacheStore, MemoryCache};
use crate::call::Prepared;
use crate::cancel;
use crate::config::{Config, DeploymentConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::meter::{CallRecord, new_request_id};
use crate::metrics::Meter;
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::policy::audit::AuditLog;
use crate::policy::{Charge, Policy, Ticket};
use crate::pricing::PriceBook;
use crate::providers::{Limits, Provider};
use crate::request;
use crate::routing::{Dispatcher, Plan, Router};
use crate::runtime;
use crate::secrets::Scrubber;
use crate::stream::{self, ChatStream};
use crate::telemetry::Exporter;
use crate::usage::Usage;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// A configured gateway. Cheap to clone; every clone shares providers and state.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub providers: HashMap<String, Arc<Provider>>,
    pub prices: PriceBook,
    pub router: Router,
    pub policy: Policy,
    pub audit: Option<AuditLog>,
    pub meter: Meter,
    pub hooks: std::sync::RwLock<Vec<Hook>>,
    pub exporter: Option<Arc<Exporter>>,
    pub cache: CacheStore,
}

/// A host callback run after every call with the finished call's event (JSON).
pub type Hook = Arc<dyn Fn(&Value) + Send + Sync>;

impl Gateway {
    pub fn new(config: Config) -> Result<Gateway> {
        let mut scrubber = Scrubber::new();
        for provider in config.providers.values() {
            if let Some(key) = &provider.api_key {
                scrubber.add(key);
            }
            for (_, value) in &provider.headers {
                scrubber.add(value);
            }
        }
        let providers = config
            .providers
            .iter()
            .map(|(name, p)| (name.clone(), Arc::new(Provider::new(p, scrubber.clone()))))
            .collect();
        let file = config.pricing.file.as_ref().map(|f| config.resolve_path(f));
        let prices = PriceBook::from_config(&config.pricing, file.as_deref())?;
        let router = Router::new(&config);
        let exporter = config.otlp.as_ref().map(|o| Arc::new(Exporter::new(o)));
        let policy = Policy::new(&config, &prices)?;
        let cache = match (&policy.redis, config.cache.redis) {
            (Some(store), true) => CacheStore::Redis(store.clone()),
            _ => CacheStore::Memory(MemoryCache::new(config.cache.max_entries)),
        };
        let audit = match &config.audit {
            Some(a) => Some(AuditLog::open(a, config.resolve_path(&a.path))?),
            None => None,
        };
        Ok(Gateway {
            inner: Arc::new(Inner {
                config,
                providers,
                prices,
                router,
                policy,
                audit,
                meter: Meter::default(),
                hooks: Default::default(),
                exporter,
                cache,
            }),
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
        &self.inner.config
    }

    pub fn prices(&self) -> &PriceBook {
        &self.inner.prices
    }

    /// A non-streaming chat completion. Dropping the future cancels the upstream request.
    pub async fn chat(&self, request: Value, options: CallOptions) -> Result<Value> {
        let this = self.clone();
        let cancel = options.cancel.clone();
        cancel::race_opt(
            cancel.as_ref(),
            Box::pin(runtime::spawn(async move { this.run_chat(request, options).await })),
        )
        .await
    }

    /// A streaming chat completion; errors before the first content come back here.
    pub async fn chat_stream(&self, request: Value, options: CallOptions) -> Result<ChatStream> {
        let this = self.clone();
        let cancel = options.cancel.clone();
        cancel::race_opt(
            cancel.as_ref(),
            Box::pin(runtime::spawn(
                async move { stream::open(this, request, options).await },
            )),
        )
        .await
    }

    /// `chat`, blocking the calling thread (which must not be inside an async runtime).
    pub fn chat_blocking(&self, request: Value, options: CallOptions) -> Result<Value> {
        runtime::no_panic(|| runtime::block_on_here(self.chat(request, options)))
    }

    pub fn chat_stream_blocking(&self, request: Value, options: CallOptions) -> Result<ChatStream> {
        runtime::no_panic(|| runtime::block_on(self.chat_stream(request, options)))
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Adds a hook run after every call (success or failure) on a background thread, with the
    /// call's event: route, deployment, outcome, usage, cost, latency. Hooks belong to this
    /// gateway only.
    pub fn on_request_end(&self, hook: impl Fn(&Value) + Send + Sync + 'static) {
        self.inner
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(hook));
    }

    pub(crate) fn hooks(&self) -> Vec<Hook> {
        self.inner.hooks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends every queued trace span now (spans are otherwise sent every 200 ms).
    pub async fn flush_telemetry(&self) {
        if let Some(exporter) = self.inner.exporter.clone() {
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

    pub(crate) fn exporter(&self) -> Option<&Arc<Exporter>> {
        self.inner.exporter.as_ref()
    }

    /// Tells every process on the shared store that a deployment's breaker just opened.
    pub(crate) fn breaker_opened(&self, deployment: &str, cooldown: Option<std::time::Duration>) {
        if let (Some(cooldown), Some(store)) = (cooldown, &self.inner.policy.redis) {
            store.publish_breaker(deployment, cooldown);
        }
    }

    pub(crate) fn router(&self) -> &crate::routing::Router {
        &self.inner.router
    }

    pub(crate) fn response_cache(&self) -> &CacheStore {
        &self.inner.cache
    }

    pub(crate) fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    pub(crate) fn audit_log(&self) -> Option<&AuditLog> {
        self.inner.audit.as_ref()
    }

    pub(crate) fn provider(&self, deployment: &DeploymentConfig) -> Result<Arc<Provider>> {
        self.inner
            .providers
            .get(&deployment.provider)
            .cloned()
            .ok_or_else(|| Error::internal(format!("deployment `{}` names a missing provider", deployment.name)))
    }

    pub(crate) fn settle(&self, record: &mut CallRecord, deployment: &DeploymentConfig, usage: Option<Usage>) {
        record.deployment = Some(deployment.name.clone());
        record.provider = Some(deployment.provider.clone());
        record.model = Some(deployment.model.clone());
        record.usage = usage;
        record.cost = usage.and_then(|u| self.inner.prices.breakdown(&deployment.model, &u));
        record.cost_usd = record.cost.map(|c| c.total);
    }

    /// What an attempt on `deployment` costs if it is given up while the provider works on it:
    /// its prompt.
    pub(crate) fn prompt_charge(&self, deployment: &DeploymentConfig, prompt_tokens: u64) -> Charge {
        let usage = Usage {
            input_tokens: prompt_tokens,
            ..Usage::default()
        };
        Charge::of(usage, self.inner.prices.cost(&deployment.model, &usage))
    }

    /// Waits, up to `limit`, until the spend of finished calls has reached the shared state
    /// store (settling runs in the background); `true` when nothing is left. Blocking: not for
    /// use inside an async runtime. The bindings' `close` calls it, and dropping the last clone
    /// of a gateway does too, so that spend is not lost when a process ends.
    pub fn flush(&self, limit: std::time::Duration) -> bool {
        match &self.inner.policy.redis {
            Some(store) if tokio::runtime::Handle::try_current().is_err() => store.flush(limit),
            _ => true,
        }
    }

    /// What `sluicegate validate` warns about: a config that loads but may not do what its
    /// author expects. Every deployment without a price while a USD budget exists (a typo in a
    /// model name would otherwise make its calls free for the budget).
    pub fn warnings(&self) -> Vec<String> {
        let config = &self.inner.config;
        if config.policies.budgets.is_empty() {
            return Vec::new();
        }
        config
            .deployments
            .iter()
            .filter(|(_, d)| self.inner.prices.get(&d.model).is_none())
            .map(|(name, d)| {
                format!(
                    "deployments.{name}: model `{}` has no price, so budgets cannot count its cost; add it under pricing.models (or pricing.file). Under a budget its calls are refused unless the budget sets on_unpriced: allow or {{estimate_with: MODEL}}",
                    d.model
                )
            })
            .collect()
    }

    /// An embeddings call, routed like chat (same strategies, fallbacks and metering).
    pub async fn embeddings(&self, request: Value, options: CallOptions) -> Result<Value> {
        let this = self.clone();
        let cancel = options.cancel.clone();
        cancel::race_opt(
            cancel.as_ref(),
            Box::pin(runtime::spawn(
                async move { this.run_embeddings(request, options).await },
            )),
        )
        .await
    }

    pub fn embeddings_blocking(&self, request: Value, options: CallOptions) -> Result<Value> {
        runtime::no_panic(|| runtime::block_on_here(self.embeddings(request, options)))
    }

    async fn run_embeddings(&self, request: Value, options: CallOptions) -> Result<Value> {
        let request_id = options.request_id.clone().unwrap_or_else(new_request_id);
        let prepared = request::check_embeddings(&request).map_err(|e| e.with_request_id(&request_id));
        let prepared = match prepared {
            Ok(model) => self.prepare(&request, &options, &model, request_id.clone()).await,
            Err(e) => Err(e),
        };
        let p = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.failed_early(Operation::Embeddings, &request, &options, &e);
                return Err(e);
            }
        };
        self.finish(Operation::Embeddings, p, None, |p, d, u, l| async move {
            p.embeddings(&d, &u, &l).await
        })
        .await
    }

    /// Runs a prepared non-streaming call: dispatch, settle, guard the output, audit.
    async fn finish<F, Fut>(
        &self,
        kind: Operation,
        p: Prepared,
        cache: Option<(String, std::time::Duration)>,
        call: F,
    ) -> Result<Value>
    where
        F: Fn(Arc<Provider>, DeploymentConfig, Arc<Value>, Limits) -> Fut,
        Fut: std::future::Future<Output = Result<Value>>,
    {
        let Prepared {
            plan,
            mut record,
            request,
            mut ticket,
            principal,
            mut guard,
        } = p;
        let request_id = record.request_id.clone();
        record.policy = Self::policy_report(&principal, &ticket, &guard);
        let hit = match &cache {
            Some((key, _)) => self.cache_hit(key, &mut record).await,
            None => None,
        };
        if let Some(hit) = hit {
            self.trace(kind, &record, None);
            if let Some(e) = self.audit(
                kind,
                &request_id,
                &plan.route,
                Some(&principal),
                Ok((&record, &hit["gateway"])),
                None,
            ) {
                return Err(e);
            }
            return Ok(hit);
        }
        // If the caller stops waiting (a dropped future: asyncio cancel, Ctrl-C, an aborted
        // promise), the call is still recorded, as cancelled.
        let mut pending = CancelRecorder {
            gateway: self,
            kind,
            request_id: &request_id,
            route: &plan.route,
            principal: &principal,
            armed: true,
        };
        let request = Arc::new(request);
        let result = match self.dispatch(kind, &request, &plan, record, &mut ticket, call).await {
            Ok((mut response, record)) => {
                let used = record.usage.unwrap_or_default();
                let usage = Usage {
                    input_tokens: used.input_tokens,
                    output_tokens: used.output_tokens,
                    ..Usage::default()
                };
                ticket.settle(usage, record.reported_cost_usd());
                let guards = &self.policy().guards;
                let checked = if guards.has_output() {
                    guards.check_output(&mut response, &mut guard)
                } else {
                    Ok(())
                };
                response["gateway"]["policy"]["guardrails"] = guard.to_json();
                if let (Some((key, ttl)), Ok(())) = (&cache, &checked) {
                    self.response_cache().put(key.clone(), response.clone(), *ttl);
                }
                checked
                    .map(|()| (response, record))
                    .map_err(|e| e.with_request_id(&request_id))
            }
            Err(e) => Err(e),
        };
        pending.armed = false;
        let output = result
            .as_ref()
            .ok()
            .and_then(|(r, _)| r.get("choices"))
            .unwrap_or(&Value::Null);
        let input = request
            .get("messages")
            .or_else(|| request.get("input"))
            .unwrap_or(&Value::Null);
        let unrecorded = self.audit(
            kind,
            &request_id,
            &plan.route,
            Some(&principal),
            result.as_ref().map(|(r, record)| (record, &r["gateway"])),
            Some((input, output)),
        );
        match (unrecorded, result) {
            // No audit, no call: the answer is withheld.
            (Some(e), Ok(_)) => Err(e),
            (_, result) => result.map(|(response, _)| response),
        }
    }

    /// Tries the plan's deployments until one answers, then meters the answer. Shared by every
    /// non-streaming call (`call` is the provider operation). The answer comes with the call's
    /// record, for the ticket's settlement and metering.
    async fn dispatch<F, Fut>(
        &self,
        operation: Operation,
        shared: &Arc<Value>,
        plan: &Plan,
        mut record: CallRecord,
        ticket: &mut Ticket,
        call: F,
    ) -> Result<(Value, CallRecord)>
    where
        F: Fn(Arc<Provider>, DeploymentConfig, Arc<Value>, Limits) -> Fut,
        Fut: std::future::Future<Output = Result<Value>>,
    {
        let deadline = plan.deadline(record.started);
        let limits = Limits::from(&plan.timeout);
        let mut dispatcher = self.dispatcher(plan);
        let mut last_error: Option<Error> = None;
        while let Some((deployment, admission)) = dispatcher.next(&mut record, deadline).await {
            let provider = self.provider(&deployment)?;
            let sent = Instant::now();
            ticket.sending(self.prompt_charge(&deployment, plan.prompt_tokens));
            // Each dialect writes the deployment's model into what it sends.
            let attempt = call(provider, deployment.clone(), shared.clone(), limits);
            let answer = match deadline {
                Some(d) => tokio::time::timeout_at(d.into(), attempt)
                    .await
                    .unwrap_or_else(|_| Err(plan.timeout_error(&record))),
                None => attempt.await,
            };
            let took = sent.elapsed();
            record.provider_time += took;
            match answer {
                Ok(mut response) => {
                    record.first_token = Some(record.started.elapsed());
                    // An answer without `usage` is still billed: settle at the estimate.
                    let usage = response.get("usage").and_then(Usage::from_openai).or_else(|| {
                        record.usage_estimated = true;
                        Some(Usage {
                            input_tokens: plan.prompt_tokens,
                            output_tokens: crate::tokens::estimate_completion(&response),
                            ..Usage::default()
                        })
                    });
                    admission.succeeded(took, usage.map(|u| u.input_tokens + u.output_tokens));
                    record.attempt(&deployment.name, sent, Ok(()));
                    self.settle(&mut record, &deployment, usage);
                    self.trace(operation, &record, None);
                    record.end();
                    response["gateway"] = record.take_json();
                    return Ok((response, record));
                }
                Err(e) => {
                    let e = plan.cap_retry_after(e);
                    ticket.attempt_failed(e.kind == ErrorKind::Timeout);
                    let opened = admission.failed(&e, took, &plan.breaker);
                    self.breaker_opened(&deployment.name, opened);
                    record.attempt(&deployment.name, sent, Err(&e));
                    let out_of_time = e.kind == ErrorKind::Timeout && deadline.is_some_and(|d| Instant::now() >= d);
                    if out_of_time || !e.retryable {
                        let e = e.with_request_id(&record.request_id);
                        self.trace(operation, &record, Some(&e));
                        return Err(e);
                    }
                    dispatcher.failed(&e);
                    last_error = Some(e);
                }
            }
        }
        let e = plan.exhausted(last_error, &record);
        self.trace(operation, &record, Some(&e));
        Err(e)
    }

    pub(crate) fn dispatcher<'a>(&'a self, plan: &'a Plan) -> Dispatcher<'a> {
        Dispatcher::new(plan, &self.inner.router, &self.inner.prices)
    }

    /// Which deployment would serve `model` for a call with these options, and why.
    /// `prompt_tokens` is the prompt size to plan for; `None` plans for
    /// [`routing::explain::DEFAULT_PROMPT_TOKENS`](crate::routing::explain::DEFAULT_PROMPT_TOKENS).
    pub fn explain(&self, model: &str, options: &CallOptions, prompt_tokens: Option<u64>) -> Result<Value> {
        runtime::no_panic(|| {
            crate::routing::explain::explain(
                &self.inner.config,
                &self.inner.prices,
                &self.inner.router,
                model,
                options,
                prompt_tokens,
            )
        })
    }

    async fn run_chat(&self, request: Value, options: CallOptions) -> Result<Value> {
        let p = match self.begin(&request, &options, false).await {
            Ok(p) => p,
            Err(e) => {
                self.failed_early(Operation::Chat, &request, &options, &e);
                return Err(e);
            }
        };
        let cache = self.cache_slot(&p, &options);
        self.finish(Operation::Chat, p, cache, |p, d, u, l| async move {
            p.chat(&d, &u, &l).await
        })
        .await
    }
}

/// Records a call as cancelled if its future is dropped before it finished.
struct CancelRecorder<'a> {
    gateway: &'a Gateway,
    kind: Operation,
    request_id: &'a str,
    route: &'a str,
    principal: &'a crate::policy::Principal,
    armed: bool,
}

impl Drop for CancelRecorder<'_> {
    fn drop(&mut self) {
        if self.armed {
            let e = Error::new(ErrorKind::Cancelled, "the caller stopped waiting for the call")
                .with_request_id(self.request_id);
            self.gateway.audit(
                self.kind,
                self.request_id,
                self.route,
                Some(self.principal),
                Err(&e),
                None,
            );
        }
    }
}
