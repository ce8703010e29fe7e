//! `sluicegate validate FILE`: prints OK (after any warnings), or every problem in the config
//! with its path.

use crate::args::{Arg, Args, Outcome, Spec};
use sluicegate::Gateway;
use std::ffi::OsString;

pub static SPEC: Spec = Spec {
    name: "validate",
    about: "check a config file; prints OK or every problem found",
    usage: "sluicegate validate FILE",
};

pub fn run(argv: Vec<OsString>) -> Outcome {
    let mut args = Args::new(&SPEC, argv);
    let mut path = None;
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Value(v) if path.is_none() => path = Some(args.text(v)?),
            other => return Err(args.unexpected(other)),
        }
    }
    let path = path.ok_or_else(|| args.missing("the config FILE"))?;
    let path = path.as_str();
    match Gateway::from_file(path) {
        Ok(gw) => {
            for warning in gw.warnings() {
                println!("{path}: warning: {warning}");
            }
            let c = gw.config();
            println!(
                "OK: {} provider(s), {} deployment(s), {} route(s)",
                c.providers.len(),
                c.deployments.len(),
                c.routes.len()
            );
            Ok(())
        }
        Err(e) if !e.problems.is_empty() => {
            for problem in &e.problems {
                println!("{path}: {problem}");
            }
            Err(format!("{} problem(s) found in {path}", e.problems.len()).into())
        }
        Err(e) => Err(e.to_string().into()),
    }
}
