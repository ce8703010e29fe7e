//! `sluicegate validate FILE`: prints OK (after any warnings), or every problem in the config
//! with its path.

use sluicegate::Gateway;

pub fn run(args: &[String]) -> Result<(), String> {
    let [path] = args else {
        return Err("usage: sluicegate validate FILE".into());
    };
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
            Err(format!("{} problem(s) found in {path}", e.problems.len()))
        }
        Err(e) => Err(e.to_string()),
    }
}
