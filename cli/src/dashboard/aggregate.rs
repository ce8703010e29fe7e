//! The dashboard's numbers, gathered while the audit log is read (one record at a time, never
//! the whole log in memory). Spend, tokens and latency go through the same `Rollup` and the
//! same record-to-event reading as `sluicegate usage`, so the totals are the same; the rest
//! (spend over time, budgets, rejections, guardrail counts, retries and failovers, the cache)
//! is counted here. Guardrail counts come from the records' counts and the block errors' rule
//! and entity names: a record never holds matched text, and nothing here would read it.

use super::series::Series;
use serde_json::{Value, json};
use sluicegate::config::Config;
use sluicegate::metrics::Rollup;
use sluicegate::policy::{Principal, clock, scope_value, window_key};
use std::collections::BTreeMap;

/// What `sluicegate usage` groups by by default: the totals are summed over these groups in
/// the same order, so that they equal the sums of `usage --json` to the last digit.
pub const USAGE_GROUPS: [&str; 3] = ["team", "route", "model"];

/// One budget counter's spend in the latest window the log reaches.
#[derive(Default)]
struct BudgetUse {
    window: String,
    spent: f64,
    calls: u64,
    first_ts: f64,
    last_ts: f64,
}

#[derive(Default)]
struct Deployment {
    attempts: u64,
    failed: BTreeMap<String, u64>,
    retries: u64,
    failovers: u64,
    breaker_open: u64,
    saturated: u64,
    other_skips: u64,
}

pub struct Aggregate {
    config: Config,
    rollup: Rollup,
    spend: Series,
    rejections: Series,
    outcomes: BTreeMap<String, u64>,
    deployments: BTreeMap<String, Deployment>,
    /// (action, rule or entity type) → count.
    guard: BTreeMap<(String, String), u64>,
    /// (budget index, scope value) → use.
    budgets: BTreeMap<(usize, String), BudgetUse>,
    cache_hits: u64,
    cache_answered: u64,
    saved_usd: f64,
    records: u64,
    first_ts: Option<f64>,
    last_ts: Option<f64>,
}

/// `policies.rate_limits[3]` → `3`, from a rejection's message.
fn policy_index(message: &str, list: &str) -> Option<String> {
    let rest = &message[message.find(&format!("policies.{list}["))? + list.len() + 10..];
    Some(format!("{list}[{}]", &rest[..rest.find(']')?]))
}

/// The rule and entity type a block error names: "guardrail `RULE` blocked the request: it
/// found LABEL; …" (labels are entity types such as `EMAIL`, never the text found).
fn blocked_by(message: &str) -> (String, String) {
    let rule = message
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_else(|| "(unknown)".into());
    let label = message
        .split_once("it found ")
        .and_then(|(_, rest)| rest.split(';').next())
        .map(str::to_owned)
        .unwrap_or_else(|| "(size)".into());
    (rule, label)
}

impl Aggregate {
    pub fn new(config: Config) -> Aggregate {
        Aggregate {
            config,
            rollup: Rollup::whole(),
            spend: Series::default(),
            rejections: Series::default(),
            outcomes: BTreeMap::new(),
            deployments: BTreeMap::new(),
            guard: BTreeMap::new(),
            budgets: BTreeMap::new(),
            cache_hits: 0,
            cache_answered: 0,
            saved_usd: 0.0,
            records: 0,
            first_ts: None,
            last_ts: None,
        }
    }

