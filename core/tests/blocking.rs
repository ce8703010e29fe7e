//! Blocking calls run on the calling thread's own runtime and connection pool
//! (`runtime::block_on_here`): many threads, threads that exit, Redis-free and HTTP paths.

use serde_json::json;
use sluicegate::mock::{MockServer, Script};
use sluicegate::{CallOptions, Gateway};

fn mock_url() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        sluicegate::runtime::runtime().block_on(async move {
            let server = MockServer::start(0, Script::default(), None).await.unwrap();
            tx.send(server.url()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

fn gateway(url: &str) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "openai", "api_base": format!("{url}/v1"), "api_key": "sk-test-0000"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o-mini"}},
        "routes": {"chat": {"targets": ["d"], "timeout": {"connect": "2s"}}}
    }))
    .unwrap()
}

fn request() -> serde_json::Value {
    json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
}

#[test]
fn threads_that_come_and_go_each_get_their_own_runtime() {
    let gw = gateway(&mock_url());
    for round in 0..3 {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let gw = gw.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let r = gw.chat_blocking(request(), CallOptions::default()).unwrap();
                        assert_eq!(r["gateway"]["deployment"], "d");
                    }
                    let e = gw.embeddings_blocking(json!({"model": "chat", "input": "x"}), CallOptions::default());
                    assert!(e.is_ok(), "{e:?}");
                })
            })
            .collect();
        for w in workers {
            w.join()
                .unwrap_or_else(|_| panic!("a worker panicked in round {round}"));
        }
    }
    // The shared runtime's async path still works beside the thread runtimes.
    let r = sluicegate::runtime::runtime().block_on(gw.chat(request(), CallOptions::default()));
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn a_blocking_call_inside_an_async_runtime_is_refused_not_deadlocked() {
    let gw = gateway(&mock_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(async { gw.chat_blocking(request(), CallOptions::default()) })
        .unwrap_err();
    assert!(e.message.contains("async runtime"), "{}", e.message);
}
