//! Statistical routing checks over many calls on in-process mock providers.

use serde_json::json;
use sluicegate::{CallOptions, Gateway};
use std::collections::HashMap;

fn served_by(gw: &Gateway, calls: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..calls {
        let r = gw
            .chat_blocking(json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}), CallOptions::default())
            .expect("call succeeds");
        *counts.entry(r["gateway"]["deployment"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn least_latency_sends_less_traffic_to_a_slow_deployment() {
    let gw = Gateway::from_value(json!({
        "providers": {"fast": {"type": "mock", "latency": "1ms"}, "slow": {"type": "mock", "latency": "25ms"}},
        "deployments": {"f": {"provider": "fast", "model": "m"}, "s": {"provider": "slow", "model": "m"}},
        "routes": {"chat": {"strategy": "least-latency", "targets": ["s", "f"]}}
    }))
    .unwrap();
    let counts = served_by(&gw, 200);
    let slow = counts.get("s").copied().unwrap_or(0);
    assert!(slow < 20, "the slow deployment got {slow} of 200 calls: {counts:?}");
    assert!(slow >= 1, "least-latency must try an unmeasured deployment at least once: {counts:?}");
}

#[test]
fn weighted_shares_match_weights_over_many_calls() {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"a": {"provider": "p", "model": "m", "weight": 5}, "b": {"provider": "p", "model": "m", "weight": 3}, "c": {"provider": "p", "model": "m", "weight": 2}},
        "routes": {"chat": {"strategy": "weighted", "targets": ["a", "b", "c"]}}
    }))
    .unwrap();
    let counts = served_by(&gw, 1000);
    assert_eq!((counts["a"], counts["b"], counts["c"]), (500, 300, 200), "{counts:?}");
}

#[test]
fn least_busy_spreads_concurrent_calls() {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "latency": "20ms"}},
        "deployments": {"a": {"provider": "p", "model": "m"}, "b": {"provider": "p", "model": "m"}},
        "routes": {"chat": {"strategy": "least-busy", "targets": ["a", "b"]}}
    }))
    .unwrap();
    let results = sluicegate::runtime::runtime().block_on(async {
        let calls = (0..16).map(|_| {
            let gw = gw.clone();
            async move { gw.chat(json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}), CallOptions::default()).await }
        });
        futures_util::future::join_all(calls).await
    });
    let on_b = results.iter().filter(|r| r.as_ref().unwrap()["gateway"]["deployment"] == "b").count();
    assert!((4..=12).contains(&on_b), "least-busy put {on_b} of 16 concurrent calls on b");
}
