//! Usage policies: who is calling (virtual keys), how much they may use (rate limits and
//! budgets, reserved before the call and settled after it), what data may pass (guardrails)
//! and be recorded (the audit trail). Residency rules filter routing (see `routing`).

pub mod audit;
mod audit_file;
pub mod audit_record;
pub mod audit_verify;
pub mod clock;
pub mod guard;
pub mod guard_stream;
pub mod pii;
pub mod redis_read;
pub mod redis_state;
pub mod state;

use crate::config::{
    BudgetConfig, Config, KeyConfig, OnExceed, OnUnpriced, Policies, Scope, Selector, StateBackendConfig, Window,
};
use crate::error::{Error, ErrorKind, Result};
use crate::pricing::{Price, PriceBook};
use crate::routing::peers::PeerView;
use crate::usage::Usage;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use state::{Kind, Reservation, StateBackend};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Who a call is for: the virtual key (by name) and the tags policies see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Principal {
    pub key: Option<String>,
    pub tags: BTreeMap<String, String>,
}

pub struct Policy {
    keys: HashMap<String, KeyConfig>,
    /// Route names (a key's empty route list means these, not deployments).
    routes: std::collections::HashSet<String>,
    deployments: std::collections::HashSet<String>,
    policies: Policies,
    pub guards: guard::Guards,
    state: Arc<dyn StateBackend>,
    /// Where counters go while a shared store is unreachable (policies that fail open).
    local: Arc<state::MemoryState>,
    shared: bool,
    /// The Redis store, when state is shared (the response cache can use it too).
    pub redis: Option<Arc<redis_state::RedisState>>,
    fail_open: bool,
    /// Per budget: what to do with deployments that have no price.
    unpriced: Vec<Unpriced>,
    /// Spend counted locally while the shared store was unreachable (`fail_open`), added to the
    /// store once it answers again.
    owed: Arc<std::sync::Mutex<Vec<(Reservation, f64)>>>,
}

/// How long dropping a gateway waits for settlements still on their way to a shared store.
pub const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Drop for Policy {
    /// Spend must not be lost when a process ends: wait for the settlements in flight (never
    /// inside an async runtime, where blocking could stall the very tasks being waited for).
    fn drop(&mut self) {
        if let Some(store) = &self.redis
            && tokio::runtime::Handle::try_current().is_err()
            && !store.flush(FLUSH_LIMIT)
        {
            crate::log::warn("some settlements had not reached the shared store when the gateway closed");
        }
    }
}

/// The local counters a call uses while the shared store is unreachable; what it spends is
/// also kept, to be added to the shared store when it returns.
struct Outage {
    local: Arc<state::MemoryState>,
    owed: Arc<std::sync::Mutex<Vec<(Reservation, f64)>>>,
}

impl StateBackend for Outage {
    fn reserve<'a>(&'a self, items: &'a [Reservation], watch: &'a [String], now: f64) -> state::Reserved<'a> {
        self.local.reserve(items, watch, now)
    }

    fn settle(&self, items: &[(Reservation, f64)], now: f64) {
        self.local.settle(items, now);
        let spent = items
            .iter()
            .filter(|(r, actual)| r.kind == Kind::Budget && *actual > 0.0)
            .map(|(r, actual)| {
                // Nothing was reserved on the shared store: only the spend is added there.
                (
                    Reservation {
                        amount: 0.0,
                        id: reservation_id(),
                        ..r.clone()
                    },
                    *actual,
                )
            });
        self.owed.lock().unwrap_or_else(|e| e.into_inner()).extend(spent);
    }

    fn used(&self, key: &str) -> f64 {
        self.local.used(key)
    }
}

/// A budget's `on_unpriced`, with the price it estimates at resolved.
#[derive(Debug, Clone, Copy)]
enum Unpriced {
    Block,
    Allow,
    Estimate(Price),
}

