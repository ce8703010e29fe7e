//! Shared state through a real `redis-server` on loopback: limits and budgets hold across
//! gateways, and losing Redis mid-run honours each policy's fail mode without a panic or hang.
//! Needs the `redis-server` binary (CI installs it; `SG_REQUIRE_REDIS=1` makes its absence fail).

use serde_json::{Value, json};
use sluicegate::{CallOptions, Gateway};
use std::time::{Duration, Instant};

mod support;
use support::Redis;

fn config(port: u16, policies: Value, fail: &str) -> Value {
    json!({
        "providers": {"p": {"type": "mock", "latency": "2ms"}},
        "deployments": {"d": {"provider": "p", "model": "priced"}},
        "routes": {"chat": {"targets": ["d"]}},
        "pricing": {"models": {"priced": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}},
        "state": {"backend": "redis", "url": format!("redis://127.0.0.1:{port}/0"), "prefix": format!("sgtest{}:", rand_tag()), "on_unavailable": fail, "timeout": "200ms"},
        "policies": policies,
    })
}

fn rand_tag() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

fn call(gw: &Gateway) -> Result<Value, sluicegate::Error> {
    gw.chat_blocking(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}),
        CallOptions::default(),
    )
}

#[test]
fn limits_and_budgets_hold_across_gateways() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let cfg = config(
        redis.port,
        json!({"rate_limits": [{"scope": "global", "rpm": 5}]}),
        "fail_closed",
    );
    let (a, b) = (
        Gateway::from_value(cfg.clone()).unwrap(),
        Gateway::from_value(cfg).unwrap(),
    );
    let outcomes: Vec<bool> = (0..8).map(|i| call(if i % 2 == 0 { &a } else { &b }).is_ok()).collect();
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 5, "{outcomes:?}");
    let err = call(&a).unwrap_err();
    assert_eq!(err.kind, sluicegate::ErrorKind::RateLimited);
    assert!(err.retry_after.is_some());

    let cfg = config(
        redis.port,
        json!({"budgets": [{"scope": "global", "usd": 0.2}]}),
        "fail_closed",
    );
    let gateways: Vec<Gateway> = (0..2).map(|_| Gateway::from_value(cfg.clone()).unwrap()).collect();
    let spent: f64 = sluicegate::runtime::runtime().block_on(async {
        let calls = (0..32).map(|i| {
            let gw = gateways[i % 2].clone();
            async move {
                gw.chat(
                    json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}),
                    CallOptions::default(),
                )
                .await
            }
        });
        futures_util::future::join_all(calls)
            .await
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter_map(|r| r["gateway"]["cost_usd"].as_f64())
            .sum()
    });
    assert!(spent <= 0.2 + 1e-9, "spent {spent} of 0.2");
    assert!(spent > 0.05, "the budget was barely used: {spent}");
    redis.stop();
}

#[test]
fn losing_redis_honours_the_fail_mode_and_recovers() {
    let port = Redis::free_port();
    let Some(redis) = Redis::start(port) else { return };
    let policies = json!({"rate_limits": [{"scope": "global", "rpm": 1000}]});
    let closed = Gateway::from_value(config(port, policies.clone(), "fail_closed")).unwrap();
    let open = Gateway::from_value(config(port, policies, "fail_open")).unwrap();
    assert_eq!(call(&closed).unwrap()["gateway"]["policy"]["state"], "redis");
    assert_eq!(call(&open).unwrap()["gateway"]["policy"]["state"], "redis");
    redis.stop();
    let started = Instant::now();
    let err = call(&closed).unwrap_err();
    assert_eq!(err.kind, sluicegate::ErrorKind::Internal, "{err}");
    assert!(
        err.message.contains("unreachable") && err.message.contains("fails closed"),
        "{}",
        err.message
    );
    let degraded = call(&open).unwrap();
    assert!(
        degraded["gateway"]["policy"]["state"]
            .as_str()
            .unwrap()
            .starts_with("local"),
        "{degraded}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "calls hung while Redis was down"
    );
    let _back = Redis::start(port).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match call(&closed) {
            Ok(r) if r["gateway"]["policy"]["state"] == "redis" => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("no recovery after Redis came back: {other:?}"),
        }
    }
    assert_eq!(call(&open).unwrap()["gateway"]["policy"]["state"], "redis");
}

#[test]
fn the_response_cache_is_shared_through_redis() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let mut cfg = config(redis.port, json!({}), "fail_closed");
    cfg["routes"]["chat"]["cache"] = json!({"ttl": "1m"});
    cfg["cache"] = json!({"backend": "redis"});
    let (a, b) = (
        Gateway::from_value(cfg.clone()).unwrap(),
        Gateway::from_value(cfg).unwrap(),
    );
    let first = call(&a).unwrap();
    assert_eq!(first["gateway"]["cache_hit"], false);
    // The store is written in the background: wait for the other gateway to see it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let hit = loop {
        let r = call(&b).unwrap();
        if r["gateway"]["cache_hit"] == true || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(hit["gateway"]["cache_hit"], true, "{hit}");
    assert_eq!(hit["choices"], first["choices"]);
    assert_eq!(hit["gateway"]["saved_cost_usd"], first["gateway"]["cost_usd"]);
}

