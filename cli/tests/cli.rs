//! The `sluicegate` command as users run it: exit codes and what it prints.

use serde_json::json;
use std::process::Command;

fn sluicegate(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluicegate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn demo_runs_offline_and_shows_a_fallback() {
    let (ok, out) = sluicegate(&["demo"]);
    assert!(ok, "{out}");
    assert!(out.contains("fell back"), "{out}");
    assert!(out.contains("summary by team"), "{out}");
}

#[test]
fn validate_lists_every_problem() {
    let good = temp(
        "good.yaml",
        "providers: {p: {type: mock}}\ndeployments: {d: {provider: p, model: m}}\nroutes: {chat: {targets: [d]}}\n",
    );
    let (ok, out) = sluicegate(&["validate", good.to_str().unwrap()]);
    assert!(ok && out.starts_with("OK"), "{out}");
    let bad = temp(
        "bad.yaml",
        "providers: {p: {type: mokc}}\ndeploymnets: {}\nroutes: {chat: {targets: [x]}}\n",
    );
    let (ok, out) = sluicegate(&["validate", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("did you mean `mock`?")
            && out.contains("did you mean `deployments`?")
            && out.contains("routes.chat.targets[0]"),
        "{out}"
    );
}

#[test]
fn explain_audit_verify_and_usage() {
    let dir = std::env::temp_dir().join(format!("sluicegate-cli-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let config = json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"us": {"provider": "p", "model": "gpt-4o", "region": "us"}, "eu": {"provider": "p", "model": "gpt-4o-mini", "region": "eu"}},
        "routes": {"chat": {"targets": ["us", "eu"]}},
        "policies": {"residency": [{"when": {"tags": {"data_class": "pii"}}, "regions": ["eu"]}]},
        "audit": {"path": audit.to_string_lossy()}
    });
    let path = temp("explain.json", &config.to_string());
    let (ok, out) = sluicegate(&[
        "explain",
        path.to_str().unwrap(),
        "--model",
        "chat",
        "--tag",
        "data_class=pii",
    ]);
    assert!(
        ok && out.contains("would serve `eu`") && out.contains("residency"),
        "{out}"
    );
    let gw = sluicegate::Gateway::from_value(config).unwrap();
    for team in ["search", "search", "ads"] {
        let options = sluicegate::CallOptions::from_json(&json!({"tags": {"team": team}})).unwrap();
        gw.chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            options,
        )
        .unwrap();
    }
    let (ok, out) = sluicegate(&["audit", "verify", audit.to_str().unwrap()]);
    assert!(ok && out.contains("OK: 3 record(s)"), "{out}");
    let (ok, out) = sluicegate(&["usage", audit.to_str().unwrap(), "--by", "team"]);
    assert!(ok, "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("search") && l.contains(" 2 ")),
        "{out}"
    );
    let text = std::fs::read_to_string(&audit)
        .unwrap()
        .replacen("\"attempts\":1", "\"attempts\":3", 1);
    std::fs::write(&audit, text).unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", audit.to_str().unwrap()]);
    assert!(!ok && out.contains(":2:"), "{out}");
}
