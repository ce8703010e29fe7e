//! The panic boundary: a Rust panic must never unwind into C. Every exported function runs its
//! body through [`ffi_status`] (a panic becomes `SG_INTERNAL` with an `sg_error`) or
//! [`ffi_value`] (a panic becomes a documented default, for accessors that cannot fail).

use crate::error::{sg_error, sg_status};
use sluicegate::Error;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs a fallible body. An error (or a panic) is handed to the caller through `err` when it
/// is not NULL, and its status is returned; `err` is left untouched on success.
pub(crate) fn ffi_status(err: *mut *mut sg_error, body: impl FnOnce() -> Result<sg_status, Error>) -> sg_status {
    // AssertUnwindSafe: after a panic the body's state is dropped, never observed again.
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => return status,
        Ok(Err(error)) => error,
        Err(payload) => Error::internal(format!(
            "sluicegate panicked: {}; please report this as a bug",
            panic_message(payload.as_ref())
        )),
    };
    let status = sg_status::from(error.kind);
    if !err.is_null() {
        // SAFETY: the caller passes either NULL or a valid `sg_error **`.
        unsafe { err.write(Box::into_raw(Box::new(sg_error::new(error)))) };
    }
    status
}

/// [`ffi_status`] for bodies whose only success is `SG_OK`.
pub(crate) fn ffi_call(err: *mut *mut sg_error, body: impl FnOnce() -> Result<(), Error>) -> sg_status {
    ffi_status(err, || body().map(|()| sg_status::SG_OK))
}

/// Runs an infallible body, returning `default` if it panics.
pub(crate) fn ffi_value<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic without a message"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_sg_internal_with_an_error() {
        let mut err: *mut sg_error = std::ptr::null_mut();
        let status = ffi_call(&mut err, || panic!("boom"));
        assert_eq!(status, sg_status::SG_INTERNAL);
        assert!(!err.is_null());
        // SAFETY: `err` was just produced by ffi_call.
        let error = unsafe { Box::from_raw(err) };
        assert!(error.message().contains("boom"), "{}", error.message());
    }

    #[test]
    fn a_panic_in_an_accessor_gives_the_default() {
        assert_eq!(ffi_value(7, || panic!("boom")), 7);
    }
}
