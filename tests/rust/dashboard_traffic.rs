//! `dashboard-traffic OUT_DIR`: real calls through the gateway, on the mock HTTP server in this
//! process, for the dashboard test (tests/dashboard/run.sh). Writes `OUT_DIR/gateway.yaml` (the
//! config, with a provider `api_key` the page must never show) and `OUT_DIR/audit.jsonl` (the
//! log those calls leave: successes, a redacted e-mail address the page must never show, a
//! blocked SSN, failovers and an open breaker, a retry, rate-limit rejections, cache hits,
//! spend under a budget, several teams, routes, models and keys). The gateway is dropped at
//! the end, so the log ends with its `close` record.

use serde_json::json;
use sluicegate::mock::{MockServer, Script};
use sluicegate::runtime::runtime;
use sluicegate::{CallOptions, Gateway};

/// The provider key in the config; the page must not contain it.
const PROVIDER_KEY: &str = "sk-dashboard-provider-secret-7f3a";
/// A virtual key's secret (its SHA-256 is in the config).
const VIRTUAL_KEY: &str = "sgk-dash-search-0001";
const VIRTUAL_KEY_SHA256: &str = "23416d89308ec93539d6c66a0e0c88d1b5d38e8b97b8501e57064f9ac8896c27";
/// An e-mail address the `pii-in` guardrail redacts; the page must not contain it.
const PII_EMAIL: &str = "dana.dashboard.4821@example.com";

fn config(mock_url: &str) -> String {
    format!(
        r#"providers:
  oai: {{ type: openai, api_base: "{mock_url}/v1", api_key: "{PROVIDER_KEY}" }}
deployments:
  main:    {{ provider: oai, model: gpt-4o, region: us }}
  mini:    {{ provider: oai, model: gpt-4o-mini, region: eu }}
  broken:  {{ provider: oai, model: gpt-4.1-mini, region: us }}
  wobbly:  {{ provider: oai, model: gpt-4.1, region: us }}
routes:
  chat:   {{ targets: [main] }}
  cheap:  {{ targets: [mini] }}
  flaky:  {{ strategy: priority, targets: [broken, mini], breaker: {{ failures: 2, cooldown: 60s }} }}
  retry:  {{ targets: [wobbly], retry: {{ attempts: 2, backoff: 1ms }} }}
  cached: {{ targets: [mini], cache: {{ ttl: 10m }} }}
keys:
  search: {{ sha256: "{VIRTUAL_KEY_SHA256}", tags: {{ team: search }}, routes: [chat, cached], pin_tags: [team] }}
policies:
  require_key: false
  rate_limits:
    - {{ scope: {{ tag: team, tags: {{ team: burst }} }}, rpm: 2 }}
  budgets:
    - {{ scope: team, usd: 5, window: day }}
    - {{ scope: route, usd: 2, window: month }}
    - {{ scope: {{ tag: team, tags: {{ team: thrifty }} }}, usd: 0.001, window: day }}
  guardrails:
    - {{ name: pii-in, type: pii, entities: [email], action: redact, apply_to: [input] }}
    - {{ name: no-ssn, type: pii, entities: [us_ssn], action: block }}
  residency:
    - {{ when: {{ tags: {{ team: billing }} }}, regions: [eu] }}
audit:
  path: audit.jsonl
  checkpoint_every: 5
"#
    )
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: dashboard-traffic OUT_DIR"));
    std::fs::create_dir_all(&out).expect("OUT_DIR can be created");
    let _ = std::fs::remove_file(out.join("audit.jsonl"));
    // gpt-4.1-mini always fails (failovers, then its breaker opens); gpt-4.1 fails once (a retry).
    let script = Script::from_value(&json!({"gpt-4.1-mini": [{"status": 500}], "gpt-4.1": [{"status": 503}, {}]}))
        .expect("script");
    let server = runtime()
        .block_on(MockServer::start(0, script, Some(PROVIDER_KEY.to_owned())))
        .expect("mock server starts");
    let path = out.join("gateway.yaml");
    std::fs::write(&path, config(&server.url())).expect("config written");
    let gw = Gateway::from_file(&path).expect("config loads");
    let (mut ok, mut failed) = (0, 0);
    let mut call = |route: &str, text: &str, options: serde_json::Value| {
        let request = json!({"model": route, "messages": [{"role": "user", "content": text}]});
        let options = CallOptions::from_json(&options).expect("options");
        match gw.chat_blocking(request, options) {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    };
    let search = json!({"key": VIRTUAL_KEY});
    for i in 0..6 {
        call("chat", &format!("question {i} about the search index"), search.clone());
    }
    call(
        "chat",
        &format!("please write to {PII_EMAIL} about the index"),
        search.clone(),
    );
    call("chat", "my SSN is 123-45-6789, store it", search.clone());
    for i in 0..4 {
        call("cheap", &format!("invoice {i}"), json!({"tags": {"team": "billing"}}));
    }
    for i in 0..4 {
        call("flaky", &format!("flaky {i}"), json!({"tags": {"team": "ops"}}));
    }
    call("retry", "retry me", json!({"tags": {"team": "ops"}}));
    for i in 0..4 {
        call("cheap", &format!("burst {i}"), json!({"tags": {"team": "burst"}}));
    }
    call("cheap", "over budget", json!({"tags": {"team": "thrifty"}}));
    for _ in 0..3 {
        call("cached", "the same question every time", search.clone());
    }
    drop(gw);
    println!(
        "{ok} calls answered, {failed} refused or failed; config and audit log in {}",
        out.display()
    );
}
