//! The in-process mock provider (`type: mock`): no network, deterministic answers, and the
//! same scripts as the mock HTTP server (see [`crate::mock::Script`]).

use super::http_error::{self, Origin};
use super::{ChunkStream, Limits, within_first_token};
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::mock::{Script, Step};
use crate::secrets::Scrubber;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct MockProvider {
    name: String,
    script: Script,
    latency: Option<Duration>,
    ids: AtomicU64,
    calls: AtomicU64,
}

impl MockProvider {
    pub fn new(config: &ProviderConfig) -> MockProvider {
        let script = config
            .script
            .as_ref()
            .and_then(|s| Script::from_value(s).ok())
            .unwrap_or_default();
        MockProvider {
            name: config.name.clone(),
            script,
            latency: config.latency,
            ids: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    /// How many calls reached this provider (tests use it like the HTTP server's counters).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    async fn begin(&self, deployment: &DeploymentConfig) -> Result<(Step, String)> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let step = self.script.next_step(&deployment.model);
        let pause = self.latency.unwrap_or_default() + step.delay.unwrap_or_default();
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        if step.status != 200 {
            let body = step.error_body().to_string();
            let retry_after = step.retry_after.as_deref().and_then(|s| s.parse().ok());
            let origin = Origin {
                deployment: &deployment.name,
                provider: &self.name,
            };
            return Err(http_error::from_status(
                step.status,
                &body,
                retry_after,
                &origin,
                &Scrubber::new(),
            ));
        }
        if step.malformed {
            return Err(Error::new(
                ErrorKind::ProviderError,
                format!(
                    "deployment `{}` (provider `{}`) sent a response that is not valid JSON (scripted)",
                    deployment.name, self.name
                ),
            ));
        }
        let id = format!("chatcmpl-mock-{}", self.ids.fetch_add(1, Ordering::Relaxed) + 1);
        Ok((step, id))
    }

    pub async fn chat(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        let (step, id) = within_first_token(
            limits,
            &format!("deployment `{}`", deployment.name),
            self.begin(deployment),
        )
        .await?;
        Ok(step.completion(&id, &deployment.model, request))
    }

    pub async fn embeddings(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        within_first_token(
            limits,
            &format!("deployment `{}`", deployment.name),
            self.begin(deployment),
        )
        .await?;
        let inputs = super::dialect::embedding_inputs(request);
        let dims = request.get("dimensions").and_then(Value::as_u64).unwrap_or(8) as usize;
        let vectors = inputs
            .iter()
            .map(|t| serde_json::json!(crate::mock::embedding_vector(t, dims)))
            .collect();
        let tokens = inputs.iter().map(|t| crate::tokens::estimate_text(t)).sum();
        Ok(super::dialect::embeddings_response(&deployment.model, vectors, tokens))
    }

    pub async fn chat_stream(
        &self,
        deployment: &DeploymentConfig,
        request: &Value,
        limits: &Limits,
    ) -> Result<ChunkStream> {
        let (step, id) = within_first_token(
            limits,
            &format!("deployment `{}`", deployment.name),
            self.begin(deployment),
        )
        .await?;
        let mut upstream = request.clone();
        super::openai::ask_for_usage(&mut upstream);
        let mut items: Vec<Result<Value>> = step
            .chunks(&id, &deployment.model, &upstream)
            .into_iter()
            .map(Ok)
            .collect();
        if let Some(n) = step.cut_after {
            items.truncate(n);
            items.push(Err(Error::new(
                ErrorKind::Connection,
                format!(
                    "deployment `{}` (provider `{}`): the stream broke (scripted cut)",
                    deployment.name, self.name
                ),
            )));
        }
        let (delay, stall_after) = (step.chunk_delay, step.stall_after);
        let stream = futures_util::stream::iter(items.into_iter().enumerate()).then(move |(index, item)| async move {
            if let (Some(d), true) = (delay, index > 0) {
                tokio::time::sleep(d).await;
            }
            if stall_after == Some(index) {
                tokio::time::sleep(crate::mock::STALL).await;
            }
            item
        });
        Ok(stream.boxed())
    }
}
