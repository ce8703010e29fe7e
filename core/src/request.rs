//! Checks an incoming OpenAI Chat Completions request before any provider sees it, so that a
//! malformed call fails fast with an `invalid_request` that says what to fix.

use crate::error::{Error, Result};
use serde_json::Value;

const ROLES: [&str; 6] = ["system", "developer", "user", "assistant", "tool", "function"];

/// The route name (the request's `model`) and whether the caller asked for a stream.
pub struct Checked {
    pub model: String,
    pub stream: bool,
}

pub fn check(request: &Value) -> Result<Checked> {
    let map = request
        .as_object()
        .ok_or_else(|| Error::invalid_request("the request must be a JSON object with `model` and `messages`"))?;
    let model = match map.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(Error::invalid_request(
                "`model` must be a non-empty string naming a route from the config",
            ));
        }
        None => {
            return Err(Error::invalid_request(
                "`model` is required: name a route from the config",
            ));
        }
    };
    let messages = match map.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => return Err(Error::invalid_request("`messages` is empty; send at least one message")),
        Some(_) => {
            return Err(Error::invalid_request(
                "`messages` must be a list of {role, content} objects",
            ));
        }
        None => {
            return Err(Error::invalid_request(
                "`messages` is required: a list of {role, content} objects",
            ));
        }
    };
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        match role {
            Some(r) if ROLES.contains(&r) => {}
            Some(r) => {
                return Err(Error::invalid_request(format!(
                    "messages[{i}].role `{r}` is not a role; use one of {}",
                    ROLES.join(", ")
                )));
            }
            None => return Err(Error::invalid_request(format!("messages[{i}] needs a string `role`"))),
        }
    }
    let stream = match map.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Error::invalid_request("`stream` must be true or false")),
    };
    check_stream_options(map.get("stream_options"))?;
    Ok(Checked { model, stream })
}

/// `stream_options` is absent, null, or an object whose `include_usage` is a boolean: adapters
/// read and extend it, so a string or a list here must stop the call, not the adapter.
fn check_stream_options(options: Option<&Value>) -> Result<()> {
    let options = match options {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(Error::invalid_request(format!(
                "`stream_options` must be an object such as {{\"include_usage\": true}}, not {}",
                crate::config::read::type_name(other)
            )));
        }
    };
    match options.get("include_usage") {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(other) => Err(Error::invalid_request(format!(
            "`stream_options.include_usage` must be true or false, not {}",
            crate::config::read::type_name(other)
        ))),
    }
}

/// Checks an OpenAI embeddings request; returns the route name.
pub fn check_embeddings(request: &Value) -> Result<String> {
    let map = request.as_object().ok_or_else(|| {
        Error::invalid_request("the embeddings request must be a JSON object with `model` and `input`")
    })?;
    let model = match map.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(Error::invalid_request(
                "`model` is required: name a route from the config",
            ));
        }
    };
    match map.get("input") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {}
        _ => {
            return Err(Error::invalid_request(
                "`input` must be a non-empty string or a list of strings",
            ));
        }
    }
    Ok(model)
}
