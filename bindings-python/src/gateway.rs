//! `NativeGateway`: the core [`Gateway`] behind `sluicegate.Gateway` and `AsyncGateway`.
//!
//! Requests and options arrive as Python dicts and leave the core as JSON; responses come back
//! as plain dicts, which the Python layer wraps in attribute-access objects.
//!
//! `on_request_end` hooks: the Python layer keeps the user's callbacks and hands this class one
//! dispatcher ([`NativeGateway::set_request_end`]); a single core hook calls it with each event
//! dict, on the core's background thread, through the bridge's exit guard. The garbage
//! collector can see (and break) the cycle a dispatcher usually closes back to its gateway.

use crate::bridge;
use crate::convert;
use crate::error;
use crate::stream::NativeStream;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use serde_json::Value;
use sluicegate::{CallOptions, CancelToken, Gateway};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[pyclass(module = "sluicegate._native", frozen)]
pub struct NativeGateway {
    inner: Gateway,
    request_end: Arc<RequestEnd>,
}

/// The Python dispatcher for `on_request_end` events. The lock is only taken while attached
/// to Python and never held across anything that could release the GIL or run Python code.
#[derive(Default)]
struct RequestEnd {
    dispatch: Mutex<Option<Py<PyAny>>>,
    /// Whether the core hook that calls `dispatch` is registered (once per gateway).
    registered: AtomicBool,
}

impl RequestEnd {
    fn replace(&self, dispatch: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        std::mem::replace(&mut *self.dispatch.lock().unwrap_or_else(|e| e.into_inner()), dispatch)
    }

    /// Runs on the core's background thread after each call.
    fn deliver(&self, event: &Value) {
        bridge::with_python(|py| {
            let dispatch = self
                .dispatch
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|d| d.clone_ref(py));
            let Some(dispatch) = dispatch else { return };
            let called = convert::to_py(py, event).and_then(|e| dispatch.call1(py, (e,)));
            // The dispatcher logs what callbacks raise; this is only for a broken dispatcher.
            if let Err(err) = called {
                err.write_unraisable(py, Some(dispatch.bind(py)));
            }
        });
    }
}

impl NativeGateway {
    fn new(inner: Gateway) -> NativeGateway {
        NativeGateway {
            inner,
            request_end: Arc::default(),
        }
    }
}

/// Reads the request and the per-call options (`None` means no options), with a new
/// cancellation token in the options: the bridge cancels it on Ctrl-C or asyncio cancellation.
fn arguments(
    py: Python<'_>,
    request: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Value, CallOptions, CancelToken)> {
    let request = convert::to_value(request, "request")?;
    let options = match options {
        Some(o) => convert::to_value(o, "options")?,
        None => Value::Null,
    };
    let mut options = CallOptions::from_json(&options).map_err(|e| error::to_py(py, &e))?;
    let token = CancelToken::new();
    options.cancel = Some(token.clone());
    Ok((request, options, token))
}

fn response_to_py(py: Python<'_>, response: Value) -> PyResult<Py<PyAny>> {
    Ok(convert::to_py(py, &response)?.unbind())
}

fn stream_to_py(py: Python<'_>, (stream, token): (sluicegate::ChatStream, CancelToken)) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, NativeStream::new(stream, token))?.into_any())
}

#[pymethods]
impl NativeGateway {
    /// From YAML or JSON text.
    #[staticmethod]
    fn from_text(py: Python<'_>, text: &str) -> PyResult<NativeGateway> {
        let text = text.to_owned();
        let loaded = py.detach(move || Gateway::from_text(&text));
        loaded.map(NativeGateway::new).map_err(|e| error::to_py(py, &e))
    }

    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<NativeGateway> {
        let loaded = py.detach(move || Gateway::from_file(&path));
        loaded.map(NativeGateway::new).map_err(|e| error::to_py(py, &e))
    }

