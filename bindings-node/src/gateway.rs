//! `NativeGateway`: one core [`Gateway`] behind a JS object. The JS `Gateway` class wraps it.
//!
//! Async methods are plain methods that hand an owned future to `Env::spawn_future`: a future
//! never borrows `self`, because a worker thread's teardown frees native objects even while
//! one of their promises is pending.

use crate::error::{self, to_js};
use crate::stream::NativeCall;
use napi::bindgen_prelude::{Function, PromiseRaw};
use napi::{Env, Result};
use napi_derive::napi;
use serde_json::Value;
use sluicegate::{CallOptions, Gateway};
use std::sync::RwLock;

#[napi]
pub struct NativeGateway {
    /// `None` once closed: later calls fail, calls already running finish.
    inner: RwLock<Option<Gateway>>,
}

impl NativeGateway {
    fn new(gateway: Gateway) -> NativeGateway {
        NativeGateway {
            inner: RwLock::new(Some(gateway)),
        }
    }

    fn gateway(&self) -> Result<Gateway> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(error::closed)
    }
}

/// Parses the request and options the JS layer serialised.
pub fn parse_call(request: &str, options: &str) -> Result<(Value, CallOptions)> {
    let request: Value = serde_json::from_str(request).map_err(|e| error::bad_json("request", e))?;
    let options: Value = serde_json::from_str(options).map_err(|e| error::bad_json("call options", e))?;
    let options = CallOptions::from_json(&options).map_err(to_js)?;
    Ok((request, options))
}

#[napi]
impl NativeGateway {
    /// From YAML or JSON text.
    #[napi(factory)]
    pub fn from_text(text: String) -> Result<NativeGateway> {
        Gateway::from_text(&text).map(NativeGateway::new).map_err(to_js)
    }

    /// From a JS object the JS layer serialised (the same path as a Python dict).
    #[napi(factory)]
    pub fn from_json(json: String) -> Result<NativeGateway> {
        let value: Value = serde_json::from_str(&json).map_err(|e| {
            to_js(sluicegate::Error::new(
                sluicegate::ErrorKind::InvalidConfig,
                format!("the config object is not valid JSON: {e}"),
            ))
        })?;
        Gateway::from_value(value).map(NativeGateway::new).map_err(to_js)
    }

    /// A plain chat completion (no cancellation): resolves to the response's JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn chat<'env>(&self, env: &'env Env, request: String, options: String) -> Result<PromiseRaw<'env, String>> {
        let gateway = self.gateway()?;
        env.spawn_future(async move {
            let (request, options) = parse_call(&request, &options)?;
            let response = gateway.chat(request, options).await.map_err(to_js)?;
            Ok(response.to_string())
        })
    }

    /// An embeddings call (no cancellation): resolves to the response's JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn embeddings<'env>(
        &self,
        env: &'env Env,
        request: String,
        options: String,
    ) -> Result<PromiseRaw<'env, String>> {
        let gateway = self.gateway()?;
        env.spawn_future(async move {
            let (request, options) = parse_call(&request, &options)?;
            let response = gateway.embeddings(request, options).await.map_err(to_js)?;
            Ok(response.to_string())
        })
    }

    /// Which deployment would serve `model` for a call with these options, and why (JSON).
    #[napi]
    pub fn explain(&self, model: String, options: String, prompt_tokens: Option<i64>) -> Result<String> {
        let gateway = self.gateway()?;
        let options: Value = serde_json::from_str(&options).map_err(|e| error::bad_json("explain options", e))?;
        let options = CallOptions::from_json(&options).map_err(to_js)?;
        let prompt_tokens = prompt_tokens.map(u64::try_from).transpose().map_err(|_| {
            to_js(sluicegate::Error::invalid_request(
                "`promptTokens` must be a whole number of tokens, 0 or more",
            ))
        })?;
        gateway
            .explain(&model, &options, prompt_tokens)
            .map(|r| r.to_string())
            .map_err(to_js)
    }

    /// Usage grouped by dimensions since a time; `query` is `{group_by, since}` as JSON.
    #[napi]
    pub fn usage(&self, query: String) -> Result<String> {
        let gateway = self.gateway()?;
        let query: Value = serde_json::from_str(&query).map_err(|e| error::bad_json("usage query", e))?;
        gateway.usage(&query).map(|r| r.to_string()).map_err(to_js)
    }

    /// The gateway's metrics in the Prometheus text format.
    #[napi]
    pub fn metrics_text(&self) -> Result<String> {
        Ok(self.gateway()?.metrics_text())
    }

    /// A call that can be cancelled: `run()` (plain) or `open()` + `next()` (stream), `cancel()`.
    #[napi]
    pub fn call(&self, request: String, options: String) -> Result<NativeCall> {
        Ok(NativeCall::new(self.gateway()?, request, options))
    }

    /// Calls `callback(eventJson)` after every call of this gateway, off the request path.
    #[napi]
    pub fn on_request_end(&self, callback: Function<'_, String, ()>) -> Result<()> {
        let gateway = self.gateway()?;
        let tsfn = crate::log::hook(callback)?;
        gateway.on_request_end(move |event| crate::log::call_hook(&tsfn, event));
        Ok(())
    }

    /// Refuses new calls from now on; calls and streams already running are not affected.
    /// Waits (up to 5 s) until finished calls' spend has reached a shared state store.
    #[napi]
    pub fn close(&self) {
        let closed = self.inner.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(gateway) = closed {
            gateway.flush(sluicegate::policy::FLUSH_LIMIT);
        }
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

/// Reads and parses a config file off the JS thread.
#[napi]
pub async fn gateway_from_file(path: String) -> Result<NativeGateway> {
    let loaded = tokio::task::spawn_blocking(move || Gateway::from_file(path))
        .await
        .map_err(|e| to_js(sluicegate::Error::internal(format!("loading the config failed: {e}"))))?;
    loaded.map(NativeGateway::new).map_err(to_js)
}