/// What a call may cost at most, and its estimated tokens, for reservations.
pub struct Estimate {
    pub tokens: u64,
    /// Over the deployments that have a price.
    pub worst_cost_usd: Option<f64>,
    /// Deployments the call may use that have no price: (deployment, model).
    pub unpriced: Vec<(String, String)>,
    /// The worst-case usage on those deployments, for budgets that price it as another model.
    pub unpriced_usage: Usage,
    /// How long the call may run (the route's total timeout), so reservations outlive it.
    pub hold_secs: f64,
}

/// The outcome of a refused reservation.
pub enum Refused {
    Error(Error),
    /// A budget is used up and says to serve the call from this route instead.
    Fallback(String),
}

fn reservation_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn matches(selector: &Selector, tags: &BTreeMap<String, String>) -> bool {
    selector.when_tags.iter().all(|(k, v)| tags.get(k) == Some(v))
}

/// The counter a call belongs to under a scope, or `None` when the scope does not apply.
pub fn scope_value(selector: &Selector, principal: &Principal, route: &str) -> Option<String> {
    if !matches(selector, &principal.tags) {
        return None;
    }
    match &selector.scope {
        Scope::Global => Some("*".into()),
        // Calls without a key share one counter: leaving the key out must not escape the limit.
        Scope::Key => Some(principal.key.clone().unwrap_or_else(|| "(no key)".to_owned())),
        Scope::Route => Some(route.to_owned()),
        Scope::Tag(t) => principal.tags.get(t).cloned(),
    }
}

/// The id of the budget window `now` falls in (`2026-12-05`, `2026-12` or `total`).
pub fn window_key(budget: &BudgetConfig, now: f64) -> String {
    match budget.window {
        Window::Day => clock::window_id(now, false),
        Window::Month => clock::window_id(now, true),
        Window::Total => "total".into(),
    }
}

impl Policy {
    pub fn new(config: &Config, prices: &PriceBook) -> Result<Policy> {
        let mut unpriced = Vec::new();
        for (i, budget) in config.policies.budgets.iter().enumerate() {
            unpriced.push(match &budget.on_unpriced {
                OnUnpriced::Block => Unpriced::Block,
                OnUnpriced::Allow => Unpriced::Allow,
                OnUnpriced::EstimateWith(model) => match prices.get(model) {
                    Some(price) => Unpriced::Estimate(*price),
                    None => {
                        let problem = format!(
                            "policies.budgets[{i}].on_unpriced.estimate_with: `{model}` has no price either; name a model from the catalog or from pricing.models"
                        );
                        let mut e = Error::new(ErrorKind::InvalidConfig, format!("invalid config: {problem}"));
                        e.problems = vec![problem];
                        return Err(e);
                    }
                },
            });
        }
        let local = Arc::new(state::MemoryState::default());
        let mut redis = None;
        let (state, shared): (Arc<dyn StateBackend>, bool) = match &config.state.backend {
            StateBackendConfig::Memory => (local.clone(), false),
            StateBackendConfig::Redis { url, prefix, timeout } => {
                let store = redis_state::RedisState::new(url, prefix, *timeout).map_err(|why| {
                    let mut e = Error::new(ErrorKind::InvalidConfig, format!("invalid config: state.url: {why}"));
                    e.problems = vec![format!("state.url: {why}")];
                    e
                })?;
                let store = Arc::new(store);
                redis = Some(store.clone());
                (Arc::new(redis_state::Shared(store)), true)
            }
        };
        Ok(Policy {
            keys: config.keys.values().map(|k| (k.sha256.clone(), k.clone())).collect(),
            routes: config.routes.keys().cloned().collect(),
            deployments: config.deployments.keys().cloned().collect(),
            policies: config.policies.clone(),
            guards: guard::Guards::new(&config.policies.guardrails),
            state,
            local,
            shared,
            redis,
            fail_open: config.state.fail_open,
            unpriced,
            owed: Arc::default(),
        })
    }

