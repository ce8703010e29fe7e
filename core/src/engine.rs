//! What every call of one gateway shares: its config, providers and prices, router, policy
//! state, audit log, meter, hooks, telemetry exporter and response cache.
//!
//! [`Gateway`](crate::Gateway) is the public handle on an `Engine`; the call pipeline
//! ([`crate::pipeline`]) and the stream reader work on the engine directly, so that none of
//! them depends on the public API built over them.

use crate::cache::{CacheStore, MemoryCache};
use crate::config::{Config, DeploymentConfig};
use crate::error::{Error, Result};
use crate::meter::CallRecord;
use crate::metrics::Meter;
use crate::policy::audit::AuditLog;
use crate::policy::{Charge, Policy};
use crate::pricing::PriceBook;
use crate::providers::Provider;
use crate::routing::{Dispatcher, Plan, Router};
use crate::secrets::Scrubber;
use crate::telemetry::Exporter;
use crate::usage::Usage;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A host callback run after every call with the finished call's event (JSON).
pub type Hook = Arc<dyn Fn(&Value) + Send + Sync>;

pub(crate) struct Engine {
    pub config: Config,
    pub providers: HashMap<String, Arc<Provider>>,
    pub prices: PriceBook,
    pub router: Router,
    pub policy: Policy,
    pub audit: Option<AuditLog>,
    pub meter: Meter,
    pub hooks: RwLock<Vec<Hook>>,
    pub exporter: Option<Arc<Exporter>>,
    pub cache: CacheStore,
}

impl Engine {
    pub fn new(config: Config) -> Result<Engine> {
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
        Ok(Engine {
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
        })
    }

    /// Whether the audit log records the calls' content (input and output), so that the
    /// pipeline keeps them for it.
    pub fn audits_content(&self) -> bool {
        self.audit
            .as_ref()
            .is_some_and(|a| matches!(a.content(), crate::config::AuditContent::Redacted))
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn provider(&self, deployment: &DeploymentConfig) -> Result<Arc<Provider>> {
        self.providers
            .get(&deployment.provider)
            .cloned()
            .ok_or_else(|| Error::internal(format!("deployment `{}` names a missing provider", deployment.name)))
    }

    pub fn dispatcher<'a>(&'a self, plan: &'a Plan) -> Dispatcher<'a> {
        Dispatcher::new(plan, &self.router, &self.prices)
    }

    /// Tells every process on the shared store that a deployment's breaker just opened.
    pub fn breaker_opened(&self, deployment: &str, cooldown: Option<std::time::Duration>) {
        if let (Some(cooldown), Some(store)) = (cooldown, &self.policy.redis) {
            store.publish_breaker(deployment, cooldown);
        }
    }

    /// Writes what served the call and what it cost into its record.
    pub fn price(&self, record: &mut CallRecord, deployment: &DeploymentConfig, usage: Option<Usage>) {
        record.deployment = Some(deployment.name.clone());
        record.provider = Some(deployment.provider.clone());
        record.model = Some(deployment.model.clone());
        record.usage = usage;
        record.cost = usage.and_then(|u| self.prices.breakdown(&deployment.model, &u));
        record.cost_usd = record.cost.map(|c| c.total);
    }

    /// What an attempt on `deployment` costs if it is given up while the provider works on it:
    /// its prompt.
    pub fn prompt_charge(&self, deployment: &DeploymentConfig, prompt_tokens: u64) -> Charge {
        let usage = Usage {
            input_tokens: prompt_tokens,
            ..Usage::default()
        };
        Charge::of(usage, self.prices.cost(&deployment.model, &usage))
    }
}
