//! Cancellation from outside a call: a [`CancelToken`] in [`CallOptions`](crate::CallOptions)
//! ends the call (or the stream) with a `cancelled` error as soon as anyone cancels the token,
//! from any thread.
//!
//! Cancelling drops the core future or stream, which cancels the upstream request and records
//! and charges the call like any other cancelled one (the reservation is settled, never
//! refunded). Every binding maps its own idiom onto this one token: C's `sg_cancel_token`,
//! JS's `AbortSignal`, an asyncio task's cancellation.

use crate::error::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A cancellation flag shared by the caller and its calls. Cheap to clone (clones share the
/// flag). A token stays cancelled: use a new one per call you may want to cancel.
#[derive(Clone, Default)]
pub struct CancelToken {
    flag: Arc<Flag>,
}

/// Set once, and the waker of each call waiting on it.
#[derive(Default)]
struct Flag {
    cancelled: AtomicBool,
    waiting: Mutex<HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

/// A call's place in [`Flag::waiting`], given up when the call ends.
struct Waiting<'a> {
    flag: &'a Flag,
    id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.flag
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every call using the token, now and later. Thread-safe.
    pub fn cancel(&self) {
        self.flag.cancelled.store(true, Ordering::SeqCst);
        let wakers: Vec<Waker> = self
            .flag
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, w)| w)
            .collect();
        // Woken outside the lock: a waker may run the call's poll right here.
        for waker in wakers {
            waker.wake();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `future` until it completes or the token is cancelled, whichever comes first; in
    /// the second case the future is dropped (cancelling its upstream work) and the result is
    /// a `cancelled` error.
    pub async fn race<T>(&self, future: impl Future<Output = Result<T>>) -> Result<T> {
        let flag = &*self.flag;
        let mut future = pin!(future);
        let me = Waiting {
            flag,
            id: flag.next_id.fetch_add(1, Ordering::Relaxed),
        };
        poll_fn(|cx| {
            if self.is_cancelled() {
                return Poll::Ready(Err(cancelled()));
            }
            flag.waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(me.id, cx.waker().clone());
            // Checked again: a cancel between the first check and the insert woke nobody.
            if self.is_cancelled() {
                return Poll::Ready(Err(cancelled()));
            }
            future.as_mut().poll(cx)
        })
        .await
    }
}

/// Two options are equal when they hold the same token.
impl PartialEq for CancelToken {
    fn eq(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.flag, &other.flag)
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The error of a call ended by its token.
pub(crate) fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the call was cancelled by the caller").with_retryable(false)
}

/// `future`, raced against the token when there is one.
pub(crate) async fn race_opt<T>(token: Option<&CancelToken>, future: impl Future<Output = Result<T>>) -> Result<T> {
    match token {
        Some(token) => token.race(future).await,
        None => future.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_cancel_from_another_thread_ends_a_pending_future() {
        let token = CancelToken::new();
        let other = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.cancel();
        });
        let result: Result<()> = token.race(std::future::pending()).await;
        assert_eq!(result.unwrap_err().kind, ErrorKind::Cancelled);
        assert!(token.flag.waiting.lock().unwrap().is_empty(), "the waker is given up");
    }

    #[tokio::test]
    async fn a_finished_future_wins_over_a_later_cancel() {
        let token = CancelToken::new();
        assert_eq!(token.race(async { Ok(7) }).await.unwrap(), 7);
        token.cancel();
        assert!(token.race(async { Ok(7) }).await.is_err(), "a token stays cancelled");
    }
}
