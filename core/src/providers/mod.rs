//! Provider adapters: each turns an OpenAI-format request into its provider's wire format and
//! the answer (plain, streamed or an error) back into OpenAI format and gateway errors.

mod http_error;
pub mod mock;
pub mod openai;
pub mod sse;

use crate::config::{DeploymentConfig, ProviderConfig, ProviderKind};
use crate::error::Result;
use crate::secrets::Scrubber;
use futures_util::stream::BoxStream;
use serde_json::Value;

pub use http_error::kind_for_status;

/// OpenAI-format chunks from one upstream stream; an `Err` ends it.
pub type ChunkStream = BoxStream<'static, Result<Value>>;

/// A configured provider, ready to serve its deployments.
pub enum Provider {
    OpenAi(openai::OpenAiProvider),
    Mock(mock::MockProvider),
}

impl Provider {
    pub fn new(config: &ProviderConfig, scrubber: Scrubber) -> Provider {
        match config.kind {
            ProviderKind::OpenAi => Provider::OpenAi(openai::OpenAiProvider::new(config, scrubber)),
            ProviderKind::Mock => Provider::Mock(mock::MockProvider::new(config)),
        }
    }

    /// One non-streaming call. `request.model` is already the deployment's model.
    pub async fn chat(&self, deployment: &DeploymentConfig, request: &Value) -> Result<Value> {
        match self {
            Provider::OpenAi(p) => p.chat(deployment, request).await,
            Provider::Mock(p) => p.chat(deployment, request).await,
        }
    }

    /// Opens a stream; errors before the first byte come back here, later ones in the stream.
    pub async fn chat_stream(&self, deployment: &DeploymentConfig, request: &Value) -> Result<ChunkStream> {
        match self {
            Provider::OpenAi(p) => p.chat_stream(deployment, request).await,
            Provider::Mock(p) => p.chat_stream(deployment, request).await,
        }
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            Provider::OpenAi(_) => ProviderKind::OpenAi,
            Provider::Mock(_) => ProviderKind::Mock,
        }
    }
}
