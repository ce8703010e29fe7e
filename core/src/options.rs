//! Per-call gateway options, passed beside the OpenAI request: `tags`, `request_id`, `timeout`.

use crate::cancel::CancelToken;
use crate::config::{parse_duration, seconds, suggest};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Default, PartialEq)]
pub struct CallOptions {
    /// Free-form labels (team, user, data_class, …) used by policies and reported in metering.
    pub tags: BTreeMap<String, String>,
    /// The caller's id for this call; one is generated when absent.
    pub request_id: Option<String>,
    /// Upper bound on the whole call, every attempt included.
    pub timeout: Option<Duration>,
    /// A virtual key's secret (see `keys` in the config); never logged or recorded.
    pub key: Option<String>,
    /// The caller's W3C trace context; the call's span joins that trace.
    pub traceparent: Option<String>,
    /// Response cache for this call: `Some(None)` turns it off (`cache: false`), `Some(Some(ttl))`
    /// sets the time to live; `None` follows the route.
    pub cache: Option<Option<Duration>>,
    /// Ends the call (or its stream) with a `cancelled` error once cancelled, from any thread.
    /// Not a JSON option: each binding maps its own idiom (an `AbortSignal`, asyncio
    /// cancellation, `sg_cancel_token`) onto it.
    pub cancel: Option<CancelToken>,
}

/// The virtual key's secret prints as `[REDACTED]`.
impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("tags", &self.tags)
            .field("request_id", &self.request_id)
            .field("timeout", &self.timeout)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("traceparent", &self.traceparent)
            .field("cache", &self.cache)
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// Every per-call option, for bindings that turn them into keyword arguments.
pub const OPTION_KEYS: [&str; 6] = ["tags", "request_id", "timeout", "key", "traceparent", "cache"];

impl CallOptions {
    /// Reads options from JSON (`null` or `{}` means none). Unknown keys are errors.
    pub fn from_json(value: &Value) -> Result<CallOptions> {
        crate::runtime::no_panic(|| CallOptions::read(value))
    }

    fn read(value: &Value) -> Result<CallOptions> {
        let mut options = CallOptions::default();
        let map = match value {
            Value::Null => return Ok(options),
            Value::Object(map) => map,
            _ => {
                return Err(Error::invalid_request(
                    "call options must be an object like {\"tags\": {\"team\": \"search\"}}",
                ));
            }
        };
        for (key, v) in map {
            match key.as_str() {
                "tags" => options.tags = read_tags(v)?,
                "key" => match v {
                    Value::Null => {}
                    Value::String(s) if !s.is_empty() => options.key = Some(s.clone()),
                    _ => {
                        return Err(Error::invalid_request(
                            "option `key` must be the virtual key's secret, a non-empty string",
                        ));
                    }
                },
                "cache" => {
                    options.cache = match v {
                        Value::Null => None,
                        Value::Bool(false) => Some(None),
                        Value::Bool(true) => Some(Some(Duration::from_secs(600))),
                        Value::Object(o) => match o.get("ttl") {
                            Some(Value::String(t)) => {
                                Some(Some(parse_duration(t).map_err(|e| {
                                    Error::invalid_request(format!("option `cache.ttl`: {e}"))
                                })?))
                            }
                            Some(Value::Number(n)) => {
                                Some(Some(seconds(n.as_f64().unwrap_or(f64::NAN)).map_err(|e| {
                                    Error::invalid_request(format!("option `cache.ttl`: {e}"))
                                })?))
                            }
                            _ => {
                                return Err(Error::invalid_request(
                                    "option `cache` must be false, true or {\"ttl\": \"10m\"}",
                                ));
                            }
                        },
                        _ => {
                            return Err(Error::invalid_request(
                                "option `cache` must be false, true or {\"ttl\": \"10m\"}",
                            ));
                        }
                    }
                }
                "traceparent" => match v {
                    Value::Null => {}
                    Value::String(s) if crate::telemetry::parse_traceparent(s).is_some() => {
                        options.traceparent = Some(s.clone())
                    }
                    _ => {
                        return Err(Error::invalid_request(
                            "option `traceparent` must be a W3C trace context like `00-<32 hex>-<16 hex>-01`",
                        ));
                    }
                },
                "request_id" => match v {
                    Value::Null => {}
                    Value::String(s) if !s.is_empty() && s.len() <= 200 => options.request_id = Some(s.clone()),
                    _ => {
                        return Err(Error::invalid_request(
                            "option `request_id` must be a non-empty string of at most 200 characters",
                        ));
                    }
                },
                "timeout" => {
                    options.timeout = match v {
                        Value::Null => None,
                        Value::Number(n) => match n.as_f64().filter(|s| *s > 0.0).map(seconds) {
                            Some(Ok(d)) => Some(d),
                            Some(Err(e)) => return Err(Error::invalid_request(format!("option `timeout`: {e}"))),
                            None => None,
                        },
                        Value::String(s) => Some(
                            parse_duration(s).map_err(|e| Error::invalid_request(format!("option `timeout`: {e}")))?,
                        ),
                        _ => None,
                    };
                    if options.timeout.is_none() && !v.is_null() {
                        return Err(Error::invalid_request(
                            "option `timeout` must be a positive number of seconds or a duration like `30s`",
                        ));
                    }
                }
                other => {
                    let near = suggest::hint(other, OPTION_KEYS);
                    return Err(Error::invalid_request(format!(
                        "unknown call option `{other}`{near} (known options: {})",
                        OPTION_KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(options)
    }
}

fn read_tags(v: &Value) -> Result<BTreeMap<String, String>> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                _ => Err(Error::invalid_request(format!("tag `{k}` must be a string"))),
            })
            .collect(),
        _ => Err(Error::invalid_request(
            "option `tags` must be a mapping of strings, like {\"team\": \"search\"}",
        )),
    }
}
