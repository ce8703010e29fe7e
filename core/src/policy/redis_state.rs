//! Policy counters shared through Redis (or Valkey), so that limits and budgets hold across
//! every process and machine pointing at the same store.
//!
//! One Lua script checks and reserves every counter a call touches in one round trip, atomically
//! (all or nothing), and in the same trip reads what the other processes report about the
//! deployments the call may use (open breakers, calls in flight, latency; see
//! [`crate::routing::peers`]). Budget reservations are kept one by one with an expiry, so a process that
//! dies mid-call cannot leak budget for longer than [`RESERVATION_TTL`]. A lost connection is
//! re-established in the background; meanwhile calls see [`Unreachable`] and the policy's
//! `on_unavailable` choice applies.

use super::state::{Kind, Refusal, Reservation, Reserved, StateBackend, Unreachable};
use crate::routing::peers::{PeerLoad, PeerView, STALE_AFTER};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex as AsyncMutex;

/// How long a reservation may stay unsettled before the store drops it.
pub const RESERVATION_TTL: f64 = 900.0;

const RESERVE: &str = r#"
local now = tonumber(ARGV[1])
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
    redis.call('SET', KEYS[i], tostring(tat + amount * 60 / limit), 'PX', 120000)
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
  out[#out + 1] = redis.call('GET', KEYS[n + 2 * j - 1]) or ''
  out[#out + 1] = tostring(busy)
  out[#out + 1] = tostring(lat)
  out[#out + 1] = tostring(count)
end
return out
"#;

const SETTLE: &str = r#"
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, n do
  local b = 2 + (i - 1) * 5
  local kind, limit, amount, member, actual = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), ARGV[b + 4], tonumber(ARGV[b + 5])
  if kind == 'r' then
    local tat = tonumber(redis.call('GET', KEYS[i]) or now)
    local after = math.max(tat + (actual - amount) * 60 / limit, math.min(now, tat))
    redis.call('SET', KEYS[i], tostring(after), 'PX', 120000)
  else
    if redis.call('ZREM', KEYS[i] .. ':res', member) == 1 or actual > 0 then
      redis.call('INCRBYFLOAT', KEYS[i], actual)
    end
  end
end
return 0
"#;

pub struct RedisState {
    client: redis::Client,
    /// The address without credentials, for messages.
    shown: String,
    prefix: String,
    timeout: Duration,
    conn: AsyncMutex<Option<ConnectionManager>>,
    reserve: redis::Script,
    settle: redis::Script,
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
            reserve: redis::Script::new(RESERVE),
            settle: redis::Script::new(SETTLE),
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
        call.arg(RESERVATION_TTL)
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
                open_for: number(until).map(|u| u - now).filter(|left| *left > 0.0),
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

    /// Settles a call's reservations in one round trip, in the background.
    fn finish(self: &Arc<Self>, items: &[(Reservation, f64)], now: f64) {
        let me = self.clone();
        let items = items.to_vec();
        crate::runtime::runtime().spawn(async move {
            let warn =
                || crate::log::warn("could not settle reservations on the shared store; they expire by themselves");
            let Ok(mut conn) = me.connection().await else {
                return warn();
            };
            let mut call = me.settle.prepare_invoke();
            call.arg(now).arg(items.len());
            for (item, actual) in &items {
                let kind = if item.kind == Kind::Rate { "r" } else { "b" };
                call.key(me.key(&item.key))
                    .arg(kind)
                    .arg(item.limit)
                    .arg(item.amount)
                    .arg(member(item))
                    .arg(*actual);
            }
            let done: Result<Result<redis::Value, _>, _> =
                tokio::time::timeout(me.timeout, call.invoke_async(&mut conn)).await;
            if !matches!(done, Ok(Ok(_))) {
                warn();
            }
        });
    }
}

impl RedisState {
    /// Publishes this gateway's calls in flight and latency EWMA (ms) per deployment, in one
    /// round trip; the hashes expire once no process publishes any more.
    pub async fn publish_load(&self, figures: &[(String, u64, Option<f64>)]) {
        let Ok(mut conn) = self.connection().await else { return };
        let now = crate::policy::clock::now_secs();
        let mut pipe = redis::pipe();
        for (name, in_flight, ewma) in figures {
            let key = self.key(&format!("load:{name}"));
            let value = format!("{in_flight} {} {now}", ewma.unwrap_or(-1.0));
            pipe.cmd("HSET").arg(&key).arg(&self.token).arg(value).ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(60).ignore();
        }
        let _ = tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut conn)).await;
    }

    /// Records, in the background, that a deployment's breaker is open for `cooldown`.
    pub fn publish_breaker(self: &Arc<Self>, deployment: &str, cooldown: Duration) {
        let me = self.clone();
        let key = self.key(&format!("breaker:{deployment}"));
        let until = crate::policy::clock::now_secs() + cooldown.as_secs_f64();
        crate::runtime::runtime().spawn(async move {
            let Ok(mut conn) = me.connection().await else { return };
            let cmd = redis::cmd("SET")
                .arg(&key)
                .arg(until)
                .arg("PX")
                .arg(cooldown.as_millis().max(1) as u64)
                .clone();
            let _ = tokio::time::timeout(me.timeout, cmd.query_async::<()>(&mut conn)).await;
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

/// How long a budget counter is kept: past the end of its window (`…:2026-11` or `…:2026-11-28`).
fn expiry(key: &str) -> u64 {
    match key.rsplit(':').next().map(str::len) {
        Some(7) => 40 * 86400,
        Some(10) => 2 * 86400,
        _ => 0,
    }
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

    fn used(&self, _key: &str) -> f64 {
        0.0
    }
}
