//! `usage(group_by, since)`: requests, errors by kind, tokens, cost and latency percentiles,
//! grouped by key, team, user, any tag, route, deployment, provider or model.

use super::Event;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DIMENSIONS: [&str; 7] = ["key", "team", "user", "route", "deployment", "provider", "model"];

fn dimension(event: &Event, name: &str) -> Value {
    let s = match name {
        "key" => event.key.clone(),
        "route" => Some(event.route.clone()),
        "deployment" => event.deployment.clone(),
        "provider" => event.provider.clone(),
        "model" => event.model.clone(),
        tag => event.tags.get(tag.strip_prefix("tag:").unwrap_or(tag)).cloned(),
    };
    s.map(Value::String).unwrap_or(Value::Null)
}

/// The p-th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some((sorted[rank.min(sorted.len()) - 1] * 1000.0).round() / 1000.0)
}

fn percentiles(mut values: Vec<f64>) -> Value {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    json!({"p50": percentile(&values, 50.0), "p95": percentile(&values, 95.0), "p99": percentile(&values, 99.0)})
}

/// The report for `events`, grouped by `group_by` (names from [`DIMENSIONS`] or `tag:NAME`).
pub fn usage_report(events: &[Event], group_by: &[String], since: f64) -> Result<Value> {
    for g in group_by {
        if !DIMENSIONS.contains(&g.as_str()) && !g.starts_with("tag:") {
            let near = crate::config::suggest::hint(g, DIMENSIONS);
            return Err(Error::invalid_request(format!(
                "cannot group usage by `{g}`{near}; use {} or tag:NAME",
                DIMENSIONS.join(", ")
            )));
        }
    }
    let mut groups: BTreeMap<String, (Map<String, Value>, Vec<&Event>)> = BTreeMap::new();
    for e in events {
        let key: Map<String, Value> = group_by.iter().map(|g| (g.clone(), dimension(e, g))).collect();
        let id = Value::Object(key.clone()).to_string();
        groups.entry(id).or_insert_with(|| (key, Vec::new())).1.push(e);
    }
    let rows: Vec<Value> = groups
        .into_values()
        .map(|(key, events)| {
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            for e in events.iter().filter(|e| e.outcome != "ok") {
                *errors.entry(e.outcome.clone()).or_insert(0) += 1;
            }
            let sum = |f: fn(&Event) -> u64| events.iter().map(|e| f(e)).sum::<u64>();
            let cost: f64 = events.iter().filter_map(|e| e.cost_usd).sum();
            json!({
                "group": key,
                "requests": events.len(),
                "errors": errors,
                "input_tokens": sum(|e| e.input_tokens),
                "output_tokens": sum(|e| e.output_tokens),
                "cached_tokens": sum(|e| e.cached_tokens),
                "reasoning_tokens": sum(|e| e.reasoning_tokens),
                "cost_usd": (cost * 1e12).round() / 1e12 + 0.0, // never -0.0
                "latency_ms": percentiles(events.iter().filter(|e| e.outcome == "ok").map(|e| e.latency_ms).collect()),
                "ttft_ms": percentiles(events.iter().filter_map(|e| e.ttft_ms).collect()),
            })
        })
        .collect();
    Ok(json!({"since": crate::policy::clock::rfc3339(since), "group_by": group_by, "groups": rows}))
}
