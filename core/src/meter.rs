//! The `gateway` side channel: what one call did (route, deployment, attempts), what it used
//! (tokens, cost) and how long it took (latency, time to first token, the gateway's own time).

use crate::usage::Usage;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One try of one deployment within a call.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub deployment: String,
    /// Unix time the attempt started, in seconds.
    pub started_unix: f64,
    pub duration: Duration,
    /// `ok`, or the error code.
    pub outcome: String,
}

/// Facts about one call, filled in as it runs.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub request_id: String,
    pub route: String,
    pub deployment: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub attempts: u32,
    pub usage: Option<Usage>,
    pub usage_estimated: bool,
    pub cost_usd: Option<f64>,
    pub cost: Option<crate::pricing::CostBreakdown>,
    pub started: Instant,
    /// The call's latency, fixed by [`CallRecord::end`] when its answer is written, so that
    /// metering and the `gateway` object report the same numbers.
    pub ended: Option<Duration>,
    /// Time spent waiting on providers; the rest of the latency is the gateway's own.
    pub provider_time: Duration,
    pub first_token: Option<Duration>,
    pub tags: BTreeMap<String, String>,
    /// Deployments passed over for this call, with the reason.
    pub skipped: Vec<(String, crate::routing::SkipReason)>,
    /// What policies did: key, rate limits, budgets, guardrails.
    pub policy: Value,
    pub attempt_log: Vec<AttemptRecord>,
    /// Unix time the call started, in seconds (for traces).
    pub started_unix: f64,
    /// The call's trace: the caller's (from `traceparent`) or a new one.
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub cache_hit: bool,
    /// What a cache hit saved: the cost of the call that produced the answer.
    pub saved_cost_usd: Option<f64>,
}

impl CallRecord {
    pub fn new(request_id: String, route: String, tags: BTreeMap<String, String>) -> CallRecord {
        CallRecord {
            request_id,
            route,
            deployment: None,
            provider: None,
            model: None,
            attempts: 0,
            usage: None,
            usage_estimated: false,
            cost_usd: None,
            cost: None,
            started: Instant::now(),
            ended: None,
            provider_time: Duration::ZERO,
            first_token: None,
            tags,
            skipped: Vec::new(),
            policy: Value::Null,
            attempt_log: Vec::new(),
            started_unix: crate::policy::clock::now_secs(),
            trace_id: crate::telemetry::new_trace_id(),
            span_id: crate::telemetry::new_span_id(),
            parent_span_id: None,
            cache_hit: false,
            saved_cost_usd: None,
        }
    }

    pub fn to_json(&self) -> Value {
        self.json_with(self.tags.clone(), self.policy.clone())
    }

    /// `to_json` for a record whose tags and policy report are no longer needed: they move
    /// into the JSON, not copy (the rest stays, for metering).
    pub fn take_json(&mut self) -> Value {
        let (tags, policy) = (std::mem::take(&mut self.tags), self.policy.take());
        self.json_with(tags, policy)
    }

    /// The cost as the `gateway` object reports it (JSON has no NaN or infinity).
    pub fn reported_cost_usd(&self) -> Option<f64> {
        self.cost_usd.filter(|c| c.is_finite())
    }

    /// Fixes the call's latency at now (see `ended`).
    pub fn end(&mut self) {
        self.ended = Some(self.started.elapsed());
    }

    /// The call's latency: fixed by `end`, else so far.
    pub fn latency(&self) -> Duration {
        self.ended.unwrap_or_else(|| self.started.elapsed())
    }

    /// `latency` in milliseconds, to the microsecond (as `gateway.latency_ms`).
    pub fn latency_ms(&self) -> f64 {
        ms(self.latency())
    }

    /// Time to the first token in milliseconds (as `gateway.ttft_ms`).
    pub fn ttft_ms(&self) -> Option<f64> {
        self.first_token.map(ms)
    }

    /// The gateway's own time in microseconds: the latency not spent waiting on providers.
    pub fn overhead_us(&self) -> u64 {
        self.overhead_us_of(self.latency())
    }

    fn overhead_us_of(&self, latency: Duration) -> u64 {
        latency.saturating_sub(self.provider_time).as_micros() as u64
    }

    fn json_with(&self, tags: BTreeMap<String, String>, policy: Value) -> Value {
        let mut usage = self.usage.unwrap_or_default().to_json();
        if self.usage_estimated {
            usage["estimated"] = Value::Bool(true);
        }
        let attempt_log: Vec<Value> = self
            .attempt_log
            .iter()
            .map(|a| json!({"deployment": a.deployment, "outcome": a.outcome, "latency_ms": ms(a.duration)}))
            .collect();
        let skipped: Vec<Value> = self
            .skipped
            .iter()
            .map(|(d, why)| json!({"deployment": d, "reason": why.to_string()}))
            .collect();
        // Built field by field: `json!` would serialize (deep-copy) every `Value` it is given.
        let text = |s: &Option<String>| s.clone().map(Value::String).unwrap_or(Value::Null);
        let mut m = serde_json::Map::with_capacity(20);
        m.insert("request_id".into(), Value::String(self.request_id.clone()));
        m.insert("route".into(), Value::String(self.route.clone()));
        m.insert("deployment".into(), text(&self.deployment));
        m.insert("provider".into(), text(&self.provider));
        m.insert("model".into(), text(&self.model));
        m.insert("attempts".into(), json!(self.attempts));
        m.insert("cache_hit".into(), Value::Bool(self.cache_hit));
        m.insert("saved_cost_usd".into(), json!(self.saved_cost_usd));
        m.insert("usage".into(), usage);
        m.insert("cost_usd".into(), json!(self.cost_usd));
        m.insert("cost".into(), self.cost.map(|c| c.to_json()).unwrap_or(Value::Null));
        // One reading of the clock for both, as they are parts of the same latency.
        let latency = self.latency();
        m.insert("latency_ms".into(), json!(ms(latency)));
        m.insert("ttft_ms".into(), json!(self.ttft_ms()));
        m.insert("overhead_us".into(), json!(self.overhead_us_of(latency)));
        m.insert(
            "tags".into(),
            Value::Object(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        );
        m.insert("trace_id".into(), Value::String(self.trace_id.clone()));
        m.insert("span_id".into(), Value::String(self.span_id.clone()));
        m.insert("policy".into(), policy);
        m.insert("attempt_log".into(), Value::Array(attempt_log));
        m.insert("skipped".into(), Value::Array(skipped));
        Value::Object(m)
    }
}

/// A duration in milliseconds, rounded to the microsecond.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A fresh request id: `sg-` and 24 hex digits.
pub fn new_request_id() -> String {
    format!("sg-{:024x}", rand::random::<u128>() >> 32)
}

impl CallRecord {
    /// Continues the caller's trace.
    pub fn continue_trace(&mut self, traceparent: Option<&str>) {
        if let Some((trace, parent)) = traceparent.and_then(crate::telemetry::parse_traceparent) {
            self.trace_id = trace;
            self.parent_span_id = Some(parent);
        }
    }

    /// Notes how an attempt ended (for `attempt_log` and the attempt's trace span).
    pub fn attempt(&mut self, deployment: &str, sent: Instant, outcome: Result<(), &crate::Error>) {
        let duration = sent.elapsed();
        self.attempt_log.push(AttemptRecord {
            deployment: deployment.to_owned(),
            started_unix: crate::policy::clock::now_secs() - duration.as_secs_f64(),
            duration,
            outcome: match outcome {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.kind.code().to_owned(),
            },
        });
    }
}
