//! Guardrails on what goes in and what comes out: PII detectors, custom patterns, keyword
//! lists and a prompt-size cap, each with an action (redact, block, log), applied to every
//! field of a request or response that carries user data. Streams are guarded in
//! `guard_stream.rs`.

use super::pii;
use crate::config::{GuardAction, GuardKind, GuardrailConfig};
use crate::error::{Error, ErrorKind, Result};
use regex::Regex;
use serde_json::{Value, json};
use std::collections::BTreeMap;

enum Matcher {
    Pii(Vec<String>),
    Patterns(Vec<Regex>),
    MaxInputTokens(u64),
}

struct Rule {
    name: String,
    action: GuardAction,
    input: bool,
    output: bool,
    matcher: Matcher,
}

/// What the guardrails did to one call (counts only, never the matched text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardReport {
    pub redacted: BTreeMap<String, u64>,
    pub logged: BTreeMap<String, u64>,
}

impl GuardReport {
    pub fn to_json(&self) -> Value {
        json!({"redacted": self.redacted, "logged": self.logged})
    }
}

/// A span to act on: byte range, what it is, and the rule's action.
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    label: String,
    rule: usize,
}

pub struct Guards {
    rules: Vec<Rule>,
}

fn blocked(rule: &str, label: &str, side: &str) -> Error {
    Error::new(ErrorKind::GuardrailBlocked, format!("guardrail `{rule}` blocked the {side}: it found {label}; remove it, or change the rule's action to `redact`"))
        .with_retryable(false)
}

/// A base64 blob (a `data:…;base64,` URL, or 256+ characters of nothing but base64): no
/// detector can read a value in it, and scanning megabytes of image data would be waste. The
/// test is strict, so that a text merely starting with `data:` is still checked.
fn is_base64_payload(s: &str) -> bool {
    let body = match s.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,")) {
        Some((media, body)) if !media.contains(char::is_whitespace) => body,
        Some(_) => return false,
        None if s.len() >= 256 => s,
        None => return false,
    };
    body.bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
}

impl Guards {
    pub fn new(configs: &[GuardrailConfig]) -> Guards {
        let rules = configs
            .iter()
            .map(|c| Rule {
                name: c.name.clone(),
                action: c.action,
                input: c.input,
                output: c.output,
                matcher: match &c.kind {
                    GuardKind::Pii { entities } => Matcher::Pii(entities.clone()),
                    GuardKind::Regex { patterns } => {
                        Matcher::Patterns(patterns.iter().filter_map(|p| Regex::new(p).ok()).collect())
                    }
                    GuardKind::Keywords { words } => {
                        let alternation: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
                        Matcher::Patterns(
                            Regex::new(&format!(r"(?i)\b(?:{})\b", alternation.join("|")))
                                .into_iter()
                                .collect(),
                        )
                    }
                    GuardKind::MaxInputTokens { limit } => Matcher::MaxInputTokens(*limit),
                },
            })
            .collect();
        Guards { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn has_output(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.output && !matches!(r.matcher, Matcher::MaxInputTokens(_)))
    }

    /// Every hit of every rule that applies to this side, as byte ranges of the original text
    /// (rules match the normalised text, see [`pii::normalize`]). Hits of different rules may
    /// overlap: [`Guards::apply`] lets the strongest action win.
    pub(crate) fn hits(&self, text: &str, output: bool) -> Vec<Hit> {
        let normalized = pii::normalize(text);
        let folded = normalized.text();
        let mut hits: Vec<Hit> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if (output && !rule.output) || (!output && !rule.input) {
                continue;
            }
            let mut push = |start: usize, end: usize, label: &str, in_folded: bool| {
                let (start, end) = if in_folded {
                    normalized.original_span(start, end)
                } else {
                    (start, end)
                };
                if start < end {
                    hits.push(Hit {
                        start,
                        end,
                        label: label.to_owned(),
                        rule: i,
                    });
                }
            };
            match &rule.matcher {
                Matcher::Pii(entities) => {
                    for f in pii::find_folded(folded, entities) {
                        push(f.start, f.end, f.entity, true);
                    }
                }
                Matcher::Patterns(res) => {
                    for re in res {
                        for m in re.find_iter(folded) {
                            push(m.start(), m.end(), &rule.name, true);
                        }
                        // A custom pattern may be written for the original characters.
                        if folded.len() != text.len() || folded != text {
                            for m in re.find_iter(text) {
                                push(m.start(), m.end(), &rule.name, false);
                            }
                        }
                    }
                }
                Matcher::MaxInputTokens(_) => {}
            }
        }
        hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
        // A pattern that matched both the folded and the original text counts once.
        hits.dedup_by(|a, b| (a.start, a.end, a.rule) == (b.start, b.end, b.rule));
        hits
    }