    /// From a dict (the same shape as the YAML file).
    #[staticmethod]
    fn from_value(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<NativeGateway> {
        let config = convert::to_value(config, "config")?;
        let loaded = py.detach(move || Gateway::from_value(config));
        loaded.map(NativeGateway::new).map_err(|e| error::to_py(py, &e))
    }

    /// A chat completion, blocking without the GIL; returns the response dict.
    #[pyo3(signature = (request, options = None))]
    fn chat<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, options, token) = arguments(py, request, options)?;
        let response = bridge::wait_here(py, &token, self.inner.chat(request, options))?;
        convert::to_py(py, &response)
    }

    /// Opens a stream, blocking until the first content arrives (failover happens before).
    #[pyo3(signature = (request, options = None))]
    fn chat_stream(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NativeStream> {
        let (request, options, token) = arguments(py, request, options)?;
        let stream = bridge::wait(py, &token, self.inner.chat_stream(request, options))?;
        Ok(NativeStream::new(stream, token))
    }

    /// `chat` for asyncio: returns an awaitable; cancelling it cancels the upstream request.
    #[pyo3(signature = (request, options = None))]
    fn chat_async<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, options, token) = arguments(py, request, options)?;
        let gateway = self.inner.clone();
        bridge::into_asyncio(
            py,
            token,
            async move { gateway.chat(request, options).await },
            response_to_py,
        )
    }

    /// `chat_stream` for asyncio: an awaitable of a `NativeStream`.
    #[pyo3(signature = (request, options = None))]
    fn chat_stream_async<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, options, token) = arguments(py, request, options)?;
        let gateway = self.inner.clone();
        let kept = token.clone();
        bridge::into_asyncio(
            py,
            token,
            async move { gateway.chat_stream(request, options).await.map(|s| (s, kept)) },
            stream_to_py,
        )
    }

    /// An embeddings call (OpenAI `embeddings.create`), routed like chat; blocks without the GIL.
    #[pyo3(signature = (request, options = None))]
    fn embeddings<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, options, token) = arguments(py, request, options)?;
        let response = bridge::wait_here(py, &token, self.inner.embeddings(request, options))?;
        convert::to_py(py, &response)
    }

    /// `embeddings` for asyncio.
    #[pyo3(signature = (request, options = None))]
    fn embeddings_async<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, options, token) = arguments(py, request, options)?;
        let gateway = self.inner.clone();
        bridge::into_asyncio(
            py,
            token,
            async move { gateway.embeddings(request, options).await },
            response_to_py,
        )
    }

    /// Which deployment would serve `model` with these options, and why (makes no call).
    #[pyo3(signature = (model, options = None, prompt_tokens = None))]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        options: Option<&Bound<'py, PyAny>>,
        prompt_tokens: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = match options {
            Some(o) => convert::to_value(o, "options")?,
            None => Value::Null,
        };
        let options = CallOptions::from_json(&options).map_err(|e| error::to_py(py, &e))?;
        let report = py
            .detach(|| self.inner.explain(model, &options, prompt_tokens))
            .map_err(|e| error::to_py(py, &e))?;
        convert::to_py(py, &report)
    }

    /// Usage grouped as `query` asks (`{"group_by": [...], "since": ...}`; `None` is all).
    #[pyo3(signature = (query = None))]
    fn usage<'py>(&self, py: Python<'py>, query: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let query = match query {
            Some(q) => convert::to_value(q, "query")?,
            None => Value::Object(Default::default()),
        };
        let report = py
            .detach(|| self.inner.usage(&query))
            .map_err(|e| error::to_py(py, &e))?;
        convert::to_py(py, &report)
    }

    /// The gateway's metrics in the Prometheus text format.
    fn metrics_text(&self, py: Python<'_>) -> String {
        py.detach(|| self.inner.metrics_text())
    }

    /// Waits (up to 5 s, without the GIL) until finished calls' spend has reached the shared
    /// state store; `close()` calls it.
    fn flush(&self, py: Python<'_>) -> bool {
        py.detach(|| self.inner.flush(sluicegate::policy::FLUSH_LIMIT))
    }

    /// Sets (or, with `None`, removes) the callable that receives every finished call's
    /// `on_request_end` event dict, on a background thread.
    #[pyo3(signature = (dispatch))]
    fn set_request_end(&self, dispatch: Option<Py<PyAny>>) {
        let old = self.request_end.replace(dispatch);
        drop(old); // after the lock is released: dropping it may run Python code
        if !self.request_end.registered.swap(true, Ordering::SeqCst) {
            let slot = self.request_end.clone();
            self.inner.on_request_end(move |event| slot.deliver(event));
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // No waiting here (the collector runs with the GIL; whoever holds the lock has it too).
        if let Ok(dispatch) = self.request_end.dispatch.try_lock() {
            visit.call(dispatch.as_ref())?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        drop(self.request_end.replace(None));
    }
}
