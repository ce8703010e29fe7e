//! Shared state on Redis that holds against skewed clocks, long calls, a store that stalls and
//! a gateway that closes: the scripts use the server's clock (`TIME`), TPM debt is kept as long
//! as in memory, settling retries until it lands (exactly once) and is flushed on drop, and
//! spend counted locally during an outage (`fail_open`) is added to the store when it returns.
//! Its own test binary: the clock-skew hook is process-wide.

use serde_json::{Value, json};
use sluicegate::{CallOptions, ErrorKind, Gateway};
use std::time::{Duration, Instant};

mod support;
use support::Redis;

fn config(port: u16, prefix: &str, script: Value, policies: Value, fail: &str) -> Value {
    json!({
        "providers": {"p": {"type": "mock", "script": {"priced": script}}},
        "deployments": {"d": {"provider": "p", "model": "priced"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false}},
        "pricing": {"models": {"priced": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}},
        "state": {"backend": "redis", "url": format!("redis://127.0.0.1:{port}/0"), "prefix": prefix, "on_unavailable": fail, "timeout": "200ms"},
        "policies": policies,
    })
}

fn call(gw: &Gateway, max_tokens: u64) -> Result<Value, sluicegate::Error> {
    gw.chat_blocking(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens}),
        CallOptions::default(),
    )
}

