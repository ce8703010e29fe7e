//! One HTTP request in, one core call, one HTTP answer out. No routing or policy here: the
//! request body goes to the core as it came, the headers become [`CallOptions`] (validated by
//! the core's own option reader), and the core's answer or error is written back.

use super::errors;
use super::sse;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use sluicegate::{CallOptions, Error, ErrorKind, Gateway};
use std::convert::Infallible;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// What every request handler shares.
pub struct Service {
    pub gateway: Gateway,
    /// The largest request body accepted (413 above it).
    pub max_body: u64,
}

/// Routes a request to its handler; never fails (errors are answers).
pub async fn handle(service: &Service, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let method = request.method().clone();
    Ok(match (path.as_str(), &method) {
        ("/v1/chat/completions", &Method::POST) => chat(service, request).await,
        ("/v1/embeddings", &Method::POST) => embeddings(service, request).await,
        ("/v1/models", &Method::GET) => models(service),
        ("/healthz", &Method::GET) => json_response(StatusCode::OK, &json!({"status": "ok"}), Vec::new()),
        ("/metrics", &Method::GET) => metrics(service),
        ("/v1/chat/completions" | "/v1/embeddings", _) | ("/v1/models" | "/healthz" | "/metrics", _) => {
            let mut response = error_response(&Error::invalid_request(format!(
                "`{method} {path}` is not served; use POST for /v1/chat/completions and /v1/embeddings, GET for the rest"
            )));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
        }
        _ => error_response(&Error::new(
            ErrorKind::NotFound,
            format!(
                "no such endpoint `{path}`; this server answers /v1/chat/completions, /v1/embeddings, /v1/models, /healthz and /metrics"
            ),
        )),
    })
}

async fn chat(service: &Service, request: Request<Incoming>) -> Response<Body> {
    let (options, body) = match read_call(service, request).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    if body.get("stream") == Some(&Value::Bool(true)) {
        let route = body.get("model").and_then(Value::as_str).map(str::to_owned);
        return match service.gateway.chat_stream(body, options).await {
            Ok(stream) => sse::response(stream, route),
            Err(e) => error_response(&e),
        };
    }
    match service.gateway.chat(body, options).await {
        Ok(answer) => answer_response(&answer),
        Err(e) => error_response(&e),
    }
}

async fn embeddings(service: &Service, request: Request<Incoming>) -> Response<Body> {
    let (options, body) = match read_call(service, request).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    match service.gateway.embeddings(body, options).await {
        Ok(answer) => answer_response(&answer),
        Err(e) => error_response(&e),
    }
}

/// `/v1/models`: each route as an OpenAI model object (the `model` callers name).
fn models(service: &Service) -> Response<Body> {
    let data: Vec<Value> = service
        .gateway
        .config()
        .routes
        .keys()
        .map(|name| json!({"id": name, "object": "model", "created": 0, "owned_by": "sluicegate"}))
        .collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}), Vec::new())
}

fn metrics(service: &Service) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(service.gateway.metrics_text())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The call options from the headers, and the JSON body; or the error answer.
async fn read_call(service: &Service, request: Request<Incoming>) -> Result<(CallOptions, Value), Response<Body>> {
    let (parts, incoming) = request.into_parts();
    let options = options_from_headers(&parts.headers, !service.gateway.config().keys.is_empty())
        .and_then(|v| CallOptions::from_json(&v))
        .map_err(|e| error_response(&e))?;
    let too_large = |size: String| {
        let e = Error::invalid_request(format!(
            "the request body is {size} bytes, more than this server accepts ({} bytes; `sluicegate serve --max-body`)",
            service.max_body
        ));
        let mut response = error_response(&e);
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        response
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > service.max_body) {
        return Err(too_large(n.to_string()));
    }
    let limit = usize::try_from(service.max_body).unwrap_or(usize::MAX);
    let bytes = match Limited::new(incoming, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large("more".into())),
        Err(e) => {
            return Err(error_response(&Error::invalid_request(format!(
                "could not read the request body: {e}"
            ))));
        }
    };
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        error_response(&Error::invalid_request(format!(
            "the request body is not JSON ({e}); send an OpenAI request object with content-type application/json"
        )))
    })?;
    Ok((options, body))
}

