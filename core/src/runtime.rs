//! The one process-wide tokio runtime and HTTP client every gateway in the process shares.
//!
//! Async entry points spawn onto this runtime and await the task, so they work when awaited
//! from any executor (napi's, asyncio's bridge, a C caller's thread). Blocking entry points
//! `block_on` it and refuse to run inside another runtime instead of deadlocking.
//!
//! Blocking non-streaming calls ([`block_on_here`]) run instead on a single-threaded runtime of
//! the calling thread, with that thread's own connection pool: the request, the connection and
//! the answer then stay on one thread, as with libcurl, instead of crossing to the shared
//! runtime's workers and back several times per call. Whatever outlives the call (stream
//! pumps, Redis connections, background settling, telemetry) stays on the shared runtime.

use crate::error::{Error, Result};
use std::cell::{Cell, RefCell};
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

/// The client for a connect timeout (reqwest sets it per client, not per request): this
/// thread's own inside [`block_on_here`], else the shared one. One client per distinct timeout,
/// kept for the life of the process (or of the thread).
pub fn http_client_with(connect: Option<Duration>) -> reqwest::Client {
    if HERE_ACTIVE.get() {
        return HERE_CLIENTS
            .with_borrow_mut(|clients| clients.entry(connect).or_insert_with(|| build_client(connect)).clone());
    }
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
        .user_agent(concat!("sluicegate/", env!("CARGO_PKG_VERSION")))
        // Never follow a redirect: provider keys travel in headers (`x-api-key`, `api-key`,
        // custom `headers`) that reqwest would carry to whatever host a 3xx names. A provider
        // API does not redirect; a 3xx is reported as the provider's error instead.
        .redirect(reqwest::redirect::Policy::none());
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
    // Already on our runtime (a Rust caller inside it, or a blocking call on this thread's
    // own): no hand-off needed, and dropping the future still cancels the call.
    if HERE_ACTIVE.get() || on_shared_runtime() {
        return future.await;
    }
    on_shared(future).await
}

fn on_shared_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|h| h.id() == runtime().handle().id())
}

/// Runs `future` on the shared runtime (inline when already there): for work whose resources
/// must outlive a thread's own runtime, such as Redis connections.
pub async fn on_shared<T, F>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    if on_shared_runtime() {
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

/// The core's own panic boundary for entry points that run on the caller's thread: a panic
/// (always a bug) becomes an `internal` error, so Python never sees a `PanicException` and a
/// Node process never aborts. Async calls get the same from the runtime's task boundary.
pub fn no_panic<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Err(Error::internal(format!(
            "sluicegate panicked: {what}; please report this as a bug"
        )))
    })
}

/// Blocks the calling thread on `future`; refuses when called from inside an async runtime.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    refuse_inside_runtime()?;
    runtime().block_on(future)
}

/// A thread's own runtime, for blocking calls made on it.
struct ThreadRuntime {
    pid: u32,
    runtime: Option<Runtime>,
}

impl Drop for ThreadRuntime {
    fn drop(&mut self) {
        // Runs as the thread exits. A panic here would abort the process: contain it.
        if let Some(runtime) = self.runtime.take() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(runtime)));
        }
    }
}

thread_local! {
    static HERE: RefCell<Option<std::rc::Rc<ThreadRuntime>>> = const { RefCell::new(None) };
    static HERE_CLIENTS: RefCell<HashMap<Option<Duration>, reqwest::Client>> = RefCell::new(HashMap::new());
    /// Set while this thread runs a call in [`block_on_here`].
    static HERE_ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Blocks the calling thread on `future`, run on the thread's own single-threaded runtime
/// (see the module doc). For calls that finish before returning: not for streams, whose
/// reader must keep running after the call returns. Refuses inside an async runtime.
pub fn block_on_here<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    refuse_inside_runtime()?;
    let pid = std::process::id();
    let here = HERE.with_borrow_mut(|here| {
        if here.as_ref().is_some_and(|h| h.pid != pid) {
            // Made before fork(): its driver and pooled connections belong to the parent.
            // Never touch them.
            std::mem::forget(here.take());
            HERE_CLIENTS.with_borrow_mut(|clients| std::mem::forget(std::mem::take(clients)));
        }
        if here.is_none() {
            let runtime = Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::internal(format!("sluicegate: cannot start this thread's runtime: {e}")))?;
            *here = Some(std::rc::Rc::new(ThreadRuntime {
                pid,
                runtime: Some(runtime),
            }));
        }
        Ok::<_, Error>(here.clone().expect("just built"))
    })?;
    struct Active;
    impl Drop for Active {
        fn drop(&mut self) {
            HERE_ACTIVE.set(false);
        }
    }
    HERE_ACTIVE.set(true);
    let _active = Active;
    // A current-thread runtime drives its tasks (and its pooled connections) only inside
    // `block_on`, which is exactly when this thread's calls need them.
    let runtime = here.runtime.as_ref().expect("taken only on drop");
    let result = runtime.block_on(future);
    if result.is_err() {
        // A call given up (cancelled, timed out) left its connection mid-request: let the
        // connection's task see that now and close, so the provider stops working on it.
        runtime.block_on(let_connections_settle());
    }
    result
}

async fn let_connections_settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// Drops an unfinished call made with [`block_on_here`] on this thread's runtime, and lets the
/// runtime run a moment so that the call's connection closes (telling the provider to stop).
/// For a binding that stops waiting between slices of `block_on_here` (to check for Ctrl-C).
pub fn drop_here<T>(unfinished: T) {
    let here = HERE.with_borrow(|here| here.clone());
    match here.filter(|h| h.pid == std::process::id() && !HERE_ACTIVE.get()) {
        Some(here) if tokio::runtime::Handle::try_current().is_err() => {
            let runtime = here.runtime.as_ref().expect("taken only on drop");
            runtime.block_on(async move {
                drop(unfinished);
                let_connections_settle().await;
            });
        }
        _ => drop(unfinished),
    }
}

/// Blocking inside an async runtime (or inside a blocking call) would deadlock it: refuse.
fn refuse_inside_runtime() -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() || HERE_ACTIVE.get() {
        return Err(Error::internal(
            "a blocking sluicegate call was made from inside an async runtime; use the async API there",
        ));
    }
    Ok(())
}

/// Seconds since the Unix epoch (for `created` fields).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_an_internal_error() {
        let e = super::no_panic(|| -> crate::Result<()> { panic!("boom {}", 42) }).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Internal);
        assert!(
            e.message.contains("boom 42") && e.message.contains("report"),
            "{}",
            e.message
        );
        assert_eq!(super::no_panic(|| Ok(7)).unwrap(), 7);
    }
}
