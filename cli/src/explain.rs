//! `sluicegate explain CONFIG --model M [--tag k=v]... [--prompt-tokens N] [--json]`: which
//! deployment would serve, and why each candidate was kept or skipped.

use crate::args::{Arg, Args, Outcome, Spec};
use serde_json::{Map, Value, json};
use sluicegate::{CallOptions, Gateway};
use std::ffi::OsString;

pub static SPEC: Spec = Spec {
    name: "explain",
    about: "which deployment would serve a call, and why each candidate was kept or skipped",
    usage: "sluicegate explain CONFIG --model M [--tag k=v]... [--prompt-tokens N] [--json]",
};

pub fn run(argv: Vec<OsString>) -> Outcome {
    let mut args = Args::new(&SPEC, argv);
    let (mut config, mut model, mut tags, mut prompt_tokens, mut as_json) = (None, None, Map::new(), None, false);
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Long(o) if o == "model" => model = Some(args.value()?),
            Arg::Long(o) if o == "tag" => {
                let kv = args.value()?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| args.wrong(format!("`--tag {kv}`: write tags as key=value")))?;
                tags.insert(k.to_owned(), json!(v));
            }
            Arg::Long(o) if o == "prompt-tokens" => {
                prompt_tokens = Some(args.parsed("prompt-tokens", "a whole number")?)
            }
            Arg::Long(o) if o == "json" => as_json = true,
            Arg::Value(v) if config.is_none() => config = Some(args.text(v)?),
            other => return Err(args.unexpected(other)),
        }
    }
    let config = config.ok_or_else(|| args.missing("the CONFIG file"))?;
    let model = model.ok_or_else(|| args.wrong("missing `--model M` (a route or deployment name)"))?;
    let gw = Gateway::from_file(&config).map_err(|e| e.to_string())?;
    let options = CallOptions::from_json(&json!({"tags": tags})).map_err(|e| e.to_string())?;
    let report = gw.explain(&model, &options, prompt_tokens).map_err(|e| e.to_string())?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    println!(
        "route `{}` (strategy {}): would serve {}",
        model,
        report["strategy"].as_str().unwrap_or("-"),
        match &report["would_serve"] {
            Value::String(d) => format!("`{d}`"),
            _ => "nothing: every candidate is skipped".into(),
        }
    );
    println!(
        "{:<16} {:<10} {:<22} {:<8} {:<6} {:<10} reason",
        "deployment", "route", "model", "region", "kept", "breaker"
    );
    for c in report["candidates"].as_array().into_iter().flatten() {
        println!(
            "{:<16} {:<10} {:<22} {:<8} {:<6} {:<10} {}",
            c["deployment"].as_str().unwrap_or(""),
            c["route"].as_str().unwrap_or(""),
            c["model"].as_str().unwrap_or(""),
            c["region"].as_str().unwrap_or("-"),
            if c["kept"] == true { "yes" } else { "no" },
            c["breaker"].as_str().unwrap_or("-"),
            c["reason"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
