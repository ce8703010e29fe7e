//! Statistical routing checks over many calls on in-process mock providers.

use serde_json::json;
use sluicegate::{CallOptions, Gateway};
use std::collections::HashMap;

fn served_by(gw: &Gateway, calls: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..calls {
        let r = gw
            .chat_blocking(
                json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
                CallOptions::default(),
            )
            .expect("call succeeds");
        *counts
            .entry(r["gateway"]["deployment"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
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
    assert!(
        slow >= 1,
        "least-latency must try an unmeasured deployment at least once: {counts:?}"
    );
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
            async move {
                gw.chat(
                    json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
                    CallOptions::default(),
                )
                .await
            }
        });
        futures_util::future::join_all(calls).await
    });
    let on_b = results
        .iter()
        .filter(|r| r.as_ref().unwrap()["gateway"]["deployment"] == "b")
        .count();
    assert!(
        (4..=12).contains(&on_b),
        "least-busy put {on_b} of 16 concurrent calls on b"
    );
}

#[test]
fn on_request_end_hooks_see_every_call_and_cannot_break_one() {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"bad": [{"status": 400}]}}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}, "b": {"provider": "p", "model": "bad"}},
        "routes": {"chat": {"targets": ["d"]}, "bad": {"targets": ["b"]}}
    }))
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    gw.on_request_end(move |event| {
        tx.lock().unwrap().send(event.clone()).unwrap();
    });
    gw.on_request_end(|_| panic!("a broken hook"));
    // A hook that blocks until the test releases it: if hooks ran on the request path, the
    // call below could not return before the hook gave up waiting.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let gave_up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = gave_up.clone();
    gw.on_request_end(move |_| {
        if released
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_secs(5))
            .is_err()
        {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let ok = gw
        .chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            CallOptions::default(),
        )
        .unwrap();
    assert!(
        !gave_up.load(std::sync::atomic::Ordering::SeqCst),
        "the call waited for a slow hook"
    );
    release.send(()).unwrap();
    release.send(()).unwrap();
    gw.chat_blocking(
        json!({"model": "bad", "messages": [{"role": "user", "content": "hi"}]}),
        CallOptions::default(),
    )
    .unwrap_err();
    let first = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    let second = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(first["request_id"], ok["gateway"]["request_id"]);
    assert_eq!(first["outcome"], "ok");
    assert_eq!(first["cost_usd"], ok["gateway"]["cost_usd"]);
    assert_eq!(second["outcome"], "invalid_request");
    assert_eq!(second["error"]["code"], "invalid_request");
}

#[test]
fn a_call_dropped_by_its_caller_is_recorded_as_cancelled_and_hooks_may_call_the_gateway() {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"slow": [{"delay": "2s"}]}}},
        "deployments": {"s": {"provider": "p", "model": "slow"}, "f": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"slow": {"targets": ["s"]}, "fast": {"targets": ["f"]}}
    }))
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let inner = gw.clone();
    gw.on_request_end(move |event| {
        // A hook may make a blocking call through the gateway (hooks run outside the runtime).
        let nested = if event["route"] == "slow" {
            Some(
                inner
                    .chat_blocking(
                        json!({"model": "fast", "messages": [{"role": "user", "content": "from a hook"}]}),
                        CallOptions::default(),
                    )
                    .is_ok(),
            )
        } else {
            None
        };
        tx.lock()
            .unwrap()
            .send((event["route"].clone(), event["outcome"].clone(), nested))
            .unwrap();
    });
    sluicegate::runtime::runtime().block_on(async {
        let call = gw.chat(
            json!({"model": "slow", "messages": [{"role": "user", "content": "hi"}]}),
            CallOptions::default(),
        );
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), call)
                .await
                .is_err()
        );
    });
    let (route, outcome, nested) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!((route.as_str(), outcome.as_str()), (Some("slow"), Some("cancelled")));
    assert_eq!(nested, Some(true), "the hook's own gateway call failed");
    let (route, outcome, _) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!((route.as_str(), outcome.as_str()), (Some("fast"), Some("ok")));
}
