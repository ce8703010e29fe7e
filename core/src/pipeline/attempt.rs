//! The attempt loop, written once for every kind of call: try the plan's deployments in the
//! dispatcher's order until one answers, a non-retryable error stops the call, or time runs
//! out. What "answers" means is the [`Attempt`]'s: the whole response for a plain call, the
//! first content for a stream (until then a stream can still fail over unseen).

use crate::config::DeploymentConfig;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::meter::CallRecord;
use crate::policy::Ticket;
use crate::providers::{Limits, Provider};
use crate::routing::Plan;
use crate::routing::health::Admission;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// One kind of provider call.
pub(crate) trait Attempt {
    type Answer: Send;

    /// Sends the request to one deployment. Sets `accepted` once the provider has taken the
    /// request (it bills from then on), when the kind of call can know that.
    fn send(
        &self,
        provider: Arc<Provider>,
        deployment: DeploymentConfig,
        limits: Limits,
        accepted: Arc<AtomicBool>,
    ) -> impl Future<Output = Result<Self::Answer>> + Send;

    /// Whether the route's `first_token` timeout bounds an attempt (streams), beside the
    /// call's total.
    fn waits_for_first_token(&self) -> bool;
}

/// The attempt that answered, with what its caller settles: the deployment, its in-flight
/// slot and breaker report (released when the call ends), and when it was sent.
pub(crate) struct Answered<A> {
    pub answer: A,
    pub deployment: DeploymentConfig,
    pub admission: Admission,
    pub sent: Instant,
}

/// Tries the plan's deployments until one answers. Every failed attempt is charged to the
/// ticket (the provider may have billed it), reported to the deployment's health and breaker,
/// and logged in the record.
pub(crate) async fn attempt_loop<K: Attempt>(
    engine: &Engine,
    kind: &K,
    plan: &Plan,
    record: &mut CallRecord,
    ticket: &mut Ticket,
) -> Result<Answered<K::Answer>> {
    let deadline = plan.deadline(record.started);
    let limits = Limits::from(&plan.timeout);
    let mut dispatcher = engine.dispatcher(plan);
    let mut last_error: Option<Error> = None;
    while let Some((deployment, admission)) = dispatcher.next(record, deadline).await {
        let provider = engine.provider(&deployment)?;
        let sent = Instant::now();
        ticket.sending(engine.prompt_charge(&deployment, plan.prompt_tokens));
        let accepted = Arc::new(AtomicBool::new(false));
        let attempt = kind.send(provider, deployment.clone(), limits, accepted.clone());
        let first_token = kind
            .waits_for_first_token()
            .then(|| limits.first_token.and_then(|t| sent.checked_add(t)))
            .flatten();
        let until = match (deadline, first_token) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let answer = match until {
            Some(at) => tokio::time::timeout_at(at.into(), attempt).await.unwrap_or_else(|_| {
                if deadline.is_some_and(|total| Instant::now() >= total) {
                    Err(plan.timeout_error(record))
                } else {
                    Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "deployment `{}` sent no first token within {:.3}s",
                            deployment.name,
                            limits.first_token.unwrap_or_default().as_secs_f64()
                        ),
                    ))
                }
            }),
            None => attempt.await,
        };
        record.provider_time += sent.elapsed();
        match answer {
            Ok(answer) => {
                record.first_token = Some(record.started.elapsed());
                return Ok(Answered {
                    answer,
                    deployment,
                    admission,
                    sent,
                });
            }
            Err(e) => {
                let e = plan.cap_retry_after(e);
                let billed = e.kind == ErrorKind::Timeout || accepted.load(std::sync::atomic::Ordering::Relaxed);
                ticket.attempt_failed(billed);
                let opened = admission.failed(&e, sent.elapsed(), &plan.breaker);
                engine.breaker_opened(&deployment.name, opened);
                record.attempt(&deployment.name, sent, Err(&e));
                let out_of_time = e.kind == ErrorKind::Timeout && deadline.is_some_and(|d| Instant::now() >= d);
                if out_of_time || !e.retryable {
                    return Err(e.with_request_id(&record.request_id));
                }
                dispatcher.failed(&e);
                last_error = Some(e);
            }
        }
    }
    Err(plan.exhausted(last_error, record))
}
