//! Opening a stream: the pipeline up to the first content. Until a chunk with content (text,
//! a tool call or a finish reason) arrives, a failure moves on to the next deployment and the
//! caller never sees it; from then on the [`pump`](super::pump) reads the stream and a failure
//! ends it with `stream_interrupted`.

use super::admit::{self, Admitted};
use super::attempt::{Answered, Attempt, attempt_loop};
use super::pump::Pump;
use super::record;
use crate::config::DeploymentConfig;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::providers::{ChunkStream, Limits, Provider};
use crate::runtime::runtime;
use crate::stream::ChatStream;
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Chunks held back while waiting for the first content (so a failure can still move to the
/// next deployment); a provider that sends more without any content is broken.
const MAX_CHUNKS_BEFORE_CONTENT: usize = 1024;

/// Chunks a stream's reader may get ahead of its caller.
const CHANNEL_CHUNKS: usize = 64;

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

/// A streaming provider call: the answer is the open stream and the chunks up to and
/// including the first with content.
struct StreamOpen {
    request: Arc<Value>,
}

impl Attempt for StreamOpen {
    type Answer = (ChunkStream, VecDeque<Value>);

    fn send(
        &self,
        provider: Arc<Provider>,
        deployment: DeploymentConfig,
        limits: Limits,
        accepted: Arc<AtomicBool>,
    ) -> impl Future<Output = Result<Self::Answer>> + Send {
        let request = self.request.clone();
        async move {
            let mut chunks = provider.chat_stream(&deployment, &request, &limits).await?;
            // Once the provider has answered 200, it has the prompt: a failure from then on
            // is billed.
            accepted.store(true, Ordering::Relaxed);
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
        }
    }

    fn waits_for_first_token(&self) -> bool {
        true
    }
}

/// Runs a `stream: true` chat call through the pipeline up to its first content, then hands
/// the rest to a reader task.
pub(crate) async fn open(engine: Arc<Engine>, mut request: Value, options: CallOptions) -> Result<ChatStream> {
    const OPERATION: Operation = Operation::ChatStream;
    let admitted = match admit::admit_chat(&engine, &mut request, &options, true).await {
        Ok(a) => a,
        Err(e) => {
            engine.failed_early(OPERATION, &request, &options, &e);
            return Err(e);
        }
    };
    let cache = engine.cache_slot(&admitted, &options);
    let Admitted {
        plan,
        mut record,
        request,
        mut ticket,
        principal,
        guard,
    } = admitted;
    let wants_usage = request.at("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    record.policy = record::policy_report(&principal, &ticket, &guard);
    if let Some(served) = engine
        .serve_cached(OPERATION, cache.as_ref(), &mut record, &principal)
        .await
    {
        let hit = served?;
        let chunks = crate::cache::chunks_from_response(&hit, wants_usage);
        let request_id = record.request_id.clone();
        return Ok(ChatStream::replay(
            chunks,
            hit["gateway"].clone(),
            request_id,
            options.cancel,
        ));
    }
    let kind = StreamOpen {
        request: Arc::new(request),
    };
    let answered = attempt_loop(&engine, &kind, &plan, &mut record, &mut ticket).await;
    let Answered {
        answer: (chunks, head),
        deployment,
        admission,
        sent,
    } = match answered {
        Ok(answered) => answered,
        Err(e) => {
            engine.record(OPERATION, &record, Some(&principal), Err(&e), None);
            return Err(e);
        }
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let meta = Arc::new(Mutex::new(None));
    let request_id = record.request_id.clone();
    let pump = Pump::new(
        engine.clone(),
        &plan,
        deployment,
        admission,
        sent,
        record,
        &kind.request,
        wants_usage,
        meta.clone(),
        ticket,
        principal,
        guard,
        cache,
    );
    let task = runtime().spawn(pump.run(head, chunks, tx));
    Ok(ChatStream::reading(rx, meta, request_id, task, options.cancel))
}
