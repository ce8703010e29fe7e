//! OpenAI Chat Completions over HTTP: OpenAI itself and any compatible server (vLLM, Ollama,
//! LM Studio, the `sluicegate mock-provider` server, …).

use super::http_error::{self, Origin};
use super::sse::SseParser;
use super::{ChunkStream, Limits, within_first_token};
use crate::config::{DeploymentConfig, ProviderConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::http_client_with;
use crate::secrets::Scrubber;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::time::Duration;

pub const DEFAULT_API_BASE: &str = "https://api.openai.com/v1";

pub struct OpenAiProvider {
    name: String,
    chat_url: String,
    headers: HeaderMap,
    timeout: Option<Duration>,
    scrubber: Scrubber,
}

impl OpenAiProvider {
    pub fn new(config: &ProviderConfig, scrubber: Scrubber) -> OpenAiProvider {
        let base = config.api_base.as_deref().unwrap_or(DEFAULT_API_BASE).trim_end_matches('/');
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {key}")) {
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
        }
        for (name, value) in &config.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(n, v);
            }
        }
        OpenAiProvider {
            name: config.name.clone(),
            chat_url: format!("{base}/chat/completions"),
            headers,
            timeout: config.timeout,
            scrubber,
        }
    }

    fn origin<'a>(&'a self, deployment: &'a DeploymentConfig) -> Origin<'a> {
        Origin { deployment: &deployment.name, provider: &self.name }
    }

    async fn send(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<reqwest::Response> {
        let mut builder = http_client_with(limits.connect).post(&self.chat_url).headers(self.headers.clone()).json(request);
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        let what = format!("deployment `{}` (provider `{}`)", deployment.name, self.name);
        let response = within_first_token(limits, &what, async {
            builder.send().await.map_err(|e| http_error::from_transport(&e, &self.origin(deployment), &self.scrubber))
        })
        .await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = http_error::retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        Err(http_error::from_status(status, &body, retry_after, &self.origin(deployment), &self.scrubber))
    }

    pub async fn chat(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        let response = self.send(deployment, request, limits).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| http_error::from_transport(&e, &self.origin(deployment), &self.scrubber))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("deployment `{}` (provider `{}`) sent a response that is not valid JSON: {e}", deployment.name, self.name),
            )
        })?;
        if !value.get("choices").is_some_and(Value::is_array) {
            return Err(Error::new(
                ErrorKind::ProviderError,
                format!("deployment `{}` (provider `{}`) sent a response without `choices`", deployment.name, self.name),
            ));
        }
        Ok(value)
    }

    pub async fn chat_stream(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<ChunkStream> {
        let mut upstream = request.clone();
        // Ask for the usage chunk so that streamed calls are metered exactly.
        upstream["stream_options"]["include_usage"] = Value::Bool(true);
        let response = self.send(deployment, &upstream, limits).await?;
        let label = format!("deployment `{}` (provider `{}`)", deployment.name, self.name);
        let scrubber = self.scrubber.clone();
        let bytes = response.bytes_stream();
        let state = (bytes, SseParser::default(), std::collections::VecDeque::<Result<Value>>::new(), false);
        let stream = futures_util::stream::unfold(state, move |(mut bytes, mut parser, mut ready, mut done)| {
            let label = label.clone();
            let scrubber = scrubber.clone();
            async move {
                loop {
                    if let Some(item) = ready.pop_front() {
                        return Some((item, (bytes, parser, ready, done)));
                    }
                    if done {
                        return None;
                    }
                    match bytes.next().await {
                        Some(Ok(chunk)) => {
                            for event in parser.feed(&chunk) {
                                if let Some(item) = decode_event(&event.data, &label, &scrubber, &mut done) {
                                    ready.push_back(item);
                                }
                            }
                        }
                        Some(Err(e)) => {
                            done = true;
                            ready.push_back(Err(Error::new(
                                ErrorKind::Connection,
                                format!("{label}: the stream broke: {}", scrubber.scrub(&e.to_string())),
                            )));
                        }
                        None => {
                            if let Some(event) = parser.finish() {
                                if let Some(item) = decode_event(&event.data, &label, &scrubber, &mut done) {
                                    ready.push_back(item);
                                }
                            }
                            if !done {
                                done = true;
                                ready.push_back(Err(Error::new(
                                    ErrorKind::Connection,
                                    format!("{label}: the stream ended without `[DONE]`"),
                                )));
                            }
                        }
                    }
                }
            }
        });
        Ok(stream.boxed())
    }
}

/// One SSE payload: a chunk, the end (`[DONE]`), or an in-stream error.
fn decode_event(data: &str, label: &str, scrubber: &Scrubber, done: &mut bool) -> Option<Result<Value>> {
    if *done {
        return None;
    }
    let data = data.trim();
    if data == "[DONE]" {
        *done = true;
        return None;
    }
    match serde_json::from_str::<Value>(data) {
        Ok(v) if v.get("error").is_some() => {
            *done = true;
            let message = scrubber.scrub(&http_error::provider_message(data));
            Some(Err(Error::new(ErrorKind::ProviderError, format!("{label} sent an error in the stream: {message}"))))
        }
        Ok(v) => Some(Ok(v)),
        Err(e) => {
            *done = true;
            Some(Err(Error::new(ErrorKind::ProviderError, format!("{label} sent a stream event that is not JSON: {e}"))))
        }
    }
}
