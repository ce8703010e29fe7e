//! Streaming calls: fail over while nothing has reached the caller, then pump chunks through
//! a bounded channel, and never end a broken stream silently.
//!
//! Until the first chunk with content (text, a tool call or a finish reason) arrives, a failure
//! moves on to the next candidate and the caller never sees it. After that, a failure ends the
//! stream with a `stream_interrupted` error. The `gateway` metadata is set once the stream ends.

use crate::call::Prepared;
use crate::cancel::{self, CancelToken};
use crate::config::{BreakerConfig, DeploymentConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::gateway::Gateway;
use crate::json_path::At;
use crate::meter::CallRecord;
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::policy::guard::GuardReport;
use crate::policy::guard_stream::StreamGuard;
use crate::policy::{Principal, Ticket};
use crate::providers::ChunkStream;
use crate::providers::Limits;
use crate::routing::Plan;
use crate::routing::health::Admission;
use crate::runtime::{AbortOnDrop, runtime};
use crate::tokens;
use crate::usage::Usage;
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A chat completion stream. Dropping it cancels the upstream request.
pub struct ChatStream {
    pending: VecDeque<Result<Value>>,
    /// The error that ended the stream, met by a batch read that still had chunks to hand
    /// over: the next read returns it, so the caller sees those chunks first.
    failed: Option<Error>,
    /// Set once the channel has said that nothing more will come (its end, or the error the
    /// reader task sends last).
    closed: bool,
    rx: std::mem::ManuallyDrop<mpsc::Receiver<Result<Value>>>,
    meta: Arc<Mutex<Option<Value>>>,
    request_id: String,
    /// The task reading upstream; `None` for a cached answer replayed from memory.
    pump: std::mem::ManuallyDrop<Option<AbortOnDrop<()>>>,
    /// The process that opened the stream: its reader task does not exist after `fork()`.
    pid: u32,
    /// The caller's cancellation token; taken once it has ended the stream.
    cancel: Option<CancelToken>,
}

impl Drop for ChatStream {
    fn drop(&mut self) {
        if std::process::id() == self.pid {
            self.stop_pump();
            // SAFETY: dropped exactly once, here.
            unsafe {
                std::mem::ManuallyDrop::drop(&mut self.rx);
                std::mem::ManuallyDrop::drop(&mut self.pump);
            }
        }
        // In a forked child the stream is forgotten, not dropped: dropping would deregister the
        // parent's socket from the I/O driver the two processes share.
    }
}

impl ChatStream {
    fn from_other_process(&self) -> Option<Result<Value>> {
        (std::process::id() != self.pid).then(|| {
            Err(Error::invalid_request(
                "this stream was opened before fork() and cannot be read in the child; open a new stream there",
            )
            .with_request_id(&self.request_id))
        })
    }

    /// The next chunk; `None` once the stream has ended (cleanly or after an `Err`).
    pub async fn next(&mut self) -> Option<Result<Value>> {
        if let Some(refused) = self.from_other_process() {
            return Some(refused);
        }
        if let Some(cancelled) = self.cancelled() {
            return Some(cancelled);
        }
        if let Some(kept) = self.kept() {
            return Some(kept);
        }
        let item = match self.cancel.clone() {
            Some(token) => match token.race(async { Ok(self.rx.recv().await) }).await {
                Ok(item) => item,
                Err(_) => return self.cancelled(),
            },
            None => self.rx.recv().await,
        };
        self.saw(&item);
        item
    }

    /// Stops the reader task (which records and charges the stream as cancelled). A caller
    /// outside any async runtime (blocking code, a binding's thread) waits for that, so that
    /// its next call sees the budget and limits with this stream counted; inside a runtime it
    /// happens in the background, a moment later.
    fn stop_pump(&mut self) {
        if let Some(mut task) = self.pump.take() {
            task.0.abort();
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = runtime().block_on(async { tokio::time::timeout(Duration::from_secs(1), &mut task.0).await });
            }
        }
    }

    /// The `cancelled` error, once, when the caller's token has been cancelled: the stream
    /// stops and every later read returns the end.
    fn cancelled(&mut self) -> Option<Result<Value>> {
        if !self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return None;
        }
        self.cancel = None;
        self.stop_pump();
        self.pending.clear();
        self.failed = None;
        self.closed = true;
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        Some(Err(cancel::cancelled().with_request_id(&self.request_id)))
    }

    /// What a read returns without touching the channel: the kept error, else a queued item.
    fn kept(&mut self) -> Option<Result<Value>> {
        self.failed.take().map(Err).or_else(|| self.pending.pop_front())
    }

    /// Notes an end: the reader task sends nothing after an error, and `None` is the end.
    fn saw(&mut self, item: &Option<Result<Value>>) {
        if !matches!(item, Some(Ok(_))) {
            self.closed = true;
        }
    }

    /// Waits for the next chunk, then takes every chunk already received without waiting
    /// again, up to `max` (at least one). A binding crossing into another runtime (asyncio,
    /// libuv) pays one hop per batch instead of one per chunk.
    ///
    /// `Ok` with chunks; `Ok` and empty once the stream has ended (and on every later call);
    /// `Err` with the error that ended the stream, then the end. An error met after chunks of
    /// the same batch is kept and returned by the next call, so the caller always receives the
    /// chunks before it first, exactly as when reading one chunk at a time.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Value>> {
        let mut chunks = Vec::new();
        match self.next().await {
            None => return Ok(chunks),
            Some(Err(e)) => return Err(e),
            Some(Ok(chunk)) => chunks.push(chunk),
        }
        while chunks.len() < max.max(1) {
            let item = match self.pending.pop_front() {
                Some(item) => item,
                None => match self.rx.try_recv() {
                    Ok(item) => item,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.closed = true;
                        break;
                    }
                },
            };
            match item {
                Ok(chunk) => chunks.push(chunk),
                Err(e) => {
                    self.closed = true;
                    self.failed = Some(e);
                    break;
                }
            }
        }
        Ok(chunks)
    }

    /// Whether the stream has ended and the reads so far have handed over everything but
    /// possibly its error: the `gateway` metadata is set, and the next read returns at once
    /// (the kept error, or the end). Known only from reads: it never waits.
    pub fn has_ended(&self) -> bool {
        self.closed && self.pending.is_empty()
    }

    /// Whether the next read would return the end: [`has_ended`](Self::has_ended) and no
    /// error is left to hand over. A binding can then end its iterator without another read.
    pub fn is_drained(&self) -> bool {
        self.has_ended() && self.failed.is_none()
    }

    /// The next chunk, blocking the thread (not for use inside an async runtime).
    pub fn next_blocking(&mut self) -> Option<Result<Value>> {
        if let Some(refused) = self.from_other_process() {
            return Some(refused);
        }
        if let Some(cancelled) = self.cancelled() {
            return Some(cancelled);
        }
        if let Some(kept) = self.kept() {
            return Some(kept);
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Some(Err(Error::internal(
                "a blocking stream read inside an async runtime; use the async API there",
            )));
        }
        if self.cancel.is_some() {
            return runtime().block_on(self.next());
        }
        let item = self.rx.blocking_recv();
        self.saw(&item);
        item
    }

    /// The `gateway` metadata, once the stream has ended.
    pub fn gateway(&self) -> Option<Value> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// Whether a chunk carries something the caller would act on.
