//! What the gateway knows about each deployment's health and load: a circuit breaker, a
//! peak-EWMA latency, calls in flight, and capacity (`rpm`/`tpm`, plus a provider's
//! `retry-after`), so that routing skips a deployment before it fails or answers 429.

use crate::config::{BreakerConfig, DeploymentConfig};
use crate::error::{Error, ErrorKind};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How quickly old latency samples fade (peak-EWMA time constant).
const EWMA_TAU: Duration = Duration::from_secs(10);
/// Outcomes kept for the breaker's failure ratio.
const RATIO_WINDOW: usize = 100;
/// How long to stay away after a 429 that gave no `retry-after`.
const DEFAULT_429_PAUSE: Duration = Duration::from_secs(1);

/// A generic cell rate algorithm limiter: exact, O(1), no background refill.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    per_unit: Duration,
    window: Duration,
    tat: Option<Instant>,
}

impl Gcra {
    fn per_minute(limit: u64) -> Gcra {
        let window = Duration::from_secs(60);
        Gcra {
            per_unit: window / limit.max(1) as u32,
            window,
            tat: None,
        }
    }

    fn cost(&self, units: u64) -> Duration {
        self.per_unit.saturating_mul(units.min(u64::from(u32::MAX)) as u32)
    }

    /// When `units` could be admitted (now, or a wait).
    fn wait_for(&self, units: u64, now: Instant) -> Duration {
        let tat = self.tat.unwrap_or(now).max(now);
        let next = tat + self.cost(units);
        (next.saturating_duration_since(now)).saturating_sub(self.window)
    }

    fn take(&mut self, units: u64, now: Instant) {
        let tat = self.tat.unwrap_or(now).max(now);
        self.tat = Some(tat + self.cost(units));
    }

