//! `routes.<name>`: how a route picks among its deployments, retries, times out and fails over.

use super::read::{self, Problems, join, object};
use super::{Config, suggest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Targets in the order given.
    Priority,
    /// Smooth weighted round-robin by deployment `weight`.
    Weighted,
    /// Peak-EWMA latency with power-of-two choices.
    LeastLatency,
    /// Cheapest first, by the price catalog and the request's estimated tokens.
    LowestCost,
    /// Fewest calls in flight first.
    LeastBusy,
}

impl Strategy {
    pub const NAMES: [&'static str; 5] = ["priority", "weighted", "least-latency", "lowest-cost", "least-busy"];

    fn parse(name: &str) -> Option<Strategy> {
        match name {
            "priority" => Some(Strategy::Priority),
            "weighted" => Some(Strategy::Weighted),
            "least-latency" => Some(Strategy::LeastLatency),
            "lowest-cost" => Some(Strategy::LowestCost),
            "least-busy" => Some(Strategy::LeastBusy),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Priority => "priority",
            Strategy::Weighted => "weighted",
            Strategy::LeastLatency => "least-latency",
            Strategy::LowestCost => "lowest-cost",
            Strategy::LeastBusy => "least-busy",
        }
    }
}

/// Extra rounds over the candidates after every one failed, with backoff between rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `retry-after` a provider's answer is believed for (default 60s): a
    /// deployment is paused, and the caller told to wait, at most this long.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 0,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeoutConfig {
    pub connect: Option<Duration>,
    pub first_token: Option<Duration>,
    pub total: Option<Duration>,
}

/// Opens after `failures` consecutive failures (or a failure ratio over a window of at least
/// `min_requests`), stays open for `cooldown`, then lets one probe through.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub enabled: bool,
    pub failures: u32,
    pub failure_ratio: Option<f64>,
    pub min_requests: u32,
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            enabled: true,
            failures: 5,
            failure_ratio: None,
            min_requests: 10,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// A conditional restriction: when the call's tags match, only some deployments may serve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteRule {
    pub when_tags: BTreeMap<String, String>,
    pub regions: Option<Vec<String>>,
    pub targets: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub name: String,
    pub strategy: Strategy,
    pub targets: Vec<String>,
    pub fallbacks: Vec<String>,
    pub retry: RetryConfig,
    pub timeout: TimeoutConfig,
    pub breaker: BreakerConfig,
    pub rules: Vec<RouteRule>,
    /// Upper bound on attempts in one call, every retry and fallback included.
    pub max_attempts: u32,
    /// Response caching for this route: how long an answer is reused (off when `None`).
    pub cache_ttl: Option<Duration>,
}

const ROUTE_KEYS: [&str; 10] = [
    "strategy",
    "targets",
    "fallbacks",
    "retry",
    "timeout",
    "breaker",
    "rules",
    "max_attempts",
    "cache",
    "description",
];
const RETRY_KEYS: [&str; 4] = ["attempts", "backoff", "max_backoff", "max_retry_after"];
const TIMEOUT_KEYS: [&str; 3] = ["connect", "first_token", "total"];
const BREAKER_KEYS: [&str; 5] = ["enabled", "failures", "failure_ratio", "min_requests", "cooldown"];
const RULE_KEYS: [&str; 3] = ["when", "regions", "targets"];
const WHEN_KEYS: [&str; 1] = ["tags"];

/// The hard cap on attempts per call, whatever the config says.
pub const ATTEMPT_CAP: u32 = 16;

fn check_deployments(names: &[String], path: &str, config: &Config, p: &mut Problems) {
    for (i, t) in names.iter().enumerate() {
        if !config.deployments.contains_key(t) {
            let near = suggest::hint(t, config.deployments.keys().map(String::as_str));
            p.push(
                &format!("{path}[{i}]"),
                format!("no deployment named `{t}`{near}; define it under `deployments`"),
            );
        }
    }
}

