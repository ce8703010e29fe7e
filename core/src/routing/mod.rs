//! Routing: which deployments may serve a call, in which order, with what retries and within
//! what time.
//!
//! A [`Plan`] is made once per call from config alone: the route's targets (and its fallback
//! routes' targets), less those the call's tags or size rule out. A [`Dispatcher`] then walks
//! the plan at run time: it orders each group by the route's strategy, skips deployments whose
//! breaker is open or whose capacity is used up, and after a failed round backs off (full
//! jitter, honouring `retry-after`) for the configured retry rounds.

pub mod explain;
pub mod health;
pub mod peers;
mod skip;
pub mod strategy;

use crate::config::{Config, DeploymentConfig, RetryConfig, RouteConfig, Strategy, TimeoutConfig, suggest};
use crate::error::{Error, ErrorKind};
use crate::meter::CallRecord;
use crate::options::CallOptions;
use crate::tokens;
use health::{Admission, Health, Unavailable};
use peers::PeerView;
use serde_json::Value;
pub use skip::SkipReason;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strategy::{Inputs, RoundRobin};

/// Output tokens assumed for a call that sets no `max_tokens`, when estimating cost.
const DEFAULT_OUTPUT_ESTIMATE: u64 = 256;

/// Deployments of one route, tried with that route's strategy.
pub struct Group {
    pub route: String,
    pub strategy: Strategy,
    pub deployments: Vec<DeploymentConfig>,
}

pub struct Plan {
    pub route: String,
    pub groups: Vec<Group>,
    /// Deployments ruled out by config for this call, with the reason.
    pub skipped: Vec<(String, SkipReason)>,
    pub retry: RetryConfig,
    pub timeout: TimeoutConfig,
    pub breaker: crate::config::BreakerConfig,
    pub max_attempts: u32,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// What other processes report about these deployments (shared state only).
    pub peers: PeerView,
}

/// Why config rules a deployment out for a call with these tags and this size.
pub fn static_skip(
    config: &Config,
    route: Option<&RouteConfig>,
    d: &DeploymentConfig,
    tags: &std::collections::BTreeMap<String, String>,
    prompt_tokens: u64,
    context_window: Option<u64>,
) -> Option<SkipReason> {
    let region = || d.region.as_deref().unwrap_or("unknown").to_owned();
    let when = |tags: &std::collections::BTreeMap<String, String>| -> Vec<String> {
        tags.iter().map(|(k, v)| format!("{k}={v}")).collect()
    };
    for rule in &config.policies.residency {
        if rule.when_tags.iter().all(|(k, v)| tags.get(k) == Some(v))
            && !d.region.as_ref().is_some_and(|r| rule.regions.contains(r))
        {
            let when = when(&rule.when_tags);
            return Some(SkipReason::Residency {
                region: region(),
                when: if when.is_empty() {
                    "any call".to_owned()
                } else {
                    when.join(",")
                },
                allowed: rule.regions.join(", "),
            });
        }
    }
    for rule in route.map(|r| r.rules.as_slice()).unwrap_or_default() {
        if !rule.when_tags.iter().all(|(k, v)| tags.get(k) == Some(v)) {
            continue;
        }
        if let Some(regions) = &rule.regions
            && !d.region.as_ref().is_some_and(|r| regions.contains(r))
        {
            return Some(SkipReason::RouteRegion {
                region: region(),
                when: when(&rule.when_tags).join(","),
                allowed: regions.join(", "),
            });
        }
        if let Some(targets) = &rule.targets
            && !targets.contains(&d.name)
        {
            return Some(SkipReason::NotATarget {
                when: when(&rule.when_tags).join(","),
            });
        }
    }
    if let Some(window) = context_window
        && prompt_tokens > window
    {
        return Some(SkipReason::ContextWindow {
            window,
            prompt: prompt_tokens,
        });
    }
    None
}

