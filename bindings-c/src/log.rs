//! Core log lines to a C callback (by default, warnings and errors go to stderr).

use crate::panic::ffi_value;
use sluicegate::log::Level;
use std::ffi::{CString, c_char, c_void};

/// How much a log line matters.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sg_log_level {
    SG_LOG_DEBUG = 0,
    SG_LOG_INFO = 1,
    SG_LOG_WARN = 2,
    SG_LOG_ERROR = 3,
}

impl From<Level> for sg_log_level {
    fn from(level: Level) -> sg_log_level {
        match level {
            Level::Debug => sg_log_level::SG_LOG_DEBUG,
            Level::Info => sg_log_level::SG_LOG_INFO,
            Level::Warn => sg_log_level::SG_LOG_WARN,
            Level::Error => sg_log_level::SG_LOG_ERROR,
        }
    }
}

/// Receives one log line: `message` is NUL-terminated, `len` bytes, valid only during the call,
/// and never contains secrets or prompts. It may be called from any thread, including
/// sluicegate's worker threads and several at once; it must be quick, must not unwind, and
/// must not make blocking sluicegate calls (those fail with `SG_INTERNAL` on a worker thread).
pub type sg_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: sg_log_level, message: *const c_char, len: usize)>;

/// The core's log sink type.
type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

/// Sends the core's log lines (for the whole process) to `callback` with `user_data`; NULL
/// restores the default, which writes warnings and errors to stderr.
///
/// # Safety
/// `callback` must stay callable, and `user_data` valid, until it is replaced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_set_log_callback(callback: sg_log_fn, user_data: *mut c_void) {
    // Carried as an address: the sink must be Send + Sync, and the caller vouches for it.
    let user_data = user_data as usize;
    ffi_value((), || {
        sluicegate::log::set_sink(callback.map(|f| -> Sink {
            Box::new(move |level, message| {
                let text = CString::new(message.replace('\0', "\u{FFFD}")).unwrap_or_default();
                let len = text.as_bytes().len();
                // SAFETY: per the contract of `sg_set_log_callback`.
                unsafe { f(user_data as *mut c_void, level.into(), text.as_ptr(), len) }
            })
        }))
    })
}