#[test]
fn a_breaker_opened_in_one_process_is_respected_by_the_others() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let mut cfg = config(redis.port, json!({}), "fail_closed");
    cfg["providers"]["p"]["script"] = json!({"broken": [{"status": 500}]});
    cfg["deployments"] =
        json!({"bad": {"provider": "p", "model": "broken"}, "good": {"provider": "p", "model": "priced"}});
    cfg["routes"] = json!({"chat": {"targets": ["bad", "good"], "breaker": {"failures": 2, "cooldown": "60s"}}});
    let (a, b) = (
        Gateway::from_value(cfg.clone()).unwrap(),
        Gateway::from_value(cfg).unwrap(),
    );
    for _ in 0..2 {
        assert_eq!(
            call(&a).unwrap()["gateway"]["attempts"],
            2,
            "a tries the broken deployment first"
        );
    }
    // `a` opened its breaker and publishes it in the background; `b` has never seen `bad` fail.
    std::thread::sleep(Duration::from_millis(300));
    let r = call(&b).unwrap();
    assert_eq!(r["gateway"]["attempts"], 1, "{r}");
    assert_eq!(r["gateway"]["deployment"], "good");
    assert!(
        r["gateway"]["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("another process"),
        "{r}"
    );
}

#[test]
fn least_busy_counts_the_calls_other_processes_have_in_flight() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    let mut cfg = config(redis.port, json!({}), "fail_closed");
    cfg["providers"] =
        json!({"slow": {"type": "mock", "latency": "1500ms"}, "quick": {"type": "mock", "latency": "1ms"}});
    cfg["deployments"] =
        json!({"x": {"provider": "slow", "model": "priced"}, "y": {"provider": "quick", "model": "priced"}});
    cfg["routes"] = json!({"chat": {"strategy": "least-busy", "targets": ["x", "y"]}, "pinned": {"targets": ["x"]}});
    let busy = Gateway::from_value(cfg.clone()).unwrap();
    cfg["providers"]["slow"]["latency"] = json!("1ms");
    let fresh = Gateway::from_value(cfg).unwrap();
    assert_eq!(
        call(&fresh).unwrap()["gateway"]["deployment"],
        "x",
        "no load anywhere: the first target"
    );

    // Another gateway (another process, for the store) keeps 4 calls in flight on `x`.
    let busy = std::sync::Arc::new(busy);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let busy = busy.clone();
            std::thread::spawn(move || {
                busy.chat_blocking(
                    json!({"model": "pinned", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}),
                    CallOptions::default(),
                )
            })
        })
        .collect();
    // Its figures are published a few times a second.
    std::thread::sleep(Duration::from_millis(600));
    let r = call(&fresh).unwrap();
    assert_eq!(r["gateway"]["deployment"], "y", "x is busy in another process: {r}");
    for w in workers {
        assert_eq!(w.join().unwrap().unwrap()["gateway"]["deployment"], "x");
    }
    // Once those calls are over, `x` is free again.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(call(&fresh).unwrap()["gateway"]["deployment"], "x");
}

#[test]
fn a_cached_answer_passes_the_output_guardrails_of_the_process_that_serves_it() {
    let Some(redis) = Redis::start(Redis::free_port()) else {
        return;
    };
    // One process without output guardrails caches an answer with an e-mail address in it...
    let mut cfg = config(redis.port, json!({}), "fail_closed");
    cfg["providers"]["p"]["script"] = json!({"priced": [{"reply": "write to jane.doe@example.com"}]});
    cfg["routes"]["chat"]["cache"] = json!({"ttl": "1m"});
    cfg["cache"] = json!({"backend": "redis"});
    let open = Gateway::from_value(cfg.clone()).unwrap();
    // ...and one that redacts output serves it from the shared store.
    cfg["policies"] = json!({"guardrails": [{"name": "pii", "type": "pii", "entities": ["email"], "action": "redact", "apply_to": ["output"]}]});
    let guarded = Gateway::from_value(cfg).unwrap();
    let ask = || json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    assert!(
        open.chat_blocking(ask(), CallOptions::default())
            .unwrap()
            .to_string()
            .contains("jane.doe")
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let hit = loop {
        let r = guarded.chat_blocking(ask(), CallOptions::default()).unwrap();
        if r["gateway"]["cache_hit"] == true || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(hit["gateway"]["cache_hit"], true, "{hit}");
    assert_eq!(hit["choices"][0]["message"]["content"], "write to [EMAIL]", "{hit}");
    assert_eq!(hit["gateway"]["policy"]["guardrails"]["redacted"]["email"], 1, "{hit}");
    let mut request = ask();
    request["stream"] = json!(true);
    let mut stream = guarded.chat_stream_blocking(request, CallOptions::default()).unwrap();
    let mut text = String::new();
    while let Some(chunk) = stream.next_blocking() {
        text.push_str(chunk.unwrap()["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
    }
    assert_eq!(text, "write to [EMAIL]");
}
