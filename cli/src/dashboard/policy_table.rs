//! The effective policy, rendered from the config for the page: which keys may use which routes,
//! with which limits, budgets, guardrails and residency rules, and where each route goes. Only
//! names, numbers and rules are copied out: never a provider's `api_key`, a key's secret (the
//! config holds only its SHA-256, which is left out too), a custom pattern or a keyword list.

use serde_json::{Value, json};
use sluicegate::config::{
    BudgetConfig, Config, GuardAction, GuardKind, OnExceed, RateLimitConfig, Selector, StateBackendConfig, Window,
};
use std::collections::BTreeMap;

fn selector(s: &Selector) -> String {
    let when: Vec<String> = s.when_tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if when.is_empty() {
        format!("per {}", s.scope.describe())
    } else {
        format!("per {} when {}", s.scope.describe(), when.join(", "))
    }
}

/// Whether a selector's `when` tags can match a key's calls (the key's own tags decide those
/// it sets; tags it does not set could come from the call).
fn may_apply(when: &BTreeMap<String, String>, tags: &BTreeMap<String, String>) -> bool {
    when.iter().all(|(k, v)| tags.get(k).is_none_or(|own| own == v))
}

fn rate_limit(i: usize, l: &RateLimitConfig) -> Value {
    let mut what = Vec::new();
    if let Some(rpm) = l.rpm {
        what.push(format!("{rpm} requests/min"));
    }
    if let Some(tpm) = l.tpm {
        what.push(format!("{tpm} tokens/min"));
    }
    json!({"id": format!("rate_limits[{i}]"), "limit": what.join(", "), "applies": selector(&l.selector)})
}

fn budget(i: usize, b: &BudgetConfig) -> Value {
    let window = match b.window {
        Window::Day => "day",
        Window::Month => "month",
        Window::Total => "all time",
    };
    let on_exceed = match &b.on_exceed {
        OnExceed::Block => "block".to_owned(),
        OnExceed::Fallback(route) => format!("fall back to {route}"),
    };
    json!({"id": format!("budgets[{i}]"), "limit": format!("${} per {window}", b.usd), "applies": selector(&b.selector),
           "on_exceed": on_exceed})
}

pub fn to_json(config: &Config) -> Value {
    let p = &config.policies;
    let guardrails: Vec<Value> = p
        .guardrails
        .iter()
        .map(|g| {
            let kind = match &g.kind {
                GuardKind::Pii { entities } => format!("PII: {}", entities.join(", ")),
                GuardKind::Regex { patterns } => format!("{} custom pattern(s)", patterns.len()),
                GuardKind::Keywords { words } => format!("{} keyword(s)", words.len()),
                GuardKind::MaxInputTokens { limit } => format!("prompt over {limit} tokens"),
            };
            let action = match g.action {
                GuardAction::Redact => "redact",
                GuardAction::Block => "block",
                GuardAction::Log => "log",
            };
            let sides: Vec<&str> = [(g.input, "input"), (g.output, "output")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, s)| *s)
                .collect();
            json!({"name": g.name, "detects": kind, "action": action, "applies_to": sides.join(" and ")})
        })
        .collect();
    let residency: Vec<Value> = p
        .residency
        .iter()
        .map(|r| {
            let when: Vec<String> = r.when_tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({"when": when.join(", "), "regions": r.regions})
        })
        .collect();
    let keys: Vec<Value> = config
        .keys
        .values()
        .map(|k| {
            let limits: Vec<String> = p
                .rate_limits
                .iter()
                .enumerate()
                .filter(|(_, l)| may_apply(&l.selector.when_tags, &k.tags))
                .map(|(i, _)| format!("rate_limits[{i}]"))
                .collect();
            let budgets: Vec<String> = p
                .budgets
                .iter()
                .enumerate()
                .filter(|(_, b)| may_apply(&b.selector.when_tags, &k.tags))
                .map(|(i, _)| format!("budgets[{i}]"))
                .collect();
            let residency: Vec<String> = p
                .residency
                .iter()
                .filter(|r| !r.when_tags.is_empty() && r.when_tags.iter().all(|(t, v)| k.tags.get(t) == Some(v)))
                .map(|r| r.regions.join(" / "))
                .collect();
            json!({
                "key": k.name,
                "routes": if k.routes.is_empty() { vec!["all routes".to_owned()] } else { k.routes.clone() },
                "tags": k.tags, "pin_tags": k.pin_tags, "expires": k.expires,
                "rate_limits": limits, "budgets": budgets,
                "guardrails": p.guardrails.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
                "residency": residency,
            })
        })
        .collect();
    let routes: Vec<Value> = config
        .routes
        .values()
        .map(|r| {
            json!({"route": r.name, "targets": r.targets, "fallbacks": r.fallbacks, "max_attempts": r.max_attempts,
                   "cache_ttl_secs": r.cache_ttl.map(|d| d.as_secs_f64())})
        })
        .collect();
    let deployments: Vec<Value> = config
        .deployments
        .values()
        .map(|d| {
            let kind = config.providers.get(&d.provider).map(|p| p.preset.name).unwrap_or("?");
            json!({"deployment": d.name, "provider": d.provider, "type": kind, "model": d.model, "region": d.region})
        })
        .collect();
    json!({
        "require_key": p.require_key,
        "require_tags": p.require_tags,
        "state": match &config.state.backend { StateBackendConfig::Memory => "memory", StateBackendConfig::Redis { .. } => "redis" },
        "keys": keys,
        "rate_limits": p.rate_limits.iter().enumerate().map(|(i, l)| rate_limit(i, l)).collect::<Vec<_>>(),
        "budgets": p.budgets.iter().enumerate().map(|(i, b)| budget(i, b)).collect::<Vec<_>>(),
        "guardrails": guardrails,
        "residency": residency,
        "routes": routes,
        "deployments": deployments,
    })
}
