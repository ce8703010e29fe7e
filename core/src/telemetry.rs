//! OpenTelemetry traces: a span per call (`chat {model}`, with the GenAI attributes) and a child
//! span per attempt, continuing the caller's W3C `traceparent` when given, exported in batches
//! as OTLP/HTTP JSON to `telemetry.otlp.endpoint` (`{endpoint}/v1/traces`).

use crate::config::OtlpConfig;
use crate::meter::CallRecord;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often queued spans are sent.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Spans kept while the collector is unreachable (older ones are dropped).
const QUEUE_LIMIT: usize = 10_000;

/// A trace id and the parent span id from a `traceparent` header value, when it is valid.
pub fn parse_traceparent(value: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let hex =
        |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit()) && s.chars().any(|c| c != '0');
    match parts.as_slice() {
        [version, trace, span, _flags] if version.len() == 2 && hex(trace, 32) && hex(span, 16) => {
            Some((trace.to_lowercase(), span.to_lowercase()))
        }
        _ => None,
    }
}

pub fn new_trace_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub fn new_span_id() -> String {
    format!("{:016x}", rand::random::<u64>() | 1)
}

fn nanos(unix_secs: f64) -> String {
    format!("{}", (unix_secs * 1e9) as u128)
}

fn attr(key: &str, value: &Value) -> Option<Value> {
    let v = match value {
        Value::String(s) => json!({"stringValue": s}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_u64() || n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        _ => return None,
    };
    Some(json!({"key": key, "value": v}))
}

fn attrs(pairs: &[(&str, Value)]) -> Vec<Value> {
    pairs.iter().filter_map(|(k, v)| attr(k, v)).collect()
}

/// What the call span says about a finished call.
pub struct Finished<'a> {
    pub operation: &'static str,
    pub route: &'a str,
    pub model: &'a str,
    pub provider_system: Option<String>,
    pub stream: bool,
    pub error: Option<&'a crate::Error>,
}

pub struct Exporter {
    url: String,
    headers: Vec<(String, String)>,
    service: String,
    queue: Mutex<Vec<Value>>,
    running: AtomicBool,
}

impl Exporter {
    pub fn new(config: &OtlpConfig) -> Exporter {
        Exporter {
            url: format!("{}/v1/traces", config.endpoint.trim_end_matches('/')),
            headers: config.headers.clone(),
            service: config.service_name.clone(),
            queue: Mutex::new(Vec::new()),
            running: AtomicBool::new(false),
        }
    }

    /// Queues the spans of one call: the call span and one child per attempt.
    pub fn record(self: &std::sync::Arc<Self>, record: &CallRecord, finished: Finished<'_>) {
        let end = record.started_unix + record.started.elapsed().as_secs_f64();
        let meta = record.to_json();
        let mut call_attrs = vec![
            ("gen_ai.operation.name", json!(finished.operation)),
            (
                "gen_ai.provider.name",
                json!(finished.provider_system.unwrap_or_else(|| "_OTHER".into())),
            ),
            ("gen_ai.request.model", json!(finished.model)),
            ("sluicegate.route", json!(finished.route)),
            ("sluicegate.request_id", json!(record.request_id)),
            ("sluicegate.attempts", json!(record.attempts)),
        ];
        if let Some(d) = &record.deployment {
            call_attrs.push(("sluicegate.deployment", json!(d)));
        }
        if let Some(m) = &record.model {
            call_attrs.push(("gen_ai.response.model", json!(m)));
        }
        if finished.stream {
            call_attrs.push(("gen_ai.request.stream", json!(true)));
        }
        if let Some(u) = &record.usage {
            call_attrs.push(("gen_ai.usage.input_tokens", json!(u.input_tokens)));
            call_attrs.push(("gen_ai.usage.output_tokens", json!(u.output_tokens)));
            call_attrs.push(("gen_ai.usage.cache_read.input_tokens", json!(u.cached_tokens)));
            call_attrs.push(("gen_ai.usage.cache_creation.input_tokens", json!(u.cache_write_tokens)));
            call_attrs.push(("gen_ai.usage.reasoning.output_tokens", json!(u.reasoning_tokens)));
        }
        if let Some(c) = record.cost_usd {
            call_attrs.push(("sluicegate.cost_usd", json!(c)));
        }
        if let Some(t) = meta["ttft_ms"].as_f64() {
            call_attrs.push(("gen_ai.response.time_to_first_chunk", json!(t / 1000.0)));
        }
        let status = match finished.error {
            Some(e) => {
                call_attrs.push(("error.type", json!(e.kind.code())));
                json!({"code": 2, "message": e.message})
            }
            None => json!({"code": 1}),
        };
        let mut call = json!({
            "traceId": record.trace_id, "spanId": record.span_id,
            "name": format!("{} {}", finished.operation, finished.model), "kind": 3,
            "startTimeUnixNano": nanos(record.started_unix), "endTimeUnixNano": nanos(end),
            "attributes": attrs(&call_attrs), "status": status,
        });
        if let Some(parent) = &record.parent_span_id {
            call["parentSpanId"] = json!(parent);
        }
        let mut spans = vec![call];
        for a in &record.attempt_log {
            let failed = a.outcome != "ok";
            let mut a_attrs = vec![
                ("sluicegate.deployment", json!(a.deployment)),
                ("sluicegate.outcome", json!(a.outcome)),
            ];
            if failed {
                a_attrs.push(("error.type", json!(a.outcome)));
            }
            spans.push(json!({
                "traceId": record.trace_id, "spanId": new_span_id(), "parentSpanId": record.span_id,
                "name": format!("attempt {}", a.deployment), "kind": 3,
                "startTimeUnixNano": nanos(a.started_unix), "endTimeUnixNano": nanos(a.started_unix + a.duration.as_secs_f64()),
                "attributes": attrs(&a_attrs), "status": {"code": if failed { 2 } else { 1 }},
            }));
        }
        {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.extend(spans);
            let excess = queue.len().saturating_sub(QUEUE_LIMIT);
            queue.drain(..excess);
        }
        if !self.running.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            crate::runtime::runtime().spawn(async move {
                loop {
                    tokio::time::sleep(FLUSH_EVERY).await;
                    me.flush().await;
                }
            });
        }
    }

    /// Sends every queued span now.
    pub async fn flush(&self) {
        let spans: Vec<Value> = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        if spans.is_empty() {
            return;
        }
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": attrs(&[("service.name", json!(self.service)), ("telemetry.sdk.name", json!("sluicegate")), ("telemetry.sdk.version", json!(crate::VERSION))])},
            "scopeSpans": [{"scope": {"name": "sluicegate", "version": crate::VERSION}, "spans": spans}],
        }]});
        let mut request = crate::runtime::http_client()
            .post(&self.url)
            .json(&body)
            .timeout(Duration::from_secs(5));
        for (k, v) in &self.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => crate::log::warn(&format!(
                "OTLP export to {} answered HTTP {}; spans dropped",
                self.url,
                r.status().as_u16()
            )),
            Err(e) => crate::log::warn(&format!("OTLP export to {} failed: {e}; spans dropped", self.url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parsing() {
        let (t, s) = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s, "00f067aa0ba902b7");
        assert!(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(parse_traceparent("garbage").is_none());
    }
}
