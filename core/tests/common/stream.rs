//! Decoding a provider's raw SSE bytes the way the gateway does, for the fixture and property
//! tests: the bytes arrive in `pieces` (any split), the SSE parser frames them into events, and
//! the provider's stream decoder turns the events into OpenAI chunks until it says it is done.

use serde_json::Value;
use sluicegate::providers::dialect::StreamDecoder;
use sluicegate::providers::sse::SseParser;

/// The OpenAI chunks `pieces` decode to, or the decoder's error.
pub fn decode(decoder: &mut dyn StreamDecoder, pieces: &[&[u8]]) -> sluicegate::Result<Vec<Value>> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    for piece in pieces {
        events.extend(parser.feed(piece));
    }
    events.extend(parser.finish());
    let mut out = Vec::new();
    for event in events {
        if decoder.done() {
            break;
        }
        out.extend(decoder.event(&event)?);
    }
    out.extend(decoder.end()?);
    Ok(out)
}
