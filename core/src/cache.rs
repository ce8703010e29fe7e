//! Exact-match response cache: opt-in per route (`cache: {ttl: 10m}`) and per call (`cache:
//! false` or `{ttl: …}`), keyed by the route, the caller (never shared across principals unless
//! configured) and the normalised request. A hit costs nothing and replays as a stream when a
//! stream was asked for.

use crate::json_path::At;
use lru::LruCache;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Request fields that do not change the answer.
const IGNORED: [&str; 6] = ["stream", "stream_options", "user", "metadata", "store", "service_tier"];

/// Sorts object keys recursively so that key order cannot change the cache key.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The cache key: route, principal scope and the request without fields that do not matter.
pub fn key(route: &str, scope: &str, request: &Value) -> String {
    let mut normalised = request.clone();
    if let Some(map) = normalised.as_object_mut() {
        for field in IGNORED {
            map.remove(field);
        }
        map.remove("model");
    }
    let text = json!([route, scope, canonical(&normalised)]).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

struct Entry {
    response: Value,
    /// `None`: the TTL was too long for the clock; the entry lives until evicted.
    expires: Option<Instant>,
}

/// A bounded in-memory LRU with per-entry expiry.
pub struct MemoryCache {
    /// Least recently used first; a hit moves its entry to the back in O(1).
    inner: Mutex<LruCache<String, Entry>>,
}

impl MemoryCache {
    pub fn new(capacity: usize) -> MemoryCache {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        MemoryCache {
            inner: Mutex::new(LruCache::new(capacity)),
        }
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        let mut cache = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(key) {
            Some(entry) if entry.expires.is_none_or(|at| at > Instant::now()) => Some(entry.response.clone()),
            Some(_) => {
                cache.pop(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, key: String, response: Value, ttl: Duration) {
        // A TTL too long to add to the clock means "until evicted", not a panic.
        let expires = Instant::now().checked_add(ttl);
        let mut cache = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        cache.put(key, Entry { response, expires });
    }
}

/// Where cached answers live: this process's memory, or the shared Redis store.
pub enum CacheStore {
    Memory(MemoryCache),
    Redis(std::sync::Arc<crate::policy::redis_state::RedisState>),
}

impl CacheStore {
    pub async fn get(&self, key: &str) -> Option<Value> {
        match self {
            CacheStore::Memory(m) => m.get(key),
            CacheStore::Redis(r) => r.cache_get(key).await.and_then(|text| serde_json::from_str(&text).ok()),
        }
    }

    pub fn put(&self, key: String, response: Value, ttl: Duration) {
        match self {
            CacheStore::Memory(m) => m.put(key, response, ttl),
            CacheStore::Redis(r) => r.cache_put(&key, response.to_string(), ttl),
        }
    }
}

/// One choice being rebuilt from stream deltas.
#[derive(Default)]
struct Folded {
    texts: BTreeMap<&'static str, String>,
    calls: Vec<Value>,
    finish: Value,
}

/// The streamed text fields of a delta that a whole message carries too.
const TEXT_FIELDS: [&str; 3] = ["content", "reasoning_content", "refusal"];

/// A whole response from the chunks of a stream (for caching a streamed answer): every choice,
/// by its `index`, with its text fields and tool calls.
pub fn response_from_chunks(chunks: &[Value]) -> Option<Value> {
    let first = chunks.iter().find(|c| c.get("id").is_some())?;
    let mut choices: BTreeMap<u64, Folded> = BTreeMap::new();
    let mut usage = Value::Null;
    for c in chunks {
        if c.get("usage").is_some_and(|u| !u.is_null()) {
            usage = c["usage"].clone();
        }
        for (position, choice) in c
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            let folded = choices.entry(index).or_default();
            for field in TEXT_FIELDS {
                if let Some(text) = choice.at(&format!("/delta/{field}")).and_then(Value::as_str) {
                    folded.texts.entry(field).or_default().push_str(text);
                }
            }
            if !choice["finish_reason"].is_null() {
                folded.finish = choice["finish_reason"].clone();
            }
            let calls = &mut folded.calls;
            for d in choice
                .at("/delta/tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let i = d["index"].as_u64().unwrap_or(0) as usize;
                if i > 1024 {
                    continue;
                }
                while calls.len() <= i {
                    calls.push(json!({"id": null, "type": "function", "function": {"name": null, "arguments": ""}}));
                }
                if !d["id"].is_null() {
                    calls[i]["id"] = d["id"].clone();
                }
                if let Some(n) = d.at("/function/name").filter(|n| !n.is_null()) {
                    calls[i]["function"]["name"] = n.clone();
                }
                let args = format!(
                    "{}{}",
                    calls[i]["function"]["arguments"].as_str().unwrap_or(""),
                    d.at("/function/arguments").and_then(Value::as_str).unwrap_or("")
                );
                calls[i]["function"]["arguments"] = json!(args);
            }
        }
    }
    // Only a stream whose every choice finished is a whole answer worth caching.
    if choices.is_empty() || choices.values().any(|c| !c.finish.is_string()) {
        return None;
    }
    let choices: Vec<Value> = choices
        .into_iter()
        .map(|(index, f)| {
            let content = f.texts.get("content").cloned().unwrap_or_default();
            let mut message = json!({"role": "assistant", "content": if content.is_empty() && !f.calls.is_empty() { Value::Null } else { json!(content) }});
            for field in ["reasoning_content", "refusal"] {
                if let Some(text) = f.texts.get(field) {
                    message[field] = json!(text);
                }
            }
            if !f.calls.is_empty() {
                message["tool_calls"] = Value::Array(f.calls);
            }
            json!({"index": index, "message": message, "logprobs": null, "finish_reason": f.finish})
        })
        .collect();
    Some(
        json!({"id": first["id"], "object": "chat.completion", "created": first["created"], "model": first["model"],
                "choices": choices, "usage": usage}),
    )
}

/// A cached response replayed as stream chunks: per choice (by `index`) its role, text fields
/// word by word, tool calls and finish; then usage.
pub fn chunks_from_response(response: &Value, include_usage: bool) -> Vec<Value> {
    let maker = crate::providers::dialect::ChunkMaker::new(
        response["id"].as_str().unwrap_or("cached"),
        response["model"].as_str().unwrap_or(""),
    );
    let mut out = Vec::new();
    for (position, choice) in response["choices"].as_array().into_iter().flatten().enumerate() {
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let at = |mut chunk: Value| {
            chunk["choices"][0]["index"] = json!(index);
            chunk
        };
        out.push(at(maker.delta(json!({"role": "assistant", "content": ""}), None)));
        let message = &choice["message"];
        for field in TEXT_FIELDS {
            if let Some(text) = message[field].as_str() {
                for piece in crate::mock::split_words(text) {
                    let mut delta = Map::new();
                    delta.insert(field.to_owned(), json!(piece));
                    out.push(at(maker.delta(Value::Object(delta), None)));
                }
            }
        }
        for (i, call) in message["tool_calls"].as_array().into_iter().flatten().enumerate() {
            out.push(at(maker.delta(
                json!({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": call["function"]}]}),
                None,
            )));
        }
        out.push(at(maker.delta(json!({}), choice["finish_reason"].as_str())));
    }
    if include_usage && !response["usage"].is_null() {
        out.push(maker.usage(response["usage"].clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ignores_order_and_stream_fields() {
        let a =
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "temperature": 0, "stream": true});
        let b = json!({"temperature": 0, "messages": [{"content": "hi", "role": "user"}], "model": "chat"});
        assert_eq!(key("chat", "k", &a), key("chat", "k", &b));
        assert_ne!(key("chat", "k", &a), key("chat", "other", &a));
        assert_ne!(
            key("chat", "k", &a),
            key("chat", "k", &json!({"messages": [], "temperature": 1}))
        );
    }

    #[test]
    fn lru_evicts_oldest_and_expires() {
        let c = MemoryCache::new(2);
        c.put("a".into(), json!(1), Duration::from_secs(60));
        c.put("b".into(), json!(2), Duration::from_secs(60));
        c.get("a");
        c.put("c".into(), json!(3), Duration::from_secs(60));
        assert!(c.get("b").is_none() && c.get("a").is_some());
        c.put("d".into(), json!(4), Duration::ZERO);
        assert!(c.get("d").is_none());
    }

    #[test]
    fn a_ttl_too_long_for_the_clock_keeps_the_entry_instead_of_panicking() {
        let c = MemoryCache::new(1);
        c.put("a".into(), json!(1), Duration::MAX);
        assert_eq!(c.get("a"), Some(json!(1)));
    }

    #[test]
    fn stream_round_trip() {
        let r = json!({"id": "x", "model": "m", "created": 1, "choices": [{"message": {"content": "one two"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1}});
        let back = response_from_chunks(&chunks_from_response(&r, true)).unwrap();
        assert_eq!(back["choices"][0]["message"]["content"], "one two");
        assert_eq!(back["usage"]["prompt_tokens"], 1);
    }

    #[test]
    fn every_choice_of_a_stream_is_stored_and_replayed() {
        let chunk = |index: u64, delta: Value, finish: Value| json!({"id": "x", "model": "m", "created": 1, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]});
        let chunks = vec![
            chunk(0, json!({"content": "alpha "}), Value::Null),
            chunk(1, json!({"content": "beta "}), Value::Null),
            chunk(0, json!({"content": "one"}), Value::Null),
            chunk(
                1,
                json!({"content": "two", "tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(1, json!({}), json!("tool_calls")),
            chunk(0, json!({}), json!("stop")),
        ];
        let stored = response_from_chunks(&chunks).unwrap();
        assert_eq!(stored["choices"][0]["message"]["content"], "alpha one");
        assert_eq!(stored["choices"][1]["message"]["content"], "beta two");
        assert_eq!(stored["choices"][1]["finish_reason"], "tool_calls");
        assert_eq!(
            stored["choices"][1]["message"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        let replayed = response_from_chunks(&chunks_from_response(&stored, false)).unwrap();
        assert_eq!(replayed["choices"], stored["choices"]);
        // A stream where one choice never finished is not a whole answer.
        assert!(response_from_chunks(&chunks[..5]).is_none());
    }
}
