//! `sluicegate audit verify FILE [--key-env VAR | --key KEY] [--live] [--json]`: checks an
//! audit log's hash chain (and signatures, with the key), across rotated files: names the first
//! bad line, and says whether the log ends with a `close` record (a cut end does not), which
//! lines a crash tore, and which writers did not close. Exit status 0 only when the chain holds
//! and the log was closed (or `--live`: a gateway is still writing it). `--expect LINES:HEAD`
//! checks the log against an anchor kept elsewhere (`lines` and `head` of an earlier report):
//! the only way to catch a log cut back to an earlier close.

use crate::args::{Arg, Args, Outcome, Spec};
use sluicegate::policy::audit::{self, Report};
use std::ffi::OsString;
use std::path::PathBuf;

pub static SPEC: Spec = Spec {
    name: "audit",
    about: "check an audit log's hash chain, signatures, checkpoints and end",
    usage: "sluicegate audit verify FILE [--key-env VAR | --key KEY] [--live] [--json] [--expect LINES:HEAD]",
};

pub fn run(argv: Vec<OsString>) -> Outcome {
    let mut args = Args::new(&SPEC, argv);
    let (mut verb, mut file, mut key) = (None, None, None);
    let (mut live, mut as_json) = (false, false);
    let mut expect: Option<(u64, String)> = None;
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Long(o) if o == "key" => key = Some(args.value()?),
            Arg::Long(o) if o == "key-env" => {
                let var = args.value()?;
                key = Some(std::env::var(&var).map_err(|_| format!("environment variable `{var}` is not set"))?);
            }
            Arg::Long(o) if o == "live" => live = true,
            Arg::Long(o) if o == "json" => as_json = true,
            Arg::Long(o) if o == "expect" => {
                let text = args.value()?;
                let parsed = text
                    .split_once(':')
                    .and_then(|(n, h)| Some((n.parse::<u64>().ok().filter(|&n| n > 0)?, h.to_owned())));
                expect = Some(parsed.ok_or_else(|| {
                    args.wrong(format!(
                        "--expect `{text}`: give LINES:HEAD, the `lines` and `head` of an earlier report"
                    ))
                })?);
            }
            Arg::Value(v) if verb.is_none() => verb = Some(args.text(v)?),
            Arg::Value(v) if file.is_none() => file = Some(PathBuf::from(v)),
            other => return Err(args.unexpected(other)),
        }
    }
    match verb.as_deref() {
        Some("verify") => {}
        Some(other) => return Err(args.wrong(format!("unknown audit command `{other}` (known: verify)"))),
        None => return Err(args.missing("the audit command (verify)")),
    }
    let file = file.ok_or_else(|| args.missing("the audit log FILE"))?;
    if !file.exists() {
        return Err(format!("no audit log at `{}`", file.display()).into());
    }
    let files = audit::chain_files(&file);
    let report = audit::verify_report_at(&files, key.as_deref(), expect.as_ref().map(|e| e.0))?;
    let anchor_problem = expect.as_ref().and_then(|(n, head)| match &report.hash_at {
        None => Some(format!(
            "the chain has {} line(s), fewer than the {n} recorded in the anchor: its end was cut",
            report.lines
        )),
        Some(h) if h != head => Some(format!(
            "line {n} of the chain is not the line recorded in the anchor (its hash differs): the log was rewritten"
        )),
        Some(_) => None,
    });
    let ok = report.ok(live) && anchor_problem.is_none();
    if as_json {
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        value["ok"] = ok.into();
        value["unclosed_writers"] = report.unclosed_writers().map(|w| w.id.clone()).collect();
        if expect.is_some() {
            value["anchor"] = serde_json::json!({"ok": anchor_problem.is_none(), "problem": anchor_problem});
        }
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        let intact = report.first_bad.is_none() && report.truncations.is_empty() && anchor_problem.is_none();
        return match (ok, intact) {
            (true, _) => Ok(()),
            (false, true) => {
                Err("audit log is NOT complete: it does not end with a close record (see the report)".into())
            }
            (false, false) => Err("audit log is NOT intact (see the report)".into()),
        };
    }
    for line in notes(&report) {
        println!("{line}");
    }
    if let Some(p) = &report.first_bad {
        return Err(format!("audit log is NOT intact: {}: {}", p.at, p.reason).into());
    }
    if let Some(at) = report.truncations.first() {
        return Err(format!(
            "audit log is NOT intact: {at}: a writer found the file shorter than it had left it: lines before this one were cut"
        )
        .into());
    }
    if let Some(problem) = anchor_problem {
        return Err(format!("audit log is NOT intact: {problem}").into());
    }
    if !ok {
        return Err(format!(
            "audit log is NOT complete: {}; pass --live if a gateway is still writing it",
            open_end(&report)
        )
        .into());
    }
    let signed = if key.is_some() {
        ", signatures valid"
    } else {
        " (signatures not checked: no key given)"
    };
    println!(
        "OK: {} record(s) in {} file(s), chain intact{signed}",
        report.records,
        files.len()
    );
    if !report.closed && !report.is_legacy() {
        println!("open: {}", open_end(&report));
    }
    println!(
        "anchor: {}:{} (keep it elsewhere; `--expect {}:{}` later proves nothing before it was cut or rewritten)",
        report.lines, report.head, report.lines, report.head
    );
    Ok(())
}

/// Why a log without a `close` record at its end is not known to be complete.
fn open_end(r: &Report) -> String {
    let writer = r
        .writers
        .iter()
        .find(|w| Some(&w.last) == r.last_line.as_ref())
        .map(|w| format!("writer {}", w.id))
        .unwrap_or_else(|| "its writer".into());
    match &r.last_checkpoint {
        Some(cp) if r.after_last_checkpoint == 0 => format!(
            "it ends at a {} record ({}) that is not a close: lines after it were cut, or {writer} stopped right after it",
            cp.kind, cp.at
        ),
        Some(cp) => format!(
            "it does not end with a close record: the {} line(s) after the last checkpoint ({}) are not anchored; either lines after them were cut, or {writer} is still running or did not shut down cleanly",
            r.after_last_checkpoint, cp.at
        ),
        None => format!(
            "it has no checkpoint or close record: its {} line(s) are not anchored; either its end was cut, or {writer} is still running or did not shut down cleanly",
            r.lines
        ),
    }
}

/// Warnings printed before the verdict: torn lines, writers that did not close, an old log.
fn notes(r: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    for t in &r.torn {
        let state = if t.fenced {
            "fenced by the repair record after it"
        } else {
            "the file's unfinished last line; the next writer fences it"
        };
        notes.push(format!(
            "warning: {}: a line torn by a crash mid-write ({} bytes), {state}; it is not part of the chain",
            t.at, t.bytes
        ));
    }
    for w in r.unclosed_writers() {
        notes.push(format!(
            "warning: writer {} ({} to {}) ended without a close record: the process crashed, was killed or exited without closing the gateway; other writers continued the chain after it",
            w.id, w.first, w.last
        ));
    }
    if r.legacy_lines > 0 {
        notes.push(format!(
            "warning: {} line(s) were written before records carried `seq` and checkpoints: a cut end of that part cannot be detected",
            r.legacy_lines
        ));
    }
    notes
}
