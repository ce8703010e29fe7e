//! The policy steps every call goes through before and after the providers: identify the
//! caller, guard the input, plan the route (residency included), reserve rate limits and
//! budget; then settle, guard the output and write the audit record.

use crate::config::{AuditContent, AuditOnError};
use crate::error::{Error, ErrorKind, Result};
use crate::gateway::Gateway;
use crate::meter::{CallRecord, new_request_id};
use crate::metrics::{Event, provider_system};
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::policy::audit_record::{AuditRecord, PrincipalRecord, Served};
use crate::policy::guard::GuardReport;
use crate::policy::{Estimate, Principal, Refused, Ticket, clock, pii};
use crate::pricing::{Price, PriceBook};
use crate::request;
use crate::routing::Plan;
use crate::usage::Usage;
use serde_json::{Value, json};
use std::borrow::Cow;

/// A call that passed every check before the providers.
pub(crate) struct Prepared {
    pub plan: Plan,
    pub record: CallRecord,
    /// The request as the providers get it (after input redaction).
    pub request: Value,
    pub ticket: Ticket,
    pub principal: Principal,
    pub guard: GuardReport,
}

/// Output tokens assumed for the worst case when neither the caller nor the catalog says.
const UNKNOWN_MAX_OUTPUT: u64 = 4096;
/// Prompt estimates are character counts / 4; real tokenizers can count more. Budgets reserve
/// with this margin so that a call never spends more than it reserved.
const PROMPT_MARGIN: f64 = 1.5;

/// The most a call could use on a deployment of the plan with this price (`None`: no price,
/// so no output limit either): the prompt with a margin, images by the model's own bound, and
/// `n` times the output.
fn worst_usage(plan: &Plan, price: Option<(&str, &Price)>, request: &Value) -> Usage {
    let asked = crate::providers::dialect::max_tokens(request);
    let images = crate::tokens::count_images(request);
    let extra_images = price
        .map(|(model, _)| {
            images.saturating_mul(crate::tokens::image_tokens(model).saturating_sub(crate::tokens::IMAGE_TOKENS))
        })
        .unwrap_or(0);
    let prompt = (plan.prompt_tokens.saturating_add(extra_images) as f64 * PROMPT_MARGIN).ceil() as u64;
    let cap = price
        .and_then(|(_, p)| p.max_output_tokens)
        .unwrap_or(UNKNOWN_MAX_OUTPUT);
    let output = asked.map(|a| a.min(cap)).unwrap_or(cap);
    Usage {
        input_tokens: prompt,
        output_tokens: output.saturating_mul(crate::tokens::choices(request)),
        ..Usage::default()
    }
}

/// The most a call could cost on any priced deployment the plan may use.
fn worst_cost(plan: &Plan, prices: &PriceBook, request: &Value) -> Option<f64> {
    plan.groups
        .iter()
        .flat_map(|g| g.deployments.iter())
        .filter_map(|d| {
            let price = prices.get(&d.model)?;
            Some(
                price
                    .breakdown(&worst_usage(plan, Some((&d.model, price)), request))
                    .total,
            )
        })
        .reduce(f64::max)
}

impl Gateway {
    /// Checks, guards, plans and reserves. `model` is the route asked for.
    pub(crate) async fn prepare(
        &self,
        request: &Value,
        options: &CallOptions,
        model: &str,
        request_id: String,
    ) -> Result<Prepared> {
        // The gateway's own time starts here: policies and planning count as overhead.
        let started = std::time::Instant::now();
        let started_unix = clock::now_secs();
        let fail = |e: Error| e.with_request_id(&request_id);
        let policy = self.policy();
        let principal = policy
            .authenticate(options.key.as_deref(), model, &options.tags)
            .map_err(fail)?;
        let mut request = request.clone();
        let mut guard = GuardReport::default();
        if !policy.guards.is_empty() {
            policy.guards.check_input(&mut request, &mut guard).map_err(fail)?;
        }
        let effective = CallOptions {
            tags: principal.tags.clone(),
            ..options.clone()
        };
        let mut plan = Plan::for_request(self.config(), self.prices(), model, &request, &effective).map_err(fail)?;
        let estimate = |plan: &Plan| Estimate {
            // Saturating: `max_tokens` is the caller's number, u64::MAX included.
            tokens: plan.prompt_tokens.saturating_add(
                crate::providers::dialect::max_tokens(&request)
                    .unwrap_or(0)
                    .saturating_mul(crate::tokens::choices(&request)),
            ),
            worst_cost_usd: worst_cost(plan, self.prices(), &request),
            unpriced: plan
                .groups
                .iter()
                .flat_map(|g| g.deployments.iter())
                .filter(|d| self.prices().get(&d.model).is_none())
                .map(|d| (d.name.clone(), d.model.clone()))
                .collect(),
            unpriced_usage: worst_usage(plan, None, &request),
            hold_secs: plan
                .timeout
                .total
                .map(|t| t.as_secs_f64().min(1e9) + 60.0)
                .unwrap_or(0.0),
        };
        let watch = |plan: &Plan| -> Vec<String> {
            if policy.redis.is_none() {
                return Vec::new();
            }
            plan.groups
                .iter()
                .flat_map(|g| g.deployments.iter().map(|d| d.name.clone()))
                .collect()
        };
        if let Some(store) = &policy.redis {
            self.router().publisher.ensure_running(store, &self.router().health);
        }
        let mut ticket = match policy
            .reserve(&principal, &plan.route, &estimate(&plan), &watch(&plan))
            .await
        {
            Ok(ticket) => ticket,
            Err(Refused::Error(e)) => return Err(fail(e)),
            Err(Refused::Fallback(route)) => {
                plan = Plan::for_request(self.config(), self.prices(), &route, &request, &effective).map_err(fail)?;
                match policy
                    .reserve(&principal, &plan.route, &estimate(&plan), &watch(&plan))
                    .await
                {
                    Ok(ticket) => ticket,
                    Err(Refused::Error(e)) => return Err(fail(e)),
                    Err(Refused::Fallback(_)) => {
                        return Err(fail(Error::new(crate::ErrorKind::BudgetExceeded, format!("the budget for `{model}` is used up, and so is the budget of its fallback route `{route}`")).with_retryable(false)));
                    }
                }
            }
        };
        plan.peers = ticket.take_peers();
        let mut record = CallRecord::new(request_id, plan.route.clone(), principal.tags.clone());
        record.started = started;
        record.started_unix = started_unix;
        record.continue_trace(options.traceparent.as_deref());
        record.skipped = plan.skipped.clone();
        Ok(Prepared {
            plan,
            record,
            request,
            ticket,
            principal,
            guard,
        })
    }

