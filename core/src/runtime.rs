//! The one process-wide tokio runtime and HTTP client every gateway in the process shares.
//!
//! Async entry points spawn onto this runtime and await the task, so they work when awaited
//! from any executor (napi's, asyncio's bridge, a C caller's thread). Blocking entry points
//! `block_on` it and refuse to run inside another runtime instead of deadlocking.

use crate::error::{Error, Result};
use std::future::Future;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
        Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("sluicegate")
            .enable_all()
            .build()
            .expect("sluicegate: cannot start the tokio runtime")
    })
}

/// The shared HTTP client: connection pooling across every gateway and call.
pub fn http_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| build_client(None))
}

/// The shared client for a connect timeout (reqwest sets it per client, not per request).
/// One client per distinct timeout, kept for the life of the process.
pub fn http_client_with(connect: Option<Duration>) -> reqwest::Client {
    let Some(connect) = connect else { return http_client().clone() };
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let mut clients = CLIENTS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    clients.entry(connect).or_insert_with(|| build_client(Some(connect))).clone()
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
    let mut task = AbortOnDrop(runtime().spawn(future));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_cancelled() => Err(Error::new(crate::ErrorKind::Cancelled, "the call was cancelled")),
        Err(e) => Err(Error::internal(format!("sluicegate task failed: {e}; please report this as a bug"))),
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
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
