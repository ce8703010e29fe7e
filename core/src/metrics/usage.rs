//! `usage(group_by, since)`: requests, errors by kind, tokens, cost and latency percentiles,
//! grouped by key, team, user, any tag, route, deployment, provider or model.
//!
//! Calls are rolled up per minute and per distinct set of dimensions, so memory grows with the
//! variety of traffic, not its volume. Latency percentiles come from log-scale histograms
//! (buckets 25% wide: a percentile is within about ±12% of the exact value).

use super::Event;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

const DIMENSIONS: [&str; 7] = ["key", "team", "user", "route", "deployment", "provider", "model"];
/// Histogram buckets: bucket i holds values up to `FIRST_MS * GROWTH^i` milliseconds.
const BUCKETS: usize = 80;
const FIRST_MS: f64 = 0.01;
const GROWTH: f64 = 1.25;
/// Rolled-up minutes kept (31 days); older ones are dropped.
const RETENTION_SECS: i64 = 31 * 86400;
/// Upper bound on rolled-up rows, whatever the traffic's variety (oldest minutes go first).
const ROW_LIMIT: usize = 200_000;

/// What a call is counted under: its minute and every dimension `usage` can group by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Dims {
    minute: i64,
    key: Option<String>,
    tags: BTreeMap<String, String>,
    route: String,
    deployment: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    outcome: String,
}

#[derive(Debug, Clone)]
struct Totals {
    requests: u64,
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    reasoning_tokens: u64,
    cost_usd: f64,
    latency: Vec<u32>,
    ttft: Vec<u32>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            requests: 0,
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            reasoning_tokens: 0,
            cost_usd: 0.0,
            latency: vec![0; BUCKETS],
            ttft: vec![0; BUCKETS],
        }
    }
}

fn bucket(ms: f64) -> usize {
    if ms <= FIRST_MS {
        return 0;
    }
    ((ms / FIRST_MS).ln() / GROWTH.ln())
        .ceil()
        .clamp(0.0, (BUCKETS - 1) as f64) as usize
}

impl Totals {
    fn add(&mut self, e: &Event) {
        self.requests += 1;
        self.input_tokens += e.input_tokens;
        self.output_tokens += e.output_tokens;
        self.cached_tokens += e.cached_tokens;
        self.reasoning_tokens += e.reasoning_tokens;
        self.cost_usd += e.cost_usd.unwrap_or(0.0);
        if e.outcome == "ok" {
            self.latency[bucket(e.latency_ms)] += 1;
        }
        if let Some(t) = e.ttft_ms {
            self.ttft[bucket(t)] += 1;
        }
    }

    fn merge(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost_usd += other.cost_usd;
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            *a += b;
        }
        for (a, b) in self.ttft.iter_mut().zip(&other.ttft) {
            *a += b;
        }
    }
}

