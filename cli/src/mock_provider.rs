//! `sluicegate mock-provider`: the mock OpenAI-compatible server as a process, for tests in
//! any language. Prints one line with its URL once it listens, then serves until killed.

use sluicegate::mock::{MockServer, Script};
use sluicegate::runtime::runtime;
use std::io::Write;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut port: u16 = 0;
    let mut script = serde_json::Value::Object(Default::default());
    let mut api_key = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("`{arg}` needs a value"));
        match arg.as_str() {
            "--port" => {
                port = value()?
                    .parse()
                    .map_err(|_| "`--port` takes a number from 0 to 65535".to_string())?
            }
            "--script" => {
                let v = value()?;
                let text = if v.trim_start().starts_with('{') {
                    v.clone()
                } else {
                    std::fs::read_to_string(v).map_err(|e| format!("cannot read script `{v}`: {e}"))?
                };
                script = serde_json::from_str(&text).map_err(|e| format!("the script is not JSON: {e}"))?;
            }
            "--api-key" => api_key = Some(value()?.clone()),
            other => return Err(format!("unknown option `{other}` (known: --port, --script, --api-key)")),
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
        Ok(())
    })
}
