//! The gateway config: one schema for every language, read from YAML or JSON text, a file or
//! an already-parsed tree. Reading is strict: unknown keys, dangling references and bad values
//! are all collected as problems naming their path, and reported together as `invalid_config`.
//! The reference for every key is `docs/config.md`.

mod debug;
mod duration;
mod env;
mod policy;
pub(crate) mod read;
mod route;
mod size;
pub mod suggest;

pub use duration::{MAX_DURATION, parse_duration, seconds};
pub use policy::{
    AuditConfig, AuditContent, AuditFsync, AuditOnError, BudgetConfig, GuardAction, GuardKind, GuardrailConfig,
    KeyConfig, OnExceed, OnUnpriced, PII_ENTITIES, Policies, RateLimitConfig, ResidencyConfig, Scope, Selector,
    StateBackendConfig, StateConfig, Window,
};
pub use route::{ATTEMPT_CAP, BreakerConfig, RetryConfig, RouteConfig, RouteRule, Strategy, TimeoutConfig};
pub use size::parse_size;

use crate::error::{Error, ErrorKind, Result};
use crate::providers::presets::{self, Preset, Wire};
use read::{Problems, join, object};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone)]
pub struct ProviderConfig {
    pub name: String,
    /// The `type`: its wire protocol and defaults.
    pub preset: &'static Preset,
    /// The configured base URL, else the type's default.
    pub api_base: Option<String>,
    /// The configured key, else the type's key variable from the environment.
    pub api_key: Option<String>,
    /// Azure's `api-version` query parameter, or Anthropic's `anthropic-version` header.
    pub api_version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// `type: mock` only: per-model scripts (see [`crate::mock::Script`]).
    pub script: Option<Value>,
    /// `type: mock` only: think time before each reply.
    pub latency: Option<Duration>,
    /// Caps on what the provider may send (`limits:`).
    pub limits: ProviderLimits,
}

/// Per provider `limits: { max_body: 32MiB, max_event: 8MiB }`: a provider (or a proxy in front
/// of it) that sends more fails the call with `provider_error` naming the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// A whole (non-streamed) response body, in bytes.
    pub max_body: u64,
    /// One stream event (or line), in bytes.
    pub max_event: u64,
}

