//! Core errors as Python exceptions.
//!
//! The exception classes live in Python (`sluicegate/errors.py`), so that they can use multiple
//! inheritance and carry typed attributes; this side hands the core's error JSON to
//! `sluicegate.errors._from_native`, which picks the class for the error's `code`.

use crate::convert;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// The Python exception for a core error.
pub fn to_py(py: Python<'_>, error: &sluicegate::Error) -> PyErr {
    static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let built = FROM_NATIVE
        .import(py, "sluicegate.errors", "_from_native")
        .and_then(|from_native| from_native.call1((convert::to_py(py, &error.to_json())?,)));
    match built {
        Ok(exception) => PyErr::from_value(exception),
        // Only when the Python half of the package is broken; keep the core's message.
        Err(cause) => {
            let err = PyRuntimeError::new_err(error.to_string());
            err.set_cause(py, Some(cause));
            err
        }
    }
}

/// Every error code the core can produce, in the core's order (tests check each is mapped).
pub fn codes() -> Vec<&'static str> {
    sluicegate::ErrorKind::ALL.iter().map(|k| k.code()).collect()
}

/// Each code's defaults `(status_code, retryable)`, for errors raised on the Python side.
pub fn defaults(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let table = pyo3::types::PyDict::new(py);
    for kind in sluicegate::ErrorKind::ALL {
        let error = sluicegate::Error::new(kind, "");
        table.set_item(kind.code(), (kind.default_http_status(), error.retryable))?;
    }
    Ok(table)
}
