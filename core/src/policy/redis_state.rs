//! Policy counters shared through Redis (or Valkey), so that limits and budgets hold across
//! every process and machine pointing at the same store.
//!
//! One Lua script checks and reserves every counter a call touches in one round trip, atomically
//! (all or nothing), and in the same trip reads what the other processes report about the
//! deployments the call may use (open breakers, calls in flight, latency; see
//! [`crate::routing::peers`]). Budget reservations are kept one by one with an expiry, so a process that
//! dies mid-call cannot leak budget for longer than [`RESERVATION_TTL`]. A lost connection is
//! re-established in the background; meanwhile calls see [`Unreachable`] and the policy's
//! `on_unavailable` choice applies. Every script reads the store's clock (`TIME`), never the
//! client's; settling retries until the store answers and is flushed when the gateway drops.

use super::state::{Kind, Refusal, Reservation, Reserved, StateBackend, Unreachable};
use crate::routing::peers::{PeerLoad, PeerView, STALE_AFTER};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex as AsyncMutex;

/// How long a reservation may stay unsettled before the store drops it.
pub const RESERVATION_TTL: f64 = 900.0;

/// The store's clock, in seconds: every script reads it, so that hosts whose clocks disagree
/// cannot expire each other's reservations or take a fresh rate-limit burst.
const NOW: &str = "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n";

/// A rate cell lives until its theoretical arrival time has passed (then it equals an empty
/// one), however far ahead TPM debt has pushed it: the same as in memory.
const RATE_TTL: &str = "local function rate_ms(tat) return math.max(1, math.ceil((tat - now) * 1000) + 1000) end\n";

const RESERVE: &str = r#"
local n = tonumber(ARGV[2])
local function item(i)
  local b = 2 + (i - 1) * 5
  return ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), ARGV[b + 4], tonumber(ARGV[b + 5])
end
local function used(key)
  redis.call('ZREMRANGEBYSCORE', key .. ':res', '-inf', now)
  local total = tonumber(redis.call('GET', key) or '0')
  for _, m in ipairs(redis.call('ZRANGE', key .. ':res', 0, -1)) do
    total = total + tonumber(string.match(m, ':([^:]*)$'))
  end
  return total
end
for i = 1, n do
  local kind, limit, amount = item(i)
  if kind == 'r' then
    local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or now), now)
    local after = tat + amount * 60 / limit
    if after - now > 60 + 1e-9 then return {i, tostring(after - now - 60), '0'} end
  else
    local u = used(KEYS[i])
    if u + amount > limit + 1e-12 or (amount == 0 and u >= limit) then return {i, '-1', tostring(u)} end
  end
end
for i = 1, n do
  local kind, limit, amount, member, ttl = item(i)
  if kind == 'r' then
    local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or now), now)
    local after = tat + amount * 60 / limit
    redis.call('SET', KEYS[i], tostring(after), 'PX', rate_ms(after))
  else
    redis.call('ZADD', KEYS[i] .. ':res', now + tonumber(ARGV[3 + n * 5]), member)
    if ttl > 0 then
      redis.call('EXPIRE', KEYS[i], ttl)
      redis.call('EXPIRE', KEYS[i] .. ':res', ttl)
    end
  end
