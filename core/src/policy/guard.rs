//! Guardrails on what goes in and what comes out: PII detectors, custom patterns, keyword
//! lists and a prompt-size cap, each with an action (redact, block, log). Streams are redacted
//! with a bounded hold-back so that a match split across chunks is never leaked.

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
struct Hit {
    start: usize,
    end: usize,
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

    fn hits(&self, text: &str, output: bool) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if (output && !rule.output) || (!output && !rule.input) {
                continue;
            }
            let found: Vec<(usize, usize, String)> = match &rule.matcher {
                Matcher::Pii(entities) => pii::find(text, entities)
                    .into_iter()
                    .map(|f| (f.start, f.end, f.entity.to_owned()))
                    .collect(),
                Matcher::Patterns(res) => res
                    .iter()
                    .flat_map(|re| re.find_iter(text).map(|m| (m.start(), m.end(), rule.name.clone())))
                    .collect(),
                Matcher::MaxInputTokens(_) => vec![],
            };
            for (start, end, label) in found {
                if !hits.iter().any(|h| start < h.end && h.start < end) {
                    hits.push(Hit {
                        start,
                        end,
                        label,
                        rule: i,
                    });
                }
            }
        }
        hits.sort_by_key(|h| h.start);
        hits
    }

    /// Applies the rules to a text: redacted text, or the block error.
    fn apply(&self, text: &str, output: bool, report: &mut GuardReport) -> Result<String> {
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

    /// Checks and redacts a request's messages in place.
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
        for message in request
            .get_mut("messages")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            match message.get_mut("content") {
                Some(Value::String(s)) => *s = self.apply(s, false, report)?,
                Some(Value::Array(parts)) => {
                    for part in parts {
                        if let Some(Value::String(s)) = part.get_mut("text") {
                            *s = self.apply(s, false, report)?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks and redacts a whole response's message contents in place.
    pub fn check_output(&self, response: &mut Value, report: &mut GuardReport) -> Result<()> {
        for choice in response
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(Value::String(s)) = choice.pointer_mut("/message/content") {
                *s = self.apply(s, true, report)?;
            }
        }
        Ok(())
    }
}

/// Redacts a stream's text as it passes, holding back only the tail a match could still grow
/// into, so that a match split over two chunks is caught whole.
#[derive(Default)]
pub struct StreamRedactor {
    held: String,
}

impl StreamRedactor {
    /// Takes the next piece of text; returns what is safe to pass on now.
    pub fn push(&mut self, guards: &Guards, text: &str, report: &mut GuardReport) -> Result<String> {
        self.held.push_str(text);
        if self.held.len() <= pii::MAX_MATCH {
            return Ok(String::new());
        }
        let mut cut = self.held.len() - pii::MAX_MATCH;
        while !self.held.is_char_boundary(cut) {
            cut -= 1;
        }
        // Never cut through a match: move the cut to its start.
        for h in guards.hits(&self.held, true) {
            if h.start < cut && cut < h.end {
                cut = h.start;
            }
        }
        let ready: String = self.held.drain(..cut).collect();
        guards.apply(&ready, true, report)
    }

    /// The rest, once the stream has finished.
    pub fn finish(&mut self, guards: &Guards, report: &mut GuardReport) -> Result<String> {
        let rest = std::mem::take(&mut self.held);
        guards.apply(&rest, true, report)
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
    fn block_names_the_rule_not_the_text() {
        let g = guards(GuardAction::Block);
        let mut request = json!({"messages": [{"role": "user", "content": "mail me at jane@example.com"}]});
        let err = g.check_input(&mut request, &mut GuardReport::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::GuardrailBlocked);
        assert!(err.message.contains("`pii`") && err.message.contains("email"));
        assert!(!err.message.contains("jane@example.com"));
    }
}