fn store(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn get_f64(port: u16, key: &str) -> f64 {
    let v: Option<String> = redis::cmd("GET").arg(key).query(&mut store(port)).unwrap();
    v.map(|v| v.parse().unwrap()).unwrap_or(0.0)
}

/// Waits until `f` holds (background settling), or fails after 10 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until a call's budget reservation is on the store (then pausing it stalls the settle).
fn reserved(port: u16, key: &str) {
    eventually("the call reserved its budget", || {
        let n: u64 = redis::cmd("ZCARD")
            .arg(format!("{key}:res"))
            .query(&mut store(port))
            .unwrap();
        n > 0
    });
}

/// 1 prompt token (3 + ⌈2/4⌉ = 4) and the mock's reply: what one call costs, from its answer.
fn cost(r: &Value) -> f64 {
    r["gateway"]["cost_usd"].as_f64().unwrap()
}

#[test]
fn scripts_use_the_store_clock_not_a_skewed_client() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let cfg = config(
        redis.port,
        "skew:",
        json!([{"reply": "ok"}]),
        json!({"rate_limits": [{"scope": "global", "rpm": 2}]}),
        "fail_closed",
    );
    let honest = Gateway::from_value(cfg.clone()).unwrap();
    call(&honest, 5).unwrap();
    call(&honest, 5).unwrap();
    assert_eq!(call(&honest, 5).unwrap_err().kind, ErrorKind::RateLimited);
    // A host whose clock runs an hour ahead must not find a fresh burst.
    sluicegate::policy::clock::set_skew(3600.0);
    let skewed = Gateway::from_value(cfg).unwrap();
    let r = call(&skewed, 5);
    sluicegate::policy::clock::set_skew(0.0);
    assert_eq!(
        r.unwrap_err().kind,
        ErrorKind::RateLimited,
        "a skewed clock took a fresh burst"
    );

    // Nor expire another process's budget reservation: one call in flight holds the budget.
    let cfg = config(
        redis.port,
        "skew2:",
        json!([{"reply": "ok", "delay": "600ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 0.012}]}),
        "fail_closed",
    );
    let honest = Gateway::from_value(cfg.clone()).unwrap();
    let held = std::thread::spawn(move || call(&honest, 5));
    std::thread::sleep(Duration::from_millis(200));
    sluicegate::policy::clock::set_skew(3600.0);
    let r = call(&Gateway::from_value(cfg).unwrap(), 5);
    sluicegate::policy::clock::set_skew(0.0);
    held.join().unwrap().unwrap();
    assert_eq!(
        r.unwrap_err().kind,
        ErrorKind::BudgetExceeded,
        "a skewed clock expired a live reservation"
    );
}

#[test]
fn tpm_debt_is_kept_as_long_as_it_lasts() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    // The call reserves ~4 + 5 tokens but the provider reports 20,000: 10 minutes of debt at 2,000 a minute.
    let script = json!([{"reply": "ok", "usage": {"prompt_tokens": 20000, "completion_tokens": 1}}]);
    let cfg = config(
        redis.port,
        "debt:",
        script,
        json!({"rate_limits": [{"scope": "global", "tpm": 2000}]}),
        "fail_closed",
    );
    let gw = Gateway::from_value(cfg).unwrap();
    call(&gw, 5).unwrap();
    let key = "debt:rl:0:tpm:*";
    eventually("the debt is settled", || {
        get_f64(redis.port, key) > 0.0 && {
            let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut store(redis.port)).unwrap();
            ttl > 9 * 60 * 1000
        }
    });
}

#[test]
fn settling_retries_until_the_store_answers_and_counts_once() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let cfg = config(
        redis.port,
        "retry:",
        json!([{"reply": "ok", "delay": "400ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 1.0}]}),
        "fail_closed",
    );
    let gw = Gateway::from_value(cfg).unwrap();
    let running = {
        let gw = gw.clone();
        std::thread::spawn(move || call(&gw, 5))
    };
    reserved(redis.port, "retry:bg:0:*:total");
    redis.pause();
    let r = running.join().unwrap().unwrap();
    // The settle found the store stalled; it must land once the store is back, exactly once.
    std::thread::sleep(Duration::from_millis(600));
    redis.resume();
    eventually("the spend reaches the store", || {
        (get_f64(redis.port, "retry:bg:0:*:total") - cost(&r)).abs() < 1e-9
    });
    std::thread::sleep(Duration::from_millis(1500));
    let total = get_f64(redis.port, "retry:bg:0:*:total");
    assert!(
        (total - cost(&r)).abs() < 1e-9,
        "spend counted ${total} for a ${} call",
        cost(&r)
    );
}

#[test]
fn dropping_the_gateway_flushes_pending_settlements() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let cfg = config(
        redis.port,
        "flush:",
        json!([{"reply": "ok", "delay": "300ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 1.0}]}),
        "fail_closed",
    );
    let gw = Gateway::from_value(cfg).unwrap();
    let running = {
        let gw = gw.clone();
        std::thread::spawn(move || call(&gw, 5))
    };
    reserved(redis.port, "flush:bg:0:*:total");
    redis.pause();
    let r = running.join().unwrap().unwrap();
    let dropping = std::thread::spawn(move || drop(gw));
    std::thread::sleep(Duration::from_millis(400));
    redis.resume();
    dropping.join().unwrap();
    let total = get_f64(redis.port, "flush:bg:0:*:total");
    assert!(
        (total - cost(&r)).abs() < 1e-9,
        "after the drop the store holds ${total}, the call cost ${}",
        cost(&r)
    );
}

#[test]
fn spend_counted_during_an_outage_is_reconciled_when_the_store_returns() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let cfg = config(
        redis.port,
        "rec:",
        json!([{"reply": "ok"}]),
        json!({"budgets": [{"scope": "global", "usd": 1.0}]}),
        "fail_open",
    );
    let gw = Gateway::from_value(cfg).unwrap();
    let before = cost(&call(&gw, 5).unwrap());
    redis.pause();
    let during = call(&gw, 5).unwrap();
    assert!(
        during["gateway"]["policy"]["state"]
            .as_str()
            .unwrap()
            .starts_with("local"),
        "{during}"
    );
    redis.resume();
    eventually("the store is back", || {
        call(&gw, 5).is_ok_and(|r| r["gateway"]["policy"]["state"] == "redis")
    });
    let expected = before * 3.0;
    eventually("the outage's spend reaches the store", || {
        (get_f64(redis.port, "rec:bg:0:*:total") - expected).abs() < 1e-9
    });
}

#[test]
fn a_reservation_outlives_the_routes_total_timeout() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let mut cfg = config(
        redis.port,
        "hold:",
        json!([{"reply": "ok", "delay": "400ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 1.0}]}),
        "fail_closed",
    );
    cfg["routes"]["chat"]["timeout"] = json!({"total": "2h"});
    let gw = Gateway::from_value(cfg).unwrap();
    let running = std::thread::spawn(move || call(&gw, 5));
    reserved(redis.port, "hold:bg:0:*:total");
    let scores: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("hold:bg:0:*:total:res")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut store(redis.port))
        .unwrap();
    let (now, _): (u64, u64) = redis::cmd("TIME").query(&mut store(redis.port)).unwrap();
    running.join().unwrap().unwrap();
    let left = scores[0].1 - now as f64;
    assert!(
        left > 2.0 * 3600.0,
        "a call allowed 2 h holds its reservation for {left:.0} s"
    );
}
