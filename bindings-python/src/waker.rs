//! Delivering async results to an asyncio loop without entering Python from a runtime thread.
//!
//! Each event loop gets one [`LoopWaker`]: a queue of finished calls and a socket pair whose
//! read end the loop watches (`loop.add_reader`). A runtime worker pushes a result and writes a
//! byte (only when none is pending); the loop thread, which holds the GIL anyway, wakes, drains
//! the queue, converts the results and settles the futures. That is one thread hand-off per
//! result instead of three (worker -> blocking pool -> GIL hand-over -> loop), and no thread
//! Python did not start ever takes the GIL for it, so interpreter exit cannot race with it.
//!
//! Loops without `add_reader` (Windows' proactor) keep the `call_soon_threadsafe` path.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Settles its future on the loop thread (converting the result there).
pub type Settle = Box<dyn FnOnce(Python<'_>) + Send>;

/// The half of a waker that runtime threads use.
pub struct Queue {
    done: Mutex<Vec<Settle>>,
    /// A byte is in the socket that the loop has not consumed yet.
    armed: AtomicBool,
    tx: UnixStream,
}

impl Queue {
    /// Called from any thread, without the GIL.
    pub fn push(&self, settle: Settle) {
        self.done.lock().unwrap_or_else(|e| e.into_inner()).push(settle);
        if !self.armed.swap(true, Ordering::SeqCst) {
            // Non-blocking: a full buffer already means "wake up". A closed loop never reads;
            // its waker (and what is queued) goes when the loop is collected.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

#[pyclass(module = "sluicegate._native", frozen)]
pub struct LoopWaker {
    queue: Arc<Queue>,
    rx: UnixStream,
    /// The process that made it: a forked child never shares one with its parent.
    pid: u32,
}

#[pymethods]
impl LoopWaker {
    /// The `add_reader` callback, on the loop thread.
    fn __call__(&self, py: Python<'_>) {
        // Drain, then disarm, then take: a push after the disarm writes a new byte (so it is
        // never missed), and one before it is in the queue taken below. Disarming before the
        // drain would lose a wake-up: its byte drained, `armed` left set, nothing to read.
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n == buf.len()) {}
        self.queue.armed.store(false, Ordering::SeqCst);
        let done = std::mem::take(&mut *self.queue.done.lock().unwrap_or_else(|e| e.into_inner()));
        for settle in done {
            settle(py);
        }
    }
}

/// The waker of `event_loop`, made and registered on first use; `None` when the loop cannot
/// watch a socket (the caller then uses `call_soon_threadsafe`).
pub fn for_loop(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> Option<Arc<Queue>> {
    static WAKERS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let wakers = WAKERS
        .get_or_try_init(py, || {
            py.import("weakref")?
                .call_method0("WeakKeyDictionary")
                .map(Bound::unbind)
        })
        .ok()?
        .bind(py);
    let pid = std::process::id();
    match wakers.call_method1("get", (event_loop,)) {
        Ok(found) if found.is_none() => {}
        Ok(found) => {
            let waker = found.cast::<LoopWaker>().ok()?.get();
            return (waker.pid == pid).then(|| waker.queue.clone());
        }
        Err(_) => return None, // not weak-referenceable: no cache, so no waker
    }
    let made = make(py, event_loop, pid);
    // Remember the answer either way (False: this loop has no add_reader).
    let entry = match &made {
        Some(waker) => waker.clone_ref(py).into_any(),
        None => pyo3::types::PyBool::new(py, false).to_owned().into_any().unbind(),
    };
    let _ = wakers.set_item(event_loop, entry);
    made.map(|w| w.get().queue.clone())
}

fn make(py: Python<'_>, event_loop: &Bound<'_, PyAny>, pid: u32) -> Option<Py<LoopWaker>> {
    let (tx, rx) = UnixStream::pair().ok()?;
    tx.set_nonblocking(true).ok()?;
    rx.set_nonblocking(true).ok()?;
    let fd = rx.as_raw_fd();
    let queue = Arc::new(Queue {
        done: Mutex::new(Vec::new()),
        armed: AtomicBool::new(false),
        tx,
    });
    let waker = Py::new(py, LoopWaker { queue, rx, pid }).ok()?;
    event_loop.call_method1("add_reader", (fd, waker.clone_ref(py))).ok()?;
    Some(waker)
}
