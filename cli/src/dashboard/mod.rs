//! `sluicegate dashboard CONFIG [--audit FILE]... [--port N] [--export FILE.html]`: a read-only
//! page of spend, budgets, rejections, guardrail counts, retries and failovers, latency, the
//! cache, the audit log's verification and the effective policy. It reads the audit log(s) once
//! (streaming: memory does not grow with the log) and, with `state: redis`, the live counters
//! (never changing them). The page is one self-contained HTML file (data embedded, no CDN);
//! `--export` writes it and exits, otherwise it is served on 127.0.0.1 behind a random token.

mod aggregate;
mod live;
mod page;
mod policy_table;
mod series;
mod server;

use crate::args::{Arg, Args, Outcome, Spec};
use serde_json::{Value, json};
use sluicegate::Config;
use sluicegate::policy::{audit, clock};
use std::ffi::OsString;
use std::path::PathBuf;

pub static SPEC: Spec = Spec {
    name: "dashboard",
    about: "a read-only page of spend, budgets, policies and the audit log's state",
    usage: "sluicegate dashboard CONFIG [--audit FILE]... [--port N] [--export FILE.html]\n\n  \
            --audit FILE        an audit log to read (repeatable; default: the config's audit.path)\n  \
            --port N            serve on 127.0.0.1:N (default 0: a free port); the URL is printed first\n  \
            --export FILE.html  write the page as one static file and exit",
};

pub fn run(argv: Vec<OsString>) -> Outcome {
    let mut args = Args::new(&SPEC, argv);
    let (mut config_path, mut audits, mut port, mut export) = (None, Vec::new(), 0u16, None);
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Long(o) if o == "audit" => audits.push(PathBuf::from(args.value()?)),
            Arg::Long(o) if o == "port" => port = args.parsed("port", "a number from 0 to 65535")?,
            Arg::Long(o) if o == "export" => export = Some(PathBuf::from(args.value()?)),
            Arg::Value(v) if config_path.is_none() => config_path = Some(PathBuf::from(v)),
            other => return Err(args.unexpected(other)),
        }
    }
    let config_path = config_path.ok_or_else(|| args.missing("the CONFIG file"))?;
    let config = Config::from_file(&config_path).map_err(|e| {
        let problems = if e.problems.is_empty() {
            e.message.clone()
        } else {
            e.problems.join("; ")
        };
        format!("`{}`: {problems}", config_path.display())
    })?;
    if audits.is_empty() {
        let Some(a) = &config.audit else {
            return Err(args.wrong("no audit log: pass --audit FILE, or set audit.path in the config"));
        };
        audits.push(config.resolve_path(&a.path));
    }
    for a in &audits {
        if !a.exists() {
            return Err(format!("no audit log at `{}`", a.display()).into());
        }
    }
    let history = read_history(&config, &audits)?;
    let policy = policy_table::to_json(&config);
    let source = Source {
        config,
        history,
        policy,
    };
    match export {
        Some(path) => {
            let data = sluicegate::runtime::runtime().block_on(source.data());
            let html = page::render(&data);
            std::fs::write(&path, html).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            println!("wrote {}", path.display());
            Ok(())
        }
        None => Ok(server::serve(port, source)?),
    }
}

/// What the page is built from: the log's aggregate (read once), the policy (from the config)
/// and the config for the live counters (read on every page load).
pub struct Source {
    config: Config,
    history: Value,
    policy: Value,
}

impl Source {
    /// The page's data now: history, policy and, with `state: redis`, the live counters.
    pub async fn data(&self) -> Value {
        let now = clock::now_secs();
        json!({
            "generated_at": clock::rfc3339(now),
            "version": sluicegate::VERSION,
            "history": self.history,
            "policy": self.policy,
            "live": live::read(&self.config).await,
        })
    }
}

/// Reads every log (each with its rotated files, oldest first) in one pass: the verification
/// and the aggregate share each parsed line.
fn read_history(config: &Config, audits: &[PathBuf]) -> Result<Value, String> {
    let key = config.audit.as_ref().and_then(|a| a.key.clone());
    let mut aggregate = aggregate::Aggregate::new(config.clone());
    let mut checks = Vec::new();
    for path in audits {
        let files = audit::chain_files(path);
        let mut visit = |record: &Value, _: &audit::Place| aggregate.add(record);
        let report = audit::verify_report_visit(&files, key.as_deref(), None, Some(&mut visit))?;
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        value["path"] = json!(path.display().to_string());
        value["ok"] = json!(report.ok(true));
        checks.push(value);
    }
    let mut history = aggregate.to_json(clock::now_secs());
    history["audit"] = json!(checks);
    Ok(history)
}
