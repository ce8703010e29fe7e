//! Metering: usage reports and Prometheus metrics from a gateway's recorded calls.

use crate::args::{self, Out, OwnedString};
use crate::error::{sg_error, sg_status};
use crate::gateway::sg_gateway;
use crate::panic::ffi_call;
use serde_json::Value;
use std::ffi::c_char;

/// A usage report over the calls this gateway has made: requests, errors by kind, tokens, cost
/// and latency percentiles, grouped as `query_json` asks. `query_json` is NULL (one group, all
/// time) or NUL-terminated JSON such as `{"group_by": ["team", "model"], "since": "1h"}`
/// (`group_by`: key, team, user, route, deployment, provider, model or `tag:NAME`; `since`: a
/// date, unix seconds or a duration ago). On success `*out` receives the report JSON (free it
/// with `sg_string_free`) and `*out_len` its length when not NULL.
///
/// # Safety
/// `gw` must be a live gateway; `query_json` NULL or NUL-terminated; `out` a valid `char **`;
/// `out_len` and `err` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_usage(
    gw: *const sg_gateway,
    query_json: *const c_char,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let gateway = &unsafe { args::handle(gw, "gw") }?.gateway;
        let out = Out::required(out, "out")?;
        let out_len = Out::optional(out_len);
        let query = match unsafe { args::optional_cstr(query_json, "query_json") }? {
            Some(text) => args::json(text, "query_json")?,
            None => Value::Null,
        };
        let report = gateway.usage(&query)?;
        unsafe { OwnedString::json(&report)?.give(&out, &out_len) };
        Ok(())
    })
}

/// The gateway's metrics in the Prometheus text exposition format (OpenTelemetry GenAI metric
/// names plus sluicegate's own), for a `/metrics` endpoint. On success `*out` receives the text
/// (free it with `sg_string_free`) and `*out_len` its length when not NULL.
///
/// # Safety
/// `gw` must be a live gateway; `out` a valid `char **`; `out_len` and `err` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_metrics_text(
    gw: *const sg_gateway,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err: *mut *mut sg_error,
) -> sg_status {
    ffi_call(err, || {
        let gateway = &unsafe { args::handle(gw, "gw") }?.gateway;
        let out = Out::required(out, "out")?;
        let out_len = Out::optional(out_len);
        unsafe { OwnedString::new(gateway.metrics_text())?.give(&out, &out_len) };
        Ok(())
    })
}
