//! Streaming calls, in two forms: a pull iterator (`sg_chat_stream` + `sg_stream_next`) and a
//! callback (`sg_chat_stream_cb`). Both run on the caller's thread; dropping a stream before
//! its end cancels the upstream request, and so does a cancel token given at opening.
//!
//! A stream's connection belongs to the process that opened it. In a child made by `fork()` it
//! is refused (reading it would wait forever on the parent's I/O driver) and never dropped
//! (deregistering its socket would touch the epoll set the child shares with the parent), as in
//! the Python binding.

use crate::args::{self, Out, OwnedString};
use crate::cancel::{core_token, sg_cancel_token};
use crate::error::{sg_error, sg_status};
use crate::gateway::{Call, sg_gateway};
use crate::panic::{ffi_call, ffi_status, ffi_value};
use sluicegate::{CancelToken, ChatStream, Error, ErrorKind, Result};
use std::ffi::{c_char, c_int, c_void};

/// An open chat completion stream. Read it with `sg_stream_next` until `SG_STREAM_END` or an
/// error, then (optionally) `sg_stream_gateway`; free it with `sg_stream_free`. A stream may
/// move between threads but must not be used by two threads at once.
pub struct sg_stream {
    /// `None` once its token ended it (then it has no metadata to give).
    stream: Option<ChatStream>,
    /// The token given to `sg_chat_stream_cancellable`, if any (the core stream holds it too).
    cancel: Option<CancelToken>,
    ended: bool,
    /// The process that opened the stream.
    pid: u32,
}

impl sg_stream {
    /// Refuses a stream inherited through `fork()`.
    fn here(&mut self) -> Result<&mut sg_stream> {
        if self.pid == std::process::id() {
            return Ok(self);
        }
        let id = self.stream.as_ref().map_or("", |s| s.request_id());
        Err(Error::invalid_request(format!(
            "stream {id} was opened before this process was forked, and its connection stays with the parent; \
             open streams in the process that reads them"
        )))
    }
}

/// Receives one chunk: `chunk` is a NUL-terminated OpenAI `chat.completion.chunk` JSON object
/// of `len` bytes, valid only during the call. Return 0 to go on, non-zero to cancel the
/// stream. It runs on the thread that called `sg_chat_stream_cb` and must not unwind (no C++
/// exceptions or longjmp out of it).
pub type sg_chunk_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, chunk: *const c_char, len: usize) -> c_int>;

/// Opens a streaming chat completion, blocking until the first content arrives (failing over
/// between targets before that, as `sg_chat` does). `request` must ask for `"stream": true`;
/// the other arguments are as for `sg_chat`. On success `*out` receives the stream.
///
/// # Safety
/// As for `sg_chat`; `out` must be a valid `sg_stream **`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_chat_stream(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    out: *mut *mut sg_stream,
    err: *mut *mut sg_error,
) -> sg_status {
    unsafe { sg_chat_stream_cancellable(gw, request, request_len, options_json, std::ptr::null(), out, err) }
}

/// `sg_chat_stream` with a cancel token (NULL for none): cancelling it from another thread
/// makes the opening, or any later `sg_stream_next` that is waiting, return `SG_CANCELLED` and
/// cancels the upstream request; the stream then ends (`SG_STREAM_END`, no metadata). The
/// stream keeps its own reference to the token.
///
/// # Safety
/// As for `sg_chat_stream`; `cancel` must be NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_chat_stream_cancellable(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    cancel: *const sg_cancel_token,
    out: *mut *mut sg_stream,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let out = Out::required(out, "out")?;
        let cancel = unsafe { core_token(cancel) };
        let mut call = unsafe { Call::read(gw, request, request_len, options_json) }?;
        call.options.cancel = cancel.clone();
        let stream = call.gateway.chat_stream_blocking(call.request, call.options)?;
        unsafe {
            out.set(Box::into_raw(Box::new(sg_stream {
                stream: Some(stream),
                cancel,
                ended: false,
                pid: std::process::id(),
            })))
        };
        Ok(())
    })
}

