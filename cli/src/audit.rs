//! `sluicegate audit verify FILE [--key-env VAR | --key KEY]`: checks an audit log's hash
//! chain (and signatures, with the key), across rotated files, and names the first bad line.

use sluicegate::policy::audit;
use std::path::PathBuf;

pub fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: sluicegate audit verify FILE [--key-env VAR | --key KEY]";
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("verify") {
        return Err(usage.into());
    }
    let file = PathBuf::from(it.next().ok_or(usage)?);
    let mut key = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--key" => key = Some(it.next().ok_or(usage)?.clone()),
            "--key-env" => {
                let var = it.next().ok_or(usage)?;
                key = Some(std::env::var(var).map_err(|_| format!("environment variable `{var}` is not set"))?);
            }
            other => return Err(format!("unknown option `{other}`\n{usage}")),
        }
    }
    if !file.exists() {
        return Err(format!("no audit log at `{}`", file.display()));
    }
    let files = audit::chain_files(&file);
    match audit::verify(&files, key.as_deref()) {
        Ok(n) => {
            let signed = if key.is_some() {
                ", signatures valid"
            } else {
                " (signatures not checked: no key given)"
            };
            println!("OK: {n} record(s) in {} file(s), chain intact{signed}", files.len());
            Ok(())
        }
        Err(why) => Err(format!("audit log is NOT intact: {why}")),
    }
}
