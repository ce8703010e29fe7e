//! The one recorder every finished call goes through, whatever its outcome: metering, trace
//! spans, the host's `on_request_end` hooks and the audit log.

use crate::config::{AuditContent, AuditOnError};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind};
use crate::meter::CallRecord;
use crate::metrics::{Event, provider_system};
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::policy::audit_record::{AuditRecord, PrincipalRecord, Served};
use crate::policy::guard::GuardReport;
use crate::policy::{Principal, Ticket, clock, pii};
use serde_json::{Value, json};
use std::borrow::Cow;

/// The `gateway.policy` report for a call.
pub(crate) fn policy_report(principal: &Principal, ticket: &Ticket, guard: &GuardReport) -> Value {
    let mut report = ticket.to_json();
    report["key"] = json!(principal.key);
    report["guardrails"] = guard.to_json();
    report
}

impl Engine {
    /// Writes down a finished call, whatever its outcome: its trace spans, metering, the
    /// `on_request_end` hooks and the audit record. An answered call brings its `gateway`
    /// object (for the audit record); a failed one its error. Returns the error that must fail
    /// the call when its audit record could not be written and `audit.on_error` is
    /// `fail_closed` ("no audit, no call").
    pub(crate) fn record(
        &self,
        operation: Operation,
        call: &CallRecord,
        principal: Option<&Principal>,
        outcome: std::result::Result<&Value, &Error>,
        content: Option<(&Value, &Value)>,
    ) -> Option<Error> {
        self.trace(operation, call, outcome.err());
        let (request_id, route) = (call.request_id.as_str(), call.route.as_str());
        // A call that failed after its deployment answered (a stream cut off or dropped, an
        // answer an output guardrail blocked) was billed, and its ticket charged: it is
        // recorded with that usage and cost, so that what is recorded is what was charged.
        let billed = outcome.is_err() && call.deployment.is_some() && call.usage.is_some();
        let billed_json = billed.then(|| call.to_json());
        let metered = (outcome.is_ok() || billed).then_some(call);
        let mut event = self.event(operation, route, principal, metered, outcome.err());
        self.notify(&event, request_id, outcome.err());
        // A name the config does not know is the caller's free text: one metric series (and
        // usage row) per typo, or per attacker's random string, would grow without bound. The
        // hook above and the audit record keep the name as asked.
        if !self.config.routes.contains_key(route) && !self.config.deployments.contains_key(route) {
            event.route = "unknown".to_owned();
        }
        self.meter.observe(event);
        let log = self.audit.as_ref()?;
        let record = AuditRecord {
            ts: clock::rfc3339(clock::now_secs()),
            kind: operation.as_str(),
            request_id,
            principal: PrincipalRecord {
                key: principal.and_then(|p| p.key.as_deref()),
                tags: principal
                    .map(|p| {
                        p.tags
                            .iter()
                            .map(|(k, v)| {
                                let v = if k == "user" {
                                    Cow::Owned(log.principal_id(v))
                                } else {
                                    Cow::Borrowed(v.as_str())
                                };
                                (k.as_str(), v)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            route,
            outcome: match outcome {
                Ok(_) => "ok",
                Err(e) => e.kind.code(),
            },
            served: outcome.ok().or(billed_json.as_ref()).map(Served),
            error: outcome.err().map(|e| e.message.as_str()),
            content: match (log.content(), content) {
                (AuditContent::Redacted, Some((input, output))) => {
                    Some(json!({"input": redact_all(input), "output": redact_all(output)}))
                }
                _ => None,
            },
        };
        let line = serde_json::to_string(&record).unwrap_or_else(|_| "{}".to_owned());
        let e = log.append_line(line).err()?;
        crate::log::warn(&format!(
            "sluicegate: audit record for {request_id} not written: {}",
            e.message
        ));
        match log.on_error() {
            AuditOnError::Warn => None,
            AuditOnError::FailClosed => Some(
                Error::new(
                    ErrorKind::Internal,
                    format!(
                        "the call's audit record could not be written, so the call fails (audit.on_error: fail_closed): {}",
                        e.message
                    ),
                )
                .with_retryable(false)
                .with_request_id(request_id),
            ),
        }
    }
}

/// Every PII entity redacted from every string in a value (for audit content).
fn redact_all(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let all: Vec<String> = crate::config::PII_ENTITIES.iter().map(|e| (*e).to_owned()).collect();
            let mut out = String::new();
            let mut at = 0;
            for f in pii::find(s, &all) {
                out.push_str(&s[at..f.start]);
                out.push_str(&pii::placeholder(f.entity));
                at = f.end;
            }
            out.push_str(&s[at..]);
            json!(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_all).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), redact_all(v))).collect()),
        other => other.clone(),
    }
}