/// The next chunk, blocking until it arrives. Returns `SG_OK` with `*chunk` set to a chunk's
/// JSON (free it with `sg_string_free`) and `*len` to its length when `len` is not NULL;
/// `SG_STREAM_END` once the stream has ended cleanly (and on every later call); or an error
/// status, e.g. `SG_STREAM_INTERRUPTED` when the stream broke after some chunks, which also
/// ends the stream. A stream opened before a `fork()` is refused in the child
/// (`SG_INVALID_REQUEST`).
///
/// # Safety
/// `stream` must be a live stream; `chunk` a valid `char **`; `len` and `err` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_stream_next(
    stream: *mut sg_stream,
    chunk: *mut *mut c_char,
    len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_status(err, || {
        let this = unsafe { args::handle_mut(stream, "stream") }?.here()?;
        let chunk = Out::required(chunk, "chunk")?;
        let len = Out::optional(len);
        let Some(stream) = this.stream.as_mut().filter(|_| !this.ended) else {
            return Ok(sg_status::SG_STREAM_END);
        };
        match stream.next_blocking() {
            Some(Ok(value)) => {
                unsafe { OwnedString::json(&value)?.give(&chunk, &len) };
                Ok(sg_status::SG_OK)
            }
            Some(Err(error)) => {
                this.ended = true;
                if error.kind == ErrorKind::Cancelled && this.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
                    this.stream = None; // documented: a stream its token ended has no metadata
                }
                Err(error)
            }
            None => {
                this.ended = true;
                Ok(sg_status::SG_STREAM_END)
            }
        }
    })
}

fn not_ended() -> Error {
    Error::invalid_request(
        "the stream's gateway metadata is ready once sg_stream_next has returned SG_STREAM_END or an error",
    )
}

/// The stream's `gateway` metadata (the same object a plain response carries: request id,
/// deployment, attempts, usage, cost...), once `sg_stream_next` has returned `SG_STREAM_END`
/// or an error. Before that it fails with `SG_INVALID_REQUEST`. On success `*out` receives the
/// JSON (free it with `sg_string_free`) and `*out_len` its length when not NULL.
///
/// # Safety
/// `stream` must be a live stream; `out` a valid `char **`; `out_len` and `err` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_stream_gateway(
    stream: *const sg_stream,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let this = unsafe { args::handle(stream, "stream") }?;
        let out = Out::required(out, "out")?;
        let out_len = Out::optional(out_len);
        let stream = this.stream.as_ref().ok_or_else(|| {
            Error::invalid_request("the stream was cancelled before it ended, so it has no gateway metadata")
        })?;
        let meta = stream.gateway().filter(|_| this.ended).ok_or_else(not_ended)?;
        unsafe { OwnedString::json(&meta)?.give(&out, &out_len) };
        Ok(())
    })
}

/// Frees a stream. If it has not ended, the upstream request is cancelled. NULL is a no-op. In
/// a child made by `fork()` it only forgets a stream its parent opened (the parent owns it).
///
/// # Safety
/// `stream` must be NULL or a stream from `sg_chat_stream`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_stream_free(stream: *mut sg_stream) {
    if !stream.is_null() {
        // SAFETY: per the contract, `stream` came from `Box::into_raw` in `sg_chat_stream`.
        let stream = unsafe { Box::from_raw(stream) };
        if stream.pid != std::process::id() {
            std::mem::forget(stream); // Never dropped in a forked child: see the module notes.
            return;
        }
        ffi_value((), || drop(stream))
    }
}

/// A streaming chat completion delivered to a callback, on the calling thread: `on_chunk`
/// receives each chunk with `user_data`. When it returns non-zero the stream is cancelled
/// (upstream too) and this returns `SG_CANCELLED`. Returns `SG_OK` once the stream has ended
/// cleanly, with `*gateway_out` set to the `gateway` metadata JSON (free it with
/// `sg_string_free`) when `gateway_out` is not NULL; or the error that ended the stream.
///
/// # Safety
/// As for `sg_chat_stream`; `on_chunk` must not be NULL; `gateway_out` and `gateway_len` must
/// be NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_chat_stream_cb(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    on_chunk: sg_chunk_fn,
    user_data: *mut c_void,
    gateway_out: *mut *mut c_char,
    gateway_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let on_chunk = on_chunk.ok_or_else(|| Error::invalid_request("argument `on_chunk` is NULL"))?;
        let gateway_out = Out::optional(gateway_out);
        let gateway_len = Out::optional(gateway_len);
        let call = unsafe { Call::read(gw, request, request_len, options_json) }?;
        let mut stream = call.gateway.chat_stream_blocking(call.request, call.options)?;
        while let Some(item) = stream.next_blocking() {
            let chunk = OwnedString::json(&item?)?;
            let verdict = unsafe { on_chunk(user_data, chunk.as_ptr(), chunk.len()) };
            if verdict != 0 {
                let error = Error::new(
                    ErrorKind::Cancelled,
                    format!("the stream was cancelled: on_chunk returned {verdict}"),
                )
                .with_request_id(stream.request_id());
                drop(stream); // Cancels the upstream request now.
                return Err(error);
            }
        }
        if gateway_out.wanted() {
            let meta = stream.gateway().ok_or_else(|| {
                Error::internal("a finished stream had no gateway metadata; please report this as a bug")
            })?;
            unsafe { OwnedString::json(&meta)?.give(&gateway_out, &gateway_len) };
        }
        Ok(())
    })
}