impl Plan {
    pub fn for_request(
        config: &Config,
        prices: &crate::pricing::PriceBook,
        model: &str,
        request: &Value,
        options: &CallOptions,
    ) -> Result<Plan, Error> {
        let prompt_tokens = tokens::estimate_prompt(request);
        let output_tokens = request
            .get("max_completion_tokens")
            .or_else(|| request.get("max_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_OUTPUT_ESTIMATE);
        let window = |d: &DeploymentConfig| {
            d.max_input_tokens
                .or_else(|| prices.get(&d.model).and_then(|p| p.max_input_tokens))
        };
        let mut groups = Vec::new();
        let mut skipped = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let primary = config.routes.get(model);
        if let Some(route) = primary {
            let mut queue = VecDeque::from([route]);
            let mut routes_seen = vec![route.name.clone()];
            while let Some(r) = queue.pop_front() {
                let mut deployments = Vec::new();
                for name in &r.targets {
                    if seen.contains(name) {
                        continue;
                    }
                    seen.push(name.clone());
                    let Some(d) = config.deployments.get(name) else {
                        continue;
                    };
                    // Each route of the chain applies its own `rules`: a fallback route is not
                    // governed by the primary's (nor may it escape its own).
                    match static_skip(config, Some(r), d, &options.tags, prompt_tokens, window(d)) {
                        Some(reason) => skipped.push((d.name.clone(), reason)),
                        None => deployments.push(d.clone()),
                    }
                }
                groups.push(Group {
                    route: r.name.clone(),
                    strategy: r.strategy,
                    deployments,
                });
                for f in &r.fallbacks {
                    if let Some(next) = config.routes.get(f).filter(|_| !routes_seen.contains(f)) {
                        routes_seen.push(f.clone());
                        queue.push_back(next);
                    }
                }
            }
        } else if let Some(d) = config.deployments.get(model) {
            if !d.callable {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "`{model}` is a deployment, and deployments answer to their own name only with `deployments.{model}.callable: true`; call a route that targets it"
                    ),
                )
                .with_retryable(false));
            }
            let mut deployments = Vec::new();
            match static_skip(config, None, d, &options.tags, prompt_tokens, window(d)) {
                Some(reason) => skipped.push((d.name.clone(), reason)),
                None => deployments.push(d.clone()),
            }
            groups.push(Group {
                route: d.name.clone(),
                strategy: Strategy::Priority,
                deployments,
            });
        } else {
            let names = config
                .routes
                .keys()
                .chain(config.deployments.keys())
                .map(String::as_str);
            let near = suggest::hint(model, names);
            let known: Vec<&str> = config.routes.keys().map(String::as_str).collect();
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "no route or deployment named `{model}`{near} (routes: {}); `model` names a route from the config",
                    known.join(", ")
                ),
            ));
        }
        let mut timeout = primary.map(|r| r.timeout).unwrap_or_default();
        timeout.total = match (timeout.total, options.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(Plan {
            route: model.to_owned(),
            groups,
            skipped,
            retry: primary.map(|r| r.retry).unwrap_or_default(),
            timeout,
            breaker: primary.map(|r| r.breaker).unwrap_or_default(),
            max_attempts: primary.map(|r| r.max_attempts).unwrap_or(crate::config::ATTEMPT_CAP),
            prompt_tokens,
            output_tokens,
            peers: PeerView::new(),
        })
    }

    /// When the whole call must end; `None` also when the timeout is too far away for the clock.
    pub fn deadline(&self, started: Instant) -> Option<Instant> {
        self.timeout.total.and_then(|t| started.checked_add(t))
    }

    /// A provider's `retry-after`, believed up to the route's `retry.max_retry_after`: a
    /// provider (or anything pretending to be one) cannot park a deployment for ever.
    pub fn cap_retry_after(&self, mut e: Error) -> Error {
        let cap = self.retry.max_retry_after.as_secs_f64();
        e.retry_after = e
            .retry_after
            .map(|s| if s.is_finite() { s.clamp(0.0, cap) } else { cap });
        e
    }

    pub fn timeout_error(&self, record: &CallRecord) -> Error {
        let t = self.timeout.total.unwrap_or_default();
        Error::new(
            ErrorKind::Timeout,
            format!(
                "route `{}` did not answer within {:.3}s ({} attempt(s)); raise the call's `timeout` or the route's `timeout.total`",
                self.route,
                t.as_secs_f64(),
                record.attempts
            ),
        )
        .with_request_id(&record.request_id)
    }

    /// The error when every attempt failed: the last failure, with the route's story.
    pub fn exhausted(&self, last: Option<Error>, record: &CallRecord) -> Error {
        let Some(mut e) = last else {
            return self.unavailable(record);
        };
        e.message = format!(
            "every target of route `{}` failed ({} attempt(s)); last error: {}",
            self.route, record.attempts, e.message
        );
        e.with_request_id(&record.request_id)
    }

    /// The error when no deployment could even be tried.
    fn unavailable(&self, record: &CallRecord) -> Error {
        let reasons: Vec<String> = record.skipped.iter().map(|(d, why)| format!("`{d}`: {why}")).collect();
        let any = |wanted: fn(&SkipReason) -> bool| record.skipped.iter().any(|(_, why)| wanted(why));
        let (kind, retryable) = if any(|w| matches!(w, SkipReason::Saturated { .. })) {
            (ErrorKind::RateLimited, true)
        } else if any(|w| matches!(w, SkipReason::BreakerOpen { .. })) {
            (ErrorKind::ProviderError, true)
        } else if any(|w| matches!(w, SkipReason::ContextWindow { .. })) {
            (ErrorKind::InvalidRequest, false)
        } else {
            (ErrorKind::PermissionDenied, false)
        };
        // Tenths of a second, as the reasons show them.
        let retry_after = record
            .skipped
            .iter()
            .filter_map(|(_, why)| why.wait())
            .map(|d| (d.as_secs_f64() * 10.0).round() / 10.0)
            .reduce(f64::min);
        Error::new(
            kind,
            format!(
                "no deployment of route `{}` can take this call: {}",
                self.route,
                reasons.join("; ")
            ),
        )
        .with_retryable(retryable)
        .with_retry_after(if retryable { retry_after } else { None })
        .with_request_id(&record.request_id)
    }
}

