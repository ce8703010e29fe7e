//! The one process-wide tokio runtime and HTTP client every gateway in the process shares.
//!
//! Async entry points spawn onto this runtime and await the task, so they work when awaited
//! from any executor (napi's, asyncio's bridge, a C caller's thread). Blocking entry points
//! `block_on` it and refuse to run inside another runtime instead of deadlocking.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// The runtime and clients of one process. A child made by `fork()` inherits none of the
/// parent's threads, so it gets its own set (the parent's is leaked there, never touched):
/// that makes the pre-fork server pattern (gunicorn, Node cluster) work with no extra step.
struct PerProcess {
    pid: u32,
    runtime: Runtime,
    client: reqwest::Client,
    clients: Mutex<HashMap<Duration, reqwest::Client>>,
}

fn current() -> &'static PerProcess {
    static CURRENT: AtomicPtr<PerProcess> = AtomicPtr::new(std::ptr::null_mut());
    static BUILDING: Mutex<()> = Mutex::new(());
    let pid = std::process::id();
    let found = CURRENT.load(Ordering::Acquire);
    // SAFETY: the pointer is only ever set from `Box::leak`, so it is valid for 'static.
    if let Some(p) = unsafe { found.as_ref() }.filter(|p| p.pid == pid) {
        return p;
    }
    let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let found = CURRENT.load(Ordering::Acquire);
    if let Some(p) = unsafe { found.as_ref() }.filter(|p| p.pid == pid) {
        return p;
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    let runtime = Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("sluicegate")
        .enable_all()
        .build()
        .expect("sluicegate: cannot start the tokio runtime");
    let fresh: &'static PerProcess = Box::leak(Box::new(PerProcess {
        pid,
        runtime,
        client: build_client(None),
        clients: Mutex::new(HashMap::new()),
    }));
    CURRENT.store(fresh as *const PerProcess as *mut PerProcess, Ordering::Release);
    fresh
}

pub fn runtime() -> &'static Runtime {
    &current().runtime
}

/// The shared HTTP client: connection pooling across every gateway and call.
pub fn http_client() -> &'static reqwest::Client {
    &current().client
}

/// The shared client for a connect timeout (reqwest sets it per client, not per request).
/// One client per distinct timeout, kept for the life of the process.
pub fn http_client_with(connect: Option<Duration>) -> reqwest::Client {
    let Some(connect) = connect else {
        return http_client().clone();
    };
    let mut clients = current().clients.lock().unwrap_or_else(|e| e.into_inner());
    clients
        .entry(connect)
        .or_insert_with(|| build_client(Some(connect)))
        .clone()
}

fn build_client(connect: Option<Duration>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .user_agent(concat!("sluicegate/", env!("CARGO_PKG_VERSION")));
    if let Some(c) = connect {
        builder = builder.connect_timeout(c);
    }
    builder.build().expect("sluicegate: cannot build the HTTP client")
}

/// A spawned task that is aborted when its handle is dropped, so that a caller who stops
/// waiting (a dropped future, a cancelled promise) also stops the upstream request.
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `future` on the shared runtime; dropping the returned future cancels it.
pub async fn spawn<T, F>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    // Already on our runtime (a Rust caller inside it): no hand-off needed, and dropping the
    // future still cancels the call.
    if tokio::runtime::Handle::try_current().is_ok_and(|h| h.id() == runtime().handle().id()) {
        return future.await;
    }
    let mut task = AbortOnDrop(runtime().spawn(future));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_cancelled() => Err(Error::new(crate::ErrorKind::Cancelled, "the call was cancelled")),
        Err(e) => Err(Error::internal(format!(
            "sluicegate task failed: {e}; please report this as a bug"
        ))),
    }
}

/// Blocks the calling thread on `future`; refuses when called from inside an async runtime.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::internal(
            "a blocking sluicegate call was made from inside an async runtime; use the async API there",
        ));
    }
    runtime().block_on(future)
}

/// Seconds since the Unix epoch (for `created` fields).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