impl Default for ProviderLimits {
    fn default() -> ProviderLimits {
        ProviderLimits {
            max_body: 32 * 1024 * 1024,
            max_event: crate::providers::sse::DEFAULT_MAX_EVENT,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeploymentConfig {
    pub name: String,
    pub provider: String,
    pub model: String,
    pub region: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: u64,
    /// The model's context window; defaults to the price catalog's.
    pub max_input_tokens: Option<u64>,
    /// Whether a request may name this deployment directly (default false): a direct call
    /// would skip every route's `rules`, so it must be the config's explicit choice.
    pub callable: bool,
    /// `max_tokens` sent when the caller names none, for providers that require one (Anthropic).
    pub max_tokens_default: Option<u64>,
}

/// Prices per million tokens, from `pricing.models` in config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceOverride {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    pub cached_input_per_mtok: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct PricingConfig {
    pub file: Option<PathBuf>,
    pub models: BTreeMap<String, PriceOverride>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub providers: BTreeMap<String, ProviderConfig>,
    pub deployments: BTreeMap<String, DeploymentConfig>,
    pub routes: BTreeMap<String, RouteConfig>,
    pub pricing: PricingConfig,
    pub keys: BTreeMap<String, KeyConfig>,
    pub policies: Policies,
    pub audit: Option<AuditConfig>,
    /// OTLP trace export, when an endpoint is set.
    pub otlp: Option<OtlpConfig>,
    pub cache: CacheConfig,
    pub state: StateConfig,
    /// Where relative paths in the config are resolved from.
    pub base_dir: Option<PathBuf>,
}

const TOP_KEYS: [&str; 10] = [
    "providers",
    "deployments",
    "routes",
    "pricing",
    "keys",
    "policies",
    "audit",
    "telemetry",
    "cache",
    "state",
];
const PROVIDER_KEYS: [&str; 10] = [
    "type",
    "limits",
    "api_base",
    "api_key",
    "api_version",
    "headers",
    "timeout",
    "script",
    "latency",
    "description",
];
const DEPLOYMENT_KEYS: [&str; 10] = [
    "callable",
    "provider",
    "model",
    "region",
    "rpm",
    "tpm",
    "weight",
    "max_input_tokens",
    "max_tokens_default",
    "description",
];
const PRICING_KEYS: [&str; 2] = ["file", "models"];
const PRICE_KEYS: [&str; 3] = ["input_per_mtok", "output_per_mtok", "cached_input_per_mtok"];

fn config_error(problems: Vec<String>) -> Error {
    let count = problems.len();
    let mut message = if count == 1 {
        format!("invalid config: {}", problems[0])
    } else {
        format!("invalid config: {count} problems:\n  {}", problems.join("\n  "))
    };
    if message.len() > 4000 {
        message.truncate(4000);
    }
    let mut err = Error::new(ErrorKind::InvalidConfig, message);
    err.problems = problems;
    err
}

impl Config {
    /// Reads a config file (YAML or JSON; relative paths inside resolve against its folder).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            config_error(vec![format!(
                "cannot read config file `{}`: {e}; check the path",
                path.display()
            )])
        })?;
        let mut config = Config::from_text(&text)?;
        config.base_dir = path.parent().map(Path::to_path_buf);
        Ok(config)
    }

    /// Reads config text: YAML, or JSON (which is YAML too).
    pub fn from_text(text: &str) -> Result<Config> {
        let value: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| config_error(vec![format!("the config is not valid YAML or JSON: {e}")]))?;
        Config::from_value(value)
    }

    /// Reads an already-parsed tree (a Python dict or a JS object, converted to JSON).
    pub fn from_value(mut value: Value) -> Result<Config> {
        let mut problems = Problems::default();
        let mut env_problems = Vec::new();
        env::interpolate(&mut value, "", &mut env_problems);
        problems.0.extend(env_problems);
        let config = read_config(&value, &mut problems);
        if problems.0.is_empty() {
            Ok(config)
        } else {
            Err(config_error(problems.0))
        }
    }

    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

