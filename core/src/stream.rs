//! The stream a caller reads: chunks handed over from the reader task through a bounded
//! channel, in batches when the caller wants them, with the stream's error after the chunks
//! before it, and the caller's cancellation.
//!
//! How a stream is opened (fail-over until the first content) and read upstream (guardrails,
//! settling, recording) is the pipeline's: [`crate::pipeline::stream`] and
//! [`crate::pipeline::pump`].

use crate::cancel::{self, CancelToken};
use crate::error::{Error, Result};
use crate::runtime::{AbortOnDrop, runtime};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The `gateway` metadata of a stream, set by its reader when the stream ends.
pub(crate) type Meta = Arc<Mutex<Option<Value>>>;

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
    meta: Meta,
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
    /// A stream read from a reader task through `rx`.
    pub(crate) fn reading(
        rx: mpsc::Receiver<Result<Value>>,
        meta: Meta,
        request_id: String,
        task: tokio::task::JoinHandle<()>,
        cancel: Option<CancelToken>,
    ) -> ChatStream {
        ChatStream {
            pending: VecDeque::new(),
            failed: None,
            closed: false,
            rx: std::mem::ManuallyDrop::new(rx),
            meta,
            request_id,
            pump: std::mem::ManuallyDrop::new(Some(AbortOnDrop(task))),
            pid: std::process::id(),
            cancel,
        }
    }

    /// A stream replayed from chunks already at hand (a cached answer), its metadata known.
    pub(crate) fn replay(
        chunks: Vec<Value>,
        meta: Value,
        request_id: String,
        cancel: Option<CancelToken>,
    ) -> ChatStream {
        let (_, rx) = mpsc::channel(1);
        ChatStream {
            pending: chunks.into_iter().map(Ok).collect(),
            failed: None,
            closed: false,
            rx: std::mem::ManuallyDrop::new(rx),
            meta: Arc::new(Mutex::new(Some(meta))),
            request_id,
            pump: std::mem::ManuallyDrop::new(None),
            pid: std::process::id(),
            cancel,
        }
    }

    fn refused_after_fork(&self) -> Option<Result<Value>> {
        (std::process::id() != self.pid).then(|| {
            Err(Error::invalid_request(
                "this stream was opened before fork() and cannot be read in the child; open a new stream there",
            )
            .with_request_id(&self.request_id))
        })
    }

    /// The next chunk; `None` once the stream has ended (cleanly or after an `Err`).
    pub async fn next(&mut self) -> Option<Result<Value>> {
        if let Some(refused) = self.refused_after_fork() {
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
        if let Some(refused) = self.refused_after_fork() {
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
        if let Some(token) = self.cancel.clone() {
            let item = runtime().block_on(token.race(async { Ok(self.rx.recv().await) }));
            // A cancel is handled here, outside the runtime, so that the caller waits for the
            // stream to be recorded and charged (see `stop_pump`).
            let Ok(item) = item else { return self.cancelled() };
            self.saw(&item);
            return item;
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
