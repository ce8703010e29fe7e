//! Gemini-specific checks and mappings beyond the per-provider field table
//! (`providers/fields_table.rs`, applied before encoding, which already refuses `logit_bias`,
//! `logprobs`, `modalities`, `parallel_tool_calls: false`, …): values of mapped fields that
//! Gemini cannot take (`n` above 8, other `response_format` or tool types, the legacy
//! `functions`) are an `invalid_request` naming the field, and `reasoning_effort` becomes a
//! `thinkingConfig`.

use crate::error::{Error, Result};
use crate::json_path::At;
use serde_json::{Value, json};

fn refuse(field: &str, why: &str) -> Error {
    Error::invalid_request(format!(
        "`{field}` is not supported by the gemini provider: {why}; change it, or route this call to a provider that has it"
    ))
}

fn set(request: &Value, field: &str) -> bool {
    request.get(field).is_some_and(|v| !v.is_null())
}

/// Refuses a value Gemini cannot take in a field it otherwise maps.
pub fn check(request: &Value) -> Result<()> {
    if set(request, "functions") || set(request, "function_call") {
        let field = if set(request, "functions") {
            "functions"
        } else {
            "function_call"
        };
        return Err(refuse(field, "send the same definitions as `tools` / `tool_choice`"));
    }
    match request.get("n") {
        None | Some(Value::Null) => {}
        Some(n) if n.as_u64().is_some_and(|n| (1..=8).contains(&n)) => {}
        Some(_) => return Err(refuse("n", "Gemini returns 1 to 8 candidates (`candidateCount`)")),
    }
    match request.at("/response_format/type").and_then(Value::as_str) {
        None | Some("text" | "json_object" | "json_schema") => {}
        Some(other) => {
            return Err(refuse(
                "response_format",
                &format!("type `{other}` has no Gemini equivalent"),
            ));
        }
    }
    for tool in request.get("tools").and_then(Value::as_array).into_iter().flatten() {
        match tool.get("type").and_then(Value::as_str) {
            None | Some("function") => {}
            Some(other) => {
                return Err(refuse(
                    "tools",
                    &format!("tools of type `{other}` have no Gemini equivalent"),
                ));
            }
        }
    }
    Ok(())
}

/// `reasoning_effort` as a `thinkingConfig`: a thinking level on Gemini 3 and later, a token
/// budget on Gemini 2.x (which has no levels).
pub fn thinking(request: &Value, model: &str) -> Result<Option<Value>> {
    let Some(effort) = request.get("reasoning_effort").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let effort = effort.as_str().unwrap_or("");
    let level = match effort {
        // Gemini 3 cannot switch thinking off; minimal is the least there is.
        "none" | "minimal" => "MINIMAL",
        "low" => "LOW",
        "medium" => "MEDIUM",
        "high" | "xhigh" => "HIGH",
        _ => {
            return Err(Error::invalid_request(format!(
                "`reasoning_effort` must be one of none, minimal, low, medium, high (got {effort:?})"
            )));
        }
    };
    let model = model.strip_prefix("gemini/").unwrap_or(model);
    if model.starts_with("gemini-1") || model.starts_with("gemini-2") {
        let budget = match level {
            "MINIMAL" => 0,
            "LOW" => 1024,
            "MEDIUM" => 8192,
            _ => 24576,
        };
        return Ok(Some(json!({"thinkingBudget": budget})));
    }
    Ok(Some(json!({"thinkingLevel": level})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_values_gemini_cannot_take_naming_the_field() {
        for (field, value) in [
            ("n", json!(9)),
            ("functions", json!([{"name": "f"}])),
            ("response_format", json!({"type": "grammar"})),
            ("tools", json!([{"type": "web_search"}])),
        ] {
            let mut request = json!({"messages": []});
            request[field] = value;
            let e = check(&request).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidRequest);
            assert!(
                e.message.contains(&format!("`{field}`")) && e.message.contains("gemini"),
                "{}",
                e.message
            );
        }
        check(&json!({"messages": [], "n": 8, "response_format": {"type": "json_object"}, "tools": [{"type": "function"}]})).unwrap();
    }

    #[test]
    fn reasoning_effort_becomes_a_level_or_a_budget() {
        let r = json!({"reasoning_effort": "low"});
        assert_eq!(
            thinking(&r, "gemini-3-pro-preview").unwrap(),
            Some(json!({"thinkingLevel": "LOW"}))
        );
        assert_eq!(
            thinking(&r, "gemini-2.5-flash").unwrap(),
            Some(json!({"thinkingBudget": 1024}))
        );
        assert_eq!(thinking(&json!({}), "gemini-2.5-flash").unwrap(), None);
        assert!(thinking(&json!({"reasoning_effort": "max"}), "gemini-3-pro").is_err());
    }
}