    pub fn residency(&self) -> &[crate::config::ResidencyConfig] {
        &self.policies.residency
    }

    /// Resolves the caller. A virtual key's tags are trusted over the call's own; a pinned tag
    /// the caller sets to another value is refused rather than silently replaced, so a spoofing
    /// attempt is seen. `require_key` and `require_tags` are checked here, before anything else.
    pub fn authenticate(
        &self,
        secret: Option<&str>,
        model: &str,
        call_tags: &BTreeMap<String, String>,
    ) -> Result<Principal> {
        let principal = match secret {
            None if self.policies.require_key => {
                return Err(Error::new(
                    ErrorKind::Authentication,
                    "this gateway requires a virtual key (`policies.require_key`); pass your key as the call's `key` option",
                )
                .with_retryable(false));
            }
            None => Principal {
                key: None,
                tags: call_tags.clone(),
            },
            Some(secret) => self.authenticate_key(secret, model, call_tags)?,
        };
        if let Some(missing) = self
            .policies
            .require_tags
            .iter()
            .find(|t| principal.tags.get(*t).is_none_or(|v| v.is_empty()))
        {
            return Err(Error::invalid_request(format!(
                "the call has no `{missing}` tag, which `policies.require_tags` requires; pass it in the call's `tags` (or set it on the virtual key)"
            ))
            .with_retryable(false));
        }
        Ok(principal)
    }

