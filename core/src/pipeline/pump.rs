//! A stream's reader task: reads the provider's stream past the first content, applies the
//! output guardrails per choice, forwards chunks to the caller's [`ChatStream`](crate::ChatStream),
//! and when the stream ends (or the caller drops it) settles, caches and records it like any
//! other call. A stream that breaks after content ends with `stream_interrupted`, never a
//! silent clean end.

use super::settle;
use crate::config::{BreakerConfig, DeploymentConfig};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use crate::meter::CallRecord;
use crate::operation::Operation;
use crate::policy::guard::GuardReport;
use crate::policy::guard_stream::StreamGuard;
use crate::policy::{Principal, Ticket};
use crate::providers::{ChunkStream, Limits};
use crate::routing::Plan;
use crate::routing::health::Admission;
use crate::stream::Meta;
use crate::tokens;
use crate::usage::Usage;
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the pump learns from the chunks it forwards.
#[derive(Default)]
struct Tally {
    usage: Option<Usage>,
    /// Characters of text and tool-call arguments so far, for the estimate when the provider
    /// sends no usage (counted, not kept: the text itself would grow with every chunk).
    chars: u64,
}

impl Tally {
    fn observe(&mut self, chunk: &Value) {
        if let Some(u) = chunk.get("usage").and_then(Usage::from_openai) {
            self.usage = Some(u);
        }
        if let Some(choices) = chunk.get("choices").and_then(Value::as_array) {
            for c in choices {
                if let Some(t) = c.at("/delta/content").and_then(Value::as_str) {
                    self.chars += t.chars().count() as u64;
                }
                if let Some(calls) = c.at("/delta/tool_calls").and_then(Value::as_array) {
                    for call in calls {
                        if let Some(a) = call.at("/function/arguments").and_then(Value::as_str) {
                            self.chars += a.chars().count() as u64;
                        }
                    }
                }
            }
        }
    }
}

/// Whether to pass a chunk on: usage-only chunks go to callers that asked for them.
fn forward(chunk: &Value, wants_usage: bool) -> bool {
    let usage_only = chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
        && chunk.get("usage").is_some_and(|u| !u.is_null());
    wants_usage || !usage_only
}

pub(crate) struct Pump {
    engine: Arc<Engine>,
    deployment: DeploymentConfig,
    /// The deployment's in-flight slot and breaker report; released when the stream ends.
    admission: Option<Admission>,
    breaker: BreakerConfig,
    sent: Instant,
    record: CallRecord,
    tally: Tally,
    deadline: Option<Instant>,
    /// Longest pause between chunks before the stream counts as stalled.
    idle: Option<Duration>,
    wants_usage: bool,
    prompt_estimate: u64,
    meta: Meta,
    /// Rate-limit and budget reservations, settled when the stream ends.
    ticket: Option<Ticket>,
    principal: Principal,
    guard: GuardReport,
    /// Output guardrails, when any apply.
    redactor: Option<StreamGuard>,
    /// The input and the text the caller received, for the audit record; only kept when the
    /// audit log records content.
    input: Value,
    output: Option<String>,
    /// Where to cache the answer, and the chunks so far.
    cache: Option<(String, Duration, Vec<Value>)>,
    /// Set once the stream has ended and been recorded.
    recorded: bool,
}

impl Drop for Pump {
    /// A stream the caller dropped early is still recorded (as cancelled), so that its
    /// `gateway` metadata, metering and audit record exist like any other call's, and charged
    /// to its budgets and rate limits (actual usage when it arrived, else the estimate).
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        self.record.provider_time += self.sent.elapsed();
        // The provider billed what it sent: a dropped stream is charged, never refunded.
        self.settle();
        let cancelled = Error::new(ErrorKind::Cancelled, "the caller stopped reading the stream")
            .with_request_id(&self.record.request_id);
        *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.record.to_json());
        let output = Value::String(self.output.take().unwrap_or_default());
        self.engine.record(
            Operation::ChatStream,
            &self.record,
            Some(&self.principal),
            Err(&cancelled),
            Some((&self.input, &output)),
        );
    }
}

/// Why a stream ended early.
enum Stop {
    /// The provider or the connection failed.
    Upstream(Error),
    /// A guardrail refused the output.
    Policy(Error),
}

