//! The live counters, with `state: redis`: each budget's spend and reservations in its current
//! window and each rate limit's use, read from the store without changing it
//! (`sluicegate::policy::redis_read`). With `state: memory` the counters live inside each
//! gateway process, so the page says so and shows the audit log's view only.

use serde_json::{Value, json};
use sluicegate::config::{Config, StateBackendConfig};
use sluicegate::policy::redis_read::{Counter, read_counters};

pub async fn read(config: &Config) -> Value {
    let StateBackendConfig::Redis { url, prefix, timeout } = &config.state.backend else {
        return json!({"state": "memory"});
    };
    let counters = match read_counters(url, prefix, *timeout).await {
        Ok(c) => c,
        Err(why) => return json!({"state": "redis", "error": why}),
    };
    let p = &config.policies;
    let mut budgets = Vec::new();
    let mut rates = Vec::new();
    for counter in counters {
        match counter {
            // `bg:INDEX:VALUE:WINDOW` (the value may itself hold `:`).
            Counter::Budget { key, spent, reserved } => {
                let Some((index, rest)) = key["bg:".len()..].split_once(':') else {
                    continue;
                };
                let Some((value, window)) = rest.rsplit_once(':') else {
                    continue;
                };
                let Some(budget) = index.parse::<usize>().ok().and_then(|i| p.budgets.get(i)) else {
                    continue;
                };
                budgets.push(
                    json!({"budget": format!("budgets[{index}]"), "value": value, "window": window,
                                    "spent_usd": spent, "reserved_usd": reserved, "limit_usd": budget.usd}),
                );
            }
            // `rl:INDEX:rpm|tpm:VALUE`
            Counter::Rate { key, ahead_secs } => {
                let mut parts = key["rl:".len()..].splitn(3, ':');
                let (Some(index), Some(unit), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                let Some(limit) = index.parse::<usize>().ok().and_then(|i| p.rate_limits.get(i)) else {
                    continue;
                };
                let per_minute = if unit == "rpm" { limit.rpm } else { limit.tpm }.unwrap_or(0) as f64;
                rates.push(json!({"rate_limit": format!("rate_limits[{index}]"), "unit": unit, "value": value,
                                  "in_use": (ahead_secs / 60.0 * per_minute * 1000.0).round() / 1000.0, "limit": per_minute}));
            }
        }
    }
    json!({"state": "redis", "budgets": budgets, "rate_limits": rates})
}
