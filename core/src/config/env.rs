//! `${VAR}` and `${VAR:-default}` in config strings, read from the process environment.
//!
//! Interpolation runs on the parsed tree, string by string, so a variable's value can never
//! change the config's structure, and a missing variable is reported at the path that uses it
//! (naming the variable, never any value).

use serde_json::Value;

/// Replaces variables in every string of `value`; problems are pushed as "path: message".
pub fn interpolate(value: &mut Value, path: &str, problems: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("${") => match expand(s) {
            Ok(expanded) => *s = expanded,
            Err(message) => problems.push(format!("{path}: {message}")),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{path}[{i}]"), problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                interpolate(item, &child, problems);
            }
        }
        _ => {}
    }
}

fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated `${`; write `${NAME}` or `${NAME:-default}`".to_string())?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{inner}}}` is not a valid variable reference; names use A-Z, 0-9 and _"
            ));
        }
        match std::env::var(name) {
            Ok(v) if !(v.is_empty() && default.is_some()) => out.push_str(&v),
            _ => match default {
                Some(d) => out.push_str(d),
                None => {
                    return Err(format!(
                        "environment variable `{name}` is not set; set it, or write `${{{name}:-default}}` to give a default"
                    ));
                }
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expands_defaults_and_reports_missing() {
        let mut v = json!({"a": "${SG_TEST_SURELY_UNSET:-x}/y", "b": ["${SG_TEST_SURELY_UNSET}"]});
        let mut problems = vec![];
        interpolate(&mut v, "", &mut problems);
        assert_eq!(v["a"], "x/y");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("b[0]: environment variable `SG_TEST_SURELY_UNSET`"));
    }
}
