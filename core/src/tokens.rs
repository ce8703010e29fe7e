//! Token estimates for when no tokenizer's count is at hand: about four characters a token.
//! Used by the mock provider (deterministic usage) and for pre-call estimates, which budgets
//! and rate limits reserve: so every part of a request a provider bills counts here (message
//! text, names, tool-call arguments, tool definitions, images, embeddings input), never 0.

use serde_json::Value;

/// Tokens reserved per image when no model-specific bound applies. The published formulas
/// stay under it for a single image: OpenAI high detail at most 85 + 170 × 8 tiles = 1,445
/// (GPT-4o), patch-based models at most 1,536 patches × 2.46 = 3,779 (gpt-4.1-nano);
/// Anthropic about width × height / 750 ≈ 1,600 for its largest size; Gemini 258 per
/// 768-pixel tile, 4,128 for 16 tiles. See docs/config.md § budgets.
pub const IMAGE_TOKENS: u64 = 4_200;

/// The bound for models whose formula counts more per image than [`IMAGE_TOKENS`]:
/// gpt-4o-mini bills 2,833 + 5,667 per 512-pixel tile, at most 8 tiles.
pub fn image_tokens(model: &str) -> u64 {
    let bare = model.rsplit('/').next().unwrap_or(model);
    if bare.starts_with("gpt-4o-mini") {
        2_833 + 5_667 * 8
    } else {
        IMAGE_TOKENS
    }
}

pub fn estimate_text(text: &str) -> u64 {
    estimate_chars(text.chars().count() as u64)
}

/// [`estimate_text`] for a text of which only the length in characters is known.
pub fn estimate_chars(chars: u64) -> u64 {
    chars.div_ceil(4)
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

/// Content parts that are not text (images, audio, files): each counts as one image.
fn media_parts(content: &Value) -> u64 {
    content
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str).is_some_and(|t| t != "text"))
                .count() as u64
        })
        .unwrap_or(0)
}

/// How many images (and other media parts) a chat request carries.
pub fn count_images(request: &Value) -> u64 {
    request
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| messages.iter().filter_map(|m| m.get("content")).map(media_parts).sum())
        .unwrap_or(0)
}

/// Tool calls an assistant message carries: each function's name and arguments.
fn tool_call_tokens(message: &Value) -> u64 {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let text = |k: &str| c.pointer(k).and_then(Value::as_str).unwrap_or("");
                    3 + estimate_text(text("/function/name")) + estimate_text(text("/function/arguments"))
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Estimated prompt tokens of a chat or embeddings request: per message its text, name,
/// tool-call arguments and images plus a small overhead; tool definitions as their JSON text;
/// an embeddings `input` as its texts (token arrays by their length).
pub fn estimate_prompt(request: &Value) -> u64 {
    let messages: u64 = request
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .map(|m| {
                    let content = m.get("content").unwrap_or(&Value::Null);
                    3 + estimate_text(&content_text(content))
                        + media_parts(content) * IMAGE_TOKENS
                        + m.get("name").and_then(Value::as_str).map(estimate_text).unwrap_or(0)
                        + tool_call_tokens(m)
                })
                .sum()
        })
        .unwrap_or(0);
    let tools = match request.get("tools") {
        Some(t @ Value::Array(items)) if !items.is_empty() => estimate_text(&t.to_string()),
        _ => 0,
    };
    messages + tools + embedding_input(request.get("input"))
}

fn embedding_input(input: Option<&Value>) -> u64 {
    match input {
        Some(Value::String(s)) => estimate_text(s),
        Some(Value::Number(_)) => 1,
        Some(Value::Array(items)) => items.iter().map(|i| embedding_input(Some(i))).sum(),
        _ => 0,
    }
}

/// Estimated completion tokens of a response (every choice's text and tool calls), for an
/// answer that came without `usage`.
pub fn estimate_completion(response: &Value) -> u64 {
    response
        .get("choices")
        .and_then(Value::as_array)
        .map(|choices| {
            choices
                .iter()
                .filter_map(|c| c.get("message"))
                .map(|m| estimate_text(&content_text(m.get("content").unwrap_or(&Value::Null))) + tool_call_tokens(m))
                .sum()
        })
        .unwrap_or(0)
}

/// How many choices a request asks for (`n`, at least 1): each is billed its own output.
pub fn choices(request: &Value) -> u64 {
    request.get("n").and_then(Value::as_u64).unwrap_or(1).max(1)
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

    #[test]
    fn every_billed_part_counts() {
        let base = estimate_prompt(&json!({"messages": [{"role": "user", "content": "hi"}]}));
        let named = json!({"messages": [{"role": "user", "content": "hi", "name": "abcdefgh"}]});
        assert_eq!(estimate_prompt(&named), base + 2);
        let image = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
            {"type": "image_url", "image_url": {"url": "data:"}}]}]});
        assert_eq!(estimate_prompt(&image), base + IMAGE_TOKENS);
        assert_eq!(count_images(&image), 1);
        assert_eq!(estimate_prompt(&json!({"input": ["abcd", "abcdefgh"]})), 3);
        assert_eq!(estimate_prompt(&json!({"input": [[1, 2, 3]]})), 3);
        assert!(image_tokens("openai/gpt-4o-mini") > IMAGE_TOKENS);
    }
}
