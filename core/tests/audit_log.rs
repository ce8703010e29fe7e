//! The audit log against a cut end, several writing processes, a crash mid-line and a log that
//! cannot be written: each test first does what an attacker or a crash would do, then checks
//! that `verify_report` says so (and only that).

use serde_json::{Value, json};
use sluicegate::policy::audit::{self, Report};
use sluicegate::{CallOptions, Gateway};
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str = "audit-test-key";

fn gateway(path: &Path, audit: Value) -> Gateway {
    let mut audit_config = json!({"path": path.to_string_lossy(), "key": KEY});
    for (k, v) in audit.as_object().unwrap() {
        audit_config[k] = v.clone();
    }
    Gateway::from_value(json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "audit": audit_config
    }))
    .unwrap()
}

fn call(gw: &Gateway) -> sluicegate::Result<Value> {
    gw.chat_blocking(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
        CallOptions::default(),
    )
}

fn report(path: &Path) -> Report {
    audit::verify_report(&audit::chain_files(path), Some(KEY)).unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn a_cut_end_is_reported_and_a_closed_log_is_complete() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let gw = gateway(&path, json!({"checkpoint_every": 3}));
    for _ in 0..7 {
        call(&gw).unwrap();
    }
    let open = report(&path);
    assert!(open.first_bad.is_none() && !open.closed, "{open:?}");
    assert!(!open.ok(false) && open.ok(true), "an open log passes only as live");
    drop(gw);
    let closed = report(&path);
    assert!(closed.ok(false), "{closed:?}");
    assert_eq!(
        (closed.records, closed.checkpoints),
        (7, 3),
        "two checkpoints and the close"
    );
    assert_eq!(closed.signatures, "valid");
    let all = lines(&path);
    assert!(all.last().unwrap().contains("\"kind\":\"close\""));
    // Cut 1, 2, … lines off the end: the chain of what is left is intact, but it is not closed.
    for n in 1..all.len() {
        write_lines(&path, &all[..all.len() - n]);
        let cut = report(&path);
        assert!(cut.first_bad.is_none(), "cut {n}: {cut:?}");
        assert!(
            !cut.closed && !cut.ok(false),
            "cutting {n} line(s) went unnoticed: {cut:?}"
        );
        assert_eq!(
            audit::verify(&audit::chain_files(&path), Some(KEY)),
            Ok(cut.records as usize)
        );
    }
    // A checkpoint's count and head are checked against the chain.
    write_lines(&path, &all);
    let forged: Vec<String> = all
        .iter()
        .map(|l| l.replacen("\"records\":3,", "\"records\":2,", 1))
        .collect();
    write_lines(&path, &forged);
    assert!(report(&path).first_bad.is_some());
}

#[test]
fn a_file_cut_under_a_running_writer_is_recorded_by_it() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let gw = gateway(&path, json!({}));
    for _ in 0..4 {
        call(&gw).unwrap();
    }
    let all = lines(&path);
    write_lines(&path, &all[..2]);
    call(&gw).unwrap();
    drop(gw);
    let r = report(&path);
    assert_eq!(r.truncations.len(), 1, "{r:?}");
    assert!(!r.ok(false) && r.first_bad.is_none(), "{r:?}");
    assert!(
        audit::verify(&audit::chain_files(&path), Some(KEY))
            .unwrap_err()
            .contains("cut")
    );
}

#[test]
fn a_torn_last_line_is_fenced_and_reported_not_taken_for_tampering() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let gw = gateway(&path, json!({}));
    for _ in 0..3 {
        call(&gw).unwrap();
    }
    drop(gw);
    // A crash mid-write: half a record, no newline.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"ts\":\"2026-12-05T08:00:00Z\",\"kind\":\"chat\",\"reque");
    std::fs::write(&path, &text).unwrap();
    let r = report(&path);
    assert!(r.first_bad.is_none(), "{r:?}");
    assert_eq!(r.torn.len(), 1);
    assert!(!r.torn[0].fenced && r.torn[0].at.line == 5);
    // The next writer fences it instead of gluing its record onto it.
    let gw = gateway(&path, json!({}));
    call(&gw).unwrap();
    call(&gw).unwrap();
    drop(gw);
    let r = report(&path);
    assert!(r.ok(false), "{r:?}");
    assert_eq!(r.records, 5);
    assert_eq!(
        (r.torn.len(), r.torn[0].at.line, r.torn[0].fenced),
        (1, 5, true),
        "{r:?}"
    );
    let all = lines(&path);
    assert!(all[5].contains("\"kind\":\"repair\""), "{}", all[5]);
    // Editing the torn line, or removing it, is still caught.
    let mut edited = all.clone();
    edited[4] = edited[4].replace("reque", "rexue");
    write_lines(&path, &edited);
    assert!(report(&path).first_bad.is_some());
    let mut removed = all.clone();
    removed.remove(4);
    write_lines(&path, &removed);
    assert!(report(&path).first_bad.is_some());
}

#[test]
fn a_record_that_lost_only_its_newline_is_kept() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let gw = gateway(&path, json!({}));
    call(&gw).unwrap();
    call(&gw).unwrap();
    std::mem::forget(gw);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.trim_end()).unwrap();
    let gw = gateway(&path, json!({}));
    call(&gw).unwrap();
    drop(gw);
    let r = report(&path);
    assert!(r.first_bad.is_none() && r.torn.is_empty() && r.records == 3, "{r:?}");
    // The first writer never closed (forgotten, as a crash would): reported, not a failure.
    assert_eq!(r.unclosed_writers().count(), 1, "{r:?}");
    assert!(r.ok(false));
}

