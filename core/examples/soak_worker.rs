//! One Rust process of the budget soak (tests/soak): 16 concurrent callers through one
//! gateway, each call drawn at random (see tests/soak/soak.py for the kinds). Prints its
//! outcomes as one JSON line. `soak_worker CONFIG.json CALLS_EACH SEED`.

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sluicegate::{CallOptions, Gateway};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Outcomes = Arc<Mutex<BTreeMap<String, BTreeMap<String, u64>>>>;

async fn one(gw: &Gateway, plan: &Value, kind: &str, rng: &mut rand::rngs::StdRng) -> Result<(), sluicegate::Error> {
    let n: u64 = rng.random_range(1..=4);
    let content = "a".repeat(rng.random_range(100..=400));
    let chat = |model: &str, stream: bool| json!({"model": model, "messages": [{"role": "user", "content": content}], "n": n, "max_tokens": 16, "stream": stream});
    let options = CallOptions::default();
    match kind {
        "embed" => {
            let input = "b".repeat(rng.random_range(100..=400));
            gw.embeddings(json!({"model": "embed", "input": [input]}), options)
                .await
                .map(drop)
        }
        "plain" => gw.chat(chat("ok", false), options).await.map(drop),
        "fault" => gw.chat(chat("fault", false), options).await.map(drop),
        "timeout" => gw.chat(chat("slow_timeout", false), options).await.map(drop),
        "cancel" => {
            let after = Duration::from_secs_f64(plan["cancel_after"].as_f64().unwrap_or(0.3));
            match tokio::time::timeout(after, gw.chat(chat("slow", false), options)).await {
                Ok(done) => done.map(drop),
                Err(_) => Err(sluicegate::Error::new(
                    sluicegate::ErrorKind::Cancelled,
                    "cancelled by the caller",
                )),
            }
        }
        _ => {
            let route = match kind {
                "stall_drop" => "stall",
                "cut" => "cut",
                _ => "ok",
            };
            let mut stream = gw.chat_stream(chat(route, true), options).await?;
            let mut seen = 0;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                seen += 1;
                let c = &chunk["choices"][0];
                if kind == "finish_drop" && c["index"] == 0 && !c["finish_reason"].is_null() {
                    break;
                }
                if kind == "stall_drop" && Some(seen) == plan["stall_after"].as_u64() {
                    break;
                }
            }
            Ok(())
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, calls_each, seed] = &args[..] else {
        eprintln!("usage: soak_worker CONFIG.json CALLS_EACH SEED");
        std::process::exit(2);
    };
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let plan = config.as_object_mut().unwrap().remove("soak").unwrap();
    let calls_each: usize = calls_each.parse().unwrap();
    let seed: u64 = seed.parse().unwrap();
    let gw = Gateway::from_value(config).unwrap();
    let outcomes: Outcomes = Arc::default();
    sluicegate::runtime::runtime().block_on(async {
        let callers = (0..16u64).map(|i| {
            let (gw, plan, outcomes) = (gw.clone(), plan.clone(), outcomes.clone());
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed * 100 + i);
                let kinds = plan["kinds"].as_array().unwrap().clone();
                for _ in 0..calls_each {
                    let kind = kinds[rng.random_range(0..kinds.len())].as_str().unwrap().to_owned();
                    let code = match one(&gw, &plan, &kind, &mut rng).await {
                        Ok(()) => "ok".to_owned(),
                        Err(e) => e.kind.code().to_owned(),
                    };
                    *outcomes
                        .lock()
                        .unwrap()
                        .entry(kind)
                        .or_default()
                        .entry(code)
                        .or_default() += 1;
                }
            })
        });
        for caller in futures_util::future::join_all(callers).await {
            caller.unwrap();
        }
    });
    // Waits for calls and settlements still on their way to the store (a cancelled call's
    // task may be dropped a moment after its caller gave up).
    gw.flush(sluicegate::policy::FLUSH_LIMIT);
    drop(gw);
    println!("{}", json!({"lang": "rust", "outcomes": *outcomes.lock().unwrap()}));
}
