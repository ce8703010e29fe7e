//! Token estimates for when no tokenizer's count is at hand: about four characters a token.
//! Used by the mock provider (deterministic usage) and for pre-call estimates.

use serde_json::Value;

pub fn estimate_text(text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    if chars == 0 { 0 } else { chars.div_ceil(4) }
}

/// The text of a message's `content`, whether a string or a list of content parts.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Estimated prompt tokens of a chat request: message text plus a small per-message overhead.
pub fn estimate_prompt(request: &Value) -> u64 {
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return 0;
    };
    messages
        .iter()
        .map(|m| 3 + m.get("content").map(|c| estimate_text(&content_text(c))).unwrap_or(0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn estimates() {
        assert_eq!(estimate_text(""), 0);
        assert_eq!(estimate_text("abcd"), 1);
        assert_eq!(estimate_text("abcde"), 2);
        let r = json!({"messages": [{"role": "user", "content": "hello world!"}]});
        assert_eq!(estimate_prompt(&r), 6);
    }
}
