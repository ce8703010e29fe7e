//! Gateway handles and plain (non-streaming) calls: chat, embeddings, explain.

use crate::args::{self, Out, OwnedString};
use crate::cancel::{core_token, sg_cancel_token};
use crate::error::sg_error;
use crate::error::sg_status;
use crate::hooks::HookGate;
use crate::panic::{ffi_call, ffi_value};
use serde_json::Value;
use sluicegate::{CallOptions, Gateway, Result};
use std::ffi::{CString, c_char};
use std::sync::OnceLock;

/// A configured gateway. Thread-safe: one handle may serve calls from any number of threads
/// at once. Create it with `sg_gateway_new` or `sg_gateway_new_from_file`; free it with
/// `sg_gateway_free` once no call on it is running.
pub struct sg_gateway {
    pub(crate) gateway: Gateway,
    /// Closed when the handle is freed: no `on_request_end` callback runs after that.
    pub(crate) hooks: HookGate,
}

impl Drop for sg_gateway {
    fn drop(&mut self) {
        self.hooks.close();
    }
}

fn give_gateway(out: *mut *mut sg_gateway, build: impl FnOnce() -> Result<Gateway>) -> Result<()> {
    let out = Out::required(out, "out")?;
    let handle = Box::new(sg_gateway {
        gateway: build()?,
        hooks: HookGate::open(),
    });
    // SAFETY: `out` was checked to be non-NULL; the caller passes a valid `sg_gateway **`.
    unsafe { out.set(Box::into_raw(handle)) };
    Ok(())
}

/// Builds a gateway from config text, YAML or JSON (`config_len` bytes, no NUL needed).
/// On success `*out` receives the handle. On failure (`SG_INVALID_CONFIG` names every
/// problem's path) `*err` receives the error when `err` is not NULL.
///
/// # Safety
/// `config` must point to `config_len` readable bytes; `out` must be a valid `sg_gateway **`;
/// `err` must be NULL or a valid `sg_error **`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_gateway_new(
    config: *const c_char,
    config_len: usize,
    out: *mut *mut sg_gateway,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        give_gateway(out, || {
            let text = unsafe { args::text(config, config_len, "config") }?;
            Gateway::from_text(text)
        })
    })
}

/// Builds a gateway from a config file (YAML or JSON). Relative paths inside the config
/// (e.g. `pricing.file`) are resolved against the file's folder.
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` and `err` as for `sg_gateway_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_gateway_new_from_file(
    path: *const c_char,
    out: *mut *mut sg_gateway,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        give_gateway(out, || {
            let path = unsafe { args::cstr(path, "path") }?;
            Gateway::from_file(path)
        })
    })
}

/// Frees a gateway. NULL is a no-op. No call on it may be running, and its streams must
/// have been freed first. Waits for an `on_request_end` callback that is running; none runs
/// after this returns. With a shared state store, also waits (up to 5 s) until the spend of
/// the calls made has reached it, so that a process freeing its gateway before exit loses none.
///
/// # Safety
/// `gw` must be NULL or a handle from `sg_gateway_new*`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_gateway_free(gw: *mut sg_gateway) {
    if !gw.is_null() {
        // SAFETY: per the contract, `gw` came from `Box::into_raw` in `give_gateway`.
        ffi_value((), || {
            let handle = unsafe { Box::from_raw(gw) };
            handle.gateway.flush(sluicegate::policy::FLUSH_LIMIT);
            drop(handle)
        })
    }
}

/// The request and options of a call, read from C.
pub(crate) struct Call<'a> {
    pub gateway: &'a Gateway,
    pub request: Value,
    pub options: CallOptions,
}

impl Call<'_> {
    /// # Safety
    /// As documented on `sg_chat`.
    pub(crate) unsafe fn read<'a>(
        gw: *const sg_gateway,
        request: *const c_char,
        request_len: usize,
        options_json: *const c_char,
    ) -> Result<Call<'a>> {
        let gateway = &unsafe { args::handle(gw, "gw") }?.gateway;
        let request = args::json(unsafe { args::text(request, request_len, "request") }?, "request")?;
        let options = unsafe { read_options(options_json) }?;
        Ok(Call {
            gateway,
            request,
            options,
        })
    }
}

/// Call options from NULL (none) or NUL-terminated JSON.
///
/// # Safety
/// `options_json` must be NULL or NUL-terminated.
unsafe fn read_options(options_json: *const c_char) -> Result<CallOptions> {
    match unsafe { args::optional_cstr(options_json, "options_json") }? {
        Some(text) => CallOptions::from_json(&args::json(text, "options_json")?),
        None => Ok(CallOptions::default()),
    }
}

