//! `sluicegate._native`: the Python binding's native half. It converts values, maps errors and
//! bridges blocking and asyncio calls onto the core; the public API is the Python package
//! around it (`bindings-python/python/sluicegate`).

mod bridge;
mod convert;
mod error;
mod gateway;
mod log;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VERSION", sluicegate::VERSION)?;
    m.add(
        "ERROR_CODES",
        pyo3::types::PyTuple::new(m.py(), error::codes())?,
    )?;
    m.add("ERROR_DEFAULTS", error::defaults(m.py())?)?;
    m.add_class::<gateway::NativeGateway>()?;
    m.add_class::<stream::NativeStream>()?;
    m.add_function(wrap_pyfunction!(bridge::_resolve, m)?)?;
    let shutdown = wrap_pyfunction!(bridge::_shutdown, m)?;
    m.add_function(shutdown.clone())?;
    log::install();
    m.py()
        .import("atexit")?
        .call_method1("register", (shutdown,))?;
    Ok(())
}
