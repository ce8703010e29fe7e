//! C arguments in, strings out. A NULL pointer, bad UTF-8 or bad JSON becomes an
//! `invalid_request` naming the argument; results are written only once a call has succeeded.

use serde_json::Value;
use sluicegate::{Error, Result};
use std::ffi::{CStr, CString, c_char};

fn null(name: &str) -> Error {
    Error::invalid_request(format!("argument `{name}` is NULL"))
}

/// The bytes of a (pointer, length) argument; the pointer may not be NULL, even for length 0.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that outlive the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const c_char, len: usize, name: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return Err(null(name));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid_request(format!(
            "argument `{name}`: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL and `len` readable bytes, per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

fn utf8<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid_request(format!(
            "argument `{name}` is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// UTF-8 text given as (pointer, length).
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const c_char, len: usize, name: &str) -> Result<&'a str> {
    utf8(unsafe { bytes(ptr, len, name)? }, name)
}

/// A NUL-terminated UTF-8 string, or `None` when `ptr` is NULL.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn optional_cstr<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated, per the caller's contract.
    utf8(unsafe { CStr::from_ptr(ptr) }.to_bytes(), name).map(Some)
}

/// A NUL-terminated UTF-8 string that may not be NULL.
///
/// # Safety
/// As for [`optional_cstr`].
pub(crate) unsafe fn cstr<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    unsafe { optional_cstr(ptr, name) }?.ok_or_else(|| null(name))
}

/// JSON text parsed into a value; the message names the argument and where parsing stopped.
pub(crate) fn json(text: &str, name: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid_request(format!("argument `{name}` is not valid JSON: {e}")))
}

/// A reference argument (a handle) that may not be NULL.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` for the duration of the call.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: per the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// A mutable handle argument that may not be NULL.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` that no other thread uses during the call.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: per the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(name))
}

/// An out-parameter, checked up front and written only when the call succeeds.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// An out-parameter the caller must provide.
    pub(crate) fn required(ptr: *mut T, name: &str) -> Result<Out<T>> {
        if ptr.is_null() { Err(null(name)) } else { Ok(Out(ptr)) }
    }

    /// An out-parameter the caller may pass as NULL (then nothing is written).
    pub(crate) fn optional(ptr: *mut T) -> Out<T> {
        Out(ptr)
    }

    /// Whether the caller asked for this value (an optional out-parameter may be NULL).
    pub(crate) fn wanted(&self) -> bool {
        !self.0.is_null()
    }

    /// # Safety
    /// The pointer given at construction must be NULL or valid for a write of `T`.
    pub(crate) unsafe fn set(&self, value: T) {
        if !self.0.is_null() {
            // SAFETY: per the caller's contract; `write` does not drop the old (garbage) value.
            unsafe { self.0.write(value) };
        }
    }
}

/// A string handed to C: NUL-terminated, with its length, released with [`sg_string_free`].
pub(crate) struct OwnedString {
    ptr: *mut c_char,
    len: usize,
}

impl OwnedString {
    pub(crate) fn new(text: String) -> Result<OwnedString> {
        let len = text.len();
        let c = CString::new(text)
            .map_err(|_| Error::internal("a result contained a NUL byte; please report this as a bug"))?;
        Ok(OwnedString { ptr: c.into_raw(), len })
    }

    pub(crate) fn json(value: &Value) -> Result<OwnedString> {
        // serde_json escapes control characters, so its output never holds a NUL byte.
        OwnedString::new(value.to_string())
    }

    pub(crate) fn as_ptr(&self) -> *const c_char {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Hands the string over to C: to `out` and its length to `len` (when not NULL).
    ///
    /// # Safety
    /// As for [`Out::set`].
    pub(crate) unsafe fn give(self, out: &Out<*mut c_char>, len: &Out<usize>) {
        let this = std::mem::ManuallyDrop::new(self);
        unsafe {
            out.set(this.ptr);
            len.set(this.len);
        }
    }
}

impl Drop for OwnedString {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `CString::into_raw` and was not handed out.
        drop(unsafe { CString::from_raw(self.ptr) });
    }
}

/// Frees a string returned by sluicegate (`sg_chat`'s response, a stream chunk, ...).
/// NULL is a no-op. Never pass a string you allocated, or one borrowed from an `sg_error`.
///
/// # Safety
/// `s` must be NULL or a string returned by sluicegate and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_string_free(s: *mut c_char) {
    if !s.is_null() {
        crate::panic::ffi_value((), || {
            // SAFETY: per the contract, `s` came from `CString::into_raw` in `OwnedString`.
            drop(unsafe { CString::from_raw(s) });
        })
    }
}