/// The p-th percentile of a histogram: the geometric middle of the bucket holding it.
fn percentile(hist: &[u32], p: f64) -> Option<f64> {
    let total: u64 = hist.iter().map(|c| u64::from(*c)).sum();
    if total == 0 {
        return None;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in hist.iter().enumerate() {
        seen += u64::from(*c);
        if seen >= rank {
            let upper = FIRST_MS * GROWTH.powi(i as i32);
            let middle = if i == 0 { upper } else { upper / GROWTH.sqrt() };
            return Some((middle * 1000.0).round() / 1000.0);
        }
    }
    None
}

fn percentiles(hist: &[u32]) -> Value {
    json!({"p50": percentile(hist, 50.0), "p95": percentile(hist, 95.0), "p99": percentile(hist, 99.0)})
}

/// Calls rolled up per minute and dimensions.
#[derive(Default)]
pub struct Rollup {
    rows: HashMap<Dims, Totals>,
    /// One time bucket and no row limit (see [`Rollup::whole`]).
    whole: bool,
}

impl Rollup {
    /// A rollup for a report over a log read once (`sluicegate usage`, the dashboard): every
    /// call in one time bucket (the caller filters by `since` before adding), and no row limit
    /// or retention, so that no call is dropped. Memory grows with the variety of calls only.
    pub fn whole() -> Rollup {
        Rollup {
            rows: HashMap::new(),
            whole: true,
        }
    }

    pub fn add(&mut self, e: &Event) {
        let dims = Dims {
            minute: if self.whole { 0 } else { (e.ts / 60.0).floor() as i64 },
            key: e.key.clone(),
            tags: e.tags.clone(),
            route: e.route.clone(),
            deployment: e.deployment.clone(),
            provider: e.provider.clone(),
            model: e.model.clone(),
            outcome: e.outcome.clone(),
        };
        self.rows.entry(dims).or_default().add(e);
        if self.rows.len() > ROW_LIMIT && !self.whole {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        let newest = self.rows.keys().map(|d| d.minute).max().unwrap_or(0);
        let horizon = newest - RETENTION_SECS / 60;
        self.rows.retain(|d, _| d.minute > horizon);
        while self.rows.len() > ROW_LIMIT {
            let Some(oldest) = self.rows.keys().map(|d| d.minute).min() else {
                break;
            };
            self.rows.retain(|d, _| d.minute > oldest);
        }
    }

    /// The report since `since` (unix seconds), grouped by `group_by`.
    pub fn report(&self, group_by: &[String], since: f64) -> Result<Value> {
        for g in group_by {
            if !DIMENSIONS.contains(&g.as_str()) && !g.starts_with("tag:") {
                let near = crate::config::suggest::hint(g, DIMENSIONS);
                return Err(Error::invalid_request(format!(
                    "cannot group usage by `{g}`{near}; use {} or tag:NAME",
                    DIMENSIONS.join(", ")
                )));
            }
        }
        let first_minute = (since / 60.0).floor() as i64;
        let mut groups: BTreeMap<String, (Map<String, Value>, Totals, BTreeMap<String, u64>)> = BTreeMap::new();
        for (d, t) in self.rows.iter().filter(|(d, _)| self.whole || d.minute >= first_minute) {
            let key: Map<String, Value> = group_by.iter().map(|g| (g.clone(), dimension(d, g))).collect();
            let id = Value::Object(key.clone()).to_string();
            let entry = groups
                .entry(id)
                .or_insert_with(|| (key, Totals::default(), BTreeMap::new()));
            entry.1.merge(t);
            if d.outcome != "ok" {
                *entry.2.entry(d.outcome.clone()).or_insert(0) += t.requests;
            }
        }
        let rows: Vec<Value> = groups
            .into_values()
            .map(|(key, t, errors)| {
                json!({
                    "group": key,
                    "requests": t.requests,
                    "errors": errors,
                    "input_tokens": t.input_tokens,
                    "output_tokens": t.output_tokens,
                    "cached_tokens": t.cached_tokens,
                    "reasoning_tokens": t.reasoning_tokens,
                    "cost_usd": (t.cost_usd * 1e12).round() / 1e12 + 0.0, // never -0.0
                    "latency_ms": percentiles(&t.latency),
                    "ttft_ms": percentiles(&t.ttft),
                })
            })
            .collect();
        Ok(json!({"since": crate::policy::clock::rfc3339(since), "group_by": group_by, "groups": rows}))
    }
}

fn dimension(d: &Dims, name: &str) -> Value {
    let s = match name {
        "key" => d.key.clone(),
        "route" => Some(d.route.clone()),
        "deployment" => d.deployment.clone(),
        "provider" => d.provider.clone(),
        "model" => d.model.clone(),
        tag => d.tags.get(tag.strip_prefix("tag:").unwrap_or(tag)).cloned(),
    };
    s.map(Value::String).unwrap_or(Value::Null)
}

/// The report for a list of events (the CLI reads them from an audit log).
pub fn usage_report(events: &[Event], group_by: &[String], since: f64) -> Result<Value> {
    let mut rollup = Rollup::whole();
    for e in events.iter().filter(|e| e.ts >= since) {
        rollup.add(e);
    }
    rollup.report(group_by, since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_over_a_log_keeps_every_call() {
        // More distinct minutes than a live rollup keeps rows: a log's report must not drop
        // the oldest (it did: `usage` on a large audit log lost calls).
        let events: Vec<Event> = (0..ROW_LIMIT as u64 + 100)
            .map(|i| Event {
                ts: 1_800_000_000.0 + i as f64 * 60.0,
                operation: "chat",
                key: None,
                tags: BTreeMap::new(),
                route: "chat".into(),
                deployment: None,
                provider: None,
                model: None,
                provider_system: None,
                outcome: "ok".into(),
                input_tokens: 1,
                output_tokens: 0,
                cached_tokens: 0,
                reasoning_tokens: 0,
                cost_usd: None,
                latency_ms: 1.0,
                ttft_ms: None,
                overhead_us: None,
            })
            .collect();
        let report = usage_report(&events, &["route".to_owned()], 0.0).unwrap();
        assert_eq!(report["groups"][0]["requests"], json!(ROW_LIMIT as u64 + 100));
    }

    #[test]
    fn percentiles_are_within_the_bucket_width() {
        let mut hist = vec![0u32; BUCKETS];
        for ms in 1..=1000 {
            hist[bucket(ms as f64)] += 1;
        }
        let p50 = percentile(&hist, 50.0).unwrap();
        let p99 = percentile(&hist, 99.0).unwrap();
        assert!((p50 - 500.0).abs() / 500.0 < 0.13, "p50 {p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.13, "p99 {p99}");
    }
}
