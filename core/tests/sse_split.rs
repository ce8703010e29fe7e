//! Property test: however a provider's stream is cut into reads, and whichever SSE line end it
//! uses (`\n`, `\r\n`, bare `\r`), the OpenAI stream decoder yields the same chunks and never
//! panics. Transcripts are the providers' recorded streams (tests/fixtures/providers).

#[path = "common/stream.rs"]
mod common_stream;
use proptest::prelude::*;
use serde_json::{Value, json};
use sluicegate::Config;
use sluicegate::providers::dialect::{Dialect, StreamDecoder};
use sluicegate::providers::openai::OpenAi;

fn transcript(provider: &str, file: &str) -> String {
    let path = format!(
        "{}/../tests/fixtures/providers/{provider}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode(pieces: &[&[u8]]) -> Result<Vec<Value>, String> {
    let config = Config::from_value(json!({"providers": {"p": {"type": "openai", "api_key": "k"}},
                                           "deployments": {"d": {"provider": "p", "model": "m"}},
                                           "routes": {"r": {"targets": ["d"]}}}))
    .unwrap();
    let dialect = OpenAi::for_provider(&config.providers["p"]);
    let mut decoder: Box<dyn StreamDecoder> = dialect.stream_decoder(&config.deployments["d"]);
    common_stream::decode(decoder.as_mut(), pieces).map_err(|e| e.message)
}

/// The transcript with every line end written as `ending`.
fn with_line_ends(text: &str, ending: &str) -> Vec<u8> {
    text.replace("\r\n", "\n").replace('\n', ending).into_bytes()
}

/// `bytes` cut at the given points (sorted, deduplicated, within bounds).
fn cut<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = points.iter().map(|p| p % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut pieces = Vec::new();
    let mut at = 0;
    for p in points {
        pieces.push(&bytes[at..p]);
        at = p;
    }
    pieces.push(&bytes[at..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_split_and_line_end_decodes_the_same(
        which in 0usize..2,
        ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
        points in prop::collection::vec(0usize..100_000, 0..40),
    ) {
        let text = transcript("openai", ["stream_text.sse", "stream_tool.sse"][which]);
        let whole = decode(&[text.as_bytes()]).expect("the recorded stream decodes");
        prop_assert!(whole.len() > 3);
        let bytes = with_line_ends(&text, ending);
        let split = decode(&cut(&bytes, &points));
        prop_assert_eq!(split, Ok(whole));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), points in prop::collection::vec(0usize..2000, 0..20)) {
        let _ = decode(&cut(&bytes, &points));
    }
}
