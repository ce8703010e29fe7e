//! Governance under pressure: a budget shared by 64 concurrent callers is never overspent and
//! never leaks reservations (errors, timeouts and cancellations included); the audit trail
//! detects tampering; no secret or redacted value reaches errors or the audit log.

use serde_json::{Value, json};
use sluicegate::policy::audit;
use sluicegate::{CallOptions, Gateway};
use std::time::Duration;

fn budget_gateway(dir: &std::path::Path) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "latency": "3ms", "script": {
            "priced": [{"status": 500}, {}, {"delay": "400ms"}, {"status": 503}, {}]
        }}},
        "deployments": {"d": {"provider": "p", "model": "priced"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false}},
        "pricing": {"models": {"priced": {"input_per_mtok": 2000.0, "output_per_mtok": 4000.0}}},
        "policies": {"budgets": [{"scope": "global", "usd": 1.0}]},
        "audit": {"path": dir.join("audit.jsonl").to_string_lossy()}
    }))
    .unwrap()
}

#[test]
fn sixty_four_callers_never_overspend_a_one_dollar_budget() {
    let dir = tempdir();
    let gw = budget_gateway(&dir);
    let (spent, outcomes) = sluicegate::runtime::runtime().block_on(async {
        let calls = (0..64).map(|i| {
            let gw = gw.clone();
            async move {
                let request = json!({"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20});
                let call = gw.chat(request, CallOptions::default());
                if i % 8 == 7 {
                    // Cancelled by the caller: the reservation must come back.
                    tokio::time::timeout(Duration::from_millis(1), call).await.unwrap_or(Err(sluicegate::Error::new(sluicegate::ErrorKind::Cancelled, "test")))
                } else {
                    call.await
                }
            }
        });
        let results = futures_util::future::join_all(calls).await;
        let spent: f64 = results.iter().filter_map(|r| r.as_ref().ok()).filter_map(|r| r["gateway"]["cost_usd"].as_f64()).sum();
        let outcomes: Vec<String> = results.iter().map(|r| r.as_ref().map(|_| "ok".to_owned()).unwrap_or_else(|e| e.kind.code().to_owned())).collect();
        (spent, outcomes)
    });
    assert!(spent <= 1.0 + 1e-9, "spent ${spent} of a $1 budget: {outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o == "budget_exceeded"),
        "the budget never ran out: {outcomes:?}"
    );
    assert!(outcomes.iter().any(|o| o == "ok"));
    // Nothing leaked: whatever is left can still be reserved by a call that fits it exactly.
    let small = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1});
    let left = 1.0 - spent;
    let fits = gw.chat_blocking(small, CallOptions::default());
    let small_worst = (4.0_f64 * 1.5).ceil() * 2000.0 / 1e6 + 4000.0 / 1e6;
    if left >= small_worst {
        assert!(
            fits.is_ok(),
            "a call that fits the ${left:.4} left was refused (leaked reservation?): {fits:?}"
        );
    }
}

#[test]
fn audit_chain_detects_edits_deletions_reordering_and_rewrites() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "audit": {"path": path.to_string_lossy(), "key": "audit-secret-key", "pseudonymize": true}
    }))
    .unwrap();
    for i in 0..5 {
        gw.chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": format!("hi {i}")}]}),
            CallOptions::from_json(&json!({"tags": {"user": "alice@example.com"}})).unwrap(),
        )
        .unwrap();
    }
    let files = vec![path.clone()];
    assert_eq!(audit::verify(&files, Some("audit-secret-key")), Ok(5));
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(!original.contains("alice@example.com"), "user ids are pseudonymised");
    let lines: Vec<&str> = original.lines().collect();
    let check = |text: String| {
        std::fs::write(&path, text).unwrap();
        audit::verify(&files, Some("audit-secret-key"))
    };
    let edited = original.replacen("\"attempts\":1", "\"attempts\":2", 1);
    assert!(
        check(edited).unwrap_err().contains(":1: the signature"),
        "an edit is caught at the edited line"
    );
    let deleted: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(check(deleted).unwrap_err().contains(":3:"));
    let swapped: String = [lines[0], lines[2], lines[1], lines[3], lines[4]]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(check(swapped).unwrap_err().contains(":2:"));
    // Rewritten from scratch with a valid chain but without the key: only the key catches it.
    let mut prev = audit::GENESIS.to_owned();
    let mut forged = String::new();
    for l in &lines {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v["prev"] = json!(prev);
        v["hmac"] = json!("0".repeat(64));
        let line = v.to_string();
        prev = audit::line_hash(&line);
        forged.push_str(&line);
        forged.push('\n');
    }
    assert!(check(forged.clone()).unwrap_err().contains("signature"));
    std::fs::write(&path, forged).unwrap();
    assert_eq!(
        audit::verify(&files, None),
        Ok(5),
        "without the key only the chain is checked"
    );
}

#[test]
fn secrets_and_redacted_values_stay_out_of_errors_and_audit() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let gw = Gateway::from_value(json!({
        "providers": {"dead": {"type": "openai", "api_base": "http://127.0.0.1:9/v1", "api_key": "sk-live-TOPSECRET-123456789"}, "p": {"type": "mock"}},
        "deployments": {"gone": {"provider": "dead", "model": "gpt-4o"}, "d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}, "dead": {"targets": ["gone"]}},
        "keys": {"k": {"sha256": "b3c6c4b2f3bb4bd6e1d0e6b2f7f2b1e6f0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5"}},
        "policies": {"require_key": false, "guardrails": [{"type": "pii", "entities": ["email"], "action": "redact"}]},
        "audit": {"path": path.to_string_lossy(), "content": "redacted"}
    }))
    .unwrap();
    let err = gw
        .chat_blocking(
            json!({"model": "dead", "messages": [{"role": "user", "content": "hi"}]}),
            CallOptions::default(),
        )
        .unwrap_err();
    assert!(!err.message.contains("TOPSECRET"), "{}", err.message);
    let err = gw
        .chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            CallOptions::from_json(&json!({"key": "sk-virtual-SECRET-42"})).unwrap(),
        )
        .unwrap_err();
    assert!(!err.message.contains("SECRET-42"));
    gw.chat_blocking(
        json!({"model": "chat", "messages": [{"role": "user", "content": "mail bob@example.com"}]}),
        CallOptions::default(),
    )
    .unwrap();
    let log = std::fs::read_to_string(&path).unwrap();
    assert_eq!(log.lines().count(), 3);
    for secret in ["TOPSECRET", "SECRET-42", "bob@example.com"] {
        assert!(!log.contains(secret), "`{secret}` leaked into the audit log");
    }
    assert!(log.contains("[EMAIL]"), "content is recorded, redacted");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluicegate-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) * 1000
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64
            % 1000
}
