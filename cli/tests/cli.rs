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
fn validate_warns_about_unpriced_deployments_under_a_budget() {
    let text = "providers: {p: {type: mock}}\ndeployments: {d: {provider: p, model: gpt-4o-typo}, e: {provider: p, model: gpt-4o}}\nroutes: {chat: {targets: [d, e]}}\npolicies: {budgets: [{scope: global, usd: 5}]}\n";
    let (ok, out) = sluicegate(&["validate", temp("unpriced.yaml", text).to_str().unwrap()]);
    assert!(ok, "a warning is not an error: {out}");
    assert!(
        out.contains("warning: deployments.d: model `gpt-4o-typo` has no price") && out.contains("on_unpriced"),
        "{out}"
    );
    assert!(!out.contains("deployments.e"), "gpt-4o has a price: {out}");
    let without_budget = text.replace("policies: {budgets: [{scope: global, usd: 5}]}\n", "");
    let (ok, out) = sluicegate(&["validate", temp("nobudget.yaml", &without_budget).to_str().unwrap()]);
    assert!(ok && out.starts_with("OK"), "no budget, no warning: {out}");
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
    // While the gateway still writes the log it is open: complete only with `--live`.
    let (ok, out) = sluicegate(&["audit", "verify", audit.to_str().unwrap()]);
    assert!(!ok && out.contains("NOT complete") && out.contains("--live"), "{out}");
    let (ok, out) = sluicegate(&["audit", "verify", audit.to_str().unwrap(), "--live"]);
    assert!(ok && out.contains("OK: 3 record(s)"), "{out}");
    drop(gw);
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

/// A cut end, a torn line and the JSON report, as `audit verify` prints them.
#[test]
fn audit_verify_reports_a_cut_end_and_torn_lines() {
    let dir = std::env::temp_dir().join(format!("sluicegate-cli-audit-cut-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.jsonl");
    let config = json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "audit": {"path": audit.to_string_lossy(), "key": "k-test", "checkpoint_every": 2}
    });
    let gw = sluicegate::Gateway::from_value(config.clone()).unwrap();
    for _ in 0..5 {
        gw.chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            sluicegate::CallOptions::default(),
        )
        .unwrap();
    }
    drop(gw);
    let file = audit.to_str().unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test"]);
    assert!(
        ok && out.contains("OK: 5 record(s)") && out.contains("signatures valid"),
        "{out}"
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Cut the close record: the chain of the rest holds, its end is not anchored.
    let cut: String = lines[..lines.len() - 1].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&audit, &cut).unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test"]);
    assert!(
        !ok && out.contains("NOT complete") && out.contains("not anchored"),
        "{out}"
    );
    // Cut back to a checkpoint: still not a close.
    let cut: String = lines[..lines.len() - 2].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&audit, &cut).unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test"]);
    assert!(!ok && out.contains("checkpoint record") && out.contains("cut"), "{out}");
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test", "--json"]);
    assert!(!ok, "{out}");
    let json_text = &out[..out.rfind('}').unwrap() + 1];
    let report: serde_json::Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["chain"], "intact");
    assert_eq!(report["signatures"], "valid");
    assert_eq!(report["closed"], false);
    assert_eq!(report["last_checkpoint"]["kind"], "checkpoint");
    assert_eq!(report["writers"].as_array().unwrap().len(), 1);
    // An anchor kept from the closed log catches a cut back to an earlier close, which the
    // file alone cannot: a second session is appended, then cut off again.
    std::fs::write(&audit, &text).unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test"]);
    let anchor = out
        .lines()
        .find_map(|l| l.strip_prefix("anchor: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(ok && anchor.starts_with(&format!("{}:", lines.len())), "{out}");
    let gw = sluicegate::Gateway::from_value(config.clone()).unwrap();
    gw.chat_blocking(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
        sluicegate::CallOptions::default(),
    )
    .unwrap();
    drop(gw);
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test", "--expect", &anchor]);
    assert!(ok && out.contains("OK: 6 record(s)"), "{out}");
    std::fs::write(&audit, &text).unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test"]);
    assert!(
        ok,
        "a cut back to an earlier close looks complete without an anchor: {out}"
    );
    let later = format!("{}:{}", lines.len() + 3, "0".repeat(64));
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test", "--expect", &later]);
    assert!(!ok && out.contains("fewer than the") && out.contains("cut"), "{out}");
    let wrong = format!("{}:{}", lines.len(), "0".repeat(64));
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test", "--expect", &wrong]);
    assert!(!ok && out.contains("rewritten"), "{out}");
    // Restore, then a crash mid-line: a warning with its line number, not tampering.
    std::fs::write(&audit, format!("{text}{{\"ts\":\"2026")).unwrap();
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test"]);
    let torn_at = format!("{file}:{}: a line torn", lines.len() + 1);
    assert!(ok && out.contains(&torn_at) && out.contains("OK: 5 record(s)"), "{out}");
    let (ok, out) = sluicegate(&["audit", "verify", file, "--key", "k-test", "--json"]);
    assert!(ok, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["torn"][0]["line"], lines.len() + 1);
    assert_eq!(report["torn"][0]["fenced"], false);
}

#[test]
fn every_command_answers_help_and_reports_bad_arguments_the_same_way() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for command in ["demo", "validate", "explain", "mock-provider", "audit", "usage"] {
        let (code, stdout, _) = run(&[command, "--help"]);
        assert_eq!(code, Some(0), "{command} --help");
        assert!(
            stdout.contains(&format!("usage: sluicegate {command}")),
            "{command} --help: {stdout}"
        );
        let (code, _, stderr) = run(&[command, "--no-such-option"]);
        assert_eq!(code, Some(2), "{command} with a bad option");
        assert!(
            stderr.starts_with(&format!("sluicegate {command}: unknown option `--no-such-option`")),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("usage: sluicegate {command}")), "{stderr}");
    }
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("mock-provider") && stdout.contains("audit"), "{stdout}");
    let (code, _, stderr) = run(&["valdate"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("did you mean `validate`?"), "{stderr}");
    let (code, _, stderr) = run(&["mock-provider", "--port", "70000"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("port takes a number from 0 to 65535"), "{stderr}");
}
