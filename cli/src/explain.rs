//! `sluicegate explain CONFIG --model M [--tag k=v]... [--prompt-tokens N] [--json]`: which
//! deployment would serve, and why each candidate was kept or skipped.

use serde_json::{Map, Value, json};
use sluicegate::{CallOptions, Gateway};

pub fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: sluicegate explain CONFIG --model M [--tag k=v]... [--prompt-tokens N] [--json]";
    let mut it = args.iter();
    let config = it.next().ok_or(usage)?;
    let (mut model, mut tags, mut prompt_tokens, mut as_json) = (None, Map::new(), None, false);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--model" => model = Some(it.next().ok_or(usage)?.clone()),
            "--tag" => {
                let kv = it.next().ok_or(usage)?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("`--tag {kv}`: write tags as key=value"))?;
                tags.insert(k.to_owned(), json!(v));
            }
            "--prompt-tokens" => {
                prompt_tokens = Some(
                    it.next()
                        .ok_or(usage)?
                        .parse()
                        .map_err(|_| "`--prompt-tokens` takes a whole number")?,
                )
            }
            "--json" => as_json = true,
            other => return Err(format!("unknown option `{other}`\n{usage}")),
        }
    }
    let model = model.ok_or(usage)?;
    let gw = Gateway::from_file(config).map_err(|e| e.to_string())?;
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
