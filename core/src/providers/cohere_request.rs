//! An OpenAI Chat Completions request as a Cohere Chat v2 request. What Cohere cannot express
//! is rejected here with `invalid_request` rather than dropped (see docs/providers.md, `cohere`).
//!
//! Facts from Cohere's SDK (cohere-python `v2/client.py`, `types/content.py`,
//! `types/response_format_v2.py`, `types/thinking.py`): `p` is 0.01–0.99, `tool_choice` is only `REQUIRED`/`NONE`,
//! user content parts are `text` and `image_url`, and a JSON schema goes in
//! `response_format: {type: json_object, json_schema}`.

use super::dialect::{max_tokens, stop_list, text_of};
use crate::config::DeploymentConfig;
use crate::error::{Error, Result};
use crate::json_path::At;
use serde_json::{Map, Value, json};

/// Cohere's documented range for `p`; OpenAI allows 0–1, so the ends are clamped into it.
const P_MIN: f64 = 0.01;
const P_MAX: f64 = 0.99;

fn rejected(what: &str, hint: &str) -> Error {
    Error::invalid_request(format!(
        "{what} cannot be sent to Cohere (provider type `cohere`): {hint}"
    ))
}

/// A user message's content: a string, or Cohere parts when it carries an image.
fn user_content(content: &Value) -> Result<Value> {
    let Value::Array(parts) = content else {
        return Ok(json!(text_of(content)));
    };
    let mut out = Vec::with_capacity(parts.len());
    let mut has_image = false;
    for part in parts {
        match part["type"].as_str().unwrap_or("") {
            "text" => out.push(json!({"type": "text", "text": part["text"].as_str().unwrap_or("")})),
            "image_url" => {
                let url = part
                    .at("/image_url/url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::invalid_request("an `image_url` content part needs `image_url.url`"))?;
                let mut image = json!({"url": url});
                if let Some(detail) = part.at("/image_url/detail").filter(|d| !d.is_null()) {
                    image["detail"] = detail.clone();
                }
                out.push(json!({"type": "image_url", "image_url": image}));
                has_image = true;
            }
            other => {
                return Err(rejected(
                    &format!("a `{other}` content part"),
                    "Cohere chat takes text and image_url parts only; send the content as text or route to a provider that takes it",
                ));
            }
        }
    }
    Ok(if has_image {
        Value::Array(out)
    } else {
        json!(text_of(content))
    })
}

/// Non-user content: text only (images exist only in user turns on Cohere).
fn text_content(role: &str, content: &Value) -> Result<String> {
    if let Some(part) = content
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["type"] != "text" && !p["type"].is_null())
    {
        return Err(rejected(
            &format!(
                "a `{}` content part in a `{role}` message",
                part["type"].as_str().unwrap_or("?")
            ),
            "Cohere takes images in user messages only",
        ));
    }
    Ok(text_of(content))
}

fn message(m: &Value) -> Result<Value> {
    let content = m.get("content").unwrap_or(&Value::Null);
    let role = m["role"].as_str().unwrap_or("user");
    Ok(match role {
        "system" | "developer" => json!({"role": "system", "content": text_content(role, content)?}),
        "assistant" => {
            let mut out = json!({"role": "assistant"});
            let text = text_content(role, content)?;
            match m
                .get("tool_calls")
                .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
            {
                Some(calls) => {
                    out["tool_calls"] = calls.clone();
                    if !text.is_empty() {
                        out["tool_plan"] = json!(text);
                    }
                }
                None => out["content"] = json!(text),
            }
            out
        }
        "tool" | "function" => {
            json!({"role": "tool", "tool_call_id": m.get("tool_call_id").cloned().unwrap_or(json!("")), "content": text_content(role, content)?})
        }
        _ => json!({"role": "user", "content": user_content(content)?}),
    })
}

