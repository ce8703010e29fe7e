//! Gemini `streamGenerateContent?alt=sse` as OpenAI chunks: every candidate becomes its own
//! choice `index` (with `n` > 1 the API streams them side by side), tool calls keep their
//! thought signatures in their ids, finish reasons come from the same table as plain answers
//! (a failure ends the stream with an error), and the stream is complete only when every
//! candidate has finished — Gemini sends no end marker.

use super::{blocked, calls_of, finish, response_id, text_parts, usage};
use crate::config::DeploymentConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::json_path::At;
use crate::providers::dialect::{ChunkMaker, StreamDecoder};
use crate::providers::sse::SseEvent;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Default)]
struct Candidate {
    calls: usize,
    finished: bool,
}

pub struct GeminiStream {
    maker: ChunkMaker,
    /// The response id tool-call ids derive from (set by the first event).
    response_id: Option<String>,
    candidates: BTreeMap<u64, Candidate>,
    usage: Option<Value>,
    /// A failure finish reason, reported after the text that came with it.
    failed: Option<Error>,
}

impl GeminiStream {
    pub fn new(deployment: &DeploymentConfig) -> GeminiStream {
        GeminiStream {
            maker: ChunkMaker::new(
                format!("gemini-{}", crate::runtime::unix_now()),
                deployment.model.clone(),
            ),
            response_id: None,
            candidates: BTreeMap::new(),
            usage: None,
            failed: None,
        }
    }

    fn delta(&self, index: u64, delta: Value, finish_reason: Option<&str>) -> Value {
        let mut chunk = self.maker.delta(delta, finish_reason);
        chunk["choices"][0]["index"] = json!(index);
        chunk
    }
}

impl StreamDecoder for GeminiStream {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<Value>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let data: Value = serde_json::from_str(event.data.trim()).map_err(|e| {
            Error::new(
                ErrorKind::ProviderError,
                format!("sent a stream event that is not JSON: {e}"),
            )
        })?;
        if data.get("error").is_some() {
            let message = data.at("/error/message").and_then(Value::as_str).unwrap_or("");
            return Err(Error::new(
                ErrorKind::ProviderError,
                format!("sent an error in the stream: {message}"),
            ));
        }
        let candidates = data
            .get("candidates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if self.response_id.is_none() {
            self.response_id = Some(response_id(&data));
            if let Some(id) = data.get("responseId").and_then(Value::as_str) {
                self.maker.id = id.to_owned();
            }
            if let Some(model) = data.get("modelVersion").and_then(Value::as_str) {
                self.maker.model = model.to_owned();
            }
            if candidates.is_empty()
                && let Some(e) = blocked(&data)
            {
                return Err(e);
            }
        }
        if let Some(u) = data.get("usageMetadata") {
            self.usage = Some(usage(u));
        }
        let response_id = self.response_id.clone().unwrap_or_default();
        let mut out = Vec::new();
        for (i, candidate) in candidates.iter().enumerate() {
            let index = candidate.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
            if let std::collections::btree_map::Entry::Vacant(e) = self.candidates.entry(index) {
                e.insert(Candidate::default());
                out.push(self.delta(index, json!({"role": "assistant", "content": ""}), None));
            }
            let parts = candidate
                .at("/content/parts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let text = text_parts(&parts);
            if !text.is_empty() {
                out.push(self.delta(index, json!({"content": text}), None));
            }
            let first = self.candidates[&index].calls;
            for (k, call) in calls_of(&parts, &response_id, index, first).into_iter().enumerate() {
                let delta = json!({"tool_calls": [{"index": first + k, "id": call["id"], "type": "function", "function": call["function"]}]});
                out.push(self.delta(index, delta, None));
            }
            let state = self.candidates.get_mut(&index).expect("inserted above");
            state.calls = first + parts.iter().filter(|p| p.get("functionCall").is_some()).count();
            if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
                state.finished = true;
                let has_calls = state.calls > 0;
                match finish::finish_reason(reason, has_calls, candidate["finishMessage"].as_str()) {
                    Ok(finish) => out.push(self.delta(index, json!({}), Some(finish))),
                    Err(e) => {
                        self.failed = Some(e);
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    fn done(&self) -> bool {
        // Gemini has no end marker: the stream ends when the body does, or at a failure.
        self.failed.is_some()
    }

    fn end(&mut self) -> Result<Vec<Value>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.candidates.is_empty() || self.candidates.values().any(|c| !c.finished) {
            return Err(Error::new(
                ErrorKind::Connection,
                "the stream ended before a finish reason",
            ));
        }
        Ok(self.usage.take().map(|u| vec![self.maker.usage(u)]).unwrap_or_default())
    }
}
