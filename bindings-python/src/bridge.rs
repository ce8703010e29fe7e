//! Waiting on the core's futures from Python.
//!
//! Cancellation is the core's [`CancelToken`]: every future handed to the bridge ends (with
//! `cancelled`) once its token is cancelled, because the token is in the call's options or the
//! future races it. The bridge only maps Python's idioms onto `token.cancel()`:
//!
//! - Sync calls ([`wait`]) block without the GIL, but wake every 50 ms to run
//!   `check_signals`, so Ctrl-C interrupts them: the token is cancelled, the core ends the
//!   call (and the upstream request) at once, and the `KeyboardInterrupt` propagates.
//! - Async calls ([`into_asyncio`]) run the future on the core's runtime and settle an asyncio
//!   future on the loop's own thread: through the loop's waker ([`crate::waker`]), or, where a
//!   loop cannot watch a socket, from a blocking-pool thread via `loop.call_soon_threadsafe`.
//!   Cancelling the asyncio future cancels the token.
//!
//! Why not pyo3-async-runtimes: its threads can still hold the GIL while the interpreter
//! finalizes, which crashed short scripts at exit (docs/building.md §4). Here every GIL entry
//! from a runtime thread is counted in `INFLIGHT`, and an `atexit` hook sets `CLOSING` and waits
//! (GIL released) until none is left.
//!
//! `fork()`: the core gives a forked child its own runtime and HTTP client on first use, so a
//! gateway made (and used) before the fork works in the child. The child also starts with no
//! thread inside the interpreter ([`_after_fork_in_child`] resets `INFLIGHT`: the threads it
//! counted stayed in the parent).

use crate::error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use sluicegate::CancelToken;
use sluicegate::runtime::runtime;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a sync call sleeps between checks for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// Threads that Python did not start and that are entering or inside the interpreter now.
static INFLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Set at interpreter exit: from then on no such thread enters the interpreter.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// Runs `future` to completion on the core's shared runtime without the GIL; Ctrl-C (or any
/// signal handler that raises) cancels `token`, which must end `future`.
pub fn wait<T, F>(py: Python<'_>, token: &CancelToken, future: F) -> PyResult<T>
where
    F: Future<Output = sluicegate::Result<T>> + Send,
    T: Send,
{
    in_slices(py, token, future, false)
}

/// `wait` for a call that is over when it returns (not a stream): it runs on this thread's own
/// runtime (`sluicegate::runtime::block_on_here`), so the request never leaves the thread.
pub fn wait_here<T, F>(py: Python<'_>, token: &CancelToken, future: F) -> PyResult<T>
where
    F: Future<Output = sluicegate::Result<T>> + Send,
    T: Send,
{
    in_slices(py, token, future, true)
}

/// Polls `future` in slices of `SIGNAL_SLICE`, checking for signals between them.
fn in_slices<T, F>(py: Python<'_>, token: &CancelToken, future: F, here: bool) -> PyResult<T>
where
    F: Future<Output = sluicegate::Result<T>> + Send,
    T: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PyRuntimeError::new_err(
            "a blocking sluicegate call was made from a sluicegate runtime thread; use AsyncGateway there",
        ));
    }
    let mut future = Box::pin(future);
    let mut run = |slice: Option<Duration>| {
        py.detach(|| {
            // The timer must be created inside the runtime, hence the async block.
            let tick = async {
                Ok(match slice {
                    Some(slice) => tokio::time::timeout(slice, future.as_mut()).await.ok(),
                    None => Some(future.as_mut().await),
                })
            };
            if here {
                sluicegate::runtime::block_on_here(tick)
            } else {
                runtime().block_on(tick)
            }
        })
    };
    loop {
        match run(Some(SIGNAL_SLICE)) {
            Ok(Some(result)) => return result.map_err(|e| error::to_py(py, &e)),
            Ok(None) => {
                if let Err(interrupted) = py.check_signals() {
                    // The core ends the call on its runtime (this thread's, for `here`), so
                    // that the provider hears about it; it returns at once.
                    token.cancel();
                    drop(run(None));
                    return Err(interrupted);
                }
            }
            Err(e) => return Err(error::to_py(py, &e)),
        }
    }
}

