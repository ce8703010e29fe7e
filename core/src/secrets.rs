//! Keeps secrets out of every message that leaves the gateway: errors, logs and audit records.
//!
//! Provider error bodies can echo the key back ("Incorrect API key provided: sk-…"), so every
//! upstream text passes through [`Scrubber::scrub`] before it reaches an [`crate::Error`].

use regex::Regex;
use std::sync::OnceLock;

/// Replaces known secrets (the configured keys) and anything shaped like an API key.
#[derive(Clone, Default)]
pub struct Scrubber {
    known: Vec<String>,
}

/// Only how many secrets it knows: the scrubber's own Debug must not print them.
impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.known.len())
    }
}

fn key_shapes() -> &'static Regex {
    static SHAPES: OnceLock<Regex> = OnceLock::new();
    SHAPES.get_or_init(|| {
        Regex::new(
            r"(sk-[A-Za-z0-9_\-]{6,}|sk_[A-Za-z0-9_\-]{6,}|AIza[0-9A-Za-z_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,})",
        )
        .expect("static regex")
    })
}

impl Scrubber {
    pub fn new() -> Scrubber {
        Scrubber::default()
    }

    /// Remembers a secret; secrets shorter than 4 characters are too ambiguous to scrub.
    pub fn add(&mut self, secret: &str) {
        if secret.len() >= 4 && !self.known.iter().any(|k| k == secret) {
            self.known.push(secret.to_owned());
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[REDACTED]");
            }
        }
        key_shapes().replace_all(&out, "[REDACTED]").into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_known_and_shaped_keys() {
        let mut s = Scrubber::new();
        s.add("topsecretvalue");
        let text = "Incorrect API key provided: sk-abc123456789. also topsecretvalue; Bearer abcdefghijk";
        let out = s.scrub(text);
        assert!(!out.contains("sk-abc123456789"));
        assert!(!out.contains("topsecretvalue"));
        assert!(!out.contains("abcdefghijk"));
        assert!(out.contains("Incorrect API key provided"));
    }
}
