//! `NativeStream`: a core [`ChatStream`] that Python can pull from, sync or async.
//!
//! Python pulls chunks in batches ([`ChatStream::next_batch`]): one pull waits for a chunk and
//! takes every chunk already received with it, so an asyncio stream pays one hand-off to the
//! event loop per batch rather than per chunk (per chunk, the wake-ups were most of the cost).
//! The core hands an error that ends the stream only after the chunks before it, on its own
//! pull. A pull also notices an end that arrived with its chunks ([`ChatStream::is_drained`],
//! kept in [`Shared::drained`]), so Python skips the pull (and the hop) that would only learn
//! that the stream is over.
//!
//! The stream sits behind an async mutex so that a sync `next_batch` (blocking without the GIL)
//! and an async `next_batch_async` (a task on the core's runtime) can both own it while they
//! wait. `close` cancels the stream's core [`CancelToken`] (given at opening), which ends any
//! waiting pull, and drops a stream no pull holds, which cancels the upstream request. A pull
//! that Ctrl-C or asyncio cancels ends through a token of its own: the stream goes on.
//!
//! A stream's connection belongs to the process that opened it. In a child made by `fork()`
//! it is refused (reading it would wait forever on the parent's I/O driver) and never dropped
//! (deregistering its socket would touch the epoll set the child shares with the parent).

use crate::bridge;
use crate::convert;
use crate::error;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;
use sluicegate::{CancelToken, ChatStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The most chunks one pull hands over when the caller does not say. Enough for a burst of a
/// fast provider; a batch only holds chunks that have already arrived, so it never waits longer.
const BATCH: usize = 64;

#[pyclass(module = "sluicegate._native", frozen)]
pub struct NativeStream {
    shared: Arc<Shared>,
    request_id: String,
    /// The process that opened the stream.
    pid: u32,
}

struct Shared {
    /// The core stream, behind an async mutex (see the module notes); `None` once it has
    /// ended, failed or was closed.
    reader: tokio::sync::Mutex<Option<ChatStream>>,
    /// The stream's `gateway` object, kept once it ended.
    gateway: Mutex<Option<Value>>,
    /// The core stream's token, cancelled by `close` (and by nothing else once the stream is
    /// open), so it also says whether the stream was closed.
    token: CancelToken,
    /// Set once a pull has handed over everything: later pulls would return no chunks.
    drained: AtomicBool,
}

impl Shared {
    /// The next chunks (at least one, at most `max`), empty at the end; after the end (or an
    /// error, or `close`) the core stream is dropped.
    async fn pull(&self, max: usize) -> sluicegate::Result<Vec<Value>> {
        let mut reader = self.reader.lock().await;
        if self.token.is_cancelled() {
            *reader = None; // closed while another pull held the stream
        }
        let Some(stream) = reader.as_mut() else {
            return Ok(Vec::new());
        };
        let pulled = stream.next_batch(max).await;
        if self.token.is_cancelled() {
            // Closed: the core answered `cancelled` (or the chunks that won the race), but
            // `close` promises no more chunks and no error.
            *reader = None;
            return Ok(Vec::new());
        }
        let over = pulled.as_ref().map_or(true, Vec::is_empty);
        if over || stream.has_ended() {
            *self.gateway.lock().unwrap_or_else(|e| e.into_inner()) = stream.gateway();
        }
        if over || stream.is_drained() {
            *reader = None;
            self.drained.store(true, Ordering::SeqCst);
        }
        pulled
    }
}

impl NativeStream {
    /// `stream`, opened with `token` in its options.
    pub fn new(stream: ChatStream, token: CancelToken) -> NativeStream {
        let request_id = stream.request_id().to_owned();
        let shared = Shared {
            reader: tokio::sync::Mutex::new(Some(stream)),
            gateway: Mutex::new(None),
            token,
            drained: AtomicBool::new(false),
        };
        NativeStream {
            shared: Arc::new(shared),
            request_id,
            pid: std::process::id(),
        }
    }

    /// The stream's `Shared`, unless this is a forked child of the process that opened it.
    fn shared_here(&self, py: Python<'_>) -> PyResult<Arc<Shared>> {
        if self.pid == std::process::id() {
            return Ok(self.shared.clone());
        }
        let refused = sluicegate::Error::invalid_request(format!(
            "stream {} was opened before this process was forked, and its connection stays with the \
             parent; open streams in the process that reads them",
            self.request_id
        ));
        Err(error::to_py(py, &refused))
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            std::mem::forget(self.shared.clone()); // never dropped here: see the module notes
        }
    }
}

/// A list of chunk dicts.
fn chunks_to_py(py: Python<'_>, chunks: Vec<Value>) -> PyResult<Py<PyAny>> {
    let items = chunks
        .iter()
        .map(|chunk| convert::to_py(py, chunk))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

#[pymethods]
impl NativeStream {
    /// The next chunk dicts (those already received, at most `max`, waiting only for the
    /// first), or an empty list once the stream has ended. Blocks without the GIL.
    #[pyo3(signature = (max = BATCH))]
    fn next_batch<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared_here(py)?;
        let token = CancelToken::new();
        let pull = token.clone();
        let chunks = bridge::wait(py, &token, async move { pull.race(shared.pull(max)).await })?;
        Ok(chunks_to_py(py, chunks)?.into_bound(py))
    }

    /// `next_batch` for asyncio: an awaitable of the next chunk dicts (empty at the end).
    #[pyo3(signature = (max = BATCH))]
    fn next_batch_async<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared_here(py)?;
        let token = CancelToken::new();
        let pull = token.clone();
        bridge::into_asyncio(
            py,
            token,
            async move { pull.race(shared.pull(max)).await },
            chunks_to_py,
        )
    }

    /// The stream's `gateway` dict once it has ended, else `None`.
    fn gateway<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let gateway = self.shared.gateway.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match gateway {
            Some(gateway) => convert::to_py(py, &gateway),
            None => Ok(py.None().into_bound(py)),
        }
    }

    #[getter]
    fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Stops the stream and cancels the upstream request; later pulls return no chunks.
    fn close(&self) {
        self.shared.token.cancel();
        if self.pid != std::process::id() {
            return;
        }
        if let Ok(mut reader) = self.shared.reader.try_lock() {
            *reader = None;
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.shared.token.is_cancelled()
    }

    /// Whether a pull would return no chunks now (the stream ended and everything, an error
    /// included, was handed over; or it was closed): the iterators stop without one. Never in
    /// a forked child, where a pull raises the refusal.
    #[getter]
    fn drained(&self) -> bool {
        (self.shared.drained.load(Ordering::SeqCst) || self.shared.token.is_cancelled())
            && self.pid == std::process::id()
    }
}
