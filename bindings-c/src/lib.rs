//! The C ABI of sluicegate: `include/sluicegate.h` is generated from this crate by cbindgen.
//!
//! Thin by design: each function reads its C arguments, calls the core and maps the result
//! back. Every function returns an [`sg_status`] (or a value with a documented default), runs
//! inside a panic boundary, names the argument at fault when one is NULL or malformed, and
//! writes its out-parameters only when it succeeds. Every `*_free` accepts NULL.
//!
//! The files mirror the core: `gateway.rs` (handles and plain calls), `stream.rs` (streaming),
//! `metrics.rs` (usage reports, Prometheus text), `log.rs` (core log lines), `error.rs` (status
//! codes and `sg_error`), plus `hooks.rs` (on_request_end), `cancel.rs` (cancel tokens),
//! `args.rs` (C arguments in, strings out) and `panic.rs` (the boundary).

// The exported items carry their C names (`sg_gateway`, `SG_OK`), as the header shows them.
#![allow(non_camel_case_types)]

mod args;
mod cancel;
mod error;
mod gateway;
mod hooks;
mod log;
mod metrics;
mod panic;
mod stream;

pub use args::sg_string_free;
pub use cancel::{
    sg_cancel_token, sg_cancel_token_cancel, sg_cancel_token_free, sg_cancel_token_is_cancelled, sg_cancel_token_new,
};
pub use error::{
    sg_error, sg_error_code, sg_error_code_str, sg_error_free, sg_error_json, sg_error_message, sg_error_request_id,
    sg_error_retry_after, sg_error_retryable, sg_error_status_code, sg_status, sg_status_str,
};
pub use gateway::{
    sg_chat, sg_chat_cancellable, sg_embeddings, sg_embeddings_cancellable, sg_explain, sg_gateway, sg_gateway_free,
    sg_gateway_new, sg_gateway_new_from_file, sg_version,
};
pub use hooks::{sg_event_fn, sg_gateway_on_request_end};
pub use log::{sg_log_fn, sg_log_level, sg_set_log_callback};
pub use metrics::{sg_metrics_text, sg_usage};
pub use stream::{
    sg_chat_stream, sg_chat_stream_cancellable, sg_chat_stream_cb, sg_chunk_fn, sg_stream, sg_stream_free,
    sg_stream_gateway, sg_stream_next,
};
