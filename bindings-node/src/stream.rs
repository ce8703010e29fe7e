//! Cancellable calls and streams. JS cancels through `cancel()` (wired to an `AbortSignal`, or
//! to `break` out of `for await`); cancelling drops the core future or [`ChatStream`], which
//! cancels the upstream request.

use crate::error::{self, to_js};
use crate::gateway::parse_call;
use napi::Result;
use napi_derive::napi;
use sluicegate::{ChatStream, Gateway};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A one-way cancellation flag that async code can wait on.
pub struct Cancel(watch::Sender<bool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel(watch::Sender::new(false))
    }

    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once `cancel()` has been called (at once if it already was).
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// One call's inputs, its cancellation flag, and what it resolves to.
#[napi]
pub struct NativeCall {
    gateway: Gateway,
    input: Mutex<Option<(String, String)>>,
    cancel: Arc<Cancel>,
}

impl NativeCall {
    pub fn new(gateway: Gateway, request: String, options: String, cancel: Arc<Cancel>) -> NativeCall {
        NativeCall { gateway, input: Mutex::new(Some((request, options))), cancel }
    }

    fn take_input(&self) -> Result<(String, String)> {
        self.input
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| to_js(sluicegate::Error::internal("a native call was started twice; please report this as a bug")))
    }
}

#[napi]
impl NativeCall {
    /// A plain chat completion: resolves to the response's JSON text.
    #[napi]
    pub async fn run(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        let (request, options) = parse_call(&request, &options)?;
        if self.cancel.is_cancelled() {
            return Err(error::cancelled());
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(error::cancelled()),
            response = self.gateway.chat(request, options) => Ok(response.map_err(to_js)?.to_string()),
        }
    }

    /// Opens a streaming chat completion (errors before the first content reject here).
    #[napi]
    pub async fn open(&self) -> Result<NativeStream> {
        let (request, options) = self.take_input()?;
        let (request, options) = parse_call(&request, &options)?;
        if self.cancel.is_cancelled() {
            return Err(error::cancelled());
        }
        let stream = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Err(error::cancelled()),
            stream = self.gateway.chat_stream(request, options) => stream.map_err(to_js)?,
        };
        let request_id = stream.request_id().to_owned();
        Ok(NativeStream {
            stream: tokio::sync::Mutex::new(Some(stream)),
            gateway: Mutex::new(None),
            request_id,
            cancel: self.cancel.clone(),
            reported: AtomicBool::new(false),
        })
    }

    /// Cancels the call, or the stream it opened; a no-op once it has finished.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

/// An open stream. The JS `Stream` class makes it an async iterable.
#[napi]
pub struct NativeStream {
    /// `None` once the stream ended, failed or was cancelled (dropping it stops upstream).
    stream: tokio::sync::Mutex<Option<ChatStream>>,
    /// The `gateway` object's JSON, kept when the stream ends.
    gateway: Mutex<Option<String>>,
    request_id: String,
    cancel: Arc<Cancel>,
    /// Set once the caller has been told how the stream ended (end, failure or cancellation).
    reported: AtomicBool,
}

impl NativeStream {
    fn finish(&self, stream: &ChatStream) {
        if let Some(meta) = stream.gateway() {
            *self.gateway.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.to_string());
        }
    }
}

#[napi]
impl NativeStream {
    /// The next chunk's JSON text, or `null` at the end. A failure rejects once, then `null`.
    #[napi]
    pub async fn next(&self) -> Result<Option<String>> {
        let mut slot = self.stream.lock().await;
        let Some(stream) = slot.as_mut() else {
            // Cancelled while no read was pending: the next read reports it, once.
            if self.cancel.is_cancelled() && !self.reported.swap(true, Ordering::SeqCst) {
                return Err(error::cancelled());
            }
            return Ok(None);
        };
        let item = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => {
                slot.take();
                self.reported.store(true, Ordering::SeqCst);
                return Err(error::cancelled());
            }
            item = stream.next() => item,
        };
        if !matches!(item, Some(Ok(_))) {
            self.reported.store(true, Ordering::SeqCst);
        }
        match item {
            Some(Ok(chunk)) => Ok(Some(chunk.to_string())),
            Some(Err(e)) => {
                self.finish(stream);
                slot.take();
                Err(to_js(e))
            }
            None => {
                self.finish(stream);
                slot.take();
                Ok(None)
            }
        }
    }

    /// The `gateway` object's JSON once the stream has ended, else `null`.
    #[napi]
    pub fn gateway(&self) -> Option<String> {
        self.gateway.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[napi(getter)]
    pub fn request_id(&self) -> String {
        self.request_id.clone()
    }

    /// Stops the stream: a pending `next()` rejects as cancelled, and upstream is dropped.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
        if let Ok(mut slot) = self.stream.try_lock() {
            slot.take();
        }
    }
}