    /// Applies the rules to a text: redacted text, or the block error. Overlapping hits do not
    /// hide each other: any `block` hit blocks, every `redact` span is removed (overlaps are
    /// merged into one placeholder) and every `log` hit is counted.
    pub(crate) fn apply(&self, text: &str, output: bool, report: &mut GuardReport) -> Result<String> {
        let hits = self.hits(text, output);
        if hits.is_empty() {
            return Ok(text.to_owned());
        }
        let side = if output { "response" } else { "request" };
        if let Some(h) = hits.iter().find(|h| self.rules[h.rule].action == GuardAction::Block) {
            return Err(blocked(&self.rules[h.rule].name, &h.label, side));
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for h in &hits {
            match self.rules[h.rule].action {
                GuardAction::Redact if h.end <= at => {}
                GuardAction::Redact if h.start < at => at = h.end,
                GuardAction::Redact => {
                    out.push_str(&text[at..h.start]);
                    out.push_str(&pii::placeholder(&h.label));
                    at = h.end;
                    *report.redacted.entry(h.label.clone()).or_insert(0) += 1;
                }
                _ => *report.logged.entry(h.label.clone()).or_insert(0) += 1,
            }
        }
        out.push_str(&text[at..]);
        Ok(out)
    }

    /// Applies the rules to one string in place.
    fn apply_in_place(&self, text: &mut String, output: bool, report: &mut GuardReport) -> Result<()> {
        let checked = self.apply(text, output, report)?;
        if checked != *text {
            *text = checked;
        }
        Ok(())
    }

    /// Tool-call arguments are JSON text: its string values (and keys) are checked one by one
    /// and the JSON written back, so that redaction keeps it valid JSON; text that is not JSON
    /// is checked as it is.
    fn apply_arguments(&self, arguments: &mut String, output: bool, report: &mut GuardReport) -> Result<()> {
        match serde_json::from_str::<Value>(arguments) {
            Ok(mut parsed) if parsed.is_object() || parsed.is_array() => {
                let before = parsed.clone();
                self.walk(&mut parsed, output, false, report)?;
                if parsed != before {
                    *arguments = parsed.to_string();
                }
                Ok(())
            }
            _ => self.apply_in_place(arguments, output, report),
        }
    }

    /// Checks every string in a value, object keys included, and `arguments` strings as JSON.
    /// Only what cannot carry readable user data is skipped: the top-level `model` (the
    /// route) and base64 payloads (images, audio, files; see [`is_base64_payload`]).
    fn walk(&self, value: &mut Value, output: bool, top: bool, report: &mut GuardReport) -> Result<()> {
        match value {
            Value::String(s) if is_base64_payload(s) => Ok(()),
            Value::String(s) => self.apply_in_place(s, output, report),
            Value::Array(items) => items.iter_mut().try_for_each(|v| self.walk(v, output, false, report)),
            Value::Object(map) => {
                let mut renamed = Vec::new();
                for (key, v) in map.iter_mut() {
                    if top && key == "model" {
                        continue;
                    }
                    let checked = self.apply(key, output, report)?;
                    if checked != *key {
                        renamed.push((key.clone(), checked));
                    }
                    match v {
                        Value::String(s) if key == "arguments" => self.apply_arguments(s, output, report)?,
                        _ => self.walk(v, output, false, report)?,
                    }
                }
                if !renamed.is_empty() {
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        let k = match renamed.iter().find(|(from, _)| *from == k) {
                            Some((_, to)) => to.clone(),
                            None => k,
                        };
                        map.insert(k, v);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Checks and redacts a request in place: every field that carries user data (messages
    /// with their content parts, names and tool-call arguments, tool descriptions and schemas,
    /// embeddings `input`, `user`, `metadata`, `stop`, …), not only `messages[].content`.
    pub fn check_input(&self, request: &mut Value, report: &mut GuardReport) -> Result<()> {
        for rule in &self.rules {
            if let (Matcher::MaxInputTokens(limit), true) = (&rule.matcher, rule.input) {
                let estimate = crate::tokens::estimate_prompt(request);
                if estimate > *limit {
                    match rule.action {
                        GuardAction::Log => *report.logged.entry(rule.name.clone()).or_insert(0) += 1,
                        _ => {
                            return Err(Error::new(ErrorKind::GuardrailBlocked, format!("guardrail `{}` blocked the request: about {estimate} prompt tokens, over the limit of {limit}; shorten the prompt", rule.name)).with_retryable(false));
                        }
                    }
                }
            }
        }
        if !self
            .rules
            .iter()
            .any(|r| r.input && !matches!(r.matcher, Matcher::MaxInputTokens(_)))
        {
            return Ok(());
        }
        self.walk(request, false, true, report)
    }

    /// Checks and redacts a whole response in place: every choice's message (content, array
    /// content, `refusal`, `reasoning_content`, tool-call arguments). A choice in which
    /// anything was redacted loses its `logprobs`, whose tokens would spell the value out.
    pub fn check_output(&self, response: &mut Value, report: &mut GuardReport) -> Result<()> {
        for choice in response
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let before = report.redacted.values().sum::<u64>();
            for field in ["message", "text"] {
                if let Some(v) = choice.get_mut(field) {
                    self.walk(v, true, false, report)?;
                }
            }
            if report.redacted.values().sum::<u64>() > before
                && let Some(logprobs) = choice.get_mut("logprobs")
            {
                *logprobs = Value::Null;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guards(action: GuardAction) -> Guards {
        Guards::new(&[GuardrailConfig {
            name: "pii".into(),
            kind: GuardKind::Pii {
                entities: vec!["email".into(), "credit_card".into()],
            },
            action,
            input: true,
            output: true,
        }])
    }

    #[test]
    fn block_names_the_rule_not_the_text() {
        let g = guards(GuardAction::Block);
        let mut request = json!({"messages": [{"role": "user", "content": "mail me at jane@example.com"}]});
        let err = g.check_input(&mut request, &mut GuardReport::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::GuardrailBlocked);
        assert!(err.message.contains("`pii`") && err.message.contains("email"));
        assert!(!err.message.contains("jane@example.com"));
    }

    fn rule(name: &str, kind: GuardKind, action: GuardAction) -> GuardrailConfig {
        GuardrailConfig {
            name: name.into(),
            kind,
            action,
            input: true,
            output: true,
        }
    }

    fn everywhere(request: &Value) -> String {
        request.to_string()
    }

    #[test]
    fn input_is_scanned_in_every_field_that_carries_user_data() {
        let g = guards(GuardAction::Redact);
        let mail = "jane.doe@example.com";
        let mut request = json!({
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": format!("cc {mail}")}]},
                {"role": "user", "name": mail, "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "send", "arguments": format!("{{\"to\": \"{mail}\"}}")}}]},
                {"role": "tool", "tool_call_id": "c1", "content": format!("sent to {mail}")},
            ],
            "tools": [{"type": "function", "function": {"name": "send", "description": format!("mails {mail}"),
                "parameters": {"type": "object", "properties": {"to": {"type": "string", "description": format!("e.g. {mail}")}}}}}],
        });
        g.check_input(&mut request, &mut GuardReport::default()).unwrap();
        assert!(!everywhere(&request).contains("jane.doe"), "leaked: {request}");
        let args: Value = serde_json::from_str(
            request
                .pointer("/messages/2/tool_calls/0/function/arguments")
                .unwrap()
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(args, json!({"to": "[EMAIL]"}), "arguments stay valid JSON");
        for input in [json!(format!("embed {mail}")), json!(["fine", format!("embed {mail}")])] {
            let mut request = json!({"model": "e", "input": input});
            g.check_input(&mut request, &mut GuardReport::default()).unwrap();
            assert!(
                !everywhere(&request).contains("jane.doe"),
                "embeddings leaked: {request}"
            );
        }
    }

    #[test]
    fn only_real_base64_payloads_are_skipped() {
        let g = guards(GuardAction::Redact);
        let image = format!("data:image/png;base64,{}", "iVBORw0KGgoAAAANSUhEUgAA".repeat(20));
        let mut request = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "data:x;base64, card 4111 1111 1111 1111"},
            {"type": "image_url", "image_url": {"url": image.clone()}},
            {"type": "input_audio", "input_audio": {"data": "mail jane.doe@example.com", "format": "wav"}},
        ]}]});
        g.check_input(&mut request, &mut GuardReport::default()).unwrap();
        let sent = request.to_string();
        assert!(!sent.contains("4111") && !sent.contains("jane.doe"), "{sent}");
        assert!(sent.contains(&image), "the image is passed untouched");
    }

