//! `NativeStream`: a core [`ChatStream`] that Python can pull from, sync or async.
//!
//! The stream sits behind an async mutex so that a sync `next` (blocking without the GIL) and an
//! async `next_async` (a task on the core's runtime) can both own it while they wait. `close`
//! wakes any waiting pull and drops the stream, which cancels the upstream request.
//!
//! A stream's connection belongs to the process that opened it. In a child made by `fork()`
//! it is refused (reading it would wait forever on the parent's I/O driver) and never dropped
//! (deregistering its socket would touch the epoll set the child shares with the parent).

use crate::bridge;
use crate::convert;
use crate::error;
use pyo3::prelude::*;
use serde_json::Value;
use sluicegate::ChatStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[pyclass(module = "sluicegate._native", frozen)]
pub struct NativeStream {
    shared: Arc<Shared>,
    request_id: String,
    /// The process that opened the stream.
    pid: u32,
}

struct Shared {
    stream: tokio::sync::Mutex<Option<ChatStream>>,
    /// The stream's `gateway` object, kept once it ended.
    gateway: Mutex<Option<Value>>,
    closed: AtomicBool,
    close_requested: Notify,
}

impl Shared {
    /// The next chunk, `None` at the end; after the end (or an error, or `close`) the core
    /// stream is dropped.
    async fn pull(&self) -> sluicegate::Result<Option<Value>> {
        // Created before the `closed` check so that a `close` racing with it is not missed.
        let close_requested = self.close_requested.notified();
        let mut guard = self.stream.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            *guard = None;
        }
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        let item = tokio::select! {
            item = stream.next() => item,
            _ = close_requested => None,
        };
        match item {
            Some(Ok(chunk)) => Ok(Some(chunk)),
            ended => {
                *self.gateway.lock().unwrap_or_else(|e| e.into_inner()) = stream.gateway();
                *guard = None;
                ended.transpose()
            }
        }
    }
}

impl NativeStream {
    pub fn new(stream: ChatStream) -> NativeStream {
        let request_id = stream.request_id().to_owned();
        let shared = Shared {
            stream: tokio::sync::Mutex::new(Some(stream)),
            gateway: Mutex::new(None),
            closed: AtomicBool::new(false),
            close_requested: Notify::new(),
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

fn chunk_to_py(py: Python<'_>, chunk: Option<Value>) -> PyResult<Py<PyAny>> {
    match chunk {
        Some(chunk) => Ok(convert::to_py(py, &chunk)?.unbind()),
        None => Ok(py.None()),
    }
}

#[pymethods]
impl NativeStream {
    /// The next chunk dict, or `None` once the stream has ended. Blocks without the GIL.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared_here(py)?;
        let chunk = bridge::wait(py, async move { shared.pull().await })?;
        Ok(chunk_to_py(py, chunk)?.into_bound(py))
    }

    /// `next` for asyncio: an awaitable of the next chunk dict or `None`.
    fn next_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared_here(py)?;
        bridge::into_asyncio(py, async move { shared.pull().await }, chunk_to_py)
    }

    /// The stream's `gateway` dict once it has ended, else `None`.
    fn gateway<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let gateway = self.shared.gateway.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(chunk_to_py(py, gateway)?.into_bound(py))
    }

    #[getter]
    fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Stops the stream and cancels the upstream request; later pulls return `None`.
    fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.close_requested.notify_waiters();
        if self.pid != std::process::id() {
            return;
        }
        if let Ok(mut guard) = self.shared.stream.try_lock() {
            *guard = None;
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }
}
