//! Output guardrails on a stream. Each piece of streamed text (a choice's `content`,
//! `reasoning_content`, `refusal`, each tool call's `arguments`) has its own hold-back, keyed by
//! choice index, so that with `n > 1` text held back from one choice can never come out in
//! another, and a match split across chunks is caught whole.

use super::guard::{GuardReport, Guards};
use super::pii;
use crate::error::Result;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Redacts one stream of text as it passes, holding back only the tail a match could still
/// grow into.
#[derive(Default)]
pub struct StreamRedactor {
    held: String,
}

impl StreamRedactor {
    /// Takes the next piece of text; returns what is safe to pass on now.
    pub fn push(&mut self, guards: &Guards, text: &str, report: &mut GuardReport) -> Result<String> {
        self.held.push_str(text);
        // The hold-back is measured on the text the detectors see, so zero-width padding or
        // full-width digits cannot stretch a value past it.
        let normalized = pii::normalize(&self.held);
        let folded = normalized.text();
        if folded.len() <= pii::MAX_MATCH {
            return Ok(String::new());
        }
        let mut at = folded.len() - pii::MAX_MATCH;
        while !folded.is_char_boundary(at) {
            at -= 1;
        }
        let mut cut = normalized.original_offset(at);
        // Never cut through a match: move the cut to its start (within MAX_HOLD, beyond which
        // the part passed on is redacted as it stands).
        let floor = self.held.len().saturating_sub(pii::MAX_HOLD);
        let hits = guards.hits(&self.held, true);
        loop {
            let before = cut;
            for h in &hits {
                if h.start < cut && cut < h.end && h.start >= floor {
                    cut = h.start;
                }
            }
            if cut == before {
                break;
            }
        }
        let ready: String = self.held.drain(..cut).collect();
        guards.apply(&ready, true, report)
    }

    /// The rest, once the text has ended.
    pub fn finish(&mut self, guards: &Guards, report: &mut GuardReport) -> Result<String> {
        let rest = std::mem::take(&mut self.held);
        guards.apply(&rest, true, report)
    }

    fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// Which streamed text of a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Content,
    Reasoning,
    Refusal,
    /// A tool call's `arguments`, by the tool call's `index`.
    Arguments(u64),
}

const TEXT_FIELDS: [(&str, Field); 3] = [
    ("content", Field::Content),
    ("reasoning_content", Field::Reasoning),
    ("refusal", Field::Refusal),
];

/// The output guardrails of one stream: a [`StreamRedactor`] per choice and field.
#[derive(Default)]
pub struct StreamGuard {
    held: BTreeMap<(u64, Field), StreamRedactor>,
}