pub(super) fn read_route(
    name: &str,
    v: &Value,
    config: &Config,
    routes: &[String],
    p: &mut Problems,
) -> Option<RouteConfig> {
    let path = join("routes", name);
    let map = object(v, &path, &ROUTE_KEYS, p)?;
    let strategy = match read::string(map, &path, "strategy", p) {
        None => Strategy::Priority,
        Some(s) => Strategy::parse(&s).unwrap_or_else(|| {
            let near = suggest::hint(&s, Strategy::NAMES);
            p.push(
                &join(&path, "strategy"),
                format!("unknown strategy `{s}`{near} (known: {})", Strategy::NAMES.join(", ")),
            );
            Strategy::Priority
        }),
    };
    let targets = read::string_list(map, &path, "targets", p);
    if targets.is_empty() {
        p.push(&join(&path, "targets"), "a route needs at least one target deployment");
    }
    check_deployments(&targets, &join(&path, "targets"), config, p);
    let fallbacks = read::string_list(map, &path, "fallbacks", p);
    for (i, f) in fallbacks.iter().enumerate() {
        if !routes.contains(f) {
            let near = suggest::hint(f, routes.iter().map(String::as_str));
            p.push(
                &format!("{path}.fallbacks[{i}]"),
                format!("no route named `{f}`{near}; fallbacks name other routes"),
            );
        } else if f == name {
            p.push(&format!("{path}.fallbacks[{i}]"), "a route cannot fall back to itself");
        }
    }
    let mut retry = RetryConfig::default();
    if let Some(r) = map.get("retry") {
        let rpath = join(&path, "retry");
        if let Some(rmap) = object(r, &rpath, &RETRY_KEYS, p) {
            retry.attempts = read::whole(rmap, &rpath, "attempts", p)
                .unwrap_or(0)
                .min(u64::from(ATTEMPT_CAP)) as u32;
            retry.backoff = read::duration(rmap, &rpath, "backoff", p).unwrap_or(retry.backoff);
            retry.max_backoff = read::duration(rmap, &rpath, "max_backoff", p).unwrap_or(retry.max_backoff);
            retry.max_retry_after = read::duration(rmap, &rpath, "max_retry_after", p).unwrap_or(retry.max_retry_after);
        }
    }
    let mut timeout = TimeoutConfig::default();
    if let Some(t) = map.get("timeout") {
        let tpath = join(&path, "timeout");
        if t.is_string() || t.is_number() {
            timeout.total = read::duration(map, &path, "timeout", p);
        } else if let Some(tmap) = object(t, &tpath, &TIMEOUT_KEYS, p) {
            timeout.connect = read::duration(tmap, &tpath, "connect", p);
            timeout.first_token = read::duration(tmap, &tpath, "first_token", p);
            timeout.total = read::duration(tmap, &tpath, "total", p);
        }
    }
    let mut breaker = BreakerConfig::default();
    if let Some(b) = map.get("breaker") {
        let bpath = join(&path, "breaker");
        if b == &Value::Bool(false) {
            breaker.enabled = false;
        } else if let Some(bmap) = object(b, &bpath, &BREAKER_KEYS, p) {
            breaker.enabled = bmap.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            breaker.failures = read::whole(bmap, &bpath, "failures", p).unwrap_or(5).max(1) as u32;
            breaker.failure_ratio = read::number(bmap, &bpath, "failure_ratio", p);
            if breaker.failure_ratio.is_some_and(|r| r <= 0.0 || r > 1.0) {
                p.push(
                    &join(&bpath, "failure_ratio"),
                    "must be a fraction above 0 and at most 1, like 0.5",
                );
            }
            breaker.min_requests = read::whole(bmap, &bpath, "min_requests", p).unwrap_or(10).max(1) as u32;
            breaker.cooldown = read::duration(bmap, &bpath, "cooldown", p).unwrap_or(breaker.cooldown);
        }
    }
    let mut rules = Vec::new();
    match map.get("rules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let rpath = format!("{path}.rules[{i}]");
                let Some(rmap) = object(item, &rpath, &RULE_KEYS, p) else {
                    continue;
                };
                let mut rule = RouteRule::default();
                if let Some(when) = rmap.get("when") {
                    let wpath = join(&rpath, "when");
                    if let Some(wmap) = object(when, &wpath, &WHEN_KEYS, p) {
                        rule.when_tags = read::string_map(wmap, &wpath, "tags", p).into_iter().collect();
                    }
                } else {
                    p.push(&join(&rpath, "when"), "is required: the tags that make this rule apply");
                }
                if rmap.contains_key("regions") {
                    rule.regions = Some(read::string_list(rmap, &rpath, "regions", p));
                }
                if rmap.contains_key("targets") {
                    let t = read::string_list(rmap, &rpath, "targets", p);
                    check_deployments(&t, &join(&rpath, "targets"), config, p);
                    rule.targets = Some(t);
                }
                if rule.regions.is_none() && rule.targets.is_none() {
                    p.push(&rpath, "a rule needs `regions` or `targets` to restrict the route to");
                }
                rules.push(rule);
            }
        }
        Some(_) => p.push(
            &join(&path, "rules"),
            "expected a list of {when, regions | targets} rules",
        ),
    }
    let max_attempts = read::whole(map, &path, "max_attempts", p)
        .map(|n| n.clamp(1, u64::from(ATTEMPT_CAP)) as u32)
        .unwrap_or(ATTEMPT_CAP);
    let cache_ttl = match map.get("cache") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(c) => {
            let cpath = join(&path, "cache");
            object(c, &cpath, &["ttl"], p)
                .and_then(|cmap| read::duration(cmap, &cpath, "ttl", p))
                .or_else(|| {
                    if c.is_object() && c.get("ttl").is_none() {
                        p.push(&cpath, "give the cache a `ttl`, like `{ttl: 10m}`");
                    }
                    None
                })
        }
    };
    Some(RouteConfig {
        name: name.to_owned(),
        strategy,
        targets,
        fallbacks,
        retry,
        timeout,
        breaker,
        rules,
        max_attempts,
        cache_ttl,
    })
}