    /// Counts one line of the log (checkpoints and other records the log adds are skipped).
    pub fn add(&mut self, r: &Value) {
        if !sluicegate::policy::audit::is_call_record(r) {
            return;
        }
        let event = crate::usage::event(r);
        self.rollup.add(&event);
        self.records += 1;
        let ts = event.ts;
        self.first_ts = Some(self.first_ts.map_or(ts, |t| t.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
        *self.outcomes.entry(event.outcome.clone()).or_insert(0) += 1;
        let cost = event.cost_usd.unwrap_or(0.0);
        if cost != 0.0 {
            let team = event.tags.get("team").map(String::as_str).unwrap_or("(none)");
            self.spend.add(ts, "team", team, cost);
            self.spend.add(ts, "route", &event.route, cost);
            self.spend
                .add(ts, "model", event.model.as_deref().unwrap_or("(none)"), cost);
            self.spend
                .add(ts, "key", event.key.as_deref().unwrap_or("(no key)"), cost);
        }
        let message = r["error"].as_str().unwrap_or("");
        match event.outcome.as_str() {
            "rate_limited" => {
                let policy = policy_index(message, "rate_limits").unwrap_or_else(|| "(deployment capacity)".into());
                self.rejections.add(ts, "rate_limited", &policy, 1.0);
            }
            "budget_exceeded" => {
                let policy = policy_index(message, "budgets").unwrap_or_else(|| "(budget)".into());
                self.rejections.add(ts, "budget_exceeded", &policy, 1.0);
            }
            "guardrail_blocked" => {
                let (rule, label) = blocked_by(message);
                *self
                    .guard
                    .entry(("blocked".into(), format!("{rule}: {label}")))
                    .or_insert(0) += 1;
            }
            _ => {}
        }
        for action in ["redacted", "logged"] {
            for (label, n) in r
                .pointer(&format!("/policy/guardrails/{action}"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                *self.guard.entry((action.into(), label.clone())).or_insert(0) += n.as_u64().unwrap_or(0);
            }
        }
        self.add_attempts(r);
        if event.outcome == "ok" {
            self.cache_answered += 1;
            if r["cache_hit"] == json!(true) {
                self.cache_hits += 1;
                self.saved_usd += r["saved_cost_usd"].as_f64().unwrap_or(0.0);
            }
        }
        if cost != 0.0 {
            self.add_budgets(&event, cost);
        }
    }

    fn add_attempts(&mut self, r: &Value) {
        let attempts: Vec<(&str, &str)> = r["attempt_log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["deployment"].as_str()?, a["outcome"].as_str().unwrap_or("ok"))))
            .collect();
        for (i, (deployment, outcome)) in attempts.iter().enumerate() {
            let d = self.deployments.entry((*deployment).to_owned()).or_default();
            d.attempts += 1;
            if *outcome != "ok" {
                *d.failed.entry((*outcome).to_owned()).or_insert(0) += 1;
            }
            // The attempt after this one: the same deployment again is a retry, another one a
            // failover away from this one.
            match attempts.get(i + 1) {
                Some((next, _)) if next == deployment => d.retries += 1,
                Some(_) => d.failovers += 1,
                None => {}
            }
        }
        for skip in r["skipped"].as_array().into_iter().flatten() {
            let Some(deployment) = skip["deployment"].as_str() else {
                continue;
            };
            let d = self.deployments.entry(deployment.to_owned()).or_default();
            let reason = skip["reason"].as_str().unwrap_or("");
            if reason.starts_with("breaker open") {
                d.breaker_open += 1;
            } else if reason.starts_with("saturated") {
                d.saturated += 1;
            } else {
                d.other_skips += 1;
            }
        }
    }

    fn add_budgets(&mut self, event: &sluicegate::metrics::Event, cost: f64) {
        let principal = Principal {
            key: event.key.clone(),
            tags: event.tags.clone(),
        };
        for (i, budget) in self.config.policies.budgets.iter().enumerate() {
            let Some(value) = scope_value(&budget.selector, &principal, &event.route) else {
                continue;
            };
            let window = window_key(budget, event.ts);
            let slot = self.budgets.entry((i, value)).or_default();
            if slot.calls > 0 && window < slot.window {
                continue;
            }
            if window != slot.window {
                *slot = BudgetUse {
                    window,
                    first_ts: event.ts,
                    ..BudgetUse::default()
                };
            }
            slot.spent += cost;
            slot.calls += 1;
            slot.first_ts = slot.first_ts.min(event.ts);
            slot.last_ts = slot.last_ts.max(event.ts);
        }
    }

    /// Everything counted, as the page's data (see `assets/app.js` for how it is drawn).
    pub fn to_json(&self, now: f64) -> Value {
        let by: Vec<String> = USAGE_GROUPS.iter().map(|s| (*s).to_owned()).collect();
        let usage = self.rollup.report(&by, 0.0).unwrap_or_else(|_| json!({"groups": []}));
        let groups = usage["groups"].as_array().cloned().unwrap_or_default();
        let sum = |field: &str| groups.iter().map(|g| g[field].as_f64().unwrap_or(0.0)).sum::<f64>();
        let count = |field: &str| groups.iter().map(|g| g[field].as_u64().unwrap_or(0)).sum::<u64>();
        let errors: u64 = groups
            .iter()
            .flat_map(|g| g["errors"].as_object().into_iter().flatten())
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum();
        let per_deployment = self
            .rollup
            .report(&["deployment".to_owned()], 0.0)
            .map(|r| r["groups"].clone())
            .unwrap_or(json!([]));
        let deployments: Vec<Value> = self
            .deployments
            .iter()
            .map(|(name, d)| {
                json!({"deployment": name, "attempts": d.attempts, "failed": d.failed, "retries": d.retries,
                       "failovers": d.failovers, "breaker_open": d.breaker_open, "saturated": d.saturated,
                       "other_skips": d.other_skips})
            })
            .collect();
        let guard: Vec<Value> = self
            .guard
            .iter()
            .map(|((action, what), n)| json!({"action": action, "what": what, "count": n}))
            .collect();
        json!({
            "records": self.records,
            "first_ts": self.first_ts.map(clock::rfc3339),
            "last_ts": self.last_ts.map(clock::rfc3339),
            "totals": {
                "requests": count("requests"), "errors": errors, "cost_usd": sum("cost_usd"),
                "input_tokens": count("input_tokens"), "output_tokens": count("output_tokens"),
            },
            "usage_groups": groups,
            "outcomes": self.outcomes,
            "spend": self.spend.to_json(&["team", "route", "model", "key"]),
            "rejections": self.rejections.to_json(&["rate_limited", "budget_exceeded"]),
            "guardrails": guard,
            "deployments": deployments,
            "latency": per_deployment,
            "cache": {"hits": self.cache_hits, "answered": self.cache_answered, "saved_usd": self.saved_usd},
            "budgets": self.budgets_json(now),
        })
    }

    fn budgets_json(&self, now: f64) -> Vec<Value> {
        self.budgets
            .iter()
            .map(|((i, value), u)| {
                let budget = &self.config.policies.budgets[*i];
                let current = window_key(budget, now) == u.window;
                // Spend so far at the rate seen in this window.
                let elapsed = (u.last_ts - u.first_ts).max(60.0);
                let rate = u.spent / elapsed;
                let exhausted_at = (current && rate > 0.0 && u.spent < budget.usd)
                    .then(|| clock::rfc3339(now + (budget.usd - u.spent) / rate));
                json!({
                    "budget": format!("budgets[{i}]"), "scope": budget.selector.scope.describe(), "value": value,
                    "window": u.window, "current_window": current, "limit_usd": budget.usd, "spent_usd": u.spent,
                    "calls": u.calls, "projected_exhaustion": if u.spent >= budget.usd { json!("exhausted") } else { json!(exhausted_at) },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u64) -> Value {
        let team = ["search", "billing", "ops"][(i % 3) as usize];
        let outcome = if i % 7 == 0 { "rate_limited" } else { "ok" };
        json!({"ts": format!("2026-12-05T10:{:02}:{:02}.000Z", i / 60 % 60, i % 60), "kind": "chat",
               "principal": {"key": if i % 2 == 0 { json!("k1") } else { json!(null) }, "tags": {"team": team}},
               "route": if i % 4 == 0 { "cheap" } else { "chat" }, "outcome": outcome,
               "deployment": "d", "model": "gpt-4o", "cost_usd": if outcome == "ok" { json!(0.000123 * i as f64) } else { json!(null) },
               "usage": {"input_tokens": i, "output_tokens": 2 * i}, "latency_ms": 1.5 + i as f64,
               "error": if outcome == "ok" { json!(null) } else { json!("rate limit policies.rate_limits[1] (…) is used up") }})
    }

    #[test]
    fn totals_are_those_of_the_usage_report() {
        let config = Config::from_text("providers: {p: {type: mock}}\ndeployments: {d: {provider: p, model: gpt-4o}}\nroutes: {chat: {targets: [d]}, cheap: {targets: [d]}}\npolicies: {budgets: [{scope: team, usd: 1, window: day}]}").unwrap();
        let mut aggregate = Aggregate::new(config);
        let records: Vec<Value> = (1..=500).map(record).collect();
        for r in &records {
            aggregate.add(r);
        }
        aggregate.add(&json!({"kind": "checkpoint", "records": 500}));
        let events: Vec<_> = records.iter().map(crate::usage::event).collect();
        let by: Vec<String> = USAGE_GROUPS.iter().map(|s| (*s).to_owned()).collect();
        let report = sluicegate::metrics::usage_report(&events, &by, 0.0).unwrap();
        let groups = report["groups"].as_array().unwrap();
        let expected: f64 = groups.iter().map(|g| g["cost_usd"].as_f64().unwrap()).sum();
        let page = aggregate.to_json(clock::now_secs());
        assert_eq!(page["records"], json!(500));
        assert_eq!(page["totals"]["requests"], json!(500));
        assert_eq!(page["totals"]["cost_usd"].as_f64().unwrap(), expected);
        assert_eq!(page["totals"]["errors"], json!(71));
        assert_eq!(page["totals"]["input_tokens"], json!(125_250));
        // Spend over time adds up to the same total, per dimension.
        for dim in ["team", "route", "model", "key"] {
            let sum: f64 = page["spend"]["by"][dim]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|v| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .sum();
            assert!((sum - expected).abs() < 1e-9, "{dim}: {sum} vs {expected}");
        }
        assert_eq!(
            page["rejections"]["by"]["rate_limited"]["rate_limits[1]"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .sum::<f64>(),
            71.0
        );
        // One team budget counter per team, in the record's day.
        let budgets = page["budgets"].as_array().unwrap();
        assert_eq!(budgets.len(), 3);
        assert!(budgets.iter().all(|b| b["window"] == "2026-12-05"));
        let spent: f64 = budgets.iter().map(|b| b["spent_usd"].as_f64().unwrap()).sum();
        assert!((spent - expected).abs() < 1e-9);
    }

    #[test]
    fn rejection_policies_and_block_names_are_read_from_messages() {
        assert_eq!(
            policy_index(
                "rate limit policies.rate_limits[2] (5 requests/min for key `a`) is used up",
                "rate_limits"
            ),
            Some("rate_limits[2]".into())
        );
        assert_eq!(policy_index("no policy here", "budgets"), None);
        assert_eq!(
            blocked_by("guardrail `no-pii` blocked the request: it found EMAIL; remove it, or …"),
            ("no-pii".into(), "EMAIL".into())
        );
    }
}
