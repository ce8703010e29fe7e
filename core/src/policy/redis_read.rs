//! Reading the shared policy counters without changing them, for reports (the dashboard's live
//! view): every budget counter (`bg:INDEX:VALUE:WINDOW`, spent and live reservations) and every
//! rate-limit cell (`rl:INDEX:rpm|tpm:VALUE`), as `redis_state` writes them. Only `TIME`,
//! `SCAN`, `GET` and `ZRANGEBYSCORE` are sent: expired reservations are skipped, not removed.

use std::time::Duration;

/// At most this many counters are read (a report, not an export of the store).
pub const MAX_COUNTERS: usize = 10_000;

/// One counter as the store holds it now (`key` without the store's prefix).
#[derive(Debug, Clone, PartialEq)]
pub enum Counter {
    /// A budget: USD settled, and USD held by calls still running.
    Budget { key: String, spent: f64, reserved: f64 },
    /// A rate limit: how far (seconds) its theoretical arrival time is ahead of the store's
    /// clock; `ahead / 60 * limit` of the limit is in use.
    Rate { key: String, ahead_secs: f64 },
}

/// A glob pattern matching `text` literally.
fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reads the counters under `prefix`; `Err` says why the store could not be read.
pub async fn read_counters(url: &str, prefix: &str, timeout: Duration) -> Result<Vec<Counter>, String> {
    let shown = super::redis_state::shown_url(url);
    let work = async {
        let client = redis::Client::open(url).map_err(|e| format!("`{shown}` is not a Redis URL: {e}"))?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("cannot reach the state store `{shown}`: {e}"))?;
        let failed = |e: redis::RedisError| format!("the state store `{shown}` did not answer: {e}");
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.map_err(failed)?;
        let now = secs as f64 + micros as f64 / 1e6;
        let mut keys = Vec::new();
        for family in ["bg:*", "rl:*"] {
            let pattern = format!("{}{family}", glob_literal(prefix));
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                    .map_err(failed)?;
                keys.extend(
                    batch
                        .into_iter()
                        .filter(|k| !k.ends_with(":res") && !k.ends_with(":done")),
                );
                cursor = next;
                if cursor == 0 || keys.len() >= MAX_COUNTERS {
                    break;
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys.truncate(MAX_COUNTERS);
        let mut counters = Vec::with_capacity(keys.len());
        for full in keys {
            let key = full[prefix.len()..].to_owned();
            let value: Option<String> = redis::cmd("GET")
                .arg(&full)
                .query_async(&mut conn)
                .await
                .map_err(failed)?;
            let value = value.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            if key.starts_with("rl:") {
                counters.push(Counter::Rate {
                    key,
                    ahead_secs: (value - now).max(0.0),
                });
                continue;
            }
            let held: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(format!("{full}:res"))
                .arg(format!("({now}"))
                .arg("+inf")
                .query_async(&mut conn)
                .await
                .map_err(failed)?;
            // A member is `ID:AMOUNT` (see `redis_state::member`).
            let reserved = held
                .iter()
                .filter_map(|m| m.rsplit(':').next()?.parse::<f64>().ok())
                .sum();
            counters.push(Counter::Budget {
                key,
                spent: value,
                reserved,
            });
        }
        Ok(counters)
    };
    tokio::time::timeout(timeout.max(Duration::from_secs(1)) * 10, work)
        .await
        .map_err(|_| format!("the state store `{shown}` did not answer in time"))?
}
