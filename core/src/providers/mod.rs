//! Provider adapters: each turns an OpenAI-format request into its provider's wire format and
//! the answer (plain, streamed or an error) back into OpenAI format and gateway errors.

pub mod anthropic;
pub mod capabilities;
pub mod cohere;
mod cohere_request;
pub mod dialect;
pub mod fields;
mod fields_table;
pub mod gemini;
mod http;
mod http_error;
pub mod mock;
pub mod openai;
pub mod presets;
pub mod sse;

use crate::config::{DeploymentConfig, ProviderConfig, TimeoutConfig};
use crate::error::Result;
use crate::secrets::Scrubber;
use futures_util::stream::BoxStream;
use presets::Wire;
use serde_json::Value;
use std::time::Duration;

pub use http_error::kind_for_status;

/// OpenAI-format chunks from one upstream stream; an `Err` ends it.
pub type ChunkStream = BoxStream<'static, Result<Value>>;

/// Per-attempt time limits from the route (`timeout.connect`, `timeout.first_token`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub connect: Option<Duration>,
    pub first_token: Option<Duration>,
}

impl From<&TimeoutConfig> for Limits {
    fn from(t: &TimeoutConfig) -> Limits {
        Limits {
            connect: t.connect,
            first_token: t.first_token,
        }
    }
}

/// Runs `future` within the first-token limit, if any.
pub(crate) async fn within_first_token<T>(
    limits: &Limits,
    what: &str,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match limits.first_token {
        None => future.await,
        Some(t) => tokio::time::timeout(t, future).await.unwrap_or_else(|_| {
            Err(crate::Error::new(
                crate::ErrorKind::Timeout,
                format!(
                    "{what} sent nothing within the first-token timeout of {:.3}s",
                    t.as_secs_f64()
                ),
            ))
        }),
    }
}

/// The wire translation for a configured provider (`None` for the in-process mock). Public so
/// tests can hold each adapter to its published field table (core/tests/provider_fields.rs).
pub fn dialect_for(config: &ProviderConfig) -> Option<Box<dyn dialect::Dialect>> {
    Some(match config.preset.wire {
        Wire::Mock => return None,
        Wire::OpenAi | Wire::AzureOpenAi => Box::new(openai::OpenAi::for_provider(config)),
        Wire::Anthropic => Box::new(anthropic::Anthropic::for_provider(config)),
        Wire::Gemini => Box::new(gemini::Gemini),
        Wire::Cohere => Box::new(cohere::Cohere),
    })
}

/// A configured provider, ready to serve its deployments.
pub enum Provider {
    Http(http::HttpProvider),
    Mock(mock::MockProvider),
}

impl Provider {
    pub fn new(config: &ProviderConfig, scrubber: Scrubber) -> Provider {
        match dialect_for(config) {
            None => Provider::Mock(mock::MockProvider::new(config)),
            Some(dialect) => Provider::Http(http::HttpProvider::new(config, dialect, scrubber)),
        }
    }

    /// One non-streaming call. `request.model` is already the deployment's model.
    pub async fn chat(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        match self {
            Provider::Http(p) => p.chat(deployment, request, limits).await,
            Provider::Mock(p) => p.chat(deployment, request, limits).await,
        }
    }

    /// One embeddings call. `request.model` is already the deployment's model.
    pub async fn embeddings(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        match self {
            Provider::Http(p) => p.embeddings(deployment, request, limits).await,
            Provider::Mock(p) => p.embeddings(deployment, request, limits).await,
        }
    }

    /// Opens a stream; errors before the first byte come back here, later ones in the stream.
    pub async fn chat_stream(
        &self,
        deployment: &DeploymentConfig,
        request: &Value,
        limits: &Limits,
    ) -> Result<ChunkStream> {
        match self {
            Provider::Http(p) => p.chat_stream(deployment, request, limits).await,
            Provider::Mock(p) => p.chat_stream(deployment, request, limits).await,
        }
    }
}

#[cfg(test)]
mod split_tests;