/// `tool_choice` and the tools to send: Cohere has only `REQUIRED` and `NONE`, so a named
/// choice becomes `REQUIRED` with only the named tool sent (the model must call that one).
fn tool_choice(request: &Value, body: &mut Map<String, Value>) -> Result<()> {
    let choice = match request.get("tool_choice") {
        None | Some(Value::Null) => return Ok(()),
        Some(c) => c,
    };
    match (choice.as_str(), choice["type"].as_str()) {
        (Some("auto"), _) => {}
        (Some("required"), _) => {
            body.insert("tool_choice".into(), json!("REQUIRED"));
        }
        (Some("none"), _) => {
            body.insert("tool_choice".into(), json!("NONE"));
        }
        (None, Some("function")) => {
            let name = choice.at("/function/name").and_then(Value::as_str).unwrap_or("");
            let tool = body
                .get("tools")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|t| t.at("/function/name").and_then(Value::as_str) == Some(name))
                .cloned()
                .ok_or_else(|| {
                    Error::invalid_request(format!(
                        "`tool_choice` names the function `{name}`, which is not in `tools`; add it to `tools` or name one that is"
                    ))
                })?;
            body.insert("tools".into(), json!([tool]));
            body.insert("tool_choice".into(), json!("REQUIRED"));
        }
        _ => {
            return Err(rejected(
                &format!("`tool_choice` {choice}"),
                "use \"auto\", \"required\", \"none\" or {\"type\": \"function\", \"function\": {\"name\": …}}",
            ));
        }
    }
    Ok(())
}

fn response_format(request: &Value, body: &mut Map<String, Value>) -> Result<()> {
    let Some(format) = request.get("response_format").filter(|f| !f.is_null()) else {
        return Ok(());
    };
    let out = match format["type"].as_str() {
        Some("text") => return Ok(()),
        Some("json_object") => json!({"type": "json_object"}),
        Some("json_schema") => {
            let schema = format
                .at("/json_schema/schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    Error::invalid_request("`response_format` json_schema needs `json_schema.schema` (an object)")
                })?;
            json!({"type": "json_object", "json_schema": schema})
        }
        other => {
            return Err(rejected(
                &format!("`response_format` type {}", other.unwrap_or("(none)")),
                "use text, json_object or json_schema",
            ));
        }
    };
    // Cohere documents response_format as unsupported together with tools.
    if request["tools"].as_array().is_some_and(|t| !t.is_empty()) {
        return Err(rejected(
            "`response_format` together with `tools`",
            "Cohere does not support both in one request; send one of them",
        ));
    }
    body.insert("response_format".into(), out);
    Ok(())
}

pub fn encode(request: &Value, deployment: &DeploymentConfig, stream: bool) -> Result<Value> {
    let messages = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(message)
        .collect::<Result<Vec<Value>>>()?;
    let mut body = Map::new();
    body.insert("model".into(), json!(deployment.model));
    body.insert("messages".into(), Value::Array(messages));
    for key in ["temperature", "seed", "frequency_penalty", "presence_penalty"] {
        if let Some(v) = request.get(key).filter(|v| !v.is_null()) {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(tools) = request["tools"].as_array().filter(|t| !t.is_empty()) {
        // OpenAI marks strictness per function; Cohere has one `strict_tools` for the request
        // and no `strict` key in a tool function.
        let mut strict = false;
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if let Some(f) = t.get_mut("function").and_then(Value::as_object_mut) {
                    strict |= f.remove("strict") == Some(Value::Bool(true));
                }
                t
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if strict {
            body.insert("strict_tools".into(), json!(true));
        }
    }
    if let Some(p) = request.get("top_p").and_then(Value::as_f64) {
        body.insert("p".into(), json!(p.clamp(P_MIN, P_MAX)));
    }
    if let Some(max) = max_tokens(request) {
        body.insert("max_tokens".into(), json!(max));
    }
    if let Some(stop) = stop_list(request) {
        body.insert("stop_sequences".into(), stop);
    }
    if request.get("logprobs") == Some(&Value::Bool(true)) {
        body.insert("logprobs".into(), json!(true));
    }
    // Cohere has no effort levels: thinking is on by default for reasoning models, or off.
    if let Some(effort) = request.get("reasoning_effort").and_then(Value::as_str) {
        let kind = if effort == "none" { "disabled" } else { "enabled" };
        body.insert("thinking".into(), json!({"type": kind}));
    }
    tool_choice(request, &mut body)?;
    response_format(request, &mut body)?;
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(body))
}
