//! `explain`: which deployment would serve a call to a route, and why each candidate was kept
//! or skipped (tags and region rules, context window, breaker, capacity, weight).

use super::strategy::{self, Inputs, RoundRobin};
use super::{Plan, Router};
use crate::config::Config;
use crate::error::Result;
use crate::options::CallOptions;
use crate::pricing::PriceBook;
use serde_json::{Value, json};
use std::time::Instant;

/// The prompt size `explain` plans for when the caller gives none.
pub const DEFAULT_PROMPT_TOKENS: u64 = 100;

/// The largest prompt `explain` plans for: above every context window there is, and small
/// enough that the stand-in prompt below stays a few megabytes.
pub const MAX_PROMPT_TOKENS: u64 = 10_000_000;

/// Explains routing for `model` with these tags, for a prompt of `prompt_tokens` (estimated;
/// [`DEFAULT_PROMPT_TOKENS`] when `None`).
pub fn explain(
    config: &Config,
    prices: &PriceBook,
    router: &Router,
    model: &str,
    options: &CallOptions,
    prompt_tokens: Option<u64>,
) -> Result<Value> {
    let prompt_tokens = prompt_tokens.unwrap_or(DEFAULT_PROMPT_TOKENS);
    if prompt_tokens > MAX_PROMPT_TOKENS {
        return Err(crate::Error::invalid_request(format!(
            "explain: `prompt_tokens` = {prompt_tokens} is more than any context window; give at most {MAX_PROMPT_TOKENS}"
        )));
    }
    // The plan estimates a prompt's size from its text (~4 characters a token, 3 tokens of
    // message overhead), so a text of that size stands in for the prompt.
    let text = "x".repeat((prompt_tokens.saturating_sub(3) * 4) as usize);
    let request = json!({"model": model, "messages": [{"role": "user", "content": text}]});
    let plan = Plan::for_request(config, prices, model, &request, options)?;
    let inputs = Inputs {
        health: &router.health,
        peers: &plan.peers,
        prices,
        prompt_tokens: plan.prompt_tokens,
        output_tokens: plan.output_tokens,
    };
    let scratch = RoundRobin::default(); // explaining must not move the real round-robin
    let now = Instant::now();
    let mut candidates = Vec::new();
    let mut would_serve = Value::Null;
    for group in &plan.groups {
        let total_weight: u64 = group.deployments.iter().map(|d| d.weight).sum();
        for i in strategy::order(group.strategy, &group.route, &group.deployments, &inputs, &scratch) {
            let d = &group.deployments[i];
            let health = router.health.get(&d.name);
            let live = health.map(|h| h.check(plan.prompt_tokens.saturating_add(plan.output_tokens), now));
            let (kept, reason) = match live {
                Some(Err(why)) => (false, super::SkipReason::from(why).to_string()),
                _ => (
                    true,
                    match group.strategy {
                        crate::config::Strategy::Weighted => format!("weight {} of {total_weight}", d.weight),
                        crate::config::Strategy::LeastLatency => format!(
                            "latency score {:.1} ms",
                            health.and_then(|h| h.ewma_ms()).unwrap_or(0.0)
                        ),
                        crate::config::Strategy::LowestCost => match strategy::estimated_cost(d, &inputs) {
                            Some(c) => format!("estimated cost ${c:.6}"),
                            None => "no price: tried after priced deployments".into(),
                        },
                        crate::config::Strategy::LeastBusy => {
                            format!("{} in flight", health.map(|h| h.in_flight()).unwrap_or(0))
                        }
                        crate::config::Strategy::Priority => "in priority order".into(),
                    },
                ),
            };
            if kept && would_serve.is_null() {
                would_serve = json!(d.name);
            }
            candidates.push(candidate(
                d,
                &group.route,
                kept,
                &reason,
                health.map(|h| h.as_ref()),
                now,
            ));
        }
    }
    for (name, reason) in &plan.skipped {
        if let Some(d) = config.deployments.get(name) {
            candidates.push(candidate(
                d,
                &plan.route,
                false,
                &reason.to_string(),
                router.health.get(name).map(|h| h.as_ref()),
                now,
            ));
        }
    }
    Ok(json!({
        "route": plan.route,
        "strategy": plan.groups.first().map(|g| g.strategy.name()),
        "would_serve": would_serve,
        "estimated_prompt_tokens": plan.prompt_tokens,
        "candidates": candidates,
    }))
}

fn candidate(
    d: &crate::config::DeploymentConfig,
    route: &str,
    kept: bool,
    reason: &str,
    health: Option<&super::health::Health>,
    now: Instant,
) -> Value {
    json!({
        "deployment": d.name,
        "route": route,
        "provider": d.provider,
        "model": d.model,
        "region": d.region,
        "weight": d.weight,
        "kept": kept,
        "reason": reason,
        "breaker": health.map(|h| h.breaker(now).name()),
        "in_flight": health.map(|h| h.in_flight()),
        "latency_ewma_ms": health.and_then(|h| h.ewma_ms()),
    })
}