    #[test]
    fn output_is_scanned_in_every_choice_and_field() {
        let g = guards(GuardAction::Redact);
        let mail = "jane.doe@example.com";
        let mut response = json!({"choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok", "reasoning_content": format!("think {mail}"), "refusal": format!("no {mail}")}},
            {"index": 1, "message": {"role": "assistant", "content": [{"type": "text", "text": mail}],
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": format!("{{\"a\":\"{mail}\"}}")}}]}},
        ]});
        g.check_output(&mut response, &mut GuardReport::default()).unwrap();
        assert!(!response.to_string().contains("jane.doe"), "leaked: {response}");
    }

    #[test]
    fn the_strongest_action_wins_over_an_earlier_overlapping_rule() {
        let g = Guards::new(&[
            rule(
                "watch",
                GuardKind::Keywords {
                    words: vec!["jane.doe@example.com".into()],
                },
                GuardAction::Log,
            ),
            rule(
                "pii",
                GuardKind::Pii {
                    entities: vec!["email".into()],
                },
                GuardAction::Block,
            ),
        ]);
        let mut request = json!({"messages": [{"role": "user", "content": "to jane.doe@example.com"}]});
        let err = g.check_input(&mut request, &mut GuardReport::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::GuardrailBlocked);
        assert!(err.message.contains("`pii`"));
        // A log rule's span inside a longer redacted span does not leave the rest in clear.
        let g = Guards::new(&[
            rule(
                "watch",
                GuardKind::Keywords {
                    words: vec!["doe".into()],
                },
                GuardAction::Log,
            ),
            rule(
                "pii",
                GuardKind::Pii {
                    entities: vec!["email".into()],
                },
                GuardAction::Redact,
            ),
        ]);
        let mut request = json!({"messages": [{"role": "user", "content": "to jane.doe@example.com"}]});
        let mut report = GuardReport::default();
        g.check_input(&mut request, &mut report).unwrap();
        assert_eq!(request.pointer("/messages/0/content").unwrap(), "to [EMAIL]");
        assert_eq!(report.logged["watch"], 1);
    }
}