/// The live routing state a gateway keeps.
pub struct Router {
    pub health: HashMap<String, Arc<Health>>,
    pub round_robin: RoundRobin,
    /// Shares this gateway's in-flight counts and latencies through a shared state store.
    pub publisher: peers::Publisher,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        Router {
            health: config
                .deployments
                .values()
                .map(|d| (d.name.clone(), Health::new(d)))
                .collect(),
            round_robin: RoundRobin::default(),
            publisher: peers::Publisher::default(),
        }
    }
}

/// Hands out deployments for one call, attempt after attempt.
pub struct Dispatcher<'a> {
    plan: &'a Plan,
    router: &'a Router,
    prices: &'a crate::pricing::PriceBook,
    queue: VecDeque<DeploymentConfig>,
    rounds: u32,
    last_retry_after: Option<f64>,
    failed_this_round: bool,
}

impl<'a> Dispatcher<'a> {
    pub fn new(plan: &'a Plan, router: &'a Router, prices: &'a crate::pricing::PriceBook) -> Dispatcher<'a> {
        Dispatcher {
            plan,
            router,
            prices,
            queue: VecDeque::new(),
            rounds: 0,
            last_retry_after: None,
            failed_this_round: false,
        }
    }

    fn refill(&mut self) {
        let inputs = Inputs {
            health: &self.router.health,
            peers: &self.plan.peers,
            prices: self.prices,
            prompt_tokens: self.plan.prompt_tokens,
            output_tokens: self.plan.output_tokens,
        };
        for group in &self.plan.groups {
            for i in strategy::order(
                group.strategy,
                &group.route,
                &group.deployments,
                &inputs,
                &self.router.round_robin,
            ) {
                self.queue.push_back(group.deployments[i].clone());
            }
        }
        self.rounds += 1;
        self.failed_this_round = false;
    }

    /// Notes a failed attempt (for the backoff before the next round).
    pub fn failed(&mut self, error: &Error) {
        self.failed_this_round = true;
        if error.retry_after.is_some() {
            self.last_retry_after = error.retry_after;
        }
    }

    /// The next deployment to try, admitted; `None` when the plan is used up.
    pub async fn next(
        &mut self,
        record: &mut CallRecord,
        deadline: Option<Instant>,
    ) -> Option<(DeploymentConfig, Admission)> {
        loop {
            if record.attempts >= self.plan.max_attempts {
                return None;
            }
            if self.queue.is_empty() {
                if self.rounds > 0 {
                    let retries_left = self.rounds <= self.plan.retry.attempts;
                    if !(retries_left && self.failed_this_round) {
                        return None;
                    }
                    let wait = self.backoff()?;
                    if deadline.is_some_and(|d| Instant::now().checked_add(wait).is_none_or(|at| at >= d)) {
                        return None;
                    }
                    tokio::time::sleep(wait).await;
                }
                self.refill();
                if self.queue.is_empty() {
                    return None;
                }
            }
            let d = self.queue.pop_front()?;
            let Some(health) = self.router.health.get(&d.name) else {
                continue;
            };
            if let Some(left) = self.plan.peers.get(&d.name).and_then(|p| p.open_for) {
                if !record.skipped.iter().any(|(name, _)| name == &d.name) {
                    let probe_in = Duration::try_from_secs_f64(left).unwrap_or_default();
                    record.skipped.push((
                        d.name.clone(),
                        SkipReason::BreakerOpen {
                            probe_in,
                            elsewhere: true,
                        },
                    ));
                }
                continue;
            }
            let tokens = self.plan.prompt_tokens + self.plan.output_tokens;
            match health.admit(tokens, Instant::now()) {
                Ok(admission) => {
                    record.attempts += 1;
                    return Some((d, admission));
                }
                Err(why) => {
                    if !record.skipped.iter().any(|(name, _)| name == &d.name) {
                        record.skipped.push((d.name.clone(), why.clone().into()));
                    }
                    if matches!(why, Unavailable::Saturated(_)) {
                        self.failed_this_round = true;
                    }
                }
            }
        }
    }

    /// Exponential backoff with full jitter; a provider's `retry-after` is a floor. `None`
    /// when the provider asks for longer than `max_backoff`: retrying sooner would only
    /// add to the storm, so the caller gets the error and its `retry_after` instead.
    fn backoff(&mut self) -> Option<Duration> {
        let retry = &self.plan.retry;
        let exp = retry
            .backoff
            .saturating_mul(1u32 << (self.rounds - 1).min(16))
            .min(retry.max_backoff);
        let jittered = exp.mul_f64(rand::random::<f64>());
        match self
            .last_retry_after
            .take()
            .map(|s| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX))
        {
            Some(after) if after > retry.max_backoff => None,
            Some(after) => Some(jittered.max(after)),
            None => Some(jittered),
        }
    }
}
