//! `sluicegate mock-provider`: the mock OpenAI-compatible server as a process, for tests in
//! any language. Prints one line with its URL once it listens, then serves until killed.

use crate::args::{Arg, Args, Outcome, Spec};
use sluicegate::mock::{MockServer, Script};
use sluicegate::runtime::runtime;
use std::ffi::OsString;
use std::io::Write;

pub static SPEC: Spec = Spec {
    name: "mock-provider",
    about: "serve a scriptable mock provider on 127.0.0.1 in every provider's wire format",
    usage: "sluicegate mock-provider [--port N] [--script FILE|JSON] [--api-key KEY]",
};

pub fn run(argv: Vec<OsString>) -> Outcome {
    let mut args = Args::new(&SPEC, argv);
    let mut port: u16 = 0;
    let mut script = serde_json::Value::Object(Default::default());
    let mut api_key = None;
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Long(o) if o == "port" => port = args.parsed("port", "a number from 0 to 65535")?,
            Arg::Long(o) if o == "script" => {
                let v = args.value()?;
                let text = if v.trim_start().starts_with('{') {
                    v.clone()
                } else {
                    std::fs::read_to_string(&v).map_err(|e| format!("cannot read script `{v}`: {e}"))?
                };
                script = serde_json::from_str(&text).map_err(|e| format!("the script is not JSON: {e}"))?;
            }
            Arg::Long(o) if o == "api-key" => api_key = Some(args.value()?),
            other => return Err(args.unexpected(other)),
        }
    }
    let script = Script::from_value(&script).map_err(|e| format!("bad script: {e}"))?;
    runtime().block_on(async move {
        let server = MockServer::start(port, script, api_key)
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        println!("sluicegate mock-provider listening on {}", server.url());
        let _ = std::io::stdout().flush();
        std::future::pending::<()>().await;
        Ok::<(), String>(())
    })?;
    Ok(())
}
