//! Which gateway operation a call is: named once here, so the call path passes a type, not
//! strings, and the names users see (audit `kind`, hook payloads, metric labels, span names)
//! come from one place.

/// The kind of call the gateway is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Chat,
    ChatStream,
    Embeddings,
}

impl Operation {
    /// The operation's own name, as the audit record's `kind` shows it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::ChatStream => "chat_stream",
            Operation::Embeddings => "embeddings",
        }
    }

    /// The OpenTelemetry GenAI operation name (`gen_ai.operation.name`), used by metrics and
    /// spans: a streamed chat is still `chat` there (streaming is its own span attribute).
    pub(crate) fn gen_ai_name(self) -> &'static str {
        match self {
            Operation::Chat | Operation::ChatStream => "chat",
            Operation::Embeddings => "embeddings",
        }
    }

    /// Whether the answer arrives as a stream of chunks.
    pub(crate) fn is_stream(self) -> bool {
        self == Operation::ChatStream
    }
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn names_are_the_ones_users_see() {
        assert_eq!(Operation::Chat.as_str(), "chat");
        assert_eq!(Operation::ChatStream.as_str(), "chat_stream");
        assert_eq!(Operation::Embeddings.as_str(), "embeddings");
    }

    #[test]
    fn gen_ai_names_fold_streaming_into_chat() {
        assert_eq!(Operation::Chat.gen_ai_name(), "chat");
        assert_eq!(Operation::ChatStream.gen_ai_name(), "chat");
        assert_eq!(Operation::Embeddings.gen_ai_name(), "embeddings");
        assert!(Operation::ChatStream.is_stream());
        assert!(!Operation::Chat.is_stream());
        assert!(!Operation::Embeddings.is_stream());
    }
}
