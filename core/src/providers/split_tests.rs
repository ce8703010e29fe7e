//! Property test: every stream decoder gives the same chunks however the bytes are split
//! (at every single position, and at many random places).

use super::dialect::{Dialect, StreamDecoder};
use super::sse::SseParser;
use crate::config::DeploymentConfig;
use crate::mock::Step;
use crate::mock::wire::{self, Flavor};
use serde_json::{Value, json};

fn deployment(model: &str) -> DeploymentConfig {
    DeploymentConfig {
        name: "d".into(),
        provider: "p".into(),
        model: model.into(),
        region: None,
        rpm: None,
        tpm: None,
        weight: 1,
        max_input_tokens: None,
        callable: false,
        max_tokens_default: None,
    }
}

fn decode(decoder: &mut dyn StreamDecoder, pieces: &[&[u8]]) -> Vec<Value> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for piece in pieces {
        events.extend(parser.feed(piece));
    }
    events.extend(parser.finish());
    for event in events {
        if decoder.done() {
            break;
        }
        out.extend(decoder.event(&event).expect("decodes"));
    }
    out.extend(decoder.end().expect("ends cleanly"));
    for chunk in &mut out {
        chunk["created"] = json!(0); // the one field that may differ between runs
    }
    out
}

fn cases() -> Vec<(Flavor, Box<dyn Dialect>)> {
    vec![
        (
            Flavor::OpenAi,
            Box::new(super::openai::OpenAi {
                azure: false,
                nine_char_tool_ids: false,
                caps: super::capabilities::OPENAI,
                kind: "openai",
            }),
        ),
        (
            Flavor::Azure,
            Box::new(super::openai::OpenAi {
                azure: true,
                nine_char_tool_ids: false,
                caps: super::capabilities::OPENAI,
                kind: "azure_openai",
            }),
        ),
        (
            Flavor::Anthropic,
            Box::new(super::anthropic::Anthropic::for_provider(
                &crate::Config::from_text("providers: {a: {type: anthropic, api_key: k}}")
                    .unwrap()
                    .providers["a"],
            )),
        ),
        (Flavor::Gemini, Box::new(super::gemini::Gemini)),
        (Flavor::Cohere, Box::new(super::cohere::Cohere)),
    ]
}

#[test]
fn stream_decoders_are_split_invariant() {
    let step = Step {
        status: 200,
        reply: Some("Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.".into()),
        tool_calls: Some(
            json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"q\":\"naïve ☃\"}"}}]),
        ),
        ..Step::default()
    };
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true, "stream_options": {"include_usage": true}});
    for (flavor, dialect) in cases() {
        let asked = wire::Asked {
            flavor,
            model: "m".into(),
            stream: true,
            neutral: request.clone(),
            key: String::new(),
        };
        let bytes: Vec<u8> = wire::events(flavor, &step, "id-1", &asked).concat().into_bytes();
        let whole = decode(dialect.stream_decoder(&deployment("m")).as_mut(), &[&bytes]);
        assert!(whole.len() > 5, "{flavor:?} decoded too little: {whole:?}");
        for cut in 0..=bytes.len() {
            let split = decode(
                dialect.stream_decoder(&deployment("m")).as_mut(),
                &[&bytes[..cut], &bytes[cut..]],
            );
            assert_eq!(split, whole, "{flavor:?} differs when split at byte {cut}");
        }
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..200 {
            let mut pieces = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let len = 1 + (seed >> 33) as usize % 17;
                let end = (at + len).min(bytes.len());
                pieces.push(&bytes[at..end]);
                at = end;
            }
            assert_eq!(
                decode(dialect.stream_decoder(&deployment("m")).as_mut(), &pieces),
                whole,
                "{flavor:?} differs on a random split"
            );
        }
    }
}
