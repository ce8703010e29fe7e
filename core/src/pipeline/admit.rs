//! Admission, the first steps of every call: identify the caller, guard the input, plan the
//! route (residency included), reserve rate limits and budget for the worst case.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::meter::{CallRecord, new_request_id};
use crate::options::CallOptions;
use crate::policy::guard::GuardReport;
use crate::policy::{Estimate, Principal, Refused, Ticket, clock};
use crate::pricing::{Price, PriceBook};
use crate::request;
use crate::routing::Plan;
use crate::usage::Usage;
use serde_json::Value;

/// A call that passed every check before the providers.
pub(crate) struct Admitted {
    pub plan: Plan,
    pub record: CallRecord,
    /// The request as the providers get it (after input redaction).
    pub request: Value,
    pub ticket: Ticket,
    pub principal: Principal,
    pub guard: GuardReport,
}

/// Output tokens assumed for the worst case when neither the caller nor the catalog says.
const UNKNOWN_MAX_OUTPUT: u64 = 4096;
/// Prompt estimates are character counts / 4; real tokenizers can count more. Budgets reserve
/// with this margin so that a call never spends more than it reserved.
const PROMPT_MARGIN: f64 = 1.5;

/// The most a call could use on a deployment of the plan with this price (`None`: no price,
/// so no output limit either): the prompt with a margin, images by the model's own bound, and
/// `n` times the output.
fn worst_usage(plan: &Plan, price: Option<(&str, &Price)>, request: &Value) -> Usage {
    let asked = crate::providers::dialect::max_tokens(request);
    let images = crate::tokens::count_images(request);
    let extra_images = price
        .map(|(model, _)| {
            images.saturating_mul(crate::tokens::image_tokens(model).saturating_sub(crate::tokens::IMAGE_TOKENS))
        })
        .unwrap_or(0);
    let prompt = (plan.prompt_tokens.saturating_add(extra_images) as f64 * PROMPT_MARGIN).ceil() as u64;
    let cap = price
        .and_then(|(_, p)| p.max_output_tokens)
        .unwrap_or(UNKNOWN_MAX_OUTPUT);
    let output = asked.map(|a| a.min(cap)).unwrap_or(cap);
    Usage {
        input_tokens: prompt,
        output_tokens: output.saturating_mul(crate::tokens::choices(request)),
        ..Usage::default()
    }
}

/// The most a call could cost on any priced deployment the plan may use.
fn worst_cost(plan: &Plan, prices: &PriceBook, request: &Value) -> Option<f64> {
    plan.groups
        .iter()
        .flat_map(|g| g.deployments.iter())
        .filter_map(|d| {
            let price = prices.get(&d.model)?;
            Some(
                price
                    .breakdown(&worst_usage(plan, Some((&d.model, price)), request))
                    .total,
            )
        })
        .reduce(f64::max)
}

/// Identifies the caller, guards the input, plans the route and reserves rate limits and
/// budget. `model` is the route asked for. The request is moved into [`Admitted`] (input
/// guardrails edit it in place) rather than copied: a deep copy of the request per call showed
/// in the profiles. On an error it is left in place, unless an input guardrail already redacted it.
pub(crate) async fn admit(
    engine: &Engine,
    request: &mut Value,
    options: &CallOptions,
    model: &str,
    request_id: String,
) -> Result<Admitted> {
    // The gateway's own time starts here: policies and planning count as overhead.
    let started = std::time::Instant::now();
    let started_unix = clock::now_secs();
    let fail = |e: Error| e.with_request_id(&request_id);
    let policy = &engine.policy;
    let principal = policy
        .authenticate(options.key.as_deref(), model, &options.tags)
        .map_err(fail)?;
    let mut guard = GuardReport::default();
    if !policy.guards.is_empty() {
        policy.guards.check_input(request, &mut guard).map_err(fail)?;
    }

    let effective = CallOptions {
        tags: principal.tags.clone(),
        ..options.clone()
    };
    let mut plan = Plan::for_request(&engine.config, &engine.prices, model, request, &effective).map_err(fail)?;
    let estimate = |plan: &Plan| Estimate {
        // Saturating: `max_tokens` is the caller's number, u64::MAX included.
        tokens: plan.prompt_tokens.saturating_add(
            crate::providers::dialect::max_tokens(request)
                .unwrap_or(0)
                .saturating_mul(crate::tokens::choices(request)),
        ),
        worst_cost_usd: worst_cost(plan, &engine.prices, request),
        unpriced: plan
            .groups
            .iter()
            .flat_map(|g| g.deployments.iter())
            .filter(|d| engine.prices.get(&d.model).is_none())
            .map(|d| (d.name.clone(), d.model.clone()))
            .collect(),
        unpriced_usage: worst_usage(plan, None, request),
        hold_secs: plan
            .timeout
            .total
            .map(|t| t.as_secs_f64().min(1e9) + 60.0)
            .unwrap_or(0.0),
    };
    let watch = |plan: &Plan| -> Vec<String> {
        if policy.redis.is_none() {
            return Vec::new();
        }
        plan.groups
            .iter()
            .flat_map(|g| g.deployments.iter().map(|d| d.name.clone()))
            .collect()
    };
    if let Some(store) = &policy.redis {
        engine.router.publisher.ensure_running(store, &engine.router.health);
    }
    let mut ticket = match policy
        .reserve(&principal, &plan.route, &estimate(&plan), &watch(&plan))
        .await
    {
        Ok(ticket) => ticket,
        Err(Refused::Error(e)) => return Err(fail(e)),
        Err(Refused::Fallback(route)) => {
            plan = Plan::for_request(&engine.config, &engine.prices, &route, request, &effective).map_err(fail)?;
            match policy
                .reserve(&principal, &plan.route, &estimate(&plan), &watch(&plan))
                .await
            {
                Ok(ticket) => ticket,
                Err(Refused::Error(e)) => return Err(fail(e)),
                Err(Refused::Fallback(_)) => {
                    return Err(fail(Error::new(crate::ErrorKind::BudgetExceeded, format!("the budget for `{model}` is used up, and so is the budget of its fallback route `{route}`")).with_retryable(false)));
                }
            }
        }
    };
    plan.peers = ticket.take_peers();
    let mut record = CallRecord::new(request_id, plan.route.clone(), principal.tags.clone());
    record.started = started;
    record.started_unix = started_unix;
    record.continue_trace(options.traceparent.as_deref());
    record.skipped = plan.skipped.clone();
    Ok(Admitted {
        plan,
        record,
        request: std::mem::take(request),
        ticket,
        principal,
        guard,
    })
}

/// Checks a chat request and admits it.
pub(crate) async fn admit_chat(
    engine: &Engine,
    request: &mut Value,
    options: &CallOptions,
    want_stream: bool,
) -> Result<Admitted> {
    let request_id = options.request_id.clone().unwrap_or_else(new_request_id);
    let checked = request::check(request).map_err(|e| e.with_request_id(&request_id))?;
    if checked.stream != want_stream {
        let hint = if want_stream {
            "set `stream: true` or use the non-streaming call"
        } else {
            "use the streaming call for `stream: true`"
        };
        return Err(
            Error::invalid_request(format!("this call does not match the request's `stream` field; {hint}"))
                .with_request_id(&request_id),
        );
    }
    admit(engine, request, options, &checked.model, request_id).await
}
