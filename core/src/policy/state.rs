//! Where policy counters live: rate-limit cells and budget spend, behind one trait whose
//! check-and-reserve is atomic over every counter a call touches (all or nothing), so that a
//! shared backend (Redis) can replace the in-memory one without changing policy code.

use crate::routing::peers::PeerView;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A per-minute rate (GCRA): `limit` units a minute.
    Rate,
    /// A spend limit in USD for the window named in the key.
    Budget,
}

/// One counter a call takes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub key: String,
    pub kind: Kind,
    pub limit: f64,
    pub amount: f64,
    /// Unique per reservation (a shared store tracks each one, with an expiry).
    pub id: String,
    /// Whether the call may go on under local limits when a shared store is unreachable.
    pub fail_open: bool,
    /// Seconds a budget reservation must outlive (the route's total timeout, when longer than
    /// the store's default expiry).
    pub hold: f64,
}

/// Why a reservation was refused: which one, and when it could succeed (rates only).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub index: usize,
    pub retry_after: Option<f64>,
    /// Budgets: what is spent and reserved already.
    pub used: f64,
}

/// The store could not be reached (or did not answer in time).
#[derive(Debug, Clone, PartialEq)]
pub struct Unreachable(pub String);

/// Every reservation taken, with what other processes report about the watched deployments
/// (nothing for a backend that is not shared); or which one was refused; or no store.
pub type Reserved<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Result<PeerView, Refusal>, Unreachable>> + Send + 'a>>;

pub trait StateBackend: Send + Sync {
    /// Takes every reservation, or none of them; reads the peers' view of `watch` (deployment
    /// names) in the same operation.
    fn reserve<'a>(&'a self, items: &'a [Reservation], watch: &'a [String], now: f64) -> Reserved<'a>;
    /// Replaces each reservation by what the call really used (0 gives it back: the call
    /// failed or was cancelled).
    fn settle(&self, items: &[(Reservation, f64)], now: f64);
    /// Spent plus reserved, for a budget key (reports and tests).
    fn used(&self, key: &str) -> f64;
    /// Keeps a live call's reservations from expiring until the guard is dropped (stores whose
    /// reservations expire).
    fn hold(&self, _items: &[Reservation]) -> Option<crate::runtime::AbortOnDrop<()>> {
        None
    }
}

#[derive(Default)]
struct Cell {
    /// Rates: theoretical arrival time (seconds). Budgets: spent USD.
    value: f64,
    /// Budgets: reserved USD.
    reserved: f64,
    /// Budgets: when the cell's window is over (never for `total`).
    expires: Option<f64>,
}

impl Cell {
    /// Whether the cell says nothing any more: a rate whose arrival time has passed (an empty
    /// cell reads the same), a budget whose window is over and holds no reservation.
    fn spent(&self, kind: Kind, now: f64) -> bool {
        match kind {
            Kind::Rate => self.value <= now,
            Kind::Budget => self.reserved <= 0.0 && self.expires.is_some_and(|e| e <= now),
        }
    }
}

/// The default backend: one process's memory, one lock for every check-and-reserve. Cells
/// that say nothing any more are swept, so that memory does not grow with every key, user and
/// window ever seen.
#[derive(Default)]
pub struct MemoryState {
    cells: Mutex<HashMap<String, (Kind, Cell)>>,
    /// The cell count after the last sweep: the next sweep runs when it has doubled.
    swept_at: std::sync::atomic::AtomicUsize,
}

/// How long a budget counter is kept: past the end of its window (`…:2026-11` or `…:2026-11-28`).
pub fn window_expiry(key: &str) -> u64 {
    match key.rsplit(':').next().map(str::len) {
        Some(7) => 40 * 86400,
        Some(10) => 2 * 86400,
        _ => 0,
    }
}

const MINUTE: f64 = 60.0;

fn rate_cost(item: &Reservation, units: f64) -> f64 {
    units * MINUTE / item.limit.max(1e-9)
}

impl StateBackend for MemoryState {
    fn reserve<'a>(&'a self, items: &'a [Reservation], _watch: &'a [String], now: f64) -> Reserved<'a> {
        let result = self.reserve_now(items, now).map(|()| PeerView::new());
        Box::pin(async move { Ok(result) })
    }

    fn settle(&self, items: &[(Reservation, f64)], now: f64) {
        for (item, actual) in items {
            self.settle_now(item, *actual, now);
        }
    }

    fn used(&self, key: &str) -> f64 {
        self.cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|(_, c)| c.value + c.reserved)
            .unwrap_or(0.0)
    }
}

