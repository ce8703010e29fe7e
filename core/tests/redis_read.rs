//! The read-only view of the shared counters (`policy::redis_read`, the dashboard's live
//! state): it reports what calls spent and what live calls hold, skips expired reservations,
//! and leaves the store exactly as it found it.

use serde_json::json;
use sluicegate::policy::redis_read::{Counter, read_counters};
use sluicegate::runtime::runtime;
use sluicegate::{CallOptions, Gateway};
use std::collections::BTreeMap;
use std::time::Duration;

mod support;
use support::Redis;

fn store(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Every key with its type, value and time to live: what "unchanged" means.
fn snapshot(port: u16) -> BTreeMap<String, String> {
    let mut c = store(port);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    keys.into_iter()
        .map(|k| {
            let kind: String = redis::cmd("TYPE").arg(&k).query(&mut c).unwrap();
            let value: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&k).query(&mut c).unwrap()],
                "zset" => redis::cmd("ZRANGE")
                    .arg(&k)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut c)
                    .unwrap(),
                "hash" => redis::cmd("HGETALL").arg(&k).query(&mut c).unwrap(),
                other => vec![other.to_owned()],
            };
            let ttl: i64 = redis::cmd("TTL").arg(&k).query(&mut c).unwrap();
            // A TTL may tick down by a second between the two snapshots.
            let ttl = if ttl > 0 { "expires" } else { "persistent" };
            (k, format!("{kind} {ttl} {value:?}"))
        })
        .collect()
}

#[test]
fn counters_are_read_without_changing_the_store() {
    let port = Redis::free_port();
    let Some(server) = Redis::start(port) else { return };
    let url = format!("redis://127.0.0.1:{port}/0");
    let config = json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "state": {"backend": "redis", "url": url, "prefix": "rr:"},
        "policies": {
            "budgets": [{"scope": "team", "usd": 5, "window": "day"}],
            "rate_limits": [{"scope": "team", "rpm": 100}],
        },
    });
    let gw = Gateway::from_value(config).unwrap();
    let mut spent = 0.0;
    for _ in 0..3 {
        let r = gw
            .chat_blocking(
                json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
                CallOptions::from_json(&json!({"tags": {"team": "search"}})).unwrap(),
            )
            .unwrap();
        spent += r["gateway"]["cost_usd"].as_f64().unwrap();
    }
    drop(gw); // flushes the settlements
    let budget_key = redis::cmd("KEYS")
        .arg("rr:bg:0:search:*")
        .query::<Vec<String>>(&mut store(port))
        .unwrap()
        .into_iter()
        .find(|k| !k.ends_with(":res") && !k.ends_with(":done"))
        .expect("the budget counter is on the store");
    // A live call's reservation, and one whose call died long ago (expired, not yet swept).
    let _: () = redis::cmd("ZADD")
        .arg(format!("{budget_key}:res"))
        .arg(4_000_000_000u64)
        .arg("live:0.25")
        .arg(1)
        .arg("dead:1.5")
        .query(&mut store(port))
        .unwrap();
    let before = snapshot(port);
    let counters = runtime()
        .block_on(read_counters(&url, "rr:", Duration::from_secs(2)))
        .unwrap();
    assert_eq!(snapshot(port), before, "reading changed the store");
    let window = &budget_key["rr:bg:0:search:".len()..];
    let budget = counters
        .iter()
        .find_map(|c| match c {
            Counter::Budget { key, spent, reserved } if *key == format!("bg:0:search:{window}") => {
                Some((*spent, *reserved))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no budget counter in {counters:?}"));
    assert!((budget.0 - spent).abs() < 1e-12, "spent {} vs {spent}", budget.0);
    assert_eq!(budget.1, 0.25, "only the live reservation counts");
    let rate = counters
        .iter()
        .find_map(|c| match c {
            Counter::Rate { key, ahead_secs } if key == "rl:0:rpm:search" => Some(*ahead_secs),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no rate counter in {counters:?}"));
    // Three requests at 100 rpm put the cell 1.8 s ahead of the clock (less the time since).
    assert!(rate > 0.0 && rate <= 1.8 + 1e-9, "{rate}");
    server.stop();
}

#[test]
fn an_unreachable_store_is_an_error_not_a_hang() {
    let port = Redis::free_port();
    let err = runtime()
        .block_on(read_counters(
            &format!("redis://127.0.0.1:{port}/0"),
            "x:",
            Duration::from_millis(200),
        ))
        .unwrap_err();
    assert!(err.contains("cannot reach") || err.contains("did not answer"), "{err}");
}
