//! Serving the page on 127.0.0.1 only, read-only: `GET /?token=…` answers the page (with the
//! live counters read again), anything without the token is 401, another method 405. The token
//! is 128 random bits made at start and printed in the URL (first line of stdout). No CORS
//! headers: another site's script in the same browser cannot read the page.

use super::{Source, page};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Whether the request carries the token (`token=` in the query), compared in constant time.
fn authorized(req: &Request<Incoming>, token: &str) -> bool {
    let given = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .unwrap_or("");
    given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let set = |h: &mut hyper::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set(headers, "content-type", content_type);
    set(headers, "cache-control", "no-store");
    // The URL holds the token: never send it on as a referrer.
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    // Nothing but the page's own inline style and script: no fetch, no outside resource.
    set(
        headers,
        "content-security-policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
    );
    response
}

async fn handle(
    source: Arc<Source>,
    token: Arc<String>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !authorized(&req, &token) {
        return Ok(reply(
            StatusCode::UNAUTHORIZED,
            "text/plain; charset=utf-8",
            "401: this page needs the token printed by `sluicegate dashboard` (the whole URL, ?token=…)\n",
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "405: the dashboard is read-only\n",
        ));
    }
    match req.uri().path() {
        "/" | "/index.html" => {
            let html = page::render(&source.data().await);
            Ok(reply(StatusCode::OK, "text/html; charset=utf-8", html))
        }
        "/data.json" => {
            let json = serde_json::to_string_pretty(&source.data().await).unwrap_or_default();
            Ok(reply(StatusCode::OK, "application/json", json))
        }
        _ => Ok(reply(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "404\n")),
    }
}

/// Serves until the process is stopped (Ctrl-C).
pub fn serve(port: u16, source: Source) -> Result<(), String> {
    let token = Arc::new(format!("{:032x}", rand::random::<u128>()));
    let source = Arc::new(source);
    sluicegate::runtime::runtime().block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}; pick another --port (0: any free one)"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        println!("http://127.0.0.1:{port}/?token={token}");
        println!("(read-only; loopback only; Ctrl-C to stop)");
        let _ = std::io::stdout().flush();
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(_) => continue,
                },
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            let (source, token) = (source.clone(), token.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(source.clone(), token.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
