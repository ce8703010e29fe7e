//! Gemini finish reasons in OpenAI terms: one table for plain answers and streams alike.
//!
//! A reason that means the answer is usable maps to an OpenAI `finish_reason`; a reason that
//! means generation failed (a malformed or unexpected tool call, an unsupported language, …)
//! becomes a `provider_error` naming the reason, so a failed answer never reads as `stop`.
//! The table is published in docs/providers.md (## Gemini). Reasons from
//! google/genai/types.py `FinishReason` (see tests/fixtures/providers/gemini/SOURCE).

use crate::error::{Error, ErrorKind, Result};

/// What a finish reason means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// A finished answer: `stop`, or `tool_calls` when the candidate called a tool.
    Stop,
    /// The output token limit: `length`.
    Length,
    /// A filter withheld output: `content_filter`.
    Filtered,
    /// Generation failed: a `provider_error` (retryable, so the route may try another target).
    Failed,
}

/// Every reason the API documents, with its meaning. Anything else is `Failed`.
pub const TABLE: [(&str, Meaning); 18] = [
    ("STOP", Meaning::Stop),
    ("MAX_TOKENS", Meaning::Length),
    ("SAFETY", Meaning::Filtered),
    ("RECITATION", Meaning::Filtered),
    ("BLOCKLIST", Meaning::Filtered),
    ("PROHIBITED_CONTENT", Meaning::Filtered),
    ("SPII", Meaning::Filtered),
    ("IMAGE_SAFETY", Meaning::Filtered),
    ("IMAGE_PROHIBITED_CONTENT", Meaning::Filtered),
    ("IMAGE_RECITATION", Meaning::Filtered),
    ("MALFORMED_FUNCTION_CALL", Meaning::Failed),
    ("UNEXPECTED_TOOL_CALL", Meaning::Failed),
    ("TOO_MANY_TOOL_CALLS", Meaning::Failed),
    ("LANGUAGE", Meaning::Failed),
    ("OTHER", Meaning::Failed),
    ("IMAGE_OTHER", Meaning::Failed),
    ("NO_IMAGE", Meaning::Failed),
    ("FINISH_REASON_UNSPECIFIED", Meaning::Failed),
];

pub fn meaning(reason: &str) -> Meaning {
    TABLE
        .iter()
        .find(|(name, _)| *name == reason)
        .map_or(Meaning::Failed, |(_, m)| *m)
}

/// The OpenAI finish reason for a candidate's `finishReason`, or the error it stands for.
/// `message` is the candidate's `finishMessage`, if any.
pub fn finish_reason(reason: &str, has_calls: bool, message: Option<&str>) -> Result<&'static str> {
    match meaning(reason) {
        Meaning::Stop if has_calls => Ok("tool_calls"),
        Meaning::Stop => Ok("stop"),
        Meaning::Length => Ok("length"),
        Meaning::Filtered => Ok("content_filter"),
        Meaning::Failed => {
            // The finish message is the model's own words about the failure; keep it short.
            let said: String = message.unwrap_or("").chars().take(200).collect();
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(" ({said})")
            };
            Err(Error::new(
                ErrorKind::ProviderError,
                format!(
                    "the model stopped with finish reason {reason}{said}: the answer is incomplete; retry, or route to another deployment"
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_never_read_as_stop() {
        for reason in [
            "MALFORMED_FUNCTION_CALL",
            "UNEXPECTED_TOOL_CALL",
            "TOO_MANY_TOOL_CALLS",
            "LANGUAGE",
            "OTHER",
            "SOMETHING_NEW",
        ] {
            let e = finish_reason(reason, true, Some("Malformed function call: print(")).unwrap_err();
            assert_eq!(e.kind, ErrorKind::ProviderError);
            assert!(e.message.contains(reason), "{}", e.message);
        }
        for reason in [
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
        ] {
            assert_eq!(finish_reason(reason, false, None).unwrap(), "content_filter");
        }
        assert_eq!(finish_reason("STOP", true, None).unwrap(), "tool_calls");
        assert_eq!(finish_reason("STOP", false, None).unwrap(), "stop");
        assert_eq!(finish_reason("MAX_TOKENS", true, None).unwrap(), "length");
    }
}
