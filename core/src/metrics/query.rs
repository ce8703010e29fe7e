//! The `usage()` query: which dimensions to group by and since when, read from the caller's
//! JSON with errors that say what to write instead.

use crate::error::{Error, Result};
use crate::policy::clock;
use serde_json::Value;

/// `{"group_by": ["team", "model"], "since": "2026-11-01" | unix seconds | "1h"}` as the
/// dimensions and the start time (unix seconds).
pub(crate) fn parse(query: &Value) -> Result<(Vec<String>, f64)> {
    match query {
        Value::Null => {}
        Value::Object(map) => {
            if let Some(key) = map.keys().find(|k| !["group_by", "since"].contains(&k.as_str())) {
                let near = crate::config::suggest::hint(key, ["group_by", "since"]);
                return Err(Error::invalid_request(format!(
                    "unknown usage query key `{key}`{near} (known: group_by, since)"
                )));
            }
        }
        _ => {
            return Err(Error::invalid_request(
                "the usage query must be an object like {\"group_by\": [\"team\"], \"since\": \"1h\"}",
            ));
        }
    }
    let group_by: Vec<String> = match query.get("group_by") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::invalid_request("`group_by` must be a list of names"))
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(Error::invalid_request(
                "`group_by` must be a list of names like [\"team\", \"model\"]",
            ));
        }
    };
    let since = match query.get("since") {
        None | Some(Value::Null) => 0.0,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => clock::parse_since(s)
            .ok_or_else(|| Error::invalid_request(format!("`since` = `{s}`: use {}", clock::SINCE_FORMS)))?,
        Some(_) => {
            return Err(Error::invalid_request(format!(
                "`since` must be {}",
                clock::SINCE_FORMS
            )));
        }
    };
    Ok((group_by, since))
}