    /// Gives back (or charges) the difference once the real size of a call is known.
    fn adjust(&mut self, delta: i64, now: Instant) {
        let tat = self.tat.unwrap_or(now);
        self.tat = Some(if delta >= 0 {
            tat + self.cost(delta as u64)
        } else {
            tat.checked_sub(self.cost(delta.unsigned_abs())).unwrap_or(now).max(now)
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { remaining: Duration },
    HalfOpen,
}

impl BreakerState {
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct State {
    consecutive_failures: u32,
    outcomes: VecDeque<bool>,
    opened_at: Option<Instant>,
    cooldown: Duration,
    probing: bool,
    ewma_ms: Option<f64>,
    ewma_at: Instant,
    paused_until: Option<Instant>,
    rpm: Option<Gcra>,
    tpm: Option<Gcra>,
}

/// One deployment's live state, shared by every route that uses it.
#[derive(Debug)]
pub struct Health {
    state: Mutex<State>,
    in_flight: AtomicU64,
}

/// Why a deployment cannot take a call right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Unavailable {
    BreakerOpen(Duration),
    Saturated(Duration),
}

impl Health {
    pub fn new(deployment: &DeploymentConfig) -> Arc<Health> {
        Arc::new(Health {
            state: Mutex::new(State {
                consecutive_failures: 0,
                outcomes: VecDeque::new(),
                opened_at: None,
                cooldown: Duration::ZERO,
                probing: false,
                ewma_ms: None,
                ewma_at: Instant::now(),
                paused_until: None,
                rpm: deployment.rpm.map(Gcra::per_minute),
                tpm: deployment.tpm.map(Gcra::per_minute),
            }),
            in_flight: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn ewma_ms(&self) -> Option<f64> {
        self.lock().ewma_ms
    }

    pub fn breaker(&self, now: Instant) -> BreakerState {
        let s = self.lock();
        match s.opened_at {
            None => BreakerState::Closed,
            Some(at) if now < at + s.cooldown => BreakerState::Open {
                remaining: at + s.cooldown - now,
            },
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a call of `tokens` estimated tokens could go now, without taking anything.
    pub fn check(&self, tokens: u64, now: Instant) -> Result<(), Unavailable> {
        let s = self.lock();
        check_locked(&s, tokens, now)
    }

    /// Takes capacity (and the half-open probe slot) for one call, or says why not.
    pub fn admit(self: &Arc<Health>, tokens: u64, now: Instant) -> Result<Admission, Unavailable> {
        let mut s = self.lock();
        check_locked(&s, tokens, now)?;
        let probe = s.opened_at.is_some();
        if probe {
            s.probing = true;
        }
        if let Some(g) = s.rpm.as_mut() {
            g.take(1, now);
        }
        if let Some(g) = s.tpm.as_mut() {
            g.take(tokens, now);
        }
        drop(s);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Admission {
            health: self.clone(),
            tokens,
            probe,
            done: false,
        })
    }
}

fn check_locked(s: &State, tokens: u64, now: Instant) -> Result<(), Unavailable> {
    if let Some(at) = s.opened_at {
        if now < at + s.cooldown {
            return Err(Unavailable::BreakerOpen(at + s.cooldown - now));
        }
        if s.probing {
            return Err(Unavailable::BreakerOpen(Duration::ZERO));
        }
    }
    if let Some(until) = s.paused_until.filter(|u| *u > now) {
        return Err(Unavailable::Saturated(until - now));
    }
    let rpm_wait = s.rpm.map(|g| g.wait_for(1, now)).unwrap_or_default();
    let tpm_wait = s.tpm.map(|g| g.wait_for(tokens, now)).unwrap_or_default();
    let wait = rpm_wait.max(tpm_wait);
    if !wait.is_zero() {
        return Err(Unavailable::Saturated(wait));
    }
    Ok(())
}

/// Whether a failure says something about the deployment's health (not the request's).
fn counts_against_health(error: &Error) -> bool {
    matches!(
        error.kind,
        ErrorKind::ProviderError | ErrorKind::Timeout | ErrorKind::Connection | ErrorKind::StreamInterrupted
    )
}

/// One admitted call; it must end with [`Admission::succeeded`] or [`Admission::failed`]
/// (dropping it unfinished, as a cancellation does, only frees the in-flight slot).
#[derive(Debug)]
pub struct Admission {
    health: Arc<Health>,
    tokens: u64,
    probe: bool,
    done: bool,
}

impl Admission {
    pub fn succeeded(mut self, latency: Duration, actual_tokens: Option<u64>) {
        self.done = true;
        let now = Instant::now();
        let mut s = self.health.lock();
        s.consecutive_failures = 0;
        push_outcome(&mut s, true);
        s.opened_at = None;
        s.probing = false;
        update_ewma(&mut s, latency, now);
        if let (Some(actual), Some(g)) = (actual_tokens, s.tpm.as_mut()) {
            g.adjust(actual as i64 - self.tokens as i64, now);
        }
    }

    /// Notes a failure; returns the cooldown when this failure opened the breaker.
    pub fn failed(mut self, error: &Error, latency: Duration, breaker: &BreakerConfig) -> Option<Duration> {
        self.done = true;
        let now = Instant::now();
        let mut s = self.health.lock();
        if self.probe {
            s.probing = false;
        }
        if error.kind == ErrorKind::RateLimited {
            let pause = error
                .retry_after
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .unwrap_or(DEFAULT_429_PAUSE);
            s.paused_until = now.checked_add(pause).or(Some(now + DEFAULT_429_PAUSE));
            return None;
        }
        if !counts_against_health(error) {
            return None;
        }
        update_ewma(&mut s, latency, now);
        s.consecutive_failures += 1;
        push_outcome(&mut s, false);
        if !breaker.enabled {
            return None;
        }
        let failures = s.outcomes.iter().filter(|ok| !**ok).count();
        let ratio_trips = breaker.failure_ratio.is_some_and(|r| {
            s.outcomes.len() >= breaker.min_requests as usize && failures as f64 / s.outcomes.len() as f64 >= r
        });
        if self.probe || s.consecutive_failures >= breaker.failures || ratio_trips {
            s.opened_at = Some(now);
            s.cooldown = breaker.cooldown;
            return Some(breaker.cooldown);
        }
        None
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.health.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.done && self.probe {
            self.health.lock().probing = false;
        }
    }
}

fn push_outcome(s: &mut State, ok: bool) {
    if s.outcomes.len() >= RATIO_WINDOW {
        s.outcomes.pop_front();
    }
    s.outcomes.push_back(ok);
}

/// Peak-EWMA: a slower sample takes over at once, faster ones pull it down gradually.
fn update_ewma(s: &mut State, latency: Duration, now: Instant) {
    let sample = latency.as_secs_f64() * 1000.0;
    s.ewma_ms = Some(match s.ewma_ms {
        None => sample,
        Some(old) if sample > old => sample,
        Some(old) => {
            let dt = now.saturating_duration_since(s.ewma_at).as_secs_f64();
            let w = (-dt / EWMA_TAU.as_secs_f64()).exp();
            old * w + sample * (1.0 - w)
        }
    });
    s.ewma_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(rpm: Option<u64>) -> DeploymentConfig {
        DeploymentConfig {
            name: "d".into(),
            provider: "p".into(),
            model: "m".into(),
            region: None,
            rpm,
            tpm: None,
            weight: 1,
            max_input_tokens: None,
            callable: false,
            max_tokens_default: None,
        }
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_and_probes_after_cooldown() {
        let h = Health::new(&deployment(None));
        let cfg = BreakerConfig {
            failures: 2,
            cooldown: Duration::from_millis(30),
            ..BreakerConfig::default()
        };
        let err = Error::new(ErrorKind::ProviderError, "boom");
        for _ in 0..2 {
            h.admit(1, Instant::now())
                .unwrap()
                .failed(&err, Duration::from_millis(1), &cfg);
        }
        assert!(matches!(h.breaker(Instant::now()), BreakerState::Open { .. }));
        assert!(h.admit(1, Instant::now()).is_err());
        std::thread::sleep(Duration::from_millis(40));
        let probe = h.admit(1, Instant::now()).unwrap();
        assert!(h.admit(1, Instant::now()).is_err(), "only one probe at a time");
        probe.succeeded(Duration::from_millis(1), None);
        assert_eq!(h.breaker(Instant::now()), BreakerState::Closed);
    }

    #[test]
    fn rpm_capacity_is_exact() {
        let h = Health::new(&deployment(Some(3)));
        let now = Instant::now();
        for _ in 0..3 {
            h.admit(1, now).unwrap().succeeded(Duration::ZERO, None);
        }
        assert!(matches!(h.admit(1, now), Err(Unavailable::Saturated(_))));
        assert!(h.admit(1, now + Duration::from_secs(21)).is_ok());
    }

    #[test]
    fn rate_limit_pauses_the_deployment() {
        let h = Health::new(&deployment(None));
        let err = Error::new(ErrorKind::RateLimited, "slow down").with_retry_after(Some(5.0));
        h.admit(1, Instant::now())
            .unwrap()
            .failed(&err, Duration::ZERO, &BreakerConfig::default());
        assert!(matches!(h.check(1, Instant::now()), Err(Unavailable::Saturated(_))));
        assert_eq!(h.breaker(Instant::now()), BreakerState::Closed);
    }
}