fn read_config(value: &Value, p: &mut Problems) -> Config {
    let mut config = Config {
        providers: BTreeMap::new(),
        deployments: BTreeMap::new(),
        routes: BTreeMap::new(),
        pricing: PricingConfig::default(),
        keys: BTreeMap::new(),
        policies: Policies::default(),
        audit: None,
        otlp: None,
        cache: CacheConfig::default(),
        state: StateConfig::default(),
        base_dir: None,
    };
    let Some(top) = object(value, "(top level)", &TOP_KEYS, p) else {
        return config;
    };
    if top.is_empty() {
        p.push(
            "(top level)",
            "the config is empty; it needs `providers`, `deployments` and `routes`",
        );
    }
    for (name, v) in read::named_map(top.get("providers"), "providers", p) {
        if let Some(provider) = read_provider(name, v, p) {
            config.providers.insert(name.clone(), provider);
        }
    }
    for (name, v) in read::named_map(top.get("deployments"), "deployments", p) {
        if let Some(d) = read_deployment(name, v, &config, p) {
            config.deployments.insert(name.clone(), d);
        }
    }
    let route_names: Vec<String> = read::named_map(top.get("routes"), "routes", &mut Problems::default())
        .into_iter()
        .map(|(k, _)| k.clone())
        .collect();
    for (name, v) in read::named_map(top.get("routes"), "routes", p) {
        if let Some(r) = route::read_route(name, v, &config, &route_names, p) {
            config.routes.insert(name.clone(), r);
        }
    }
    if let Some(v) = top.get("pricing") {
        config.pricing = read_pricing(v, p);
    }
    config.keys = policy::read_keys(top.get("keys"), &config, p);
    config.policies = policy::read_policies(top.get("policies"), &config, p);
    config.audit = policy::read_audit(top.get("audit"), p);
    config.otlp = read_telemetry(top.get("telemetry"), p);
    config.state = policy::read_state(top.get("state"), p);
    if let Some(c) = top.get("cache").filter(|c| !c.is_null()) {
        if let Some(cmap) = object(c, "cache", &["backend", "max_entries", "share_across_principals"], p) {
            match read::string(cmap, "cache", "backend", p).as_deref() {
                None | Some("memory") => {}
                Some("redis") => config.cache.redis = true,
                Some(other) => p.push("cache.backend", format!("unknown backend `{other}` (memory or redis)")),
            }
            config.cache.max_entries =
                read::whole(cmap, "cache", "max_entries", p).unwrap_or(config.cache.max_entries as u64) as usize;
            config.cache.share_across_principals = cmap
                .get("share_across_principals")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        if config.cache.redis && config.state.backend == StateBackendConfig::Memory {
            p.push(
                "cache.backend",
                "`redis` uses the `state` store: set `state: {backend: redis, url: ...}` too",
            );
        }
    }
    config
}

fn read_provider(name: &str, v: &Value, p: &mut Problems) -> Option<ProviderConfig> {
    let path = join("providers", name);
    let map = object(v, &path, &PROVIDER_KEYS, p)?;
    let type_name = read::required_string(map, &path, "type", p)?;
    let Some(preset) = presets::find(&type_name) else {
        let known: Vec<&str> = presets::names().collect();
        let near = suggest::hint(&type_name, known.iter().copied());
        p.push(
            &join(&path, "type"),
            format!(
                "unknown provider type `{type_name}`{near} (known: {})",
                known.join(", ")
            ),
        );
        return None;
    };
    let api_base = read::string(map, &path, "api_base", p);
    if let Some(base) = &api_base
        && !(base.starts_with("http://") || base.starts_with("https://"))
    {
        p.push(
            &join(&path, "api_base"),
            format!("`{base}` is not an http(s) URL; write it like `https://api.openai.com/v1`"),
        );
    }
    if preset.wire == Wire::AzureOpenAi && api_base.is_none() {
        p.push(
            &join(&path, "api_base"),
            "is required for azure_openai, like `https://my-resource.openai.azure.com`",
        );
    }
    if preset.wire != Wire::Mock {
        for key in ["script", "latency"] {
            if map.contains_key(key) {
                p.push(&join(&path, key), "only providers of `type: mock` take this key");
            }
        }
    }
    let script = map.get("script").cloned().filter(|s| !s.is_null());
    if let Some(script) = &script
        && let Err(message) = crate::mock::Script::from_value(script)
    {
        p.push(&join(&path, "script"), message);
    }
    // The type's environment key only goes to the provider's own host; another `api_base`
    // must name its key (`api_key: ${VAR}`) so no operator key leaks to a host by default.
    let api_key = read::string(map, &path, "api_key", p).or_else(|| {
        preset
            .key_env
            .filter(|_| presets::env_key_allowed(preset, api_base.as_deref()))
            .and_then(|var| std::env::var(var).ok())
            .filter(|k| !k.is_empty())
    });
    Some(ProviderConfig {
        name: name.to_owned(),
        preset,
        api_base: api_base.or_else(|| preset.api_base.map(str::to_owned)),
        api_key,
        api_version: read::string(map, &path, "api_version", p),
        headers: read::string_map(map, &path, "headers", p),
        timeout: read::duration(map, &path, "timeout", p),
        script,
        latency: read::duration(map, &path, "latency", p),
        limits: read_limits(map, &path, p),
    })
}

fn read_limits(map: &serde_json::Map<String, Value>, path: &str, p: &mut Problems) -> ProviderLimits {
    let mut limits = ProviderLimits::default();
    let path = join(path, "limits");
    let Some(v) = map.get("limits").filter(|v| !v.is_null()) else {
        return limits;
    };
    let Some(m) = object(v, &path, &["max_body", "max_event"], p) else {
        return limits;
    };
    if let Some(n) = read::size(m, &path, "max_body", p) {
        limits.max_body = n;
    }
    if let Some(n) = read::size(m, &path, "max_event", p) {
        limits.max_event = n;
    }
    limits
}

fn read_deployment(name: &str, v: &Value, config: &Config, p: &mut Problems) -> Option<DeploymentConfig> {
    let path = join("deployments", name);
    let map = object(v, &path, &DEPLOYMENT_KEYS, p)?;
    let provider = read::required_string(map, &path, "provider", p);
    if let Some(provider) = &provider
        && !config.providers.contains_key(provider)
    {
        let near = suggest::hint(provider, config.providers.keys().map(String::as_str));
        p.push(
            &join(&path, "provider"),
            format!("no provider named `{provider}`{near}; define it under `providers`"),
        );
    }
    let model = read::required_string(map, &path, "model", p);
    let weight = read::whole(map, &path, "weight", p).unwrap_or(1);
    let max_tokens_default = read::whole(map, &path, "max_tokens_default", p);
    if max_tokens_default == Some(0) {
        p.push(
            &join(&path, "max_tokens_default"),
            "must be at least 1 (it is the output limit sent when a call names none)",
        );
    }
    Some(DeploymentConfig {
        name: name.to_owned(),
        provider: provider?,
        model: model?,
        region: read::string(map, &path, "region", p),
        rpm: read::whole(map, &path, "rpm", p),
        tpm: read::whole(map, &path, "tpm", p),
        weight,
        max_input_tokens: read::whole(map, &path, "max_input_tokens", p),
        callable: match map.get("callable") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                p.push(&join(&path, "callable"), "must be true or false");
                false
            }
        },
        max_tokens_default,
    })
}