/// The call options as the JSON every binding passes: the virtual key from `Authorization:
/// Bearer` (only when the config has `keys`: SDKs insist on sending some token, and a gateway
/// without keys has nothing to check it against), tags from `x-sluicegate-tags: team=a,user=b`,
/// and `x-sluicegate-request-id`, `x-sluicegate-timeout`, `x-sluicegate-cache`, `traceparent`.
pub fn options_from_headers(headers: &HeaderMap, keys_configured: bool) -> Result<Value, Error> {
    let text = |name: &str| -> Result<Option<String>, Error> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(|s| Some(s.trim().to_owned()))
                .map_err(|_| Error::invalid_request(format!("header `{name}` is not visible ASCII"))),
        }
    };
    let mut options = Map::new();
    if keys_configured && let Some(auth) = text("authorization")? {
        let token = match auth.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(Error::new(
                    ErrorKind::Authentication,
                    "the Authorization header must be `Bearer <virtual key>`",
                )
                .with_retryable(false));
            }
        };
        if !token.is_empty() {
            options.insert("key".into(), Value::String(token.to_owned()));
        }
    }
    if let Some(tags) = text("x-sluicegate-tags")? {
        options.insert("tags".into(), Value::Object(parse_tags(&tags)?));
    }
    if let Some(id) = text("x-sluicegate-request-id")? {
        options.insert("request_id".into(), Value::String(id));
    }
    if let Some(timeout) = text("x-sluicegate-timeout")? {
        let value = match timeout.parse::<f64>() {
            Ok(seconds) => json!(seconds),
            Err(_) => Value::String(timeout),
        };
        options.insert("timeout".into(), value);
    }
    if let Some(cache) = text("x-sluicegate-cache")? {
        let value = match cache.as_str() {
            "false" | "off" => Value::Bool(false),
            "true" | "on" => Value::Bool(true),
            ttl => json!({ "ttl": ttl }),
        };
        options.insert("cache".into(), value);
    }
    if let Some(trace) = text("traceparent")? {
        options.insert("traceparent".into(), Value::String(trace));
    }
    Ok(Value::Object(options))
}

/// `team=search,user=u1` as a map; an empty header means no tags.
fn parse_tags(text: &str) -> Result<Map<String, Value>, Error> {
    let mut tags = Map::new();
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match piece.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                tags.insert(name.trim().to_owned(), Value::String(value.trim().to_owned()));
            }
            _ => {
                return Err(Error::invalid_request(format!(
                    "header `x-sluicegate-tags`: `{piece}` is not name=value; write it like `team=search,user=u1`"
                )));
            }
        }
    }
    Ok(tags)
}

/// The metadata headers from a `gateway` object: what is known of it.
pub fn metadata_headers(gateway: &Value) -> Vec<(&'static str, HeaderValue)> {
    let mut out = Vec::new();
    for (header, field) in [
        ("x-sluicegate-request-id", "request_id"),
        ("x-sluicegate-route", "route"),
        ("x-sluicegate-deployment", "deployment"),
        ("x-sluicegate-cost-usd", "cost_usd"),
    ] {
        let text = match gateway.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if let Ok(value) = HeaderValue::from_str(&text) {
            out.push((header, value));
        }
    }
    out
}

fn answer_response(answer: &Value) -> Response<Body> {
    let headers = answer.get("gateway").map(metadata_headers).unwrap_or_default();
    json_response(StatusCode::OK, answer, headers)
}

pub fn error_response(error: &Error) -> Response<Body> {
    let mut response = Response::new(full(errors::body(error)));
    *response.status_mut() = errors::status(error);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in errors::headers(error) {
        headers.insert(name, value);
    }
    response
}

fn json_response(status: StatusCode, value: &Value, extra: Vec<(&'static str, HeaderValue)>) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in extra {
        headers.insert(name, value);
    }
    response
}

pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn headers_become_call_options() {
        let h = headers(&[
            ("authorization", "Bearer sk-virtual-1"),
            ("x-sluicegate-tags", "team=search, user=u1"),
            ("x-sluicegate-request-id", "req-7"),
            ("x-sluicegate-timeout", "2.5"),
            ("x-sluicegate-cache", "false"),
        ]);
        let v = options_from_headers(&h, true).unwrap();
        assert_eq!(
            v,
            json!({"key": "sk-virtual-1", "tags": {"team": "search", "user": "u1"}, "request_id": "req-7", "timeout": 2.5, "cache": false})
        );
        // Without `keys` in the config the SDK's token is not a key.
        assert_eq!(options_from_headers(&h, false).unwrap().get("key"), None);
        assert!(CallOptions::from_json(&v).is_ok());
    }

    #[test]
    fn bad_headers_are_invalid_requests() {
        let e = options_from_headers(&headers(&[("x-sluicegate-tags", "team")]), false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("team=search"), "{}", e.message);
        let e = options_from_headers(&headers(&[("authorization", "Basic abc")]), true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Authentication);
    }

    #[test]
    fn metadata_headers_skip_unknown_fields() {
        let h = metadata_headers(&json!({"request_id": "r1", "route": "chat", "deployment": null, "cost_usd": 0.5}));
        let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["x-sluicegate-request-id", "x-sluicegate-route", "x-sluicegate-cost-usd"]
        );
    }
}