impl Engine {
    fn event(
        &self,
        operation: Operation,
        route: &str,
        principal: Option<&Principal>,
        record: Option<&CallRecord>,
        error: Option<&Error>,
    ) -> Event {
        let text = |f: fn(&CallRecord) -> &Option<String>| record.and_then(|r| f(r).clone());
        let usage = record.and_then(|r| r.usage).unwrap_or_default();
        let provider = text(|r| &r.provider);
        Event {
            ts: clock::now_secs(),
            operation: operation.gen_ai_name(),
            key: principal.and_then(|p| p.key.clone()),
            tags: principal.map(|p| p.tags.clone()).unwrap_or_default(),
            route: route.to_owned(),
            deployment: text(|r| &r.deployment),
            provider_system: provider
                .as_ref()
                .and_then(|p| self.config.providers.get(p))
                .map(|p| provider_system(p.preset.name).to_owned()),
            provider,
            model: text(|r| &r.model),
            outcome: error
                .map(|e| e.kind.code().to_owned())
                .unwrap_or_else(|| "ok".to_owned()),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cached_tokens: usage.cached_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            cost_usd: record.and_then(CallRecord::reported_cost_usd),
            latency_ms: record.map(CallRecord::latency_ms).unwrap_or(0.0),
            ttft_ms: record.and_then(CallRecord::ttft_ms),
            overhead_us: record.map(CallRecord::overhead_us),
        }
    }
}

impl Engine {
    /// Hands the finished call to the host's `on_request_end` hooks, off the request path: a
    /// slow or failing hook never delays or breaks a call.
    fn notify(&self, event: &Event, request_id: &str, error: Option<&Error>) {
        let hooks = self.hooks();
        if hooks.is_empty() {
            return;
        }
        let payload = json!({
            "request_id": request_id,
            "ts": clock::rfc3339(event.ts),
            "operation": event.operation,
            "route": event.route,
            "deployment": event.deployment,
            "provider": event.provider,
            "model": event.model,
            "outcome": event.outcome,
            "error": error.map(|e| json!({"code": e.kind.code(), "message": e.message})),
            "key": event.key,
            "tags": event.tags,
            "usage": {"input_tokens": event.input_tokens, "output_tokens": event.output_tokens, "cached_tokens": event.cached_tokens, "reasoning_tokens": event.reasoning_tokens},
            "cost_usd": event.cost_usd,
            "latency_ms": event.latency_ms,
            "ttft_ms": event.ttft_ms,
            "overhead_us": event.overhead_us,
        });
        hook_thread(Box::new(move || {
            for hook in hooks {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&payload))).is_err() {
                    crate::log::warn("an on_request_end hook panicked; the call was not affected");
                }
            }
        }));
    }
}

impl Engine {
    /// Exports the call's trace spans, when telemetry is configured.
    fn trace(&self, operation: Operation, record: &CallRecord, error: Option<&Error>) {
        let Some(exporter) = self.exporter.as_ref() else { return };
        let provider_system = record
            .provider
            .as_ref()
            .and_then(|p| self.config.providers.get(p))
            .map(|p| provider_system(p.preset.name).to_owned());
        let model = record.model.clone().unwrap_or_else(|| record.route.clone());
        exporter.record(
            record,
            crate::telemetry::Finished {
                operation: operation.gen_ai_name(),
                route: &record.route,
                model: &model,
                provider_system,
                stream: operation.is_stream(),
                error,
            },
        );
    }

    /// Records a call that failed before any provider was tried (metering, trace, audit).
    pub(crate) fn failed_early(&self, operation: Operation, request: &Value, options: &CallOptions, e: &Error) {
        let route = request.get("model").and_then(Value::as_str).unwrap_or("");
        let mut record = CallRecord::new(
            e.request_id.clone().unwrap_or_default(),
            route.to_owned(),
            options.tags.clone(),
        );
        record.continue_trace(options.traceparent.as_deref());
        self.record(operation, &record, None, Err(e), None);
    }
}

/// A hook run, queued for the hook thread.
type Job = Box<dyn FnOnce() + Send>;

/// Runs hook jobs on one thread outside the runtime (so a hook may even make a blocking
/// gateway call), in order, never on a request's path.
fn hook_thread(job: Job) {
    use std::sync::mpsc::{Sender, channel};
    static QUEUE: std::sync::Mutex<Option<(u32, Sender<Job>)>> = std::sync::Mutex::new(None);
    let pid = std::process::id();
    let mut queue = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
    // A forked child inherits the parent's sender but not its thread: start a new one.
    if queue.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        let (tx, rx) = channel::<Job>();
        let started = std::thread::Builder::new()
            .name("sluicegate-hooks".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            });
        if started.is_err() {
            crate::log::warn("could not start the hook thread; on_request_end hooks are skipped");
            return;
        }
        *queue = Some((pid, tx));
    }
    if let Some((_, tx)) = queue.as_ref() {
        let _ = tx.send(job);
    }
}