/// `cache`: the response cache's size and sharing (routes turn it on with `cache: {ttl}`).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Keep answers in Redis (the `state` store) instead of this process's memory.
    pub redis: bool,
    pub max_entries: usize,
    /// Whether one caller's cached answer may serve another (off: keyed by virtual key or tags).
    pub share_across_principals: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis: false,
            max_entries: 10_000,
            share_across_principals: false,
        }
    }
}

/// `telemetry.otlp`: where traces go (OTLP/HTTP JSON).
#[derive(Clone, PartialEq)]
pub struct OtlpConfig {
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub service_name: String,
}

fn read_telemetry(v: Option<&Value>, p: &mut Problems) -> Option<OtlpConfig> {
    let map = object(v.filter(|v| !v.is_null())?, "telemetry", &["otlp"], p)?;
    let otlp = object(
        map.get("otlp").filter(|v| !v.is_null())?,
        "telemetry.otlp",
        &["endpoint", "headers", "service_name"],
        p,
    )?;
    let endpoint = read::string(otlp, "telemetry.otlp", "endpoint", p).filter(|e| !e.trim().is_empty())?;
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        p.push(
            "telemetry.otlp.endpoint",
            format!("`{endpoint}` is not an http(s) URL, like `http://127.0.0.1:4318`"),
        );
    }
    Some(OtlpConfig {
        endpoint,
        headers: read::string_map(otlp, "telemetry.otlp", "headers", p),
        service_name: read::string(otlp, "telemetry.otlp", "service_name", p).unwrap_or_else(|| "sluicegate".into()),
    })
}

