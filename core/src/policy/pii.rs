//! PII and secret detectors: patterns plus the checksums that keep them honest (Luhn for card
//! numbers, mod-97 for IBANs), so that order numbers and timestamps are not redacted.

use regex::Regex;
use std::sync::OnceLock;

/// One detected span (byte offsets) and the entity it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub entity: &'static str,
}

/// The longest match any detector looks for; streams hold back this much text.
pub const MAX_MATCH: usize = 96;

fn detectors() -> &'static [(&'static str, Regex)] {
    static DETECTORS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("static PII pattern");
        vec![
            ("email", r(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}")),
            ("api_key", r(r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,80}|gsk_[A-Za-z0-9]{20,60}|AIza[0-9A-Za-z_\-]{35}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9\-]{10,60})")),
            ("iban", r(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")),
            ("credit_card", r(r"\b(?:\d[ \-]?){12,18}\d\b")),
            ("us_ssn", r(r"\b\d{3}-\d{2}-\d{4}\b")),
            ("ipv4", r(r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b")),
            ("ipv6", r(r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?")),
            ("phone", r(r"(?:\+\d{1,3}[ \-.]?(?:\(\d{1,4}\)[ \-.]?)?\d{1,4}(?:[ \-.]?\d{2,4}){2,4}|\(\d{3}\)[ \-.]?\d{3}[ \-.]\d{4}|\b\d{3}[\-.]\d{3}[\-.]\d{4})\b")),
        ]
    })
}

fn luhn(digits: &str) -> bool {
    let ds: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&ds.len()) {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn iban_valid(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u64 = 0;
    for c in rearranged.chars() {
        let value = match c {
            '0'..='9' => c as u64 - '0' as u64,
            'A'..='Z' => c as u64 - 'A' as u64 + 10,
            _ => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

fn valid(entity: &str, text: &str) -> bool {
    match entity {
        "credit_card" => luhn(text),
        "iban" => iban_valid(text),
        "phone" => text.chars().filter(char::is_ascii_digit).count() >= 7,
        _ => true,
    }
}

/// Whether digits continue right before or after a span (a phone inside a longer number).
fn part_of_longer_number(text: &str, start: usize, end: usize) -> bool {
    let after = text[end..].chars().take(2).collect::<Vec<_>>();
    let before = text[..start].chars().rev().take(2).collect::<Vec<_>>();
    let continues = |c: &[char]| {
        matches!(c, [d, ..] if d.is_ascii_digit()) || matches!(c, [' ' | '-' | '.', d, ..] if d.is_ascii_digit())
    };
    continues(&after) || continues(&before)
}

/// Every non-overlapping match of the wanted entities, earliest first (earlier detectors win
/// ties, so an email's digits are not also a phone number).
pub fn find(text: &str, wanted: &[String]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for (entity, re) in detectors() {
        if !wanted.iter().any(|w| w == entity) {
            continue;
        }
        for m in re.find_iter(text) {
            if !valid(entity, m.as_str()) || (*entity == "phone" && part_of_longer_number(text, m.start(), m.end())) {
                continue;
            }
            if found.iter().any(|f| m.start() < f.end && f.start < m.end()) {
                continue;
            }
            found.push(Found {
                start: m.start(),
                end: m.end(),
                entity,
            });
        }
    }
    found.sort_by_key(|f| f.start);
    found
}

/// The typed placeholder a redacted entity becomes.
pub fn placeholder(entity: &str) -> String {
    format!("[{}]", entity.to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<String> {
        crate::config::PII_ENTITIES.iter().map(|e| (*e).to_owned()).collect()
    }

    fn entities(text: &str) -> Vec<&'static str> {
        find(text, &all()).into_iter().map(|f| f.entity).collect()
    }

    #[test]
    fn detects_with_checksums() {
        assert_eq!(entities("mail jane.doe@example.com now"), vec!["email"]);
        assert_eq!(entities("card 4111 1111 1111 1111"), vec!["credit_card"]);
        assert_eq!(entities("order 4111 1111 1111 1112"), Vec::<&str>::new(), "fails Luhn");
        assert_eq!(entities("IBAN DE89 3704 0044 0532 0130 00"), vec!["iban"]);
        assert!(
            !entities("IBAN DE89 3704 0044 0532 0130 01").contains(&"iban"),
            "fails mod 97"
        );
        assert_eq!(entities("ssn 123-45-6789"), vec!["us_ssn"]);
        assert_eq!(entities("host 192.168.10.1"), vec!["ipv4"]);
        assert_eq!(entities("v6 2001:db8::8a2e:370:7334"), vec!["ipv6"]);
        assert_eq!(entities("key sk-proj-abcdefghijklmnopqrstuvwx"), vec!["api_key"]);
        assert_eq!(entities("call +1 415 555 0100"), vec!["phone"]);
        assert_eq!(entities("call (415) 555-0100 or 415-555-0100"), vec!["phone", "phone"]);
        assert_eq!(entities("at 2026-11-28 10:15"), Vec::<&str>::new());
    }
}
