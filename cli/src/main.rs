//! The `sluicegate` command: `demo`, `validate`, `explain`, `serve`, `mock-provider`, `audit verify`,
//! `usage`, `dashboard`, `version`; `sluicegate CMD --help` for each.

mod args;
mod audit;
mod dashboard;
mod demo;
mod explain;
mod mock_provider;
mod serve;
mod usage;
mod validate;

use args::{Failure, Spec};
use std::ffi::OsString;
use std::process::ExitCode;

static DEMO: Spec = Spec {
    name: "demo",
    about: "run a built-in config on mock providers (no keys, no network)",
    usage: "sluicegate demo",
};

/// Every command, in the order `sluicegate --help` lists them.
static COMMANDS: [&Spec; 8] = [
    &DEMO,
    &validate::SPEC,
    &explain::SPEC,
    &serve::SPEC,
    &mock_provider::SPEC,
    &audit::SPEC,
    &usage::SPEC,
    &dashboard::SPEC,
];

fn overview() -> String {
    let mut text = String::from(
        "usage: sluicegate <command> [options]   (sluicegate <command> --help for its options)\n\ncommands:\n",
    );
    for spec in COMMANDS {
        text += &format!("  {:<15} {}\n", spec.name, spec.about);
    }
    text + "  version         print the version"
}

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    if argv.is_empty() {
        eprintln!("{}", overview());
        return ExitCode::from(2);
    }
    let command = argv.remove(0).to_string_lossy().into_owned();
    let result = match command.as_str() {
        "demo" => demo(argv),
        "validate" => validate::run(argv),
        "explain" => explain::run(argv),
        "audit" => audit::run(argv),
        "usage" | "report" => usage::run(argv),
        "dashboard" => dashboard::run(argv),
        "serve" => serve::run(argv),
        "mock-provider" => mock_provider::run(argv),
        "version" | "--version" | "-V" => {
            println!("sluicegate {}", sluicegate::VERSION);
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{}", overview());
            Ok(())
        }
        other => {
            let names: Vec<&str> = COMMANDS.iter().map(|s| s.name).collect();
            let near = sluicegate::config::suggest::hint(other, names.iter().copied());
            eprintln!("sluicegate: unknown command `{other}`{near}\n\n{}", overview());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(spec, message)) => {
            eprintln!("sluicegate {}: {message}\n\nusage: {}", spec.name, spec.usage);
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("sluicegate: {message}");
            ExitCode::from(1)
        }
    }
}

fn demo(argv: Vec<OsString>) -> args::Outcome {
    let mut args = args::Args::new(&DEMO, argv);
    if let Some(arg) = args.next()? {
        return Err(args.unexpected(arg));
    }
    Ok(demo::run()?)
}
