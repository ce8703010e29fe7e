//! `sluicegate._native`: the Python binding's native half. It converts values, maps errors and
//! bridges blocking and asyncio calls onto the core; the public API is the Python package
//! around it (`bindings-python/python/sluicegate`).

mod bridge;
mod convert;
mod error;
mod gateway;
mod log;
mod stream;
#[cfg(unix)]
mod waker;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VERSION", sluicegate::VERSION)?;
    m.add("ERROR_CODES", pyo3::types::PyTuple::new(m.py(), error::codes())?)?;
    m.add("ERROR_DEFAULTS", error::defaults(m.py())?)?;
    m.add(
        "OPTION_KEYS",
        pyo3::types::PyTuple::new(m.py(), sluicegate::OPTION_KEYS)?,
    )?;
    m.add_class::<gateway::NativeGateway>()?;
    m.add_class::<stream::NativeStream>()?;
    m.add_function(wrap_pyfunction!(bridge::_resolve, m)?)?;
    let shutdown = wrap_pyfunction!(bridge::_shutdown, m)?;
    m.add_function(shutdown.clone())?;
    let after_fork = wrap_pyfunction!(bridge::_after_fork_in_child, m)?;
    m.add_function(after_fork.clone())?;
    log::install();
    let py = m.py();
    py.import("atexit")?.call_method1("register", (shutdown,))?;
    let os = py.import("os")?;
    if os.hasattr("register_at_fork")? {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("after_in_child", after_fork)?;
        os.call_method("register_at_fork", (), Some(&kwargs))?;
    }
    Ok(())
}
