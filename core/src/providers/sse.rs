//! Server-sent events framing: turns a byte stream into `data` payloads.
//!
//! Tolerates what real providers send: `\r\n`, `\n` and bare `\r` line ends (all three are SSE
//! line ends), `data:` with or without a space, comment lines, `event:` lines and multi-line
//! data, and events split across reads at any byte.
//!
//! Each byte is scanned once however the stream is split (a read resumes the search for a line
//! end where the last one stopped, and consumed lines are dropped in one move per read), so one
//! huge event costs linear time, not a rescan of the buffer per read. An event larger than the
//! limit stops the parser (see [`SseParser::overflowed`]) instead of growing without bound.

/// The default cap on one event (its data lines together), in bytes.
pub const DEFAULT_MAX_EVENT: u64 = 8 * 1024 * 1024;

pub struct SseParser {
    /// Bytes, not text: a read can end in the middle of a multi-byte character.
    buffer: Vec<u8>,
    /// How far past the buffer's start the search for a line end has already looked.
    scanned: usize,
    /// The last line ended in `\r`; a `\n` first in the next read belongs to it.
    after_cr: bool,
    /// Whether the stream's start was checked for a byte-order mark (skipped, per the spec).
    past_bom: bool,
    data: Vec<String>,
    /// Bytes in `data` so far (for the cap).
    size: u64,
    event: Option<String>,
    max_event: u64,
    overflowed: bool,
    /// Bytes examined while looking for line ends (proves the scan is linear).
    work: u64,
}

/// One complete event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl Default for SseParser {
    fn default() -> SseParser {
        SseParser::with_max_event(DEFAULT_MAX_EVENT)
    }
}

impl SseParser {
    /// A parser that refuses an event (or an unterminated line) over `max_event` bytes.
    pub fn with_max_event(max_event: u64) -> SseParser {
        SseParser {
            buffer: Vec::new(),
            scanned: 0,
            after_cr: false,
            past_bom: false,
            data: Vec::new(),
            size: 0,
            event: None,
            max_event,
            overflowed: false,
            work: 0,
        }
    }

    /// Whether an event went over the cap; the parser yields nothing more once it has.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The cap on one event, in bytes.
    pub fn max_event(&self) -> u64 {
        self.max_event
    }

    /// Bytes examined so far while looking for line ends.
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Feeds bytes; returns every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.overflowed {
            return events;
        }
        let mut bytes = bytes;
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        self.buffer.extend_from_slice(bytes);
        if !self.past_bom {
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if self.buffer.len() < BOM.len() && BOM.starts_with(&self.buffer) {
                return events; // the mark may still be arriving
            }
            if self.buffer.starts_with(BOM) {
                self.buffer.drain(..BOM.len());
            }
            self.past_bom = true;
        }
        let mut start = 0;
        loop {
            let from = start + self.scanned;
            let found = self.buffer[from..].iter().position(|b| *b == b'\n' || *b == b'\r');
            self.work += found.map_or(self.buffer.len() - from, |i| i + 1) as u64;
            let Some(offset) = found else {
                self.scanned = self.buffer.len() - start;
                break;
            };
            let end = from + offset;
            let mut next = end + 1;
            if self.buffer[end] == b'\r' {
                match self.buffer.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = String::from_utf8_lossy(&self.buffer[start..end]).into_owned();
            self.scanned = 0;
            start = next;
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
            if self.overflowed {
                self.buffer.clear();
                return events;
            }
        }
        self.buffer.drain(..start);
        if self.size + self.buffer.len() as u64 > self.max_event {
            self.stop();
        }
        events
    }

    /// Flushes an event left unterminated when the stream ended.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.overflowed {
            return None;
        }
        let rest = std::mem::take(&mut self.buffer);
        self.scanned = 0;
        if !String::from_utf8_lossy(&rest).trim().is_empty()
            && let Some(event) = self.line(&String::from_utf8_lossy(&rest))
        {
            return Some(event);
        }
        self.take_event()
    }

    /// One line: a blank line ends the event; `data`/`event` fields accumulate.
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.take_event();
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.size += value.len() as u64 + 1;
                if self.size > self.max_event {
                    self.stop();
                    return None;
                }
                self.data.push(value.to_owned());
            }
            "event" => self.event = Some(value.trim().to_owned()),
            // Comments (":…") and other fields (id, retry) carry nothing we use.
            _ => {}
        }
        None
    }

    fn stop(&mut self) {
        self.overflowed = true;
        self.buffer = Vec::new();
        self.data = Vec::new();
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        self.size = 0;
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

    #[test]
    fn a_leading_byte_order_mark_is_skipped() {
        let mut p = SseParser::default();
        assert!(p.feed(b"\xEF\xBB").is_empty());
        let events = p.feed(b"\xBFdata: x\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "x");
    }

    #[test]
    fn bare_cr_ends_lines() {
        let mut p = SseParser::default();
        let events = p.feed(b"data: one\r\rdata: two\r");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "one");
        // A CR at the end of one read and an LF first in the next are one line end.
        assert!(p.feed(b"\n").is_empty());
        let events = p.feed(b"\r\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "two");
    }

    #[test]
    fn one_large_event_in_small_pieces_is_scanned_once() {
        let payload = vec![b'x'; 4 * 1024 * 1024];
        let mut stream = b"data: ".to_vec();
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(b"\n\n");
        let mut p = SseParser::default();
        let mut events = Vec::new();
        let (mut at, mut size) = (0, 1);
        while at < stream.len() {
            let end = (at + size).min(stream.len());
            events.extend(p.feed(&stream[at..end]));
            at = end;
            size = size % 4096 + 1; // every size from 1 byte to 4 KiB, in turn
        }
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data.len(), payload.len());
        // Every byte is looked at once (plus one per line end); a rescan per read would be
        // about (reads × buffer) ≈ 2000 × 2 MiB.
        assert!(
            p.work() <= stream.len() as u64 + 4,
            "scanned {} bytes for {}",
            p.work(),
            stream.len()
        );
    }

    #[test]
    fn an_event_over_the_cap_stops_the_parser() {
        let mut p = SseParser::with_max_event(1024);
        assert_eq!(p.feed(b"data: small\n\n").len(), 1);
        let big = [b'y'; 600];
        assert!(p.feed(b"data: ").is_empty());
        assert!(p.feed(&big).is_empty());
        assert!(!p.overflowed(), "600 bytes is within the cap");
        assert!(p.feed(&big).is_empty());
        assert!(p.overflowed(), "an unterminated line over the cap must stop the parser");
        assert!(p.feed(b"\n\ndata: more\n\n").is_empty());
        assert!(p.finish().is_none());
        // Several data lines count together.
        let mut p = SseParser::with_max_event(1024);
        for _ in 0..3 {
            p.feed(b"data: ");
            p.feed(&big[..400]);
            p.feed(b"\n");
        }
        assert!(p.overflowed());
    }
}
