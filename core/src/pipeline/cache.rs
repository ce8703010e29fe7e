//! The response cache's part of a call: whether a call may use the cache, under which key,
//! and a cached answer made ready to serve (guarded, recorded, free).

use crate::engine::Engine;
use crate::error::Result;
use crate::meter::CallRecord;
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::pipeline::admit::Admitted;
use crate::policy::Principal;
use crate::policy::guard::GuardReport;
use crate::usage::Usage;
use serde_json::{Value, json};

impl Engine {
    /// Serves the call from the cache when the call may use it and an answer is there: the
    /// hit, recorded like any other call (`Err` when its audit record could not be written
    /// under `audit.on_error: fail_closed`). `None`: the call goes to the providers.
    pub(crate) async fn serve_cached(
        &self,
        operation: Operation,
        cache: Option<&(String, std::time::Duration)>,
        record: &mut CallRecord,
        principal: &Principal,
    ) -> Option<Result<Value>> {
        let (key, _) = cache?;
        let hit = self.cache_hit(key, record).await?;
        Some(
            match self.record(operation, record, Some(principal), Ok(&hit["gateway"]), None) {
                Some(e) => Err(e),
                None => Ok(hit),
            },
        )
    }

    /// The cache key and time to live for a call, when caching applies to it. Only the route's
    /// config turns the cache on; a caller may turn it off or shorten its time to live. The
    /// scope is the principal: the virtual key *and* the `user` tag, so one key serving many
    /// end users never hands one user's answer to another.
    pub(crate) fn cache_slot(&self, p: &Admitted, options: &CallOptions) -> Option<(String, std::time::Duration)> {
        let route_ttl = self.config.routes.get(&p.plan.route).and_then(|r| r.cache_ttl)?;
        let ttl = match options.cache {
            Some(None) => return None,
            Some(Some(asked)) => asked.min(route_ttl),
            None => route_ttl,
        };
        let scope = if self.config.cache.share_across_principals {
            "*".to_owned()
        } else {
            match &p.principal.key {
                Some(key) => format!("key:{key} user:{}", json!(p.principal.tags.get("user"))),
                None => format!("tags:{}", json!(p.principal.tags)),
            }
        };
        Some((crate::cache::key(&p.plan.route, &scope, &p.request), ttl))
    }

    /// A cached answer for this call, with its `gateway` object (a hit costs nothing). The
    /// answer passes this gateway's output guardrails like a fresh one: a shared store may hold
    /// answers written by a process with other (or no) guardrails. One they would block is not
    /// served from the cache.
    pub(crate) async fn cache_hit(&self, key: &str, record: &mut CallRecord) -> Option<Value> {
        let mut response = self.cache.get(key).await?;
        let guards = &self.policy.guards;
        if guards.has_output() {
            let mut report = GuardReport::default();
            guards.check_output(&mut response, &mut report).ok()?;
            for (side, counts) in [("redacted", &report.redacted), ("logged", &report.logged)] {
                for (label, n) in counts {
                    let slot = &mut record.policy["guardrails"][side][label];
                    *slot = json!(slot.as_u64().unwrap_or(0) + n);
                }
            }
        }
        let original = response.as_object_mut()?.remove("gateway").unwrap_or(Value::Null);
        record.cache_hit = true;
        record.deployment = original["deployment"].as_str().map(str::to_owned);
        record.provider = original["provider"].as_str().map(str::to_owned);
        record.model = original["model"].as_str().map(str::to_owned);
        record.usage = Some(Usage::default());
        record.cost_usd = Some(0.0);
        record.cost = Some(crate::pricing::CostBreakdown::default());
        record.saved_cost_usd = original["cost_usd"].as_f64();
        record.first_token = Some(record.started.elapsed());
        record.end();
        response["gateway"] = record.to_json();
        Some(response)
    }
}
