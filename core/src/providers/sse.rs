//! Server-sent events framing: turns a byte stream into `data` payloads.
//!
//! Tolerates what real providers send: `\r\n` line ends, `data:` with or without a space,
//! comment lines, `event:` lines and multi-line data, and events split across reads.

#[derive(Default)]
pub struct SseParser {
    /// Bytes, not text: a read can end in the middle of a multi-byte character.
    buffer: Vec<u8>,
    data: Vec<String>,
    event: Option<String>,
}

/// One complete event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseParser {
    /// Feeds bytes; returns every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.buffer.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let Some(event) = self.take_event() {
                    events.push(event);
                }
            } else if let Some(rest) = line.strip_prefix("data:") {
                self.data.push(rest.strip_prefix(' ').unwrap_or(rest).to_owned());
            } else if let Some(rest) = line.strip_prefix("event:") {
                self.event = Some(rest.trim().to_owned());
            }
            // Comments (":") and other fields (id:, retry:) carry nothing we use.
        }
        events
    }

    /// Flushes an event left unterminated when the stream ended.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buffer);
        if !String::from_utf8_lossy(&rest).trim().is_empty() {
            self.buffer = rest;
            self.feed(b"\n");
        }
        self.take_event()
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        if self.data.is_empty() {
            self.event = None;
            return None;
        }
        let data = self.data.join("\n");
        self.data.clear();
        Some(SseEvent {
            event: self.event.take(),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_split_and_crlf_events() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: {\"a\"").is_empty());
        let events = p.feed(b":1}\r\n\r\n: ping\n\nevent: x\ndata:[DONE]\n\n");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(events[1].event.as_deref(), Some("x"));
        assert_eq!(events[1].data, "[DONE]");
    }
}