impl MemoryState {
    pub fn reserve_now(&self, items: &[Reservation], now: f64) -> Result<(), Refusal> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep(&mut cells, now);
        for (index, item) in items.iter().enumerate() {
            let cell = cells.get(&item.key).map(|(_, c)| c);
            match item.kind {
                Kind::Rate => {
                    let tat = cell.map(|c| c.value).unwrap_or(now).max(now);
                    let next = tat + rate_cost(item, item.amount);
                    if next - now > MINUTE + 1e-9 {
                        return Err(Refusal {
                            index,
                            retry_after: Some(next - now - MINUTE),
                            used: 0.0,
                        });
                    }
                }
                Kind::Budget => {
                    let used = cell.map(|c| c.value + c.reserved).unwrap_or(0.0);
                    if used + item.amount > item.limit + 1e-12 || (item.amount == 0.0 && used >= item.limit) {
                        return Err(Refusal {
                            index,
                            retry_after: None,
                            used,
                        });
                    }
                }
            }
        }
        for item in items {
            let cell = Self::cell(&mut cells, item, now);
            match item.kind {
                Kind::Rate => cell.value = cell.value.max(now) + rate_cost(item, item.amount),
                Kind::Budget => cell.reserved += item.amount,
            }
        }
        Ok(())
    }

    fn cell<'a>(cells: &'a mut HashMap<String, (Kind, Cell)>, item: &Reservation, now: f64) -> &'a mut Cell {
        let (_, cell) = cells.entry(item.key.clone()).or_insert_with(|| {
            let expiry = window_expiry(&item.key);
            let expires = (expiry > 0).then_some(now + expiry as f64);
            (
                item.kind,
                Cell {
                    expires,
                    ..Cell::default()
                },
            )
        });
        cell
    }

    /// Drops the cells that say nothing any more, once the map has doubled since the last sweep.
    fn sweep(&self, cells: &mut HashMap<String, (Kind, Cell)>, now: f64) {
        use std::sync::atomic::Ordering::Relaxed;
        if cells.len() < 64 || cells.len() < 2 * self.swept_at.load(Relaxed) {
            return;
        }
        cells.retain(|_, (kind, cell)| !cell.spent(*kind, now));
        self.swept_at.store(cells.len(), Relaxed);
    }

    /// How many counters are held (tests).
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn settle_now(&self, item: &Reservation, actual: f64, now: f64) {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        let cell = Self::cell(&mut cells, item, now);
        match item.kind {
            Kind::Rate => cell.value = (cell.value + rate_cost(item, actual - item.amount)).max(now.min(cell.value)),
            Kind::Budget => {
                cell.reserved = (cell.reserved - item.amount).max(0.0);
                cell.value += actual;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_reserve_settle_release() {
        let s = MemoryState::default();
        let r = |amount| Reservation {
            key: "b".into(),
            kind: Kind::Budget,
            limit: 1.0,
            amount,
            id: String::new(),
            fail_open: false,
            hold: 0.0,
        };
        s.reserve_now(&[r(0.6)], 0.0).unwrap();
        assert!(s.reserve_now(&[r(0.6)], 0.0).is_err(), "0.6 + 0.6 would overspend");
        s.settle_now(&r(0.6), 0.2, 0.0);
        s.reserve_now(&[r(0.6)], 0.0).unwrap();
        s.settle_now(&r(0.6), 0.0, 0.0);
        assert!((s.used("b") - 0.2).abs() < 1e-12);
    }

    #[test]
    fn cells_that_say_nothing_are_swept() {
        let s = MemoryState::default();
        let rate = |key: String| Reservation {
            key,
            kind: Kind::Rate,
            limit: 60.0,
            amount: 1.0,
            id: String::new(),
            fail_open: false,
            hold: 0.0,
        };
        for i in 0..1000 {
            s.reserve_now(&[rate(format!("rl:0:rpm:user-{i}"))], 0.0).unwrap();
        }
        assert!(s.len() <= 1000);
        // Two seconds later every one-request-a-second cell is back to empty.
        for i in 0..200 {
            s.reserve_now(&[rate(format!("rl:0:rpm:other-{i}"))], 2.0).unwrap();
        }
        assert!(s.len() < 1000, "{} cells kept", s.len());
    }

    #[test]
    fn all_or_nothing() {
        let s = MemoryState::default();
        let rate = Reservation {
            key: "r".into(),
            kind: Kind::Rate,
            limit: 1.0,
            amount: 1.0,
            id: String::new(),
            fail_open: false,
            hold: 0.0,
        };
        let budget = Reservation {
            key: "b".into(),
            kind: Kind::Budget,
            limit: 0.5,
            amount: 1.0,
            id: String::new(),
            fail_open: false,
            hold: 0.0,
        };
        assert!(s.reserve_now(&[rate.clone(), budget], 0.0).is_err());
        s.reserve_now(&[rate.clone()], 0.0)
            .expect("the rate was not taken by the refused call");
        let refused = s.reserve_now(&[rate], 0.0).unwrap_err();
        assert!(refused.retry_after.unwrap() > 59.0);
    }
}