end
-- What the other processes report about the deployments this call may use (same round trip).
local m, me = tonumber(ARGV[4 + n * 5]), ARGV[5 + n * 5]
local fresh, forget = now - tonumber(ARGV[6 + n * 5]), now - 60
local out = {0}
for j = 1, m do
  local stats = KEYS[n + 2 * j]
  local busy, lat, count = 0, 0, 0
  local h = redis.call('HGETALL', stats)
  for k = 1, #h, 2 do
    if h[k] ~= me then
      local f, e, t = string.match(h[k + 1], '^(%S+) (%S+) (%S+)$')
      t = tonumber(t) or 0
      if t >= fresh then
        busy = busy + tonumber(f)
        if tonumber(e) >= 0 then lat, count = lat + tonumber(e), count + 1 end
      elseif t < forget then
        redis.call('HDEL', stats, h[k])
      end
    end
  end
  local till = tonumber(redis.call('GET', KEYS[n + 2 * j - 1]) or '')
  out[#out + 1] = till and tostring(till - now) or ''
  out[#out + 1] = tostring(busy)
  out[#out + 1] = tostring(lat)
  out[#out + 1] = tostring(count)
end
return out
"#;

/// Settles each item once: a retried settlement (its first try may have landed after the
/// client gave up on it) finds the reservation id in the counter's `:done` set and is skipped.
const SETTLE: &str = r#"
local n = tonumber(ARGV[2])
for i = 1, n do
  local b = 2 + (i - 1) * 5
  local kind, limit, amount, member, actual = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), ARGV[b + 4], tonumber(ARGV[b + 5])
  local done = KEYS[i] .. ':done'
  local id = string.match(member, '^([^:]*)')
  redis.call('ZREMRANGEBYSCORE', done, '-inf', now - 3600)
  if redis.call('ZADD', done, 'NX', now, id) == 1 then
    redis.call('EXPIRE', done, 3600)
    if kind == 'r' then
      local tat = tonumber(redis.call('GET', KEYS[i]) or now)
      local after = math.max(tat + (actual - amount) * 60 / limit, math.min(now, tat))
      redis.call('SET', KEYS[i], tostring(after), 'PX', rate_ms(after))
    else
      if redis.call('ZREM', KEYS[i] .. ':res', member) == 1 or actual > 0 then
        redis.call('INCRBYFLOAT', KEYS[i], actual)
      end
    end
  end
end
return 0
"#;

/// Keeps a live call's budget reservations from expiring (a stream may outlast any TTL).
const EXTEND: &str = r#"
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i] .. ':res', 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
end
return 0
"#;

/// Publishes this process's load per deployment, stamped with the store's clock.
const PUBLISH: &str = r#"
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[1], ARGV[i + 1] .. ' ' .. tostring(now))
  redis.call('EXPIRE', KEYS[i], 60)
end
return 0
"#;

/// Marks a breaker open until the store's clock passes `now + cooldown`.
const BREAKER: &str = r#"
local ms = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(now + ms / 1000), 'PX', math.max(1, ms))
return 0
"#;

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{NOW}{RATE_TTL}{body}"))
}

pub struct RedisState {
    client: redis::Client,
    /// The address without credentials, for messages.
    shown: String,
    prefix: String,
    timeout: Duration,
    conn: AsyncMutex<Option<ConnectionManager>>,
    reserve: redis::Script,
    settle: redis::Script,
    extend: redis::Script,
    publish: redis::Script,
    breaker: redis::Script,
    /// Settlements not yet acknowledged by the store (flushed on drop, see [`RedisState::flush`]).
    pending: Arc<std::sync::atomic::AtomicUsize>,
    /// This gateway's field in the shared per-deployment hashes.
    token: String,
}