    /// Checks a chat request and prepares it.
    pub(crate) async fn begin(&self, request: &Value, options: &CallOptions, want_stream: bool) -> Result<Prepared> {
        let request_id = options.request_id.clone().unwrap_or_else(new_request_id);
        let checked = request::check(request).map_err(|e| e.with_request_id(&request_id))?;
        if checked.stream != want_stream {
            let hint = if want_stream {
                "set `stream: true` or use the non-streaming call"
            } else {
                "use the streaming call for `stream: true`"
            };
            return Err(Error::invalid_request(format!(
                "this call does not match the request's `stream` field; {hint}"
            ))
            .with_request_id(&request_id));
        }
        self.prepare(request, options, &checked.model, request_id).await
    }

    /// The `gateway.policy` report for a call.
    pub(crate) fn policy_report(principal: &Principal, ticket: &Ticket, guard: &GuardReport) -> Value {
        let mut report = ticket.to_json();
        report["key"] = json!(principal.key);
        report["guardrails"] = guard.to_json();
        report
    }

    /// Records a finished call (success or failure): metering always, the audit log when set.
    /// An answered call brings its record (for metering) and its `gateway` object (for the
    /// audit record). Returns the error that must fail the call when its record could not be written and
    /// `audit.on_error` is `fail_closed` ("no audit, no call").
    pub(crate) fn audit(
        &self,
        operation: Operation,
        request_id: &str,
        route: &str,
        principal: Option<&Principal>,
        outcome: std::result::Result<(&CallRecord, &Value), &Error>,
        content: Option<(&Value, &Value)>,
    ) -> Option<Error> {
        let mut event = self.event(operation, route, principal, outcome.map(|(record, _)| record));
        self.notify(&event, request_id, outcome.err());
        // A name the config does not know is the caller's free text: one metric series (and
        // usage row) per typo, or per attacker's random string, would grow without bound. The
        // hook above and the audit record keep the name as asked.
        if !self.config().routes.contains_key(route) && !self.config().deployments.contains_key(route) {
            event.route = "unknown".to_owned();
        }
        self.meter().observe(event);
        let log = self.audit_log()?;
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
            served: outcome.ok().map(|(_, gateway)| Served(gateway)),
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

impl Gateway {
    fn event(
        &self,
        operation: Operation,
        route: &str,
        principal: Option<&Principal>,
        outcome: std::result::Result<&CallRecord, &Error>,
    ) -> Event {
        // A failed call is metered without its record's usage, cost or timing.
        let record = outcome.ok();
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
                .and_then(|p| self.config().providers.get(p))
                .map(|p| provider_system(p.preset.name).to_owned()),
            provider,
            model: text(|r| &r.model),
            outcome: outcome
                .err()
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

    /// Usage grouped by dimensions since a time: `{"group_by": ["team", "model"], "since": "2026-11-01" | unix seconds | "1h"}`.
    pub fn usage(&self, query: &Value) -> Result<Value> {
        crate::runtime::no_panic(|| self.usage_report(query))
    }

    fn usage_report(&self, query: &Value) -> Result<Value> {
        match query {
            Value::Null => {}
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| !["group_by", "since"].contains(&k.as_str())) {
                    let near = crate::config::suggest::hint(key, ["group_by", "since"]);
                    return Err(Error::invalid_request(format!(
                        "unknown usage query key `{key}`{near} (known: group_by, since)"
                    )));
                }
            }
            _ => {
                return Err(Error::invalid_request(
                    "the usage query must be an object like {\"group_by\": [\"team\"], \"since\": \"1h\"}",
                ));
            }
        }
        let group_by: Vec<String> = match query.get("group_by") {
            None | Some(Value::Null) => vec![],
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::invalid_request("`group_by` must be a list of names"))
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(Error::invalid_request(
                    "`group_by` must be a list of names like [\"team\", \"model\"]",
                ));
            }
        };
        let since = match query.get("since") {
            None | Some(Value::Null) => 0.0,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
            Some(Value::String(s)) => clock::parse_since(s)
                .ok_or_else(|| Error::invalid_request(format!("`since` = `{s}`: use {}", clock::SINCE_FORMS)))?,
            Some(_) => {
                return Err(Error::invalid_request(format!(
                    "`since` must be {}",
                    clock::SINCE_FORMS
                )));
            }
        };
        self.meter().report(&group_by, since)
    }

    /// Prometheus text exposition of the gateway's metrics.
    pub fn metrics_text(&self) -> String {
        self.meter().metrics_text()
    }
}

