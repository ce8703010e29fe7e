//! The bad-input table: each hostile input a caller, a config author or a provider can send,
//! the error kind it must produce (never a panic, never a hang), and proof that nothing was
//! lost afterwards: the budget still has exactly what the good calls left, and the audit log
//! holds one verifiable record per call that reached the gateway.

use serde_json::{Value, json};
use sluicegate::policy::audit;
use sluicegate::{CallOptions, Gateway};
use std::panic::{AssertUnwindSafe, catch_unwind};

const KEY: &str = "sk-sg-bad-inputs-0001";

fn config(audit_path: &std::path::Path) -> Value {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(KEY.as_bytes()));
    json!({
        "keys": {"app": {"sha256": sha, "tags": {"team": "bank", "data_class": "pii"}, "pin_tags": ["data_class"]}},
        "providers": {"p": {"type": "mock", "script": {
            "limited": [{"status": 429, "retry_after": "1e300"}],
            "limited_ms": [{"status": 429, "retry_after": "1e300"}]
        }}},
        "deployments": {
            "d": {"provider": "p", "model": "priced"},
            "l": {"provider": "p", "model": "limited"}
        },
        "routes": {"chat": {"targets": ["d"]}, "limited": {"targets": ["l"]}},
        "pricing": {"models": {"priced": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0},
                               "limited": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}},
        "policies": {"require_tags": ["user"], "budgets": [{"scope": "global", "usd": 0.5}]},
        "audit": {"path": audit_path.to_string_lossy()}
    })
}

/// The options of a good call, with `extra` options on top.
fn good_options(extra: &Value) -> Value {
    let mut options = json!({"key": KEY, "tags": {"user": "u1"}});
    for (k, v) in extra.as_object().into_iter().flatten() {
        options[k] = v.clone();
    }
    options
}

fn good() -> CallOptions {
    CallOptions::from_json(&good_options(&json!({}))).unwrap()
}

fn good_request() -> Value {
    json!({"model": "chat", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 10})
}

/// What one input did: `ok`, an error code, or `panic`.
fn outcome(run: impl FnOnce() -> Result<(), sluicegate::Error>) -> String {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => "ok".into(),
        Ok(Err(e)) => e.kind.code().into(),
        Err(_) => "panic".into(),
    }
}

/// Good calls until the budget refuses one: how many fit.
fn calls_until_budget(gw: &Gateway) -> usize {
    for n in 0..10_000 {
        match gw.chat_blocking(good_request(), good()) {
            Ok(_) => continue,
            Err(e) if e.kind == sluicegate::ErrorKind::BudgetExceeded => return n,
            Err(e) => panic!("a good call failed: {e}"),
        }
    }
    panic!("the budget never ran out")
}

