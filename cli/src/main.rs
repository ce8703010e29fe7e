//! The `sluicegate` command: `demo`, `validate`, `mock-provider`, `version`.

mod audit;
mod demo;
mod explain;
mod mock_provider;
mod usage;
mod validate;

use std::process::ExitCode;

const USAGE: &str = "usage: sluicegate <command>

commands:
  demo                         run a built-in config on mock providers (no keys, no network)
  validate FILE                check a config file; prints OK or every problem found
  explain FILE --model M [--tag k=v]... [--prompt-tokens N] [--json]
                               which deployment would serve, and why each candidate was kept or skipped
  mock-provider [--port N] [--script FILE|JSON] [--api-key KEY]
                               serve a mock OpenAI-compatible API on 127.0.0.1
  audit verify FILE [--key-env VAR | --key KEY] [--live] [--json]
                               check an audit log's hash chain, signatures, checkpoints and end
  usage AUDIT_FILE [--by team,route,model] [--since DATE|DURATION] [--json]
                               spend, tokens and latency from an audit log, as a table
  version                      print the version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match command.as_str() {
        "demo" => demo::run(),
        "validate" => validate::run(rest),
        "explain" => explain::run(rest),
        "audit" => audit::run(rest),
        "usage" | "report" => usage::run(rest),
        "mock-provider" => mock_provider::run(rest),
        "version" | "--version" | "-V" => {
            println!("sluicegate {}", sluicegate::VERSION);
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sluicegate: {message}");
            ExitCode::from(1)
        }
    }
}