fn has_content(chunk: &Value) -> bool {
    let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
        return false;
    };
    choices.iter().any(|c| {
        c.at("/delta/content")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
            || c.at("/delta/tool_calls").is_some_and(|t| !t.is_null())
            || c.get("finish_reason").is_some_and(|f| !f.is_null())
    })
}

/// What the pump learns from the chunks it forwards.
#[derive(Default)]
struct Tally {
    usage: Option<Usage>,
    text: String,
}

impl Tally {
    fn observe(&mut self, chunk: &Value) {
        if let Some(u) = chunk.get("usage").and_then(Usage::from_openai) {
            self.usage = Some(u);
        }
        if let Some(choices) = chunk.get("choices").and_then(Value::as_array) {
            for c in choices {
                if let Some(t) = c.at("/delta/content").and_then(Value::as_str) {
                    self.text.push_str(t);
                }
                if let Some(calls) = c.at("/delta/tool_calls").and_then(Value::as_array) {
                    for call in calls {
                        if let Some(a) = call.at("/function/arguments").and_then(Value::as_str) {
                            self.text.push_str(a);
                        }
                    }
                }
            }
        }
    }
}

/// Chunks held back while waiting for the first content (so a failure can still move to the
/// next deployment); a provider that sends more without any content is broken.
const MAX_CHUNKS_BEFORE_CONTENT: usize = 1024;