/// `redis://user:password@host:port/db` → `redis://host:port/db` (never show credentials).
pub fn shown_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &url[..scheme + 3], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl RedisState {
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<RedisState, String> {
        let client = redis::Client::open(url).map_err(|e| format!("`{}` is not a Redis URL: {e}", shown_url(url)))?;
        Ok(RedisState {
            client,
            shown: shown_url(url),
            prefix: prefix.to_owned(),
            timeout,
            conn: AsyncMutex::new(None),
            reserve: script(RESERVE),
            settle: script(SETTLE),
            extend: script(EXTEND),
            publish: script(PUBLISH),
            breaker: script(BREAKER),
            pending: Arc::default(),
            token: format!("{:016x}", rand::random::<u64>()),
        })
    }

    fn unreachable(&self, why: impl std::fmt::Display) -> Unreachable {
        Unreachable(format!(
            "the shared state store at {} is unreachable: {why}",
            self.shown
        ))
    }

    /// The connection, made on first use and re-made after a failure.
    async fn connection(&self) -> Result<ConnectionManager, Unreachable> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let manager = tokio::time::timeout(
            self.timeout * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| self.unreachable("connection timed out"))?
        .map_err(|e| self.unreachable(e))?;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn run_reserve(
        &self,
        items: &[Reservation],
        watch: &[String],
        now: f64,
    ) -> Result<Result<PeerView, Refusal>, Unreachable> {
        let mut conn = self.connection().await?;
        let mut call = self.reserve.prepare_invoke();
        call.arg(now).arg(items.len());
        for item in items {
            call.key(self.key(&item.key));
            let kind = if item.kind == Kind::Rate { "r" } else { "b" };
            call.arg(kind)
                .arg(item.limit)
                .arg(item.amount)
                .arg(member(item))
                .arg(expiry(&item.key));
        }
        let hold = items.iter().map(|i| i.hold).fold(RESERVATION_TTL, f64::max);
        call.arg(hold)
            .arg(watch.len())
            .arg(&self.token)
            .arg(STALE_AFTER.as_secs_f64());
        for name in watch {
            call.key(self.key(&format!("breaker:{name}")))
                .key(self.key(&format!("load:{name}")));
        }
        let answer: redis::Value = tokio::time::timeout(self.timeout, call.invoke_async(&mut conn))
            .await
            .map_err(|_| self.unreachable("no answer in time"))?
            .map_err(|e| self.unreachable(e))?;
        let redis::Value::Array(parts) = answer else {
            return Err(self.unreachable("an answer the gateway cannot read"));
        };
        let text = |v: &redis::Value| redis::from_redis_value::<String>(v).unwrap_or_default();
        let number = |v: &redis::Value| text(v).parse::<f64>().ok();
        let first = parts
            .first()
            .and_then(|v| redis::from_redis_value::<usize>(v).ok())
            .unwrap_or(0);
        if first > 0 {
            return Ok(Err(Refusal {
                index: first - 1,
                retry_after: parts.get(1).and_then(number).filter(|w| *w >= 0.0),
                used: parts.get(2).and_then(number).unwrap_or(0.0),
            }));
        }
        let mut view = PeerView::new();
        for (name, fields) in watch.iter().zip(parts[1..].chunks(4)) {
            let [until, busy, sum, count] = fields else { break };
            let load = PeerLoad {
                open_for: number(until).filter(|left| *left > 0.0),
                in_flight: number(busy).unwrap_or(0.0) as u64,
                latency_sum_ms: number(sum).unwrap_or(0.0),
                latency_count: number(count).unwrap_or(0.0) as u64,
            };
            if load != PeerLoad::default() {
                view.insert(name.clone(), load);
            }
        }
        Ok(Ok(view))
    }

    /// Settles a call's reservations in one round trip, in the background, retrying with
    /// backoff for up to [`SETTLE_FOR`] while the store does not answer (the script counts each
    /// reservation once however often it runs). [`RedisState::flush`] waits for these.
    fn finish(self: &Arc<Self>, items: &[(Reservation, f64)], now: f64) {
        let me = self.clone();
        let items = items.to_vec();
        let _ = now;
        let pending = Pending::new(&self.pending);
        crate::runtime::runtime().spawn(async move {
            let _pending = pending;
            let started = std::time::Instant::now();
            let mut wait = Duration::from_millis(50);
            loop {
                if me.try_settle(&items).await {
                    return;
                }
                if started.elapsed() >= SETTLE_FOR {
                    crate::log::warn(&format!(
                        "could not settle reservations on the shared store for {}s; they expire by themselves and their spend is lost",
                        SETTLE_FOR.as_secs()
                    ));
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        });
    }

    async fn try_settle(&self, items: &[(Reservation, f64)]) -> bool {
        let Ok(mut conn) = self.connection().await else {
            return false;
        };
        let mut call = self.settle.prepare_invoke();
        call.arg(0).arg(items.len());
        for (item, actual) in items {
            let kind = if item.kind == Kind::Rate { "r" } else { "b" };
            call.key(self.key(&item.key))
                .arg(kind)
                .arg(item.limit)
                .arg(item.amount)
                .arg(member(item))
                .arg(*actual);
        }
        let done: Result<Result<redis::Value, _>, _> =
            tokio::time::timeout(self.timeout, call.invoke_async(&mut conn)).await;
        matches!(done, Ok(Ok(_)))
    }

    /// Counts a call holding reservations until it is dropped: [`RedisState::flush`] waits for
    /// it too (a cancelled call's ticket may be dropped a moment after its caller gave up).
    pub fn live(&self) -> Pending {
        Pending::new(&self.pending)
    }

    /// Waits, up to `limit`, until every call and settlement has reached the store; `false` if some have
    /// not. Called when the gateway is dropped, so spend is not lost when a process ends.
    pub fn flush(&self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while self.pending.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Pushes a live call's budget reservations' expiry forward, every third of
    /// [`RESERVATION_TTL`], until the returned guard is dropped (the call ended).
    pub fn hold(self: &Arc<Self>, items: &[Reservation]) -> Option<crate::runtime::AbortOnDrop<()>> {
        let budgets: Vec<Reservation> = items.iter().filter(|i| i.kind == Kind::Budget).cloned().collect();
        if budgets.is_empty() {
            return None;
        }
        let me = self.clone();
        let every = Duration::from_secs_f64(RESERVATION_TTL / 3.0);
        let ttl = budgets.iter().map(|i| i.hold).fold(RESERVATION_TTL, f64::max);
        Some(crate::runtime::AbortOnDrop(crate::runtime::runtime().spawn(
            async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Ok(mut conn) = me.connection().await else { continue };
                    let mut call = me.extend.prepare_invoke();
                    call.arg(ttl);
                    for item in &budgets {
                        call.key(me.key(&item.key)).arg(member(item));
                    }
                    let _ = tokio::time::timeout(me.timeout, call.invoke_async::<()>(&mut conn)).await;
                }
            },
        )))
    }
}

/// How long a settlement is retried before its spend is given up.
pub const SETTLE_FOR: Duration = Duration::from_secs(60);

/// Counts one call or settlement not yet on the store, for as long as it lives.
pub struct Pending(Arc<std::sync::atomic::AtomicUsize>);

impl Pending {
    fn new(count: &Arc<std::sync::atomic::AtomicUsize>) -> Pending {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Pending(count.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl RedisState {
    /// Publishes this gateway's calls in flight and latency EWMA (ms) per deployment, in one
    /// round trip; the hashes expire once no process publishes any more.
    pub async fn publish_load(&self, figures: &[(String, u64, Option<f64>)]) {
        if figures.is_empty() {
            return;
        }
        let Ok(mut conn) = self.connection().await else { return };
        let mut call = self.publish.prepare_invoke();
        call.arg(&self.token);
        for (name, in_flight, ewma) in figures {
            call.key(self.key(&format!("load:{name}")))
                .arg(format!("{in_flight} {}", ewma.unwrap_or(-1.0)));
        }
        let _ = tokio::time::timeout(self.timeout, call.invoke_async::<()>(&mut conn)).await;
    }

    /// Records, in the background, that a deployment's breaker is open for `cooldown`.
    pub fn publish_breaker(self: &Arc<Self>, deployment: &str, cooldown: Duration) {
        let me = self.clone();
        let key = self.key(&format!("breaker:{deployment}"));
        crate::runtime::runtime().spawn(async move {
            let Ok(mut conn) = me.connection().await else { return };
            let mut call = me.breaker.prepare_invoke();
            call.key(&key).arg(cooldown.as_millis().max(1) as u64);
            let _ = tokio::time::timeout(me.timeout, call.invoke_async::<()>(&mut conn)).await;
        });
    }

    /// A cached value, or `None` (a miss, or the store is unreachable: never an error).
    pub async fn cache_get(self: &Arc<Self>, key: &str) -> Option<String> {
        let me = self.clone();
        let key = key.to_owned();
        crate::runtime::on_shared(async move { Ok(me.cache_get_here(&key).await) })
            .await
            .ok()
            .flatten()
    }

    async fn cache_get_here(&self, key: &str) -> Option<String> {
        let mut conn = self.connection().await.ok()?;
        let cmd = redis::cmd("GET").arg(self.key(&format!("cache:{key}"))).clone();
        tokio::time::timeout(self.timeout, cmd.query_async::<Option<String>>(&mut conn))
            .await
            .ok()?
            .ok()?
    }

    /// Stores a value with a time to live, in the background.
    pub fn cache_put(self: &Arc<Self>, key: &str, value: String, ttl: Duration) {
        let me = self.clone();
        let key = self.key(&format!("cache:{key}"));
        crate::runtime::runtime().spawn(async move {
            let Ok(mut conn) = me.connection().await else { return };
            let cmd = redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64)
                .clone();
            let _ = tokio::time::timeout(me.timeout, cmd.query_async::<()>(&mut conn)).await;
        });
    }
}

fn member(item: &Reservation) -> String {
    format!("{}:{}", item.id, item.amount)
}

fn expiry(key: &str) -> u64 {
    super::state::window_expiry(key)
}

/// The shared store behind an `Arc`, so settling can run in the background.
pub struct Shared(pub Arc<RedisState>);

impl StateBackend for Shared {
    fn reserve<'a>(&'a self, items: &'a [Reservation], watch: &'a [String], now: f64) -> Reserved<'a> {
        // On the shared runtime: the connection is made there and must outlive the thread
        // runtime of a blocking call.
        let (me, items, watch) = (self.0.clone(), items.to_vec(), watch.to_vec());
        Box::pin(async move {
            crate::runtime::on_shared(async move { Ok(me.run_reserve(&items, &watch, now).await) })
                .await
                .unwrap_or_else(|e| Err(Unreachable(e.message)))
        })
    }

    fn settle(&self, items: &[(Reservation, f64)], now: f64) {
        self.0.finish(items, now);
    }

    fn hold(&self, items: &[Reservation]) -> Option<crate::runtime::AbortOnDrop<()>> {
        self.0.hold(items)
    }

    fn used(&self, _key: &str) -> f64 {
        0.0
    }
}
