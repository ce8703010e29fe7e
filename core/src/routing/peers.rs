//! What the other processes sharing a state store know about each deployment: an open breaker,
//! calls in flight, latency. Routing adds it to this process's own view, so that least-busy and
//! least-latency balance a whole fleet rather than each process on its own.
//!
//! Each process publishes its own figures a few times a second, under its own field of one
//! hash per deployment (so a crashed process is simply ignored once its figures go stale), and
//! reads everyone else's inside the policy check's single round trip.

use super::health::Health;
use crate::policy::redis_state::RedisState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often a process publishes its figures when they change.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// How often it publishes unchanged figures, so that readers know it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// Figures older than this are ignored (the process is gone or cut off).
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// One deployment as the other processes see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerLoad {
    /// Seconds until a breaker another process opened lets a probe through.
    pub open_for: Option<f64>,
    /// Calls in flight in the other processes.
    pub in_flight: u64,
    /// Sum and count of the other processes' latency EWMAs (ms), for a mean with ours.
    pub latency_sum_ms: f64,
    pub latency_count: u64,
}

/// Per deployment name; empty when nothing is shared (memory state, or the store is down).
pub type PeerView = HashMap<String, PeerLoad>;

/// This process's calls in flight plus everyone else's.
pub fn in_flight(name: &str, health: Option<&Arc<Health>>, peers: &PeerView) -> u64 {
    health.map(|h| h.in_flight()).unwrap_or(0) + peers.get(name).map(|p| p.in_flight).unwrap_or(0)
}

/// The mean of this process's latency EWMA and the other processes' ones, in ms.
pub fn latency_ms(name: &str, health: Option<&Arc<Health>>, peers: &PeerView) -> Option<f64> {
    let own = health.and_then(|h| h.ewma_ms());
    let (sum, count) = peers
        .get(name)
        .map(|p| (p.latency_sum_ms, p.latency_count))
        .unwrap_or((0.0, 0));
    let (sum, count) = match own {
        Some(ms) => (sum + ms, count + 1),
        None => (sum, count),
    };
    (count > 0).then(|| sum / count as f64)
}

/// Publishes one gateway's figures while the gateway lives. Started on the first call in each
/// process (a forked child has no copy of its parent's background task).
#[derive(Default)]
pub struct Publisher {
    started_in: AtomicU32,
}

impl Publisher {
    /// Starts publishing in this process unless it already does.
    /// It stops by itself once the gateway (which owns every `Health`) is dropped.
    pub fn ensure_running(&self, store: &Arc<RedisState>, health: &HashMap<String, Arc<Health>>) {
        let pid = std::process::id();
        // Every call passes here: a read, and a write only the first time in a process.
        if self.started_in.load(Ordering::Acquire) == pid || self.started_in.swap(pid, Ordering::AcqRel) == pid {
            return;
        }
        let store = store.clone();
        let health: Vec<(String, Weak<Health>)> = health
            .iter()
            .map(|(name, h)| (name.clone(), Arc::downgrade(h)))
            .collect();
        crate::runtime::runtime().spawn(async move {
            let mut last: Vec<(String, u64, Option<f64>)> = Vec::new();
            let mut last_sent = Instant::now() - HEARTBEAT;
            loop {
                tokio::time::sleep(PUBLISH_EVERY).await;
                let now: Vec<(String, u64, Option<f64>)> = health
                    .iter()
                    .filter_map(|(name, h)| h.upgrade().map(|h| (name.clone(), h.in_flight(), h.ewma_ms())))
                    .collect();
                if now.is_empty() {
                    return;
                }
                if now == last && last_sent.elapsed() < HEARTBEAT {
                    continue;
                }
                store.publish_load(&now).await;
                last = now;
                last_sent = Instant::now();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_figures_and_the_peers_add_up() {
        let mut peers = PeerView::new();
        peers.insert(
            "d".into(),
            PeerLoad {
                open_for: None,
                in_flight: 7,
                latency_sum_ms: 30.0,
                latency_count: 2,
            },
        );
        assert_eq!(in_flight("d", None, &peers), 7);
        assert_eq!(in_flight("other", None, &peers), 0);
        assert_eq!(latency_ms("d", None, &peers), Some(15.0));
        assert_eq!(latency_ms("other", None, &peers), None);
    }
}
