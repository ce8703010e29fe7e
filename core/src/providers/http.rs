//! A provider reached over HTTP: the shared mechanics (pooled client, timeouts, error mapping,
//! SSE framing) around one [`Dialect`] that does the translation.

use super::dialect::{Dialect, StreamDecoder};
use super::fields;
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
use std::collections::VecDeque;

pub struct HttpProvider {
    config: ProviderConfig,
    dialect: Box<dyn Dialect>,
    headers: HeaderMap,
    scrubber: Scrubber,
}

impl HttpProvider {
    pub fn new(config: &ProviderConfig, dialect: Box<dyn Dialect>, scrubber: Scrubber) -> HttpProvider {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        dialect.headers(config, &mut headers);
        for value in headers.values_mut() {
            value.set_sensitive(true);
        }
        for (name, value) in &config.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(n, v);
            }
        }
        HttpProvider {
            config: config.clone(),
            dialect,
            headers,
            scrubber,
        }
    }

    fn origin<'a>(&'a self, deployment: &'a DeploymentConfig) -> Origin<'a> {
        Origin {
            deployment: &deployment.name,
            provider: &self.config.name,
        }
    }

    fn label(&self, deployment: &DeploymentConfig) -> String {
        format!("deployment `{}` (provider `{}`)", deployment.name, self.config.name)
    }

    async fn send(
        &self,
        deployment: &DeploymentConfig,
        request: &Value,
        stream: bool,
        limits: &Limits,
    ) -> Result<reqwest::Response> {
        // What this provider type cannot honour fails here, before any network call
        // (docs/providers.md); what it ignores is removed.
        let request = fields::apply(self.config.preset, &self.config.name, request)?;
        let body = self.dialect.encode(&request, deployment, stream)?;
        let url = self.dialect.chat_url(&self.config, deployment, stream);
        self.post(deployment, url, &body, limits).await
    }

    async fn post(
        &self,
        deployment: &DeploymentConfig,
        url: String,
        body: &Value,
        limits: &Limits,
    ) -> Result<reqwest::Response> {
        let mut builder = http_client_with(limits.connect)
            .post(url)
            .headers(self.headers.clone())
            .json(body);
        if let Some(t) = self.config.timeout {
            builder = builder.timeout(t);
        }
        let response = within_first_token(limits, &self.label(deployment), async {
            builder
                .send()
                .await
                .map_err(|e| http_error::from_transport(&e, &self.origin(deployment), &self.scrubber))
        })
        .await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = http_error::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        let mut error = http_error::from_status(status, &text, retry_after, &self.origin(deployment), &self.scrubber);
        if let Some((kind, retryable)) = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|b| self.dialect.classify(status, &b))
        {
            error.kind = kind;
            error.retryable = retryable;
        }
        Err(error)
    }

    /// The whole body, refused once it passes `limits.max_body` (read in pieces, so an endless
    /// or huge body never sits in memory whole).
    async fn json_body(&self, deployment: &DeploymentConfig, response: reqwest::Response) -> Result<Value> {
        let cap = self.config.limits.max_body;
        let too_big = || {
            Error::new(
                ErrorKind::ProviderError,
                format!(
                    "{} sent a response body over limits.max_body ({cap} bytes); if such answers are expected, raise `providers.{}.limits.max_body` (e.g. `64MiB`)",
                    self.label(deployment),
                    self.config.name
                ),
            )
        };
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(too_big());
        }
        let mut bytes = Vec::new();
        let mut body = response.bytes_stream();
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|e| http_error::from_transport(&e, &self.origin(deployment), &self.scrubber))?;
            if (bytes.len() + piece.len()) as u64 > cap {
                return Err(too_big());
            }
            bytes.extend_from_slice(&piece);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("{} sent a response that is not valid JSON: {e}", self.label(deployment)),
            )
        })
    }

    pub async fn embeddings(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        let url = self.dialect.embeddings_url(&self.config, deployment).ok_or_else(|| {
            Error::invalid_request(format!(
                "{} has no embeddings API; route embeddings to an OpenAI, Azure, Cohere or Gemini deployment",
                self.label(deployment)
            ))
        })?;
        let body = self.dialect.encode_embeddings(request, deployment)?;
        let response = self.post(deployment, url, &body, limits).await?;
        let body = self.json_body(deployment, response).await?;
        self.dialect.decode_embeddings(body, deployment).map_err(|mut e| {
            e.message = format!(
                "{}: {}",
                self.label(deployment),
                http_error::scrubbed_short(&e.message, &self.scrubber)
            );
            e
        })
    }

    pub async fn chat(&self, deployment: &DeploymentConfig, request: &Value, limits: &Limits) -> Result<Value> {
        let response = self.send(deployment, request, false, limits).await?;
        let body = self.json_body(deployment, response).await?;
        self.dialect.decode(body, deployment).map_err(|mut e| {
            e.message = format!(
                "{}: {}",
                self.label(deployment),
                http_error::scrubbed_short(&e.message, &self.scrubber)
            );
            e
        })
    }

    pub async fn chat_stream(
        &self,
        deployment: &DeploymentConfig,
        request: &Value,
        limits: &Limits,
    ) -> Result<ChunkStream> {
        let response = self.send(deployment, request, true, limits).await?;
        let label = self.label(deployment);
        let scrubber = self.scrubber.clone();
        let state = Pump {
            bytes: response.bytes_stream().boxed(),
            parser: SseParser::with_max_event(self.config.limits.max_event),
            provider: self.config.name.clone(),
            decoder: self.dialect.stream_decoder(deployment),
            ready: VecDeque::new(),
            finished: false,
        };
        let stream = futures_util::stream::unfold(state, move |mut pump| {
            let label = label.clone();
            let scrubber = scrubber.clone();
            async move {
                let item = pump.next(&label, &scrubber).await?;
                Some((item, pump))
            }
        });
        Ok(stream.boxed())
    }
}