    fn authenticate_key(&self, secret: &str, model: &str, call_tags: &BTreeMap<String, String>) -> Result<Principal> {
        let Some(key) = self.keys.get(&sha256_hex(secret)) else {
            return Err(Error::new(
                ErrorKind::Authentication,
                "the virtual key is not known to this gateway; check the key, or add its SHA-256 under `keys`",
            )
            .with_retryable(false));
        };
        if let Some(expires) = key.expires.as_deref().and_then(clock::parse_date)
            && clock::now_secs() >= expires as f64
        {
            return Err(Error::new(
                ErrorKind::Authentication,
                format!(
                    "virtual key `{}` expired on {}; issue a new key",
                    key.name,
                    key.expires.as_deref().unwrap_or("")
                ),
            )
            .with_retryable(false));
        }
        if !self.key_may_call(key, model) {
            let allowed = if key.routes.is_empty() {
                "every route, but no deployment by name".to_owned()
            } else {
                key.routes.join(", ")
            };
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "virtual key `{}` may not use `{model}` (allowed: {allowed}); ask for access or use an allowed route",
                    key.name,
                ),
            )
            .with_retryable(false));
        }
        for pinned in &key.pin_tags {
            if let (Some(asked), Some(own)) = (call_tags.get(pinned), key.tags.get(pinned))
                && asked != own
            {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "virtual key `{}` pins the tag `{pinned}`; the call may not set it to another value (leave it out, or use a key issued for that value)",
                        key.name
                    ),
                )
                .with_retryable(false));
            }
        }
        let mut tags = call_tags.clone();
        tags.extend(key.tags.clone());
        Ok(Principal {
            key: Some(key.name.clone()),
            tags,
        })
    }

    /// A key's route list: empty (or `all`) means every route, never a deployment by its own
    /// name; a deployment must be listed by name (and be `callable`).
    fn key_may_call(&self, key: &KeyConfig, model: &str) -> bool {
        if key.routes.iter().any(|r| r == model) {
            return true;
        }
        let every_route = key.routes.is_empty() || key.routes.iter().any(|r| r == "all");
        // A name that is neither route nor deployment goes on, to be `not_found` with a hint.
        (every_route && self.routes.contains(model))
            || !self.routes.contains(model) && !self.deployments.contains(model)
    }

    /// Reserves every rate limit and budget the call falls under, all or nothing. With a shared
    /// store, the same round trip reads what other processes report about `watch` (the
    /// deployments the call may use): see [`Ticket::take_peers`].
    pub async fn reserve(
        &self,
        principal: &Principal,
        route: &str,
        estimate: &Estimate,
        watch: &[String],
    ) -> std::result::Result<Ticket, Refused> {
        let now = clock::now_secs();
        let mut items: Vec<(Reservation, Measure, String)> = Vec::new();
        let mut reprice: Vec<Option<Price>> = Vec::new();
        for (i, limit) in self.policies.rate_limits.iter().enumerate() {
            let Some(value) = scope_value(&limit.selector, principal, route) else {
                continue;
            };
            let who = format!("{} `{value}`", limit.selector.scope.describe());
            if let Some(rpm) = limit.rpm {
                items.push((
                    Reservation {
                        key: format!("rl:{i}:rpm:{value}"),
                        kind: Kind::Rate,
                        limit: rpm as f64,
                        amount: 1.0,
                        id: reservation_id(),
                        fail_open: limit.fail_open.unwrap_or(self.fail_open),
                        hold: estimate.hold_secs,
                    },
                    Measure::Requests,
                    format!("policies.rate_limits[{i}] ({rpm} requests/min for {who})"),
                ));
            }
            if let Some(tpm) = limit.tpm {
                let amount = estimate.tokens.min(tpm) as f64;
                items.push((
                    Reservation {
                        key: format!("rl:{i}:tpm:{value}"),
                        kind: Kind::Rate,
                        limit: tpm as f64,
                        amount,
                        id: reservation_id(),
                        fail_open: limit.fail_open.unwrap_or(self.fail_open),
                        hold: estimate.hold_secs,
                    },
                    Measure::Tokens,
                    format!("policies.rate_limits[{i}] ({tpm} tokens/min for {who})"),
                ));
            }
        }
        for (i, budget) in self.policies.budgets.iter().enumerate() {
            let Some(value) = scope_value(&budget.selector, principal, route) else {
                continue;
            };
            let window = window_key(budget, now);
            let what = format!(
                "policies.budgets[{i}] (${:.2} per {} for {} `{value}`)",
                budget.usd,
                match budget.window {
                    Window::Day => "day",
                    Window::Month => "month",
                    Window::Total => "all time",
                },
                budget.selector.scope.describe()
            );
            let mut amount = estimate.worst_cost_usd.unwrap_or(0.0);
            if let Some((deployment, model)) = estimate.unpriced.first() {
                match self.unpriced[i] {
                    Unpriced::Block => {
                        return Err(Refused::Error(
                            Error::new(
                                ErrorKind::InvalidConfig,
                                format!(
                                    "deployment `{deployment}` (model `{model}`) has no price, so budget {what} cannot count what it costs; the call was refused. Add `{model}` under pricing.models, or set the budget's on_unpriced to `allow` or `{{estimate_with: MODEL}}`"
                                ),
                            )
                            .with_retryable(false),
                        ));
                    }
                    Unpriced::Allow => {}
                    Unpriced::Estimate(price) => {
                        amount = amount.max(price.breakdown(&estimate.unpriced_usage).total);
                        reprice.resize(items.len(), None);
                        reprice.push(Some(price));
                    }
                }
            }
            items.push((
                Reservation {
                    key: format!("bg:{i}:{value}:{window}"),
                    kind: Kind::Budget,
                    limit: budget.usd,
                    amount,
                    id: reservation_id(),
                    fail_open: budget.fail_open.unwrap_or(self.fail_open),
                    hold: estimate.hold_secs,
                },
                Measure::Usd,
                what,
            ));
        }
        let reservations: Vec<Reservation> = items.iter().map(|(r, _, _)| r.clone()).collect();
        let mut state = self.state.clone();
        let mut degraded = None;
        let outcome = if reservations.is_empty() && (!self.shared || watch.is_empty()) {
            Ok(PeerView::new())
        } else {
            match self.state.reserve(&reservations, watch, now).await {
                Ok(outcome) => {
                    let owed = std::mem::take(&mut *self.owed.lock().unwrap_or_else(|e| e.into_inner()));
                    if !owed.is_empty() {
                        self.state.settle(&owed, now);
                    }
                    outcome
                }
                Err(state::Unreachable(why)) => {
                    if let Some((_, _, what)) = items.iter().find(|(r, _, _)| !r.fail_open) {
                        return Err(Refused::Error(
                            Error::new(ErrorKind::Internal, format!("{why}; {what} fails closed, so the call was refused. Retry when the store is back, or set `on_unavailable: fail_open`"))
                                .with_retryable(true),
                        ));
                    }
                    crate::log::warn(&format!(
                        "{why}; policies fail open: counting under this process's local limits until it is back"
                    ));
                    state = Arc::new(Outage {
                        local: self.local.clone(),
                        owed: self.owed.clone(),
                    });
                    degraded = Some(why);
                    self.local.reserve_now(&reservations, now).map(|()| PeerView::new())
                }
            }
        };
        let peers = match outcome {
            Ok(peers) => peers,
            Err(refusal) => {
                let (item, _, what) = &items[refusal.index];
                return Err(match item.kind {
                    Kind::Rate => Refused::Error(
                        Error::new(
                            ErrorKind::RateLimited,
                            format!(
                                "rate limit {what} is used up; retry in {:.1}s",
                                refusal.retry_after.unwrap_or(0.0)
                            ),
                        )
                        .with_retry_after(refusal.retry_after)
                        .with_retryable(true),
                    ),
                    Kind::Budget => {
                        let index: usize = item.key.split(':').nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
                        match &self.policies.budgets[index].on_exceed {
                        OnExceed::Fallback(r) => Refused::Fallback(r.clone()),
                        OnExceed::Block => Refused::Error(
                            Error::new(
                                ErrorKind::BudgetExceeded,
                                format!("budget {what} cannot cover this call: ${:.6} used, the call may cost up to ${:.6}; raise the budget or wait for the next window", refusal.used, item.amount),
                            )
                            .with_retryable(false),
                        ),
                    }
                    }
                });
            }
        };
        let store = match (&degraded, self.shared) {
            (Some(_), _) => "local (shared store unreachable)",
            (None, true) => "redis",
            (None, false) => "memory",
        };
        reprice.resize(items.len(), None);
        let hold = if degraded.is_none() {
            state.hold(&reservations)
        } else {
            None
        };
        let live = match (&self.redis, &degraded) {
            (Some(store), None) if !items.is_empty() => Some(store.live()),
            _ => None,
        };
        Ok(Ticket {
            _hold: hold,
            _live: live,
            state,
            items,
            reprice,
            done: false,
            store,
            peers,
            billed: Charge::default(),
            in_flight: Charge::default(),
            reached: false,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    Requests,
    Tokens,
    Usd,
}

/// What a call has cost so far: tokens (for TPM) and USD (for budgets); tokens used on
/// deployments without a price are kept apart, for budgets that price them as another model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Charge {
    pub tokens: u64,
    pub usd: f64,
    pub unpriced: Usage,
}

impl Charge {
    /// What `usage` charges when it cost `cost_usd` (`None`: the model has no price).
    pub fn of(usage: Usage, cost_usd: Option<f64>) -> Charge {
        Charge {
            tokens: usage.input_tokens + usage.output_tokens,
            usd: cost_usd.unwrap_or(0.0),
            unpriced: if cost_usd.is_none() { usage } else { Usage::default() },
        }
    }

    fn plus(self, other: Charge) -> Charge {
        Charge {
            tokens: self.tokens + other.tokens,
            usd: self.usd + other.usd,
            unpriced: Usage {
                input_tokens: self.unpriced.input_tokens + other.unpriced.input_tokens,
                output_tokens: self.unpriced.output_tokens + other.unpriced.output_tokens,
                ..Usage::default()
            },
        }
    }
}

/// The reservations one call holds. Settled with what the call used. A call that ends without
/// a settlement (dropped by its caller, cancelled, timed out) is still charged what the
/// providers billed it: the attempts they were working on count their prompt at least, so
/// that cancelling a call never refunds it.
pub struct Ticket {
    state: Arc<dyn StateBackend>,
    items: Vec<(Reservation, Measure, String)>,
    /// Per item: the price a budget counts unpriced tokens at (`on_unpriced: {estimate_with}`).
    reprice: Vec<Option<Price>>,
    done: bool,
    /// Where the counters live for this call: `memory`, `redis`, or the local fallback.
    store: &'static str,
    peers: PeerView,
    /// Failed attempts a provider billed (it was working on them when they were given up).
    billed: Charge,
    /// The attempt on the wire: what it costs at least if it never answers.
    in_flight: Charge,
    /// Whether any attempt reached a provider; a call that never did gives its request back.
    reached: bool,
    /// Keeps the reservations alive on a shared store while the call runs.
    _hold: Option<crate::runtime::AbortOnDrop<()>>,
    /// Counts the call for `flush` until its settlement is on its way (dropped after it).
    _live: Option<redis_state::Pending>,
}

impl Ticket {
    /// What other processes report about the deployments the call may use (read once).
    pub fn take_peers(&mut self) -> PeerView {
        std::mem::take(&mut self.peers)
    }

    /// An attempt is going to a provider; `floor` is what it costs if it is given up (its prompt).
    pub fn sending(&mut self, floor: Charge) {
        self.reached = true;
        self.in_flight = floor;
    }

    /// The attempt in flight failed. One the provider was still working on (a timeout) was
    /// billed; one it refused (an error status) was not.
    pub fn attempt_failed(&mut self, billed: bool) {
        if billed {
            self.billed = self.billed.plus(self.in_flight);
        }
        self.in_flight = Charge::default();
    }

    /// Settles with what the answering attempt used, plus the failed attempts that were billed.
    pub fn settle(mut self, usage: Usage, cost_usd: Option<f64>) {
        let used = Charge::of(usage, cost_usd);
        self.reached = true;
        self.finish(self.billed.plus(used));
    }

    fn finish(&mut self, charge: Charge) {
        self.done = true;
        let now = clock::now_secs();
        let settled: Vec<(Reservation, f64)> = self
            .items
            .iter()
            .zip(&self.reprice)
            .map(|((item, measure, _), reprice)| {
                let actual = match measure {
                    Measure::Requests => f64::from(u8::from(self.reached)),
                    Measure::Tokens => charge.tokens as f64,
                    Measure::Usd => charge.usd + reprice.map(|p| p.breakdown(&charge.unpriced).total).unwrap_or(0.0),
                };
                (item.clone(), actual)
            })
            .collect();
        if !settled.is_empty() {
            self.state.settle(&settled, now);
        }
    }

    /// The policies this call was counted under, for the `gateway.policy` report.
    pub fn to_json(&self) -> Value {
        let describe = |m: Measure| {
            self.items
                .iter()
                .filter(|(_, x, _)| *x == m)
                .map(|(r, _, what)| json!({"policy": what, "reserved": r.amount}))
                .collect::<Vec<_>>()
        };
        let mut limits = describe(Measure::Requests);
        limits.extend(describe(Measure::Tokens));
        json!({"rate_limits": limits, "budgets": describe(Measure::Usd), "state": self.store})
    }
}

impl Drop for Ticket {
    /// An unsettled ticket (the call was dropped, cancelled or failed) is charged what the
    /// providers billed: nothing if none was reached.
    fn drop(&mut self) {
        if !self.done {
            let charge = self.billed.plus(self.in_flight);
            self.finish(charge);
        }
    }
}
