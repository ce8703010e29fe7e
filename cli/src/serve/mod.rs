//! `sluicegate serve CONFIG`: the gateway as an OpenAI-compatible HTTP server, for services in
//! any language (docs/serve.md). The server only converts HTTP to core calls and back
//! ([`http`]); routing, policies and metering are the core's, exactly as embedded.
//!
//! Manners: binds 127.0.0.1 unless `--host` says otherwise; a request body above `--max-body`
//! is refused with 413; optional TLS from PEM files; on SIGTERM or SIGINT it stops accepting,
//! lets open requests and streams finish for up to `--drain`, then cuts what is left (each cut
//! stream is cancelled upstream and charged what it delivered) and flushes shared state.

mod errors;
mod http;
mod sse;
mod tls;

use crate::args::{Arg, Args, Outcome, Spec};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use sluicegate::Gateway;
use sluicegate::runtime::runtime;
use std::ffi::OsString;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub static SPEC: Spec = Spec {
    name: "serve",
    about: "serve the gateway as an OpenAI-compatible HTTP API",
    usage: "sluicegate serve CONFIG [options]
  --host ADDR          address to bind (default 127.0.0.1; 0.0.0.0 to accept other machines)
  --port N             port (default 8080; 0 picks a free one, printed on start)
  --max-body SIZE      largest request body, like 16MiB (default 16MiB; larger ones get 413)
  --tls-cert FILE      serve HTTPS with this PEM certificate chain (with --tls-key)
  --tls-key FILE       the PEM private key for --tls-cert
  --drain DURATION     on SIGTERM/SIGINT, how long open streams may finish (default 10s)

endpoints: POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models, GET /healthz, GET /metrics
the virtual key is the `Authorization: Bearer` token; tags: `x-sluicegate-tags: team=search,user=u1`",
};

struct Settings {
    config: String,
    host: String,
    port: u16,
    max_body: u64,
    tls: Option<(String, String)>,
    drain: Duration,
}

pub fn run(argv: Vec<OsString>) -> Outcome {
    let settings = read_args(argv)?;
    let gateway = Gateway::from_file(&settings.config).map_err(|e| {
        let mut text = e.to_string();
        for problem in &e.problems {
            text += &format!("\n  {}: {problem}", settings.config);
        }
        text
    })?;
    for warning in gateway.warnings() {
        eprintln!("{}: warning: {warning}", settings.config);
    }
    let tls = match &settings.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let result = runtime().block_on(serve(&settings, gateway.clone(), tls));
    // Budget and limit spend settles in the background; let it reach the shared store.
    if !gateway.flush(Duration::from_secs(5)) {
        eprintln!("sluicegate serve: warning: some spend had not reached the shared state store after 5 s");
    }
    Ok(result?)
}

fn read_args(argv: Vec<OsString>) -> Result<Settings, crate::args::Failure> {
    let mut args = Args::new(&SPEC, argv);
    let mut settings = Settings {
        config: String::new(),
        host: "127.0.0.1".into(),
        port: 8080,
        max_body: 16 << 20,
        tls: None,
        drain: Duration::from_secs(10),
    };
    let (mut config, mut cert, mut key) = (None, None, None);
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Long(o) if o == "host" => settings.host = args.value()?,
            Arg::Long(o) if o == "port" => settings.port = args.parsed("port", "a number from 0 to 65535")?,
            Arg::Long(o) if o == "max-body" => {
                let text = args.value()?;
                settings.max_body = sluicegate::config::parse_size(&text)
                    .map_err(|e| args.wrong(format!("`--max-body {text}`: {e}")))?;
            }
            Arg::Long(o) if o == "tls-cert" => cert = Some(args.value()?),
            Arg::Long(o) if o == "tls-key" => key = Some(args.value()?),
            Arg::Long(o) if o == "drain" => {
                let text = args.value()?;
                settings.drain = sluicegate::config::parse_duration(&text)
                    .map_err(|e| args.wrong(format!("`--drain {text}`: {e}")))?;
            }
            Arg::Value(v) if config.is_none() => config = Some(args.text(v)?),
            other => return Err(args.unexpected(other)),
        }
    }
    settings.config = config.ok_or_else(|| args.missing("the CONFIG file"))?;
    settings.tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(args.wrong("--tls-cert and --tls-key go together")),
    };
    Ok(settings)
}

async fn serve(settings: &Settings, gateway: Gateway, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<(), String> {
    let listener = TcpListener::bind((settings.host.as_str(), settings.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", settings.host, settings.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("sluicegate serve listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();

    let service = Arc::new(http::Service {
        gateway: gateway.clone(),
        max_body: settings.max_body,
    });
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut signalled = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            _ = &mut signalled => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, _) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        eprintln!("sluicegate serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (service, stopping, tls) = (service.clone(), stopping.clone(), tls.clone());
                connections.spawn(async move {
                    match tls {
                        None => connection(TokioIo::new(tcp), service, stopping).await,
                        Some(acceptor) => {
                            if let Ok(Ok(secure)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                                connection(TokioIo::new(secure), service, stopping).await;
                            }
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    let open = connections.len();
    eprintln!(
        "sluicegate serve: shutting down; {open} connection(s) open, waiting up to {:?} for them",
        settings.drain
    );
    let _ = stop.send(true);
    let drained = tokio::time::timeout(settings.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        eprintln!(
            "sluicegate serve: cutting {} connection(s) still open after {:?}",
            connections.len(),
            settings.drain
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        // Each cut stream is recorded (audit, metering, budget) by the core in the background
        // once its reader is cancelled; the core offers nothing to wait on, so give those
        // records a bounded moment before the process ends instead of losing them.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    gateway.flush_telemetry().await;
    Ok(())
}

/// Serves one connection until it closes, or until shutdown: then the response in progress
/// (a stream included) finishes and the connection closes.
async fn connection<I>(io: I, service: Arc<http::Service>, mut stopping: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let handler = hyper::service::service_fn(move |request| {
        let service = service.clone();
        async move { http::handle(&service, request).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that never finishes its headers does not hold a connection forever.
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(io, handler);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stopping.wait_for(|s| *s) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// SIGINT (Ctrl-C) or SIGTERM (what `docker stop`, systemd and Kubernetes send).
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated => {}
    }
}
