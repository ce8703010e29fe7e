//! Calls answered in one piece (chat, embeddings): the whole pipeline runs before the call
//! returns.

use super::admit::{self, Admitted};
use super::attempt::{Answered, Attempt, attempt_loop};
use super::{DropRecorder, record, settle};
use crate::config::DeploymentConfig;
use crate::engine::Engine;
use crate::error::Result;
use crate::meter::new_request_id;
use crate::operation::Operation;
use crate::options::CallOptions;
use crate::providers::{Limits, Provider};
use crate::request;
use crate::usage::Usage;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A plain provider call: the answer is the whole response.
struct PlainCall {
    operation: Operation,
    request: Arc<Value>,
}

impl Attempt for PlainCall {
    type Answer = Value;

    fn send(
        &self,
        provider: Arc<Provider>,
        deployment: DeploymentConfig,
        limits: Limits,
        _accepted: Arc<AtomicBool>,
    ) -> impl Future<Output = Result<Value>> + Send {
        // Each dialect writes the deployment's model into what it sends.
        let (operation, request) = (self.operation, self.request.clone());
        async move {
            match operation {
                Operation::Embeddings => provider.embeddings(&deployment, &request, &limits).await,
                _ => provider.chat(&deployment, &request, &limits).await,
            }
        }
    }

    fn waits_for_first_token(&self) -> bool {
        false
    }
}

/// Runs a chat (`stream: false`) or embeddings call through the pipeline.
pub(crate) async fn call(
    engine: &Engine,
    operation: Operation,
    mut request: Value,
    options: CallOptions,
) -> Result<Value> {
    let admitted = match operation {
        Operation::Embeddings => {
            let request_id = options.request_id.clone().unwrap_or_else(new_request_id);
            match request::check_embeddings(&request) {
                Ok(route) => admit::admit(engine, &mut request, &options, &route, request_id).await,
                Err(e) => Err(e.with_request_id(&request_id)),
            }
        }
        _ => admit::admit_chat(engine, &mut request, &options, false).await,
    };
    let admitted = match admitted {
        Ok(a) => a,
        Err(e) => {
            engine.failed_early(operation, &request, &options, &e);
            return Err(e);
        }
    };
    let cache = match operation {
        Operation::Chat => engine.cache_slot(&admitted, &options),
        _ => None,
    };
    finish(engine, operation, admitted, cache).await
}

/// Cache, attempt loop, settle, output guard, record.
async fn finish(
    engine: &Engine,
    operation: Operation,
    admitted: Admitted,
    cache: Option<(String, std::time::Duration)>,
) -> Result<Value> {
    let Admitted {
        plan,
        mut record,
        request,
        mut ticket,
        principal,
        mut guard,
    } = admitted;
    let request_id = record.request_id.clone();
    record.policy = record::policy_report(&principal, &ticket, &guard);
    if let Some(served) = engine
        .serve_cached(operation, cache.as_ref(), &mut record, &principal)
        .await
    {
        return served;
    }
    let mut pending = DropRecorder {
        engine,
        operation,
        request_id: &request_id,
        route: &plan.route,
        principal: &principal,
        armed: true,
    };
    let kind = PlainCall {
        operation,
        request: Arc::new(request),
    };
    let result = match attempt_loop(engine, &kind, &plan, &mut record, &mut ticket).await {
        Ok(Answered {
            answer: mut response,
            deployment,
            admission,
            sent,
        }) => {
            let reported = response.get("usage").and_then(Usage::from_openai);
            let estimate = || Usage {
                input_tokens: plan.prompt_tokens,
                output_tokens: crate::tokens::estimate_completion(&response),
                ..Usage::default()
            };
            let usage = settle::settle(engine, &mut record, &deployment, reported, estimate, Some(ticket));
            admission.succeeded(sent.elapsed(), Some(usage.input_tokens + usage.output_tokens));
            record.attempt(&deployment.name, sent, Ok(()));
            record.end();
            response["gateway"] = record.take_json();
            let guards = &engine.policy.guards;
            let checked = if guards.has_output() {
                guards.check_output(&mut response, &mut guard)
            } else {
                Ok(())
            };
            response["gateway"]["policy"]["guardrails"] = guard.to_json();
            if let (Some((key, ttl)), Ok(())) = (&cache, &checked) {
                engine.cache.put(key.clone(), response.clone(), *ttl);
            }
            checked.map(|()| response).map_err(|e| e.with_request_id(&request_id))
        }
        Err(e) => Err(e),
    };
    pending.armed = false;
    let output = result
        .as_ref()
        .ok()
        .and_then(|r| r.get("choices"))
        .unwrap_or(&Value::Null);
    let input = kind
        .request
        .get("messages")
        .or_else(|| kind.request.get("input"))
        .unwrap_or(&Value::Null);
    let outcome = result.as_ref().map(|r| &r["gateway"]);
    let unrecorded = engine.record(operation, &record, Some(&principal), outcome, Some((input, output)));
    match (unrecorded, result) {
        // No audit, no call: the answer is withheld.
        (Some(e), Ok(_)) => Err(e),
        (_, result) => result,
    }
}
