//! Secrets stay with the host they belong to: no provider key follows a redirect to another
//! host, and no `Debug` output of the config or the call options prints one.

use serde_json::json;
use sluicegate::{CallOptions, Config, Gateway};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A one-purpose HTTP server on loopback: answers every request with `answer` and keeps what
/// it received.
fn server(answer: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok();
            let mut buf = vec![0u8; 65536];
            let n = stream.read(&mut buf).unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, seen)
}

#[test]
fn provider_keys_do_not_follow_a_redirect_to_another_host() {
    let ok = r#"{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"stolen"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
    let (elsewhere, seen_elsewhere) = server(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ok}",
        ok.len()
    ));
    for (kind, path) in [
        ("openai", "/v1/chat/completions"),
        ("anthropic", "/v1/messages"),
        ("azure_openai", "/x"),
    ] {
        let (port, _) = server(format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{elsewhere}{path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ));
        let base = if kind == "openai" {
            format!("http://127.0.0.1:{port}/v1")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        let gw = Gateway::from_value(json!({
            "providers": {"p": {"type": kind, "api_base": base, "api_key": "sk-REDIRECT-SECRET-0001",
                                "headers": {"x-custom-auth": "hdr-REDIRECT-SECRET-0002"}}},
            "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
            "routes": {"chat": {"targets": ["d"], "breaker": false}}
        }))
        .unwrap();
        let result = gw.chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            CallOptions::default(),
        );
        if let Err(e) = &result {
            assert!(!e.message.contains("REDIRECT-SECRET"), "{kind}: {}", e.message);
        }
        let leaked: Vec<String> = seen_elsewhere
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains("REDIRECT-SECRET"))
            .cloned()
            .collect();
        assert!(
            leaked.is_empty(),
            "{kind}: a secret followed the redirect to another port:\n{leaked:?}"
        );
        assert!(result.is_err(), "{kind}: a redirect must not be followed: {result:?}");
    }
}

#[test]
fn debug_output_prints_no_secret() {
    let config = Config::from_value(json!({
        "providers": {"p": {"type": "openai", "api_key": "sk-DEBUG-SECRET-0001", "headers": {"x-auth": "hdr-DEBUG-SECRET-0002"}}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "audit": {"path": "/tmp/never-written.jsonl", "key": "audit-DEBUG-SECRET-0003"},
        "state": {"backend": "redis", "url": "redis://user:pw-DEBUG-SECRET-0004@127.0.0.1:6379/0"},
        "telemetry": {"otlp": {"endpoint": "http://127.0.0.1:4318", "headers": {"authorization": "otlp-DEBUG-SECRET-0005"}}}
    }))
    .unwrap();
    let options = CallOptions::from_json(&json!({"key": "sk-sg-DEBUG-SECRET-0006", "tags": {"team": "a"}})).unwrap();
    for text in [format!("{config:?}"), format!("{config:#?}"), format!("{options:?}")] {
        assert!(!text.contains("DEBUG-SECRET"), "a secret in Debug output:\n{text}");
    }
    // Still useful for debugging: the names are there.
    assert!(format!("{config:?}").contains("gpt-4o"));
    assert!(format!("{options:?}").contains("team"));
}