/// Converts a finished core result into the Python value the awaiting coroutine receives.
pub type Convert<T> = fn(Python<'_>, T) -> PyResult<Py<PyAny>>;

/// Starts `future` on the core's runtime and returns an asyncio future for its result;
/// cancelling that cancels `token`, which must end `future`. Must be called with an event loop
/// running in this thread.
pub fn into_asyncio<'py, T, F>(
    py: Python<'py>,
    token: CancelToken,
    future: F,
    convert: Convert<T>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = sluicegate::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let runtime = runtime();
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let event_loop = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let py_future = event_loop.call_method0("create_future")?;
    #[cfg(unix)]
    let queue = crate::waker::for_loop(py, &event_loop);
    #[cfg(not(unix))]
    let queue: Option<std::sync::Arc<()>> = None;
    match queue {
        #[cfg(unix)]
        Some(queue) => {
            let target = py_future.clone().unbind();
            runtime.spawn(async move {
                let result = future.await;
                queue.push(Box::new(move |py| {
                    let (ok, value) = outcome(py, result, convert);
                    drop(_resolve(target.bind(py), ok, value.into_bound(py)));
                }));
            })
        }
        _ => {
            let target = Target {
                event_loop: event_loop.unbind(),
                future: py_future.clone().unbind(),
            };
            runtime.spawn(async move {
                let result = future.await;
                // Taking the GIL can block: do it on the blocking pool, never on a runtime worker.
                drop(tokio::task::spawn_blocking(move || target.resolve(result, convert)));
            })
        }
    };
    py_future.call_method1("add_done_callback", (CancelOnCancelled { token },))?;
    Ok(py_future)
}

/// The value (or exception) a finished call settles its asyncio future with.
fn outcome<T>(py: Python<'_>, result: sluicegate::Result<T>, convert: Convert<T>) -> (bool, Py<PyAny>) {
    match result.map_err(|e| error::to_py(py, &e)).and_then(|v| convert(py, v)) {
        Ok(value) => (true, value),
        Err(err) => (false, err.into_value(py).into_any()),
    }
}

/// Where a result goes: an asyncio future and the loop that owns it.
struct Target {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

impl Target {
    fn resolve<T>(self, result: sluicegate::Result<T>, convert: Convert<T>) {
        INFLIGHT.fetch_add(1, Ordering::SeqCst);
        if CLOSING.load(Ordering::SeqCst) {
            // The interpreter is shutting down: touching it now could crash the process.
            std::mem::forget(self);
        } else {
            Python::attach(|py| {
                let (ok, value) = outcome(py, result, convert);
                let delivered = resolve_fn(py).and_then(|resolve| {
                    self.event_loop
                        .call_method1(py, "call_soon_threadsafe", (resolve, &self.future, ok, value))
                });
                // A closed event loop refuses the call; nobody is waiting any more, so drop it.
                drop(delivered);
                drop(self);
            });
        }
        INFLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

fn resolve_fn(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RESOLVE.import(py, "sluicegate._native", "_resolve")
}

/// Runs on the event loop: settles the future unless it was cancelled meanwhile.
#[pyfunction]
pub fn _resolve(future: &Bound<'_, PyAny>, ok: bool, value: Bound<'_, PyAny>) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        future.call_method1("set_result", (value,))?;
    } else {
        future.call_method1("set_exception", (value,))?;
    }
    Ok(())
}

/// A done-callback: once the asyncio future is cancelled, cancel the call's token (the core
/// then ends the call and its upstream request). A resolved future leaves the token alone: a
/// stream it delivered keeps using it.
#[pyclass(frozen)]
struct CancelOnCancelled {
    token: CancelToken,
}

#[pymethods]
impl CancelOnCancelled {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.token.cancel();
        }
        Ok(())
    }
}

/// Runs `f` with the GIL from a thread Python did not start, unless the interpreter is
/// shutting down (then `None`).
pub fn with_python<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    INFLIGHT.fetch_add(1, Ordering::SeqCst);
    let out = if CLOSING.load(Ordering::SeqCst) {
        None
    } else {
        Some(Python::attach(f))
    };
    INFLIGHT.fetch_sub(1, Ordering::SeqCst);
    out
}

/// Registered with `os.register_at_fork(after_in_child=...)`: only the forking thread lives on
/// in the child, so none of the threads counted in `INFLIGHT` exist there (else exit would wait
/// for them in vain).
#[pyfunction]
pub fn _after_fork_in_child() {
    INFLIGHT.store(0, Ordering::SeqCst);
}

/// Registered with `atexit`: stop entering Python from runtime threads and wait (at most 2 s)
/// for those already inside.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    CLOSING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let start = Instant::now();
        while INFLIGHT.load(Ordering::SeqCst) > 0 && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}
