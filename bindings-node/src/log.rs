//! JS callbacks the core calls from its own threads: the process-wide log sink and a gateway's
//! `on_request_end` hooks. Each is a weak ThreadsafeFunction (it never keeps the event loop
//! alive) called without blocking; when its JS thread is gone, warnings and errors still reach
//! stderr, as they would without a binding.

use napi::bindgen_prelude::{FnArgs, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Result, Status};
use napi_derive::napi;
use sluicegate::log::Level;

/// `(level, message)` for the log sink.
type LogCallback = ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;
/// The event's JSON text for a hook.
pub type HookCallback = ThreadsafeFunction<String, (), String, Status, false, true>;

fn level_from_name(name: &str) -> Option<Level> {
    [Level::Debug, Level::Info, Level::Warn, Level::Error]
        .into_iter()
        .find(|l| l.name() == name)
}

/// Sends core log lines at `min_level` and above to `callback(level, message)`; `null`
/// restores the default (warnings and errors on stderr).
#[napi]
pub fn set_log_sink(callback: Option<Function<'_, FnArgs<(String, String)>, ()>>, min_level: String) -> Result<()> {
    let Some(callback) = callback else {
        sluicegate::log::set_sink(None);
        return Ok(());
    };
    let min = level_from_name(&min_level).ok_or_else(|| {
        napi::Error::new(
            Status::InvalidArg,
            format!("unknown log level `{min_level}` (debug, info, warn, error)"),
        )
    })?;
    let tsfn: LogCallback = callback
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
    sluicegate::log::set_sink(Some(Box::new(move |level, message| {
        if level < min {
            return;
        }
        let status = tsfn.call(
            (level.name().to_owned(), message.to_owned()).into(),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
        if status != Status::Ok && level >= Level::Warn {
            eprintln!("[sluicegate {}] {message}", level.name());
        }
    })));
    Ok(())
}

pub fn hook(callback: Function<'_, String, ()>) -> Result<HookCallback> {
    callback
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()
}

/// Calls a hook with an event; a hook whose JS thread is gone is skipped.
pub fn call_hook(tsfn: &HookCallback, event: &serde_json::Value) {
    let _ = tsfn.call(event.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
}
