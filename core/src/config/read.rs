//! Typed reads from the parsed config tree that record every problem with its path, so that
//! `sluicegate validate` can list them all at once instead of stopping at the first.

use super::duration::parse_duration;
use super::suggest::hint;
use serde_json::{Map, Value};
use std::time::Duration;

/// Collects "path: message" problems while the config is read.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn push(&mut self, path: &str, message: impl AsRef<str>) {
        self.0.push(format!("{path}: {}", message.as_ref()));
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A JSON value's type, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A mapping whose keys must come from `allowed`; unknown keys are problems with a hint.
pub fn object<'a>(v: &'a Value, path: &str, allowed: &[&str], p: &mut Problems) -> Option<&'a Map<String, Value>> {
    let Some(map) = v.as_object() else {
        p.push(path, format!("expected a mapping, found {}", type_name(v)));
        return None;
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let near = hint(key, allowed.iter().copied());
            let known = allowed.join(", ");
            p.push(
                &join(path, key),
                format!("unknown key `{key}`{near} (known keys: {known})"),
            );
        }
    }
    Some(map)
}

/// A mapping of user-chosen names (providers, deployments, routes).
pub fn named_map<'a>(v: Option<&'a Value>, path: &str, p: &mut Problems) -> Vec<(&'a String, &'a Value)> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map.iter().collect(),
        Some(other) => {
            p.push(path, format!("expected a mapping of names, found {}", type_name(other)));
            Vec::new()
        }
    }
}

pub fn string(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            p.push(
                &join(path, key),
                format!("expected a string, found {}", type_name(other)),
            );
            None
        }
    }
}

pub fn required_string(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Option<String> {
    let value = string(map, path, key, p);
    if value.is_none() && !map.contains_key(key) {
        p.push(&join(path, key), "is required");
    }
    value
}

pub fn number(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Option<f64> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.is_finite() && f >= 0.0 {
                Some(f)
            } else {
                p.push(&join(path, key), "must be a non-negative number");
                None
            }
        }
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Some(f),
            _ => {
                p.push(&join(path, key), format!("expected a non-negative number, found `{s}`"));
                None
            }
        },
        Some(other) => {
            p.push(
                &join(path, key),
                format!("expected a number, found {}", type_name(other)),
            );
            None
        }
    }
}

pub fn whole(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Option<u64> {
    let f = number(map, path, key, p)?;
    if f.fract() != 0.0 {
        p.push(&join(path, key), format!("expected a whole number, found {f}"));
        return None;
    }
    Some(f as u64)
}

pub fn duration(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Option<Duration> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match parse_duration(s) {
            Ok(d) => Some(d),
            Err(message) => {
                p.push(&join(path, key), message);
                None
            }
        },
        Some(Value::Number(n)) => match super::duration::seconds(n.as_f64().unwrap_or(f64::NAN)) {
            Ok(d) => Some(d),
            Err(message) => {
                p.push(&join(path, key), message);
                None
            }
        },
        Some(other) => {
            p.push(
                &join(path, key),
                format!("expected a duration like `30s`, found {}", type_name(other)),
            );
            None
        }
    }
}

/// A size like `32MiB` (or a bare number of bytes).
pub fn size(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Option<u64> {
    let parsed = match map.get(key)? {
        Value::Null => return None,
        Value::String(s) => super::size::parse_size(s),
        Value::Number(n) => n
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`{n}` must be a whole number of bytes, at least 1")),
        other => Err(format!("expected a size like `32MiB`, found {}", type_name(other))),
    };
    parsed.map_err(|message| p.push(&join(path, key), message)).ok()
}

pub fn string_list(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Vec<String> {
    match map.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Value::String(s) => Some(s.clone()),
                other => {
                    p.push(
                        &format!("{}[{i}]", join(path, key)),
                        format!("expected a string, found {}", type_name(other)),
                    );
                    None
                }
            })
            .collect(),
        Some(other) => {
            p.push(
                &join(path, key),
                format!("expected a list of names, found {}", type_name(other)),
            );
            Vec::new()
        }
    }
}

pub fn string_map(map: &Map<String, Value>, path: &str, key: &str, p: &mut Problems) -> Vec<(String, String)> {
    match map.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                other => {
                    p.push(
                        &join(&join(path, key), k),
                        format!("expected a string, found {}", type_name(other)),
                    );
                    None
                }
            })
            .collect(),
        Some(other) => {
            p.push(
                &join(path, key),
                format!("expected a mapping of strings, found {}", type_name(other)),
            );
            Vec::new()
        }
    }
}