impl StreamGuard {
    /// Guards every choice of a chunk in place; a choice's finish chunk carries what was held
    /// back for it.
    pub fn chunk(&mut self, guards: &Guards, chunk: &mut Value, report: &mut GuardReport) -> Result<()> {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for (position, choice) in choices.iter_mut().enumerate() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            // A chunk's logprobs spell out the tokens of text the hold-back may still be
            // keeping (or about to redact): under output guardrails they are not passed on.
            if let Some(logprobs) = choice.get_mut("logprobs") {
                *logprobs = Value::Null;
            }
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                self.delta(guards, index, delta, report)?;
                if finished {
                    self.flush(guards, index, delta, report)?;
                }
            }
        }
        Ok(())
    }

    fn delta(
        &mut self,
        guards: &Guards,
        index: u64,
        delta: &mut Map<String, Value>,
        report: &mut GuardReport,
    ) -> Result<()> {
        for (key, field) in TEXT_FIELDS {
            if let Some(Value::String(text)) = delta.get_mut(key) {
                *text = self
                    .held
                    .entry((index, field))
                    .or_default()
                    .push(guards, text, report)?;
            }
        }
        for (position, call) in delta
            .get_mut("tool_calls")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let call_index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            if let Some(Value::String(name)) = call.pointer_mut("/function/name") {
                *name = guards.apply(name, true, report)?;
            }
            if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                *args = self
                    .held
                    .entry((index, Field::Arguments(call_index)))
                    .or_default()
                    .push(guards, args, report)?;
            }
        }
        Ok(())
    }

    /// Appends everything held back for a choice to its delta.
    fn flush(
        &mut self,
        guards: &Guards,
        index: u64,
        delta: &mut Map<String, Value>,
        report: &mut GuardReport,
    ) -> Result<()> {
        let keys: Vec<(u64, Field)> = self
            .held
            .range((index, Field::Content)..=(index, Field::Arguments(u64::MAX)))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            let Some(mut redactor) = self.held.remove(&key) else {
                continue;
            };
            let rest = redactor.finish(guards, report)?;
            if rest.is_empty() {
                continue;
            }
            match key.1 {
                Field::Arguments(call_index) => {
                    let calls = delta.entry("tool_calls").or_insert_with(|| json!([]));
                    if !calls.is_array() {
                        *calls = json!([]);
                    }
                    if let Some(calls) = calls.as_array_mut() {
                        calls.push(json!({"index": call_index, "function": {"arguments": rest}}));
                    }
                }
                field => {
                    let key = TEXT_FIELDS
                        .iter()
                        .find(|(_, f)| *f == field)
                        .map(|(k, _)| *k)
                        .unwrap_or("content");
                    let before = delta.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
                    delta.insert(key.to_owned(), Value::String(before + &rest));
                }
            }
        }
        Ok(())
    }

    /// What is still held back when a stream ends without a finish chunk for some choice: one
    /// chunk carrying it (redacted), or `None`.
    pub fn finish(&mut self, guards: &Guards, report: &mut GuardReport) -> Result<Option<Value>> {
        if self.held.values().all(StreamRedactor::is_empty) {
            self.held.clear();
            return Ok(None);
        }
        let indexes: Vec<u64> = self
            .held
            .keys()
            .map(|(i, _)| *i)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut choices = Vec::new();
        for index in indexes {
            let mut delta = Map::new();
            self.flush(guards, index, &mut delta, report)?;
            if !delta.is_empty() {
                choices.push(json!({"index": index, "delta": delta, "finish_reason": null}));
            }
        }
        Ok((!choices.is_empty()).then(|| json!({"object": "chat.completion.chunk", "choices": choices})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GuardAction, GuardKind, GuardrailConfig};

    fn guards(action: GuardAction) -> Guards {
        Guards::new(&[GuardrailConfig {
            name: "pii".into(),
            kind: GuardKind::Pii {
                entities: vec!["email".into(), "credit_card".into(), "api_key".into()],
            },
            action,
            input: true,
            output: true,
        }])
    }

    #[test]
    fn stream_redaction_never_leaks_a_split_match() {
        let g = guards(GuardAction::Redact);
        let text = "Contact jane.doe@example.com or pay with 4111 1111 1111 1111 today, thanks. ".repeat(3);
        for size in 1..12 {
            let mut r = StreamRedactor::default();
            let mut report = GuardReport::default();
            let mut out = String::new();
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(size) {
                out.push_str(&r.push(&g, &piece.iter().collect::<String>(), &mut report).unwrap());
            }
            out.push_str(&r.finish(&g, &mut report).unwrap());
            assert!(
                !out.contains("jane.doe") && !out.contains("4111"),
                "leaked with chunks of {size}: {out}"
            );
            assert_eq!(out.matches("[EMAIL]").count(), 3);
            assert_eq!(report.redacted["credit_card"], 3);
        }
    }

    #[test]
    fn a_key_longer_than_the_hold_back_is_held_whole() {
        let g = guards(GuardAction::Redact);
        let key = format!("sk-proj-{}", "Ab3_x9Zq".repeat(40));
        let text = format!("here is {key} and more text after it {}", "pad ".repeat(60));
        let mut r = StreamRedactor::default();
        let mut report = GuardReport::default();
        let mut out = String::new();
        for c in text.chars() {
            out.push_str(&r.push(&g, &c.to_string(), &mut report).unwrap());
        }
        out.push_str(&r.finish(&g, &mut report).unwrap());
        assert!(!out.contains("Ab3_x9Zq"), "leaked: {out}");
        assert!(out.starts_with("here is [API_KEY] and more"));
    }

    /// Chunks of an `n = 2` stream: one choice per chunk, alternating, one character each.
    fn interleaved(texts: [&str; 2]) -> Vec<Value> {
        let a: Vec<char> = texts[0].chars().collect();
        let b: Vec<char> = texts[1].chars().collect();
        let mut chunks = Vec::new();
        for i in 0..a.len().max(b.len()) {
            for (index, chars) in [(0, &a), (1, &b)] {
                if let Some(c) = chars.get(i) {
                    chunks.push(json!({"choices": [{"index": index, "delta": {"content": c.to_string()}, "finish_reason": null}]}));
                }
            }
        }
        for index in 0..2 {
            chunks.push(json!({"choices": [{"index": index, "delta": {}, "finish_reason": "stop"}]}));
        }
        chunks
    }

    #[test]
    fn each_choice_of_a_stream_keeps_its_own_text() {
        let g = guards(GuardAction::Redact);
        let texts = [
            "first answer: write to jane.doe@example.com please. ",
            "second answer is a different one, no mail in it at all. ",
        ];
        let mut guard = StreamGuard::default();
        let mut report = GuardReport::default();
        let mut got = [String::new(), String::new()];
        for mut chunk in interleaved(texts) {
            guard.chunk(&g, &mut chunk, &mut report).unwrap();
            for choice in chunk["choices"].as_array().unwrap() {
                let i = choice["index"].as_u64().unwrap() as usize;
                got[i].push_str(choice["delta"]["content"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(got[0], "first answer: write to [EMAIL] please. ");
        assert_eq!(got[1], texts[1]);
        assert!(guard.finish(&g, &mut report).unwrap().is_none());
    }

    #[test]
    fn streamed_logprobs_do_not_spell_out_held_text() {
        let g = guards(GuardAction::Redact);
        let mut guard = StreamGuard::default();
        let mut chunk = json!({"choices": [{"index": 0, "delta": {"content": "jane.doe@"}, "finish_reason": null,
            "logprobs": {"content": [{"token": "jane.doe@", "logprob": -0.1}]}}]});
        guard.chunk(&g, &mut chunk, &mut GuardReport::default()).unwrap();
        assert!(!chunk.to_string().contains("jane"), "{chunk}");
    }

    #[test]
    fn tool_call_arguments_reasoning_and_refusal_are_guarded() {
        let g = guards(GuardAction::Redact);
        let args = "{\"to\": \"jane.doe@example.com\", \"card\": \"4111 1111 1111 1111\"}";
        let mut guard = StreamGuard::default();
        let mut report = GuardReport::default();
        let mut out = [String::new(), String::new(), String::new()];
        let mut collect = |chunk: &Value| {
            let delta = &chunk["choices"][0]["delta"];
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                out[0].push_str(call["function"]["arguments"].as_str().unwrap_or(""));
            }
            out[1].push_str(delta["reasoning_content"].as_str().unwrap_or(""));
            out[2].push_str(delta["refusal"].as_str().unwrap_or(""));
        };
        for c in args.chars() {
            let mut chunk = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": c.to_string()}}], "reasoning_content": c.to_string(), "refusal": c.to_string()}, "finish_reason": null}]});
            guard.chunk(&g, &mut chunk, &mut report).unwrap();
            collect(&chunk);
        }
        let mut last = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]});
        guard.chunk(&g, &mut last, &mut report).unwrap();
        collect(&last);
        let out = out.join("|");
        assert_eq!(
            out.matches("{\"to\": \"[EMAIL]\", \"card\": \"[CREDIT_CARD]\"}")
                .count(),
            3,
            "{out}"
        );
        assert!(!out.contains("4111") && !out.contains("jane"), "leaked: {out}");
        assert_eq!(report.redacted["email"], 3);
        assert_eq!(last.pointer("/choices/0/delta/tool_calls/0/index"), Some(&json!(1)));
    }
}
