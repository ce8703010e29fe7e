//! What the Gemini API refuses before it generates anything, as the mock enforces it:
//! a `functionDeclarations[].parameters` schema outside the OpenAPI subset the API accepts, and
//! (on Gemini 3 models) a function call in the current turn whose step comes back without its
//! `thoughtSignature`. Both are 400 `INVALID_ARGUMENT` on the real service (see
//! tests/fixtures/providers/gemini/SOURCE); a mock that accepted them would hide the bug.

use crate::json_path::At;
use serde_json::{Value, json};

/// The fields of the API's `Schema` object (the OpenAPI subset accepted in `parameters`).
const SCHEMA_FIELDS: [&str; 22] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

fn invalid(message: String) -> (u16, Value) {
    (
        400,
        json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}),
    )
}

/// The first field of `schema` (at `at`) that `parameters` cannot hold.
fn unknown_field(schema: &Value, at: &str) -> Option<(String, String)> {
    let map = schema.as_object()?;
    for (key, value) in map {
        if !SCHEMA_FIELDS.contains(&key.as_str()) {
            return Some((key.clone(), at.to_owned()));
        }
        let found = match key.as_str() {
            "properties" => value
                .as_object()
                .into_iter()
                .flatten()
                .find_map(|(name, s)| unknown_field(s, &format!("{at}.properties[{name:?}].value"))),
            "items" => unknown_field(value, &format!("{at}.items")),
            "anyOf" => value
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .find_map(|(i, s)| unknown_field(s, &format!("{at}.any_of[{i}]"))),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn check_tools(body: &Value) -> Option<(u16, Value)> {
    for (t, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        for (f, decl) in tool["functionDeclarations"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("tools[{t}].function_declarations[{f}]");
            if decl.get("parameters").is_some() && decl.get("parametersJsonSchema").is_some() {
                return Some(invalid(format!(
                    "* GenerateContentRequest.{at}: parameters and parameters_json_schema are mutually exclusive\n"
                )));
            }
            if let Some((field, place)) = decl
                .get("parameters")
                .and_then(|s| unknown_field(s, &format!("{at}.parameters")))
            {
                return Some(invalid(format!(
                    "Invalid JSON payload received. Unknown name \"{field}\" at '{place}': Cannot find field."
                )));
            }
        }
    }
    None
}

/// Whether a thought signature is what the API can take: base64 (standard or URL-safe alphabet).
fn is_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !s.is_empty()
        && s.len() - body.len() <= 2
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/-_".contains(&b))
        && body.len() % 4 != 1
}

/// Gemini 3 validates the current turn only: the model steps after the last user content that
/// is not a function response. The first functionCall part of each step must carry its signature.
fn check_signatures(body: &Value) -> Option<(u16, Value)> {
    let contents = body["contents"].as_array()?;
    let turn_start = contents
        .iter()
        .rposition(|c| {
            c["role"] != "model"
                && c["parts"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p.get("functionResponse").is_none()))
        })
        .unwrap_or(0);
    for (i, content) in contents.iter().enumerate().skip(turn_start) {
        if content["role"] != "model" {
            continue;
        }
        let parts = content["parts"].as_array().map(Vec::as_slice).unwrap_or_default();
        let Some((p, first)) = parts.iter().enumerate().find(|(_, p)| p.get("functionCall").is_some()) else {
            continue;
        };
        match first.get("thoughtSignature").and_then(Value::as_str) {
            Some(sig) if is_base64(sig) => {}
            Some(_) => {
                return Some(invalid(format!(
                    "Invalid value at 'contents[{i}].parts[{p}].thought_signature' (TYPE_BYTES), Base64 decoding failed"
                )));
            }
            None => {
                let name = first.at("/functionCall/name").and_then(Value::as_str).unwrap_or("");
                return Some(invalid(format!(
                    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly. Additional data, function call `default_api:{name}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                    i + 1
                )));
            }
        }
    }
    None
}

/// Whether the model validates thought signatures (Gemini 3 and later).
pub fn checks_signatures(model: &str) -> bool {
    model
        .strip_prefix("gemini-")
        .and_then(|rest| rest.split(['-', '.']).next())
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 3)
}

/// The status and error body the API answers `body` with whatever the model, or `None`.
pub fn refuse(body: &Value) -> Option<(u16, Value)> {
    check_tools(body)
}

/// What a model that validates thought signatures refuses in `body`, or `None`.
pub fn refuse_for_model(model: &str, body: &Value) -> Option<(u16, Value)> {
    if checks_signatures(model) {
        check_signatures(body)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_json_schema_keywords_in_parameters() {
        for field in [
            "additionalProperties",
            "$schema",
            "const",
            "propertyNames",
            "exclusiveMinimum",
        ] {
            let body = json!({"tools": [{"functionDeclarations": [{"name": "f", "parameters":
                {"type": "object", "properties": {"x": {"type": "integer", field: 1}}}}]}]});
            let (status, err) = refuse(&body).expect("refused");
            assert_eq!(status, 400);
            assert!(err.to_string().contains(field), "{err}");
        }
        let ok = json!({"tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema":
            {"type": "object", "additionalProperties": false, "properties": {"x": {"const": 1}}}}]}]});
        assert!(refuse(&ok).is_none());
    }

    #[test]
    fn gemini_3_wants_the_signature_on_the_first_call_of_each_step() {
        let turn = |sig: Option<&str>| {
            let mut call = json!({"functionCall": {"name": "f", "args": {}}});
            if let Some(s) = sig {
                call["thoughtSignature"] = json!(s);
            }
            json!({"contents": [
                {"role": "user", "parts": [{"text": "hi"}]},
                {"role": "model", "parts": [call, {"functionCall": {"name": "g", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]})
        };
        assert!(refuse_for_model("gemini-3-pro-preview", &turn(None)).is_some());
        assert!(refuse_for_model("gemini-3-pro-preview", &turn(Some("not base64!"))).is_some());
        assert!(refuse_for_model("gemini-3-pro-preview", &turn(Some("skip_thought_signature_validator"))).is_none());
        assert!(refuse_for_model("gemini-3-pro-preview", &turn(Some("CiQBVKhc7g=="))).is_none());
        assert!(refuse_for_model("gemini-2.5-flash", &turn(None)).is_none());
        assert!(checks_signatures("gemini-3.5-flash") && !checks_signatures("gemini-2.5-pro"));
    }
}