/// A chat completion, blocking the calling thread until the answer (or the error) is there.
///
/// `request` is an OpenAI Chat Completions request as JSON text (`request_len` bytes) whose
/// `model` names a route; it must not ask for `"stream": true` (use `sg_chat_stream`).
/// `options_json` is NULL or a NUL-terminated JSON object of call options: `key` (a virtual
/// key), `tags`, `request_id`, `timeout`. On success `*out` receives the response JSON (NUL-terminated, with
/// its `gateway` object; free it with `sg_string_free`) and `*out_len` its length when
/// `out_len` is not NULL.
///
/// Thread-safe. From inside a tokio runtime (an async task of a Rust host) it answers
/// `SG_INTERNAL` instead of deadlocking.
///
/// # Safety
/// `gw` must be a live gateway; `request` must point to `request_len` readable bytes;
/// `options_json` must be NULL or NUL-terminated; `out` must be a valid `char **`; `out_len`
/// and `err` must be NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_chat(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    unsafe {
        plain_call(
            Op::Chat,
            gw,
            request,
            request_len,
            options_json,
            std::ptr::null(),
            out,
            out_len,
            err,
        )
    }
}

/// An embeddings call (OpenAI `embeddings.create`), routed like chat: `request` is JSON text
/// such as `{"model": "embed", "input": ["a", "b"]}` whose `model` names a route. Blocking and
/// thread-safe; the other arguments are as for `sg_chat`. On success `*out` receives the
/// response JSON (with its `gateway` object).
///
/// # Safety
/// As for `sg_chat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_embeddings(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    unsafe {
        plain_call(
            Op::Embeddings,
            gw,
            request,
            request_len,
            options_json,
            std::ptr::null(),
            out,
            out_len,
            err,
        )
    }
}

/// `sg_chat` that returns `SG_CANCELLED` (and cancels the upstream request) as soon as `cancel`
/// is cancelled from another thread. `cancel` may be NULL (then it is `sg_chat`).
///
/// # Safety
/// As for `sg_chat`; `cancel` must be NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_chat_cancellable(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    cancel: *const sg_cancel_token,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    unsafe {
        plain_call(
            Op::Chat,
            gw,
            request,
            request_len,
            options_json,
            cancel,
            out,
            out_len,
            err,
        )
    }
}

/// `sg_embeddings` that returns `SG_CANCELLED` as soon as `cancel` is cancelled from another
/// thread. `cancel` may be NULL.
///
/// # Safety
/// As for `sg_chat`; `cancel` must be NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_embeddings_cancellable(
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    cancel: *const sg_cancel_token,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    unsafe {
        plain_call(
            Op::Embeddings,
            gw,
            request,
            request_len,
            options_json,
            cancel,
            out,
            out_len,
            err,
        )
    }
}

/// A blocking call that answers with one JSON document.
#[derive(Clone, Copy)]
enum Op {
    Chat,
    Embeddings,
}

/// The body of `sg_chat`, `sg_embeddings` and their cancellable forms.
///
/// # Safety
/// As for `sg_chat_cancellable`.
#[allow(clippy::too_many_arguments)]
unsafe fn plain_call(
    op: Op,
    gw: *const sg_gateway,
    request: *const c_char,
    request_len: usize,
    options_json: *const c_char,
    cancel: *const sg_cancel_token,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let out = Out::required(out, "out")?;
        let out_len = Out::optional(out_len);
        let mut call = unsafe { Call::read(gw, request, request_len, options_json) }?;
        call.options.cancel = unsafe { core_token(cancel) };
        let response = match op {
            Op::Chat => call.gateway.chat_blocking(call.request, call.options),
            Op::Embeddings => call.gateway.embeddings_blocking(call.request, call.options),
        }?;
        unsafe { OwnedString::json(&response)?.give(&out, &out_len) };
        Ok(())
    })
}

/// Which deployment would serve a call to `model` (a NUL-terminated route or deployment name)
/// with these call options (`options_json`: NULL or JSON such as `{"tags": {...}}`) and a
/// prompt of `prompt_tokens` tokens, and why each candidate was kept or skipped. Makes no
/// call. On success `*out` receives the report JSON (`route`, `strategy`, `would_serve`,
/// `candidates`).
///
/// # Safety
/// `gw` must be a live gateway; `model` NUL-terminated; `options_json` NULL or NUL-terminated;
/// `out` a valid `char **`; `out_len` and `err` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_explain(
    gw: *const sg_gateway,
    model: *const c_char,
    options_json: *const c_char,
    prompt_tokens: u64,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let gateway = &unsafe { args::handle(gw, "gw") }?.gateway;
        let model = unsafe { args::cstr(model, "model") }?;
        let out = Out::required(out, "out")?;
        let out_len = Out::optional(out_len);
        let options = unsafe { read_options(options_json) }?;
        let report = gateway.explain(model, &options, Some(prompt_tokens))?;
        unsafe { OwnedString::json(&report)?.give(&out, &out_len) };
        Ok(())
    })
}

/// The library version, e.g. "0.1.0" (the same as `SG_VERSION`). The string is static.
#[unsafe(no_mangle)]
pub extern "C" fn sg_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    ffi_value(c"".as_ptr(), || {
        VERSION
            .get_or_init(|| CString::new(sluicegate::VERSION).expect("the version has no NUL"))
            .as_ptr()
    })
}