#[test]
fn hostile_inputs_are_clear_errors_and_lose_nothing() {
    let dir = std::env::temp_dir().join(format!("sluicegate-bad-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The reference: how many good calls a fresh budget holds.
    let fresh = Gateway::from_value(config(&dir.join("fresh.jsonl"))).unwrap();
    let fits = calls_until_budget(&fresh);
    assert!(fits >= 3, "the budget should hold a few calls, holds {fits}");

    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);
    let gw = Gateway::from_value(config(&path)).unwrap();
    let mut reached_gateway = 0usize;
    let mut succeeded = 0usize;
    let mut failures = Vec::new();

    // Per-call options: (what, options, expected kind).
    let options: [(&str, Value, &str); 8] = [
        ("call timeout 1e300 s", json!({"timeout": 1e300}), "invalid_request"),
        (
            "call timeout 1e21s",
            json!({"timeout": "1000000000000000000000s"}),
            "invalid_request",
        ),
        ("call timeout f64::MAX", json!({"timeout": f64::MAX}), "invalid_request"),
        ("cache ttl 1e300 s", json!({"cache": {"ttl": 1e300}}), "invalid_request"),
        (
            "cache ttl 1e21s",
            json!({"cache": {"ttl": "1000000000000000000000s"}}),
            "invalid_request",
        ),
        ("cache ttl negative", json!({"cache": {"ttl": -5}}), "invalid_request"),
        // The longest accepted duration must not overflow a deadline (`Instant` + timeout).
        ("call timeout at the maximum", json!({"timeout": "3650d"}), "ok"),
        ("cache ttl at the maximum", json!({"cache": {"ttl": "3650d"}}), "ok"),
    ];
    for (what, opts, expected) in options {
        let got = outcome(|| {
            let opts = CallOptions::from_json(&good_options(&opts))?;
            reached_gateway += 1;
            gw.chat_blocking(good_request(), opts).map(|_| ())
        });
        succeeded += usize::from(got == "ok");
        if got != expected {
            failures.push(format!("{what}: expected {expected}, got {got}"));
        }
    }
    // A provider asking to wait 1e300 seconds: a rate-limit error with a capped retry_after.
    let got = catch_unwind(AssertUnwindSafe(|| {
        gw.chat_blocking(
            json!({"model": "limited", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 10}),
            good(),
        )
    }));
    reached_gateway += 1;
    match got {
        Ok(Err(e)) if e.kind == sluicegate::ErrorKind::RateLimited => {
            let after = e.retry_after.unwrap_or(f64::INFINITY);
            if after > 60.0 {
                failures.push(format!("retry-after 1e300: retry_after {after} is not capped at 60 s"));
            }
        }
        Ok(other) => failures.push(format!("retry-after 1e300: expected rate_limited, got {other:?}")),
        Err(_) => failures.push("retry-after 1e300: panic".into()),
    }
    // Huge token counts in the request must not overflow the estimates.
    for (what, max_tokens) in [
        ("max_tokens u64::MAX", json!(u64::MAX)),
        ("max_tokens 1e300", json!(1e300)),
    ] {
        let got = outcome(|| {
            reached_gateway += 1;
            let mut request = good_request();
            request["max_tokens"] = max_tokens;
            gw.chat_blocking(request, good()).map(|_| ())
        });
        succeeded += usize::from(got == "ok");
        if got == "panic" || got == "internal" {
            failures.push(format!("{what}: got {got}"));
        }
    }

    // Identity and routes: the caller cannot pick who it is, or skip a route's rules.
    let identity: [(&str, &str, Value, &str); 6] = [
        ("no key", "chat", json!({"tags": {"user": "u1"}}), "authentication"),
        (
            "an unknown key",
            "chat",
            json!({"key": "sk-sg-guess", "tags": {"user": "u1"}}),
            "authentication",
        ),
        (
            "a pinned tag overridden",
            "chat",
            good_options(&json!({"tags": {"user": "u1", "data_class": "public"}})),
            "permission_denied",
        ),
        (
            "a required tag left out",
            "chat",
            json!({"key": KEY}),
            "invalid_request",
        ),
        (
            "a deployment by its name",
            "d",
            good_options(&json!({})),
            "permission_denied",
        ),
        (
            "an unknown route",
            "no-such-route",
            good_options(&json!({})),
            "not_found",
        ),
    ];
    for (what, model, opts, expected) in identity {
        let got = outcome(|| {
            let opts = CallOptions::from_json(&opts)?;
            reached_gateway += 1;
            let request = json!({"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 10});
            gw.chat_blocking(request, opts).map(|_| ())
        });
        if got != expected {
            failures.push(format!("{what}: expected {expected}, got {got}"));
        }
    }

    // Config durations and numbers: every one an invalid_config naming the key.
    let configs: [(&str, Value, &str); 5] = [
        (
            "route timeout 1e21s",
            json!({"timeout": "1000000000000000000000s"}),
            "routes.chat.timeout",
        ),
        (
            "route timeout 1e300 number",
            json!({"timeout": 1e300}),
            "routes.chat.timeout",
        ),
        (
            "retry backoff huge",
            json!({"retry": {"attempts": 1, "backoff": "99999999999999999999999d"}}),
            "routes.chat.retry.backoff",
        ),
        (
            "cache ttl huge",
            json!({"cache": {"ttl": "1000000000000000000000s"}}),
            "routes.chat.cache",
        ),
        (
            "max_retry_after huge",
            json!({"retry": {"max_retry_after": "1000000000000000000000s"}}),
            "routes.chat.retry.max_retry_after",
        ),
    ];
    for (what, route_extra, names) in configs {
        let mut c = config(&dir.join("unused.jsonl"));
        for (k, v) in route_extra.as_object().unwrap() {
            c["routes"]["chat"][k] = v.clone();
        }
        let got = catch_unwind(AssertUnwindSafe(|| Gateway::from_value(c)));
        match got {
            Ok(Err(e)) if e.kind == sluicegate::ErrorKind::InvalidConfig && e.message.contains(names) => {}
            Ok(Err(e)) => failures.push(format!("{what}: expected invalid_config naming {names}, got {e}")),
            Ok(Ok(_)) => failures.push(format!("{what}: expected invalid_config, the config was accepted")),
            Err(_) => failures.push(format!("{what}: panic")),
        }
    }
    let text = "providers: {p: {type: mock, timeout: 1000000000000000000000s}}\ndeployments: {d: {provider: p, model: m}}\nroutes: {chat: {targets: [d]}}";
    match catch_unwind(|| Gateway::from_text(text)) {
        Ok(Err(e)) if e.kind == sluicegate::ErrorKind::InvalidConfig => {}
        Ok(other) => failures.push(format!(
            "YAML provider timeout 1e21s: expected invalid_config, got {:?}",
            other.err()
        )),
        Err(_) => failures.push("YAML provider timeout 1e21s: panic".into()),
    }

    assert!(failures.is_empty(), "hostile inputs:\n  {}", failures.join("\n  "));

    // Nothing lost: the budget holds exactly what the calls that succeeded left of it (the
    // refused inputs cost nothing and left no reservation behind).
    let left = calls_until_budget(&gw);
    reached_gateway += left + 1;
    assert_eq!(
        left + succeeded,
        fits,
        "the budget held {fits} calls fresh; after the hostile inputs ({succeeded} of them served) it took {left} more"
    );
    // And the audit log has one verifiable record per call that reached the gateway.
    let records = audit::verify(&[path.clone()], None).expect("the audit chain verifies");
    assert_eq!(records, reached_gateway, "one audit record per call");
}

#[test]
fn caller_chosen_names_do_not_grow_the_metrics() {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "keys": {"k": {"sha256": "0".repeat(64)}}
    }))
    .unwrap();
    let call = |model: String| {
        let request = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        let _ = gw.chat_blocking(request, CallOptions::from_json(&json!({"key": "sk-wrong"})).unwrap());
    };
    call("warmup-0".into());
    let before = gw.metrics_text().lines().count();
    for i in 0..50 {
        call(format!("random-model-{i}"));
    }
    let text = gw.metrics_text();
    assert!(
        !text.contains("random-model"),
        "a caller-chosen name became a label:\n{text}"
    );
    assert_eq!(
        text.lines().count(),
        before,
        "the metrics grew with caller-chosen names"
    );
    assert!(
        text.contains("route=\"unknown\""),
        "unknown routes are labelled `unknown`:\n{text}"
    );
}