/// Reads bytes, frames events, decodes chunks, and ends with an error on any cut.
struct Pump {
    bytes: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    /// The provider's config name, for the message that says how to raise a cap.
    provider: String,
    decoder: Box<dyn StreamDecoder>,
    ready: VecDeque<Result<Value>>,
    finished: bool,
}

impl Pump {
    fn event_too_big(&self) -> Error {
        Error::new(
            ErrorKind::ProviderError,
            format!(
                "sent a stream event over limits.max_event ({} bytes); if such events are expected, raise `providers.{}.limits.max_event` (e.g. `16MiB`)",
                self.parser.max_event(),
                self.provider
            ),
        )
    }

    fn push(&mut self, decoded: Result<Vec<Value>>, label: &str, scrubber: &Scrubber) {
        let decoded = decoded.and_then(|chunks| {
            chunks.iter().try_for_each(super::openai::check_indexes)?;
            Ok(chunks)
        });
        match decoded {
            Ok(chunks) => self.ready.extend(chunks.into_iter().map(Ok)),
            Err(mut e) => {
                e.message = format!("{label}: {}", http_error::scrubbed_short(&e.message, scrubber));
                self.ready.push_back(Err(e));
                self.finished = true;
            }
        }
    }

    async fn next(&mut self, label: &str, scrubber: &Scrubber) -> Option<Result<Value>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            match self.bytes.next().await {
                Some(Ok(chunk)) => {
                    for event in self.parser.feed(&chunk) {
                        if self.finished || self.decoder.done() {
                            break;
                        }
                        let decoded = self.decoder.event(&event);
                        self.push(decoded, label, scrubber);
                    }
                    if self.parser.overflowed() && !self.finished {
                        let error = self.event_too_big();
                        self.push(Err(error), label, scrubber);
                    }
                    if self.decoder.done() && !self.finished {
                        let end = self.decoder.end();
                        self.push(end, label, scrubber);
                        self.finished = true;
                    }
                }
                Some(Err(e)) => {
                    self.finished = true;
                    self.ready.push_back(Err(Error::new(
                        ErrorKind::Connection,
                        format!("{label}: the stream broke: {}", scrubber.scrub(&e.to_string())),
                    )));
                }
                None => {
                    if let Some(event) = self.parser.finish() {
                        let decoded = self.decoder.event(&event);
                        self.push(decoded, label, scrubber);
                    }
                    if !self.finished {
                        let end = self.decoder.end();
                        self.push(end, label, scrubber);
                        self.finished = true;
                    }
                }
            }
        }
    }
}