fn read_pricing(v: &Value, p: &mut Problems) -> PricingConfig {
    let mut pricing = PricingConfig::default();
    let Some(map) = object(v, "pricing", &PRICING_KEYS, p) else {
        return pricing;
    };
    pricing.file = read::string(map, "pricing", "file", p).map(PathBuf::from);
    for (model, price) in read::named_map(map.get("models"), "pricing.models", p) {
        let path = join("pricing.models", model);
        let Some(pm) = object(price, &path, &PRICE_KEYS, p) else {
            continue;
        };
        let input = read::number(pm, &path, "input_per_mtok", p);
        let output = read::number(pm, &path, "output_per_mtok", p);
        if input.is_none() && !pm.contains_key("input_per_mtok") {
            p.push(
                &join(&path, "input_per_mtok"),
                "is required (USD per million input tokens)",
            );
        }
        if output.is_none() && !pm.contains_key("output_per_mtok") {
            p.push(
                &join(&path, "output_per_mtok"),
                "is required (USD per million output tokens)",
            );
        }
        pricing.models.insert(
            model.clone(),
            PriceOverride {
                input_per_mtok: input.unwrap_or(0.0),
                output_per_mtok: output.unwrap_or(0.0),
                cached_input_per_mtok: read::number(pm, &path, "cached_input_per_mtok", p),
            },
        );
    }
    pricing
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
providers:
  local: { type: mock }
deployments:
  a: { provider: local, model: gpt-4o }
routes:
  chat: { targets: [a] }
"#;

    #[test]
    fn provider_limits_read_sizes_and_default() {
        let text = "providers: {a: {type: mock, limits: {max_body: 1MiB}}, b: {type: mock}}\ndeployments: {d: {provider: a, model: m}}\nroutes: {r: {targets: [d]}}";
        let config = Config::from_text(text).unwrap();
        assert_eq!(config.providers["a"].limits.max_body, 1024 * 1024);
        assert_eq!(config.providers["a"].limits.max_event, 8 * 1024 * 1024);
        assert_eq!(config.providers["b"].limits, ProviderLimits::default());
        let bad = text.replace("max_body: 1MiB", "max_body: lots, max_evnt: 1");
        let message = Config::from_text(&bad).unwrap_err().message;
        assert!(message.contains("providers.a.limits.max_body"), "{message}");
        assert!(message.contains("max_evnt"), "{message}");
    }

    #[test]
    fn reads_a_good_config() {
        let c = Config::from_text(GOOD).unwrap();
        assert_eq!(c.routes["chat"].targets, vec!["a"]);
        assert_eq!(c.providers["local"].preset.wire, Wire::Mock);
    }

    #[test]
    fn reports_every_problem_with_path_and_hint() {
        let text = r#"
providers:
  local: { type: mock }
deploymnets: {}
deployments:
  gpt4o: { provider: locl, model: x }
routes:
  chat: { targets: [gpt4o, gpt4] }
"#;
        let err = Config::from_text(text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidConfig);
        let all = err.problems.join("\n");
        assert!(
            all.contains("deploymnets: unknown key `deploymnets`; did you mean `deployments`?"),
            "{all}"
        );
        assert!(all.contains("deployments.gpt4o.provider"), "{all}");
        assert!(
            all.contains("routes.chat.targets[1]: no deployment named `gpt4`; did you mean `gpt4o`?"),
            "{all}"
        );
    }

    #[test]
    fn a_typo_in_apply_to_is_a_config_error() {
        let text = format!(
            "{GOOD}policies:\n  guardrails:\n    - {{ type: pii, action: redact, apply_to: [input, ouptut] }}\n    - {{ type: pii, action: redcat }}\n"
        );
        let err = Config::from_text(&text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidConfig);
        let all = err.problems.join("\n");
        assert!(
            all.contains("policies.guardrails[0].apply_to[1]: unknown side `ouptut`; did you mean `output`?"),
            "{all}"
        );
        assert!(
            all.contains("policies.guardrails[1].action: unknown action `redcat`; did you mean `redact`?"),
            "{all}"
        );
    }

    #[test]
    fn broken_yaml_is_a_config_error() {
        let err = Config::from_text("providers: [unclosed").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidConfig);
    }
}
