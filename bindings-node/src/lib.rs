//! Node.js bindings for sluicegate (napi-rs). Thin by design: requests, options, responses
//! and errors cross the boundary as JSON text, and the JS layer (`lib/`) turns them into
//! objects, error classes, promises and async iterators. No gateway logic lives here.
//!
//! The native surface is internal: users import the `sluicegate` package, whose typed API
//! is in `index.d.ts`.

mod error;
mod gateway;
mod log;
mod stream;

use napi_derive::napi;

/// The library version (the core's, the same in every binding).
#[napi]
pub fn version() -> &'static str {
    sluicegate::VERSION
}

/// Every error code the core can produce, so the JS layer can prove its mapping is complete.
#[napi]
pub fn error_codes() -> Vec<String> {
    sluicegate::ErrorKind::ALL.iter().map(|k| k.code().to_owned()).collect()
}

/// The per-call option keys the core accepts (the JS layer passes them through).
#[napi]
pub fn option_keys() -> Vec<String> {
    sluicegate::OPTION_KEYS.iter().map(|k| (*k).to_owned()).collect()
}

/// A core error's JSON for an error the JS layer raises itself (a bad JS value, an aborted
/// signal), so that it carries the core's defaults for its code (status, retryable).
#[napi]
pub fn error_json(code: String, message: String) -> String {
    let kind = sluicegate::ErrorKind::from_code(&code).unwrap_or(sluicegate::ErrorKind::Internal);
    sluicegate::Error::new(kind, message).to_json().to_string()
}
