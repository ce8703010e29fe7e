//! What the mock provider bills, per model, as a provider would: the prompt of every request
//! it accepts (once it has read it, even if the client then leaves), the output it sends. A
//! stream that ends early (the client left, or a scripted cut) bills the output of the chunks
//! sent, ⌈characters / 4⌉ of their text and tool-call arguments; a whole answer bills its
//! `usage`. `GET /_mock/stats` reports it (`billed`), priced with the built-in catalog, so a
//! test can compare what the gateway charged with what the provider billed.

use crate::pricing::PriceBook;
use crate::usage::Usage;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Ledger {
    by_model: Mutex<BTreeMap<String, (u64, u64)>>,
}

impl Ledger {
    pub fn bill(&self, model: &str, input: u64, output: u64) {
        let mut by_model = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        let entry = by_model.entry(model.to_owned()).or_default();
        entry.0 += input;
        entry.1 += output;
    }

    pub fn clear(&self) {
        self.by_model.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// `{"models": {model: {input_tokens, output_tokens, cost_usd}}, "cost_usd": total}`; a
    /// model missing from the catalog costs `null` (and is left out of the total).
    pub fn to_json(&self) -> Value {
        let book = PriceBook::builtin();
        let by_model = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0.0;
        let models: serde_json::Map<String, Value> = by_model
            .iter()
            .map(|(model, (input, output))| {
                let usage = Usage {
                    input_tokens: *input,
                    output_tokens: *output,
                    ..Usage::default()
                };
                let cost = book.cost(model, &usage);
                total += cost.unwrap_or(0.0);
                (
                    model.clone(),
                    json!({"input_tokens": input, "output_tokens": output, "cost_usd": cost}),
                )
            })
            .collect();
        json!({"models": models, "cost_usd": total})
    }
}

/// A stream's output bill, paid when the stream is dropped (ended or abandoned).
pub struct StreamBill {
    ledger: Arc<Ledger>,
    model: String,
    /// Text and tool-call arguments of the chunks sent so far.
    sent: String,
    /// The output the whole answer reports in its usage.
    whole: u64,
    complete: bool,
}

impl StreamBill {
    pub fn new(ledger: Arc<Ledger>, model: &str, whole: u64) -> StreamBill {
        StreamBill {
            ledger,
            model: model.to_owned(),
            sent: String::new(),
            whole,
            complete: false,
        }
    }

    /// One SSE event went out (OpenAI-style `data: {chunk}`; other shapes bill as a whole only).
    pub fn sent(&mut self, event: &[u8]) {
        let Some(chunk) = std::str::from_utf8(event)
            .ok()
            .and_then(|e| e.trim().strip_prefix("data: "))
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        else {
            return;
        };
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                self.sent.push_str(text);
            }
            for call in choice
                .pointer("/delta/tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                    self.sent.push_str(args);
                }
            }
        }
    }

    /// Every event was sent: the answer's own usage is billed.
    pub fn complete(&mut self) {
        self.complete = true;
    }
}

impl Drop for StreamBill {
    fn drop(&mut self) {
        let output = if self.complete {
            self.whole
        } else {
            crate::tokens::estimate_text(&self.sent)
        };
        self.ledger.bill(&self.model, 0, output);
    }
}