/// Whether to pass a chunk on: usage-only chunks go to callers that asked for them.
fn forward(chunk: &Value, wants_usage: bool) -> bool {
    let usage_only = chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
        && chunk.get("usage").is_some_and(|u| !u.is_null());
    wants_usage || !usage_only
}

pub(crate) async fn open(gateway: Gateway, request: Value, options: CallOptions) -> Result<ChatStream> {
    let prepared = match gateway.begin(&request, &options, true).await {
        Ok(p) => p,
        Err(e) => {
            gateway.failed_early(Operation::ChatStream, &request, &options, &e);
            return Err(e);
        }
    };
    let cache = gateway.cache_slot(&prepared, &options);
    let Prepared {
        plan,
        mut record,
        request,
        ticket,
        principal,
        guard,
    } = prepared;
    record.policy = Gateway::policy_report(&principal, &ticket, &guard);
    let hit = match &cache {
        Some((key, _)) => gateway.cache_hit(key, &mut record).await,
        None => None,
    };
    if let Some(hit) = hit {
        gateway.trace(Operation::ChatStream, &record, None);
        if let Some(e) = gateway.audit(
            Operation::ChatStream,
            &record.request_id,
            &plan.route,
            Some(&principal),
            Ok((&record, &hit["gateway"])),
            None,
        ) {
            return Err(e);
        }
        let wants_usage = request.at("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        let pending = crate::cache::chunks_from_response(&hit, wants_usage)
            .into_iter()
            .map(Ok)
            .collect();
        let (_, rx) = mpsc::channel(1);
        return Ok(ChatStream {
            pending,
            failed: None,
            closed: false,
            rx: std::mem::ManuallyDrop::new(rx),
            pid: std::process::id(),
            meta: Arc::new(Mutex::new(Some(hit["gateway"].clone()))),
            request_id: record.request_id.clone(),
            pump: std::mem::ManuallyDrop::new(None),
            cancel: options.cancel.clone(),
        });
    }
    let result = open_prepared(
        &gateway,
        &plan,
        record,
        request,
        ticket,
        principal,
        guard,
        cache,
        options.cancel.clone(),
    )
    .await;
    if let Err(e) = &result {
        gateway.audit(
            Operation::ChatStream,
            e.request_id.as_deref().unwrap_or(""),
            &plan.route,
            None,
            Err(e),
            None,
        );
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn open_prepared(
    gateway: &Gateway,
    plan: &Plan,
    mut record: CallRecord,
    request: Value,
    mut ticket: Ticket,
    principal: Principal,
    guard: GuardReport,
    cache: Option<(String, Duration)>,
    cancel: Option<CancelToken>,
) -> Result<ChatStream> {
    let deadline = plan.deadline(record.started);
    let limits = Limits::from(&plan.timeout);
    let wants_usage = request.at("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    let tally = Tally::default();
    let mut last_error: Option<Error> = None;
    let mut dispatcher = gateway.dispatcher(plan);
    while let Some((deployment, admission)) = dispatcher.next(&mut record, deadline).await {
        let provider = gateway.provider(&deployment)?;
        let sent = Instant::now();
        ticket.sending(gateway.prompt_charge(&deployment, plan.prompt_tokens));
        // Once the provider has answered 200, it has the prompt: a failure from then on is billed.
        let accepted = std::sync::atomic::AtomicBool::new(false);
        let opened = async {
            let mut chunks = provider.chat_stream(&deployment, &request, &limits).await?;
            accepted.store(true, std::sync::atomic::Ordering::Relaxed);
            let mut head = VecDeque::new();
            loop {
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        let contentful = has_content(&chunk);
                        head.push_back(chunk);
                        if contentful {
                            return Ok((chunks, head));
                        }
                        if head.len() >= MAX_CHUNKS_BEFORE_CONTENT {
                            return Err(Error::new(
                                ErrorKind::ProviderError,
                                format!(
                                    "deployment `{}` sent {MAX_CHUNKS_BEFORE_CONTENT} stream chunks without content (no text, tool call or finish reason); the stream was abandoned",
                                    deployment.name
                                ),
                            ));
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Ok((chunks, head)),
                }
            }
        };
        let first_token_deadline = match (deadline, limits.first_token.and_then(|t| sent.checked_add(t))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let opened = match first_token_deadline {
            Some(d) => tokio::time::timeout_at(d.into(), opened).await.unwrap_or_else(|_| {
                if deadline.is_some_and(|total| Instant::now() >= total) {
                    Err(plan.timeout_error(&record))
                } else {
                    Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "deployment `{}` sent no first token within {:.3}s",
                            deployment.name,
                            limits.first_token.unwrap_or_default().as_secs_f64()
                        ),
                    ))
                }
            }),
            None => opened.await,
        };
        record.provider_time += sent.elapsed();
        match opened {
            Ok((chunks, head)) => {
                record.first_token = Some(record.started.elapsed());
                let pending = VecDeque::new();
                let redactor = gateway.policy().guards.has_output().then(StreamGuard::default);
                let (tx, rx) = mpsc::channel(64);
                let meta = Arc::new(Mutex::new(None));
                let request_id = record.request_id.clone();
                let pump = Pump {
                    gateway: gateway.clone(),
                    deployment: deployment.clone(),
                    admission: Some(admission),
                    breaker: plan.breaker,
                    sent,
                    record,
                    tally,
                    deadline,
                    idle: limits.first_token,
                    wants_usage,
                    prompt_estimate: tokens::estimate_prompt(&request),
                    meta: meta.clone(),
                    ticket: Some(ticket),
                    principal,
                    guard,
                    redactor,
                    input: request.get("messages").cloned().unwrap_or(Value::Null),
                    output: String::new(),
                    cache: cache.map(|(key, ttl)| (key, ttl, Vec::new())),
                    recorded: false,
                };
                let task = runtime().spawn(pump.run(head, chunks, tx));
                return Ok(ChatStream {
                    pending,
                    failed: None,
                    closed: false,
                    rx: std::mem::ManuallyDrop::new(rx),
                    meta,
                    request_id,
                    pump: std::mem::ManuallyDrop::new(Some(AbortOnDrop(task))),
                    cancel,
                    pid: std::process::id(),
                });
            }
            Err(e) => {
                let e = plan.cap_retry_after(e);
                ticket.attempt_failed(
                    e.kind == ErrorKind::Timeout || accepted.load(std::sync::atomic::Ordering::Relaxed),
                );
                let opened = admission.failed(&e, sent.elapsed(), &plan.breaker);
                gateway.breaker_opened(&deployment.name, opened);
                record.attempt(&deployment.name, sent, Err(&e));
                if !e.retryable || (e.kind == ErrorKind::Timeout && deadline.is_some_and(|d| Instant::now() >= d)) {
                    let e = e.with_request_id(&record.request_id);
                    gateway.trace(Operation::ChatStream, &record, Some(&e));
                    return Err(e);
                }
                dispatcher.failed(&e);
                last_error = Some(e);
            }
        }
    }
    let e = plan.exhausted(last_error, &record);
    gateway.trace(Operation::ChatStream, &record, Some(&e));
    Err(e)
}

struct Pump {
    gateway: Gateway,
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
    meta: Arc<Mutex<Option<Value>>>,
    /// Rate-limit and budget reservations, settled when the stream ends.
    ticket: Option<Ticket>,
    principal: Principal,
    guard: GuardReport,
    /// Output guardrails, when any apply.
    redactor: Option<StreamGuard>,
    input: Value,
    /// The text the caller received, for the audit record.
    output: String,
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
        let usage = self.tally.usage.unwrap_or(Usage {
            input_tokens: self.prompt_estimate,
            output_tokens: tokens::estimate_text(&self.tally.text),
            ..Usage::default()
        });
        self.record.usage_estimated = self.tally.usage.is_none();
        self.gateway.settle(&mut self.record, &self.deployment, Some(usage));
        // The provider billed what it sent: a dropped stream is charged, never refunded.
        if let Some(ticket) = self.ticket.take() {
            ticket.settle(usage, self.record.cost_usd);
        }
        let cancelled = Error::new(ErrorKind::Cancelled, "the caller stopped reading the stream")
            .with_request_id(&self.record.request_id);
        *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.record.to_json());
        self.gateway
            .trace(Operation::ChatStream, &self.record, Some(&cancelled));
        let output = Value::String(std::mem::take(&mut self.output));
        self.gateway.audit(
            Operation::ChatStream,
            &self.record.request_id,
            &self.record.route,
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
    /// Applies output guardrails to every choice of a chunk; a choice's finish chunk flushes
    /// what was held back for it.
    fn guard_chunk(&mut self, chunk: &mut Value) -> Result<()> {
        match self.redactor.as_mut() {
            Some(redactor) => redactor.chunk(&self.gateway.policy().guards, chunk, &mut self.guard),
            None => Ok(()),
        }
    }

    /// What output guardrails still hold back when the provider ended the stream without a
    /// finish chunk for some choice.
    fn guard_rest(&mut self) -> Result<Option<Value>> {
        match self.redactor.as_mut() {
            Some(redactor) => redactor.finish(&self.gateway.policy().guards, &mut self.guard),
            None => Ok(None),
        }
    }

    async fn run(mut self, head: VecDeque<Value>, mut chunks: ChunkStream, tx: mpsc::Sender<Result<Value>>) {
        let waited = Instant::now();
        let mut head = head;
        let failure = loop {
            if let Some(mut chunk) = head.pop_front() {
                self.tally.observe(&chunk);
                if let Err(e) = self.guard_chunk(&mut chunk) {
                    break Some(Stop::Policy(e));
                }
                self.output.push_str(
                    chunk
                        .at("/choices/0/delta/content")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                );
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
        let usage = self.tally.usage.or_else(|| {
            self.record.usage_estimated = true;
            Some(Usage {
                input_tokens: self.prompt_estimate,
                output_tokens: tokens::estimate_text(&self.tally.text),
                ..Usage::default()
            })
        });
        self.gateway.settle(&mut self.record, &self.deployment, usage);
        let attempt_outcome = match &failure {
            Some(Stop::Upstream(e)) => Err(e),
            _ => Ok(()),
        };
        self.record.attempt(&self.deployment.name, self.sent, attempt_outcome);
        if let Some(admission) = self.admission.take() {
            match &failure {
                Some(Stop::Upstream(e)) => {
                    let opened = admission.failed(e, self.sent.elapsed(), &self.breaker);
                    self.gateway.breaker_opened(&self.deployment.name, opened);
                }
                _ => admission.succeeded(self.sent.elapsed(), usage.map(|u| u.input_tokens + u.output_tokens)),
            }
        }
        if let Some(ticket) = self.ticket.take() {
            ticket.settle(usage.unwrap_or_default(), self.record.cost_usd);
        }
        self.record.policy["guardrails"] = self.guard.to_json();
        self.record.end();
        let meta = self.record.to_json();
        *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.clone());
        if let (None, Some((key, ttl, chunks))) = (&failure, self.cache.take())
            && let Some(mut response) = crate::cache::response_from_chunks(&chunks)
        {
            response["gateway"] = meta.clone();
            self.gateway.response_cache().put(key, response, ttl);
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
        self.gateway.trace(Operation::ChatStream, &self.record, error.as_ref());
        let outcome = match &error {
            Some(e) => Err(e),
            None => Ok((&self.record, &meta)),
        };
        let output = Value::String(std::mem::take(&mut self.output));
        let unrecorded = self.gateway.audit(
            Operation::ChatStream,
            &self.record.request_id,
            &self.record.route,
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