/// Run by `several_processes_append_to_one_log` in child processes: writes calls to the log
/// named by the environment, then exits (dropping the gateway closes its part).
#[test]
fn audit_child_writer() {
    let Ok(path) = std::env::var("SLUICEGATE_AUDIT_CHILD") else {
        return;
    };
    let gw = gateway(Path::new(&path), json!({"checkpoint_every": 7, "fsync": "never"}));
    for _ in 0..60 {
        call(&gw).unwrap();
    }
}

#[test]
fn several_processes_append_to_one_log_as_one_chain() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "audit_child_writer", "--test-threads", "1"])
                .env("SLUICEGATE_AUDIT_CHILD", &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let r = report(&path);
    assert!(r.ok(false), "{r:?}");
    assert_eq!(r.records, 180);
    assert_eq!(r.writers.len(), 3, "{:?}", r.writers);
    assert!(r.writers.iter().all(|w| w.closed && w.records == 60), "{:?}", r.writers);
    // The writers' lines interleave (they ran at the same time) and the chain still holds.
    let ids: Vec<String> = lines(&path)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["writer"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let switches = ids.windows(2).filter(|w| w[0] != w[1]).count();
    eprintln!("writer switches in the log: {switches}");
    // Tampering with one line is still caught.
    let mut all = lines(&path);
    let edited = all[50].replacen("\"ts\":\"2", "\"ts\":\"3", 1);
    assert_ne!(edited, all[50]);
    all[50] = edited;
    write_lines(&path, &all);
    let r = report(&path);
    assert_eq!(r.first_bad.as_ref().map(|p| p.at.line), Some(51), "{r:?}");
}

#[test]
fn rotation_by_several_writers_keeps_one_chain() {
    let dir = tempdir();
    let path = dir.join("audit.jsonl");
    let a = gateway(&path, json!({"max_bytes": 2000}));
    let b = gateway(&path, json!({"max_bytes": 2000}));
    for _ in 0..12 {
        call(&a).unwrap();
        call(&b).unwrap();
    }
    drop(a);
    drop(b);
    let files = audit::chain_files(&path);
    assert!(files.len() > 3, "{files:?}");
    let r = report(&path);
    assert!(r.ok(false), "{r:?}");
    assert_eq!(r.records, 24);
}

#[test]
fn fail_closed_refuses_a_call_whose_record_cannot_be_written() {
    for (mode, fails) in [(None, true), (Some("fail_closed"), true), (Some("warn"), false)] {
        let dir = tempdir();
        let folder = dir.join("logs");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("audit.jsonl");
        let config = match mode {
            Some(m) => json!({"on_error": m}),
            None => json!({}),
        };
        let gw = gateway(&path, config);
        call(&gw).unwrap();
        // The disk is gone (the folder removed): nothing can be written any more.
        std::fs::remove_dir_all(&folder).unwrap();
        let result = call(&gw);
        match (fails, result) {
            (true, Err(e)) => {
                assert_eq!(e.kind.code(), "internal");
                assert!(e.message.contains("audit.on_error: fail_closed"), "{}", e.message);
                assert!(e.request_id.is_some());
            }
            (false, Ok(_)) => {}
            (_, other) => panic!("on_error {mode:?}: {other:?}"),
        }
        // A stream ends with the error instead of its normal end.
        let mut stream = gw
            .chat_stream_blocking(
                json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
                CallOptions::default(),
            )
            .unwrap();
        let mut last = None;
        while let Some(item) = stream.next_blocking() {
            last = Some(item);
        }
        assert_eq!(
            matches!(last, Some(Err(_))),
            fails,
            "on_error {mode:?}: stream ended with {last:?}"
        );
    }
}

#[test]
fn unknown_audit_modes_are_config_errors() {
    for (key, value) in [("fsync", "sometimes"), ("on_error", "ignore")] {
        let e = Gateway::from_value(json!({
            "providers": {"p": {"type": "mock"}},
            "deployments": {"d": {"provider": "p", "model": "m"}},
            "routes": {"chat": {"targets": ["d"]}},
            "audit": {"path": "/tmp/x.jsonl", key: value}
        }))
        .err()
        .unwrap();
        assert!(e.message.contains(&format!("audit.{key}")), "{}", e.message);
    }
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sluicegate-audit-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A stream's audit record carries what the caller received (and the input) when the log
/// records content, and neither when it does not: the stream reader keeps them only then.
#[test]
fn a_streams_content_is_audited_only_when_asked() {
    for (content, recorded) in [("redacted", true), ("none", false)] {
        let dir = tempdir();
        let path = dir.join("audit.jsonl");
        let gw = Gateway::from_value(json!({
            "providers": {"p": {"type": "mock", "script": {"gpt-4o": [{"reply": "write to ann@example.com today"}]}}},
            "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
            "routes": {"chat": {"targets": ["d"]}},
            "audit": {"path": path.to_string_lossy(), "content": content}
        }))
        .unwrap();
        let mut stream = gw
            .chat_stream_blocking(
                json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "the input"}]}),
                CallOptions::default(),
            )
            .unwrap();
        let mut text = String::new();
        while let Some(item) = stream.next_blocking() {
            text.push_str(item.unwrap()["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
        }
        assert!(text.contains("ann@example.com"), "{text}");
        drop(stream);
        drop(gw);
        let lines = lines(&path);
        let line: Value = serde_json::from_str(lines.iter().find(|l| l.contains("chat_stream")).unwrap()).unwrap();
        let audited = &line["content"];
        if recorded {
            assert_eq!(audited["input"][0]["content"], "the input", "{line}");
            let output = audited["output"].as_str().unwrap();
            assert!(output.contains("write to") && output.contains("today"), "{line}");
            assert!(!output.contains("ann@example.com"), "redacted: {line}");
        } else {
            assert!(audited.is_null(), "{line}");
        }
    }
}