impl Gateway {
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

impl Gateway {
    /// Exports the call's trace spans, when telemetry is configured.
    pub(crate) fn trace(&self, operation: Operation, record: &CallRecord, error: Option<&Error>) {
        let Some(exporter) = self.exporter() else { return };
        let provider_system = record
            .provider
            .as_ref()
            .and_then(|p| self.config().providers.get(p))
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
        self.trace(operation, &record, Some(e));
        self.audit(
            operation,
            e.request_id.as_deref().unwrap_or(""),
            route,
            None,
            Err(e),
            None,
        );
    }
}

impl Gateway {
    /// The cache key and time to live for a call, when caching applies to it. Only the route's
    /// config turns the cache on; a caller may turn it off or shorten its time to live. The
    /// scope is the principal: the virtual key *and* the `user` tag, so one key serving many
    /// end users never hands one user's answer to another.
    pub(crate) fn cache_slot(&self, p: &Prepared, options: &CallOptions) -> Option<(String, std::time::Duration)> {
        let route_ttl = self.config().routes.get(&p.plan.route).and_then(|r| r.cache_ttl)?;
        let ttl = match options.cache {
            Some(None) => return None,
            Some(Some(asked)) => asked.min(route_ttl),
            None => route_ttl,
        };
        let scope = if self.config().cache.share_across_principals {
            "*".to_owned()
        } else {
            match &p.principal.key {
                Some(key) => format!("key:{key} user:{}", json!(p.principal.tags.get("user"))),
                None => format!("tags:{}", json!(p.principal.tags)),
            }
        };
        Some((crate::cache::key(&p.plan.route, &scope, &p.request), ttl))
    }

    /// A cached answer for this call, with its `gateway` object (a hit costs nothing). The
    /// answer passes this gateway's output guardrails like a fresh one: a shared store may hold
    /// answers written by a process with other (or no) guardrails. One they would block is not
    /// served from the cache.
    pub(crate) async fn cache_hit(&self, key: &str, record: &mut CallRecord) -> Option<Value> {
        let mut response = self.response_cache().get(key).await?;
        let guards = &self.policy().guards;
        if guards.has_output() {
            let mut report = GuardReport::default();
            guards.check_output(&mut response, &mut report).ok()?;
            for (side, counts) in [("redacted", &report.redacted), ("logged", &report.logged)] {
                for (label, n) in counts {
                    let slot = &mut record.policy["guardrails"][side][label];
                    *slot = json!(slot.as_u64().unwrap_or(0) + n);
                }
            }
        }
        let original = response.as_object_mut()?.remove("gateway").unwrap_or(Value::Null);
        record.cache_hit = true;
        record.deployment = original["deployment"].as_str().map(str::to_owned);
        record.provider = original["provider"].as_str().map(str::to_owned);
        record.model = original["model"].as_str().map(str::to_owned);
        record.usage = Some(Usage::default());
        record.cost_usd = Some(0.0);
        record.cost = Some(crate::pricing::CostBreakdown::default());
        record.saved_cost_usd = original["cost_usd"].as_f64();
        record.first_token = Some(record.started.elapsed());
        record.end();
        response["gateway"] = record.to_json();
        Some(response)
    }
}

/// Runs hook jobs on one thread outside the runtime (so a hook may even make a blocking
/// gateway call), in order, never on a request's path.
fn hook_thread(job: Box<dyn FnOnce() + Send>) {
    use std::sync::mpsc::{Sender, channel};
    static QUEUE: std::sync::Mutex<Option<(u32, Sender<Box<dyn FnOnce() + Send>>)>> = std::sync::Mutex::new(None);
    let pid = std::process::id();
    let mut queue = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
    // A forked child inherits the parent's sender but not its thread: start a new one.
    if queue.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        let (tx, rx) = channel::<Box<dyn FnOnce() + Send>>();
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