impl Pump {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        engine: Arc<Engine>,
        plan: &Plan,
        deployment: DeploymentConfig,
        admission: Admission,
        sent: Instant,
        record: CallRecord,
        request: &Value,
        wants_usage: bool,
        meta: Meta,
        ticket: Ticket,
        principal: Principal,
        guard: GuardReport,
        cache: Option<(String, Duration)>,
    ) -> Pump {
        let redactor = engine.policy.guards.has_output().then(StreamGuard::default);
        let content = engine.audits_content();
        Pump {
            deadline: plan.deadline(record.started),
            idle: Limits::from(&plan.timeout).first_token,
            breaker: plan.breaker,
            prompt_estimate: tokens::estimate_prompt(request),
            input: match content {
                true => request.get("messages").cloned().unwrap_or(Value::Null),
                false => Value::Null,
            },
            engine,
            deployment,
            admission: Some(admission),
            sent,
            record,
            tally: Tally::default(),
            wants_usage,
            meta,
            ticket: Some(ticket),
            principal,
            guard,
            redactor,
            output: content.then(String::new),
            cache: cache.map(|(key, ttl)| (key, ttl, Vec::new())),
            recorded: false,
        }
    }

    /// Prices and charges what the stream used: the provider's count when it sent one, else
    /// the prompt and what was delivered. Once: the ticket is gone after.
    fn settle(&mut self) -> Usage {
        let estimate = || Usage {
            input_tokens: self.prompt_estimate,
            output_tokens: tokens::estimate_chars(self.tally.chars),
            ..Usage::default()
        };
        settle::settle(
            &self.engine,
            &mut self.record,
            &self.deployment,
            self.tally.usage,
            estimate,
            self.ticket.take(),
        )
    }

    /// Applies output guardrails to every choice of a chunk; a choice's finish chunk flushes
    /// what was held back for it.
    fn guard_chunk(&mut self, chunk: &mut Value) -> Result<()> {
        match self.redactor.as_mut() {
            Some(redactor) => redactor.chunk(&self.engine.policy.guards, chunk, &mut self.guard),
            None => Ok(()),
        }
    }

    /// What output guardrails still hold back when the provider ended the stream without a
    /// finish chunk for some choice.
    fn guard_rest(&mut self) -> Result<Option<Value>> {
        match self.redactor.as_mut() {
            Some(redactor) => redactor.finish(&self.engine.policy.guards, &mut self.guard),
            None => Ok(None),
        }
    }

    pub(crate) async fn run(mut self, head: VecDeque<Value>, mut chunks: ChunkStream, tx: mpsc::Sender<Result<Value>>) {
        let waited = Instant::now();
        let mut head = head;
        let failure = loop {
            if let Some(mut chunk) = head.pop_front() {
                self.tally.observe(&chunk);
                if let Err(e) = self.guard_chunk(&mut chunk) {
                    break Some(Stop::Policy(e));
                }
                if let Some(output) = self.output.as_mut() {
                    output.push_str(
                        chunk
                            .at("/choices/0/delta/content")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    );
                }
                if let Some((_, _, chunks)) = self.cache.as_mut() {
                    chunks.push(chunk.clone());
                }
                if forward(&chunk, self.wants_usage) && tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
                continue;
            }
            let stall_at = self.idle.and_then(|i| Instant::now().checked_add(i));
            let limit = match (self.deadline, stall_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let next = match limit {
                Some(at) => match tokio::time::timeout_at(at.into(), chunks.next()).await {
                    Ok(next) => next,
                    Err(_) if self.deadline.is_some_and(|d| Instant::now() >= d) => {
                        break Some(Stop::Upstream(Error::new(
                            ErrorKind::Timeout,
                            format!("the stream on route `{}` exceeded its total timeout", self.record.route),
                        )));
                    }
                    Err(_) => {
                        break Some(Stop::Upstream(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "the stream stalled: no chunk for {:.3}s",
                                self.idle.unwrap_or_default().as_secs_f64()
                            ),
                        )));
                    }
                },
                None => chunks.next().await,
            };
            match next {
                Some(Ok(chunk)) => head.push_back(chunk),
                Some(Err(e)) => break Some(Stop::Upstream(e)),
                None => match self.guard_rest() {
                    Err(e) => break Some(Stop::Policy(e)),
                    Ok(Some(rest)) => {
                        if let Some((_, _, chunks)) = self.cache.as_mut() {
                            chunks.push(rest.clone());
                        }
                        if tx.send(Ok(rest)).await.is_err() {
                            return;
                        }
                        break None;
                    }
                    Ok(None) => break None,
                },
            }
        };
        self.recorded = true;
        self.record.provider_time += waited.elapsed();
        let usage = self.settle();
        let attempt_outcome = match &failure {
            Some(Stop::Upstream(e)) => Err(e),
            _ => Ok(()),
        };
        self.record.attempt(&self.deployment.name, self.sent, attempt_outcome);
        if let Some(admission) = self.admission.take() {
            match &failure {
                Some(Stop::Upstream(e)) => {
                    let opened = admission.failed(e, self.sent.elapsed(), &self.breaker);
                    self.engine.breaker_opened(&self.deployment.name, opened);
                }
                _ => admission.succeeded(self.sent.elapsed(), Some(usage.input_tokens + usage.output_tokens)),
            }
        }
        self.record.policy["guardrails"] = self.guard.to_json();
        self.record.end();
        let meta = self.record.to_json();
        *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.clone());
        if let (None, Some((key, ttl, chunks))) = (&failure, self.cache.take())
            && let Some(mut response) = crate::cache::response_from_chunks(&chunks)
        {
            response["gateway"] = meta.clone();
            self.engine.cache.put(key, response, ttl);
        }
        let error = failure.map(|stop| match stop {
            Stop::Policy(e) => e.with_request_id(&self.record.request_id),
            Stop::Upstream(cause) => Error::new(
                ErrorKind::StreamInterrupted,
                format!(
                    "the stream from deployment `{}` on route `{}` broke after content was delivered: {}; the reply is incomplete",
                    self.deployment.name, self.record.route, cause.message
                ),
            )
            .with_retryable(false)
            .with_request_id(&self.record.request_id),
        });
        let outcome = match &error {
            Some(e) => Err(e),
            None => Ok(&meta),
        };
        let output = Value::String(self.output.take().unwrap_or_default());
        let unrecorded = self.engine.record(
            Operation::ChatStream,
            &self.record,
            Some(&self.principal),
            outcome,
            Some((&self.input, &output)),
        );
        // No audit, no call: what was delivered cannot be taken back, but the stream ends
        // with the error instead of its normal end.
        if let Some(error) = error.or(unrecorded) {
            let _ = tx.send(Err(error)).await;
        }
    }
}
