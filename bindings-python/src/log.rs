//! Core log lines into Python's `logging`, under the `sluicegate` logger.
//!
//! Lines can come from runtime threads, so each one enters Python through the bridge's guard
//! (never while the interpreter shuts down); if Python cannot take it, warnings and errors still
//! reach stderr, as they would without a binding.

use crate::bridge;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use sluicegate::log::Level;

pub fn install() {
    sluicegate::log::set_sink(Some(Box::new(|level, message| {
        let forwarded = bridge::with_python(|py| forward(py, level, message).is_ok());
        if forwarded != Some(true) && level >= Level::Warn {
            eprintln!("[sluicegate {}] {message}", level.name());
        }
    })));
}

fn forward(py: Python<'_>, level: Level, message: &str) -> PyResult<()> {
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let logger = LOGGER.get_or_try_init(py, || {
        py.import("logging")?
            .call_method1("getLogger", ("sluicegate",))
            .map(Bound::unbind)
    })?;
    // The numbers of logging.DEBUG, INFO, WARNING and ERROR.
    let number = match level {
        Level::Debug => 10,
        Level::Info => 20,
        Level::Warn => 30,
        Level::Error => 40,
    };
    logger.bind(py).call_method1("log", (number, message))?;
    Ok(())
}
