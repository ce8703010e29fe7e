//! PII and secret detectors: patterns plus the checksums that keep them honest (Luhn for card
//! numbers, mod-97 for IBANs), so that order numbers and timestamps are not redacted.
//!
//! Text is normalised before matching (full-width forms folded to ASCII, zero-width characters
//! dropped; see [`normalize`]) so that `４１１１…` or `jane\u{200B}@…` cannot slip past, while
//! every span reported is a byte range of the ORIGINAL text, so redaction removes exactly what
//! was there.

use regex::Regex;
use std::sync::OnceLock;

/// One detected span (byte offsets) and the entity it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub entity: &'static str,
}

/// The longest (normalised) text any detector needs to see to recognise a match; streams hold
/// back this much. Longer matches (a 164-character `sk-proj-` key, a PEM block) are still held
/// whole, because a stream never cuts through a match it has recognised (up to
/// [`MAX_HOLD`]). The largest part is an e-mail: 64 + `@` + 63 + `.` + a TLD.
pub const MAX_MATCH: usize = 160;

/// The most text a stream holds back while a recognised match keeps growing (a PEM block,
/// a very long key); beyond it the held text is redacted and passed on.
pub const MAX_HOLD: usize = 16 * 1024;

fn detectors() -> &'static [(&'static str, Regex)] {
    static DETECTORS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("static PII pattern");
        vec![
            ("email", r(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}")),
            // A PEM private key: the whole block, or (cut short) the header and the base64 after it.
            ("api_key", r(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|[A-Za-z0-9+/=\s:,\-]*)")),
            // Key bodies have no upper bound: an `sk-proj-` key is ~164 characters, and a bound
            // would leave its tail in clear.
            ("api_key", r(r"\b(?:sk-[A-Za-z0-9_\-]{16,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{22,}|gh[pousr]_[A-Za-z0-9]{36,}|gsk_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_\-]{35}|AKIA[0-9A-Z]{16}|xox[baprs]-[A-Za-z0-9\-]{10,}|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)")),
            ("iban", r(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")),
            ("credit_card", r(r"\b(?:[0-9][ \-]?){12,18}[0-9]\b")),
            ("us_ssn", r(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b")),
            ("ipv4", r(r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b")),
            ("ipv6", r(r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?")),
            ("phone", r(r"(?:\+[0-9]{1,3}[ \-.]?(?:\([0-9]{1,4}\)[ \-.]?)?[0-9]{1,4}(?:[ \-.]?[0-9]{2,4}){2,4}|\([0-9]{3}\)[ \-.]?[0-9]{3}[ \-.][0-9]{4}|\b[0-9]{3}[\-.][0-9]{3}[\-.][0-9]{4})\b")),
        ]
    })
}

/// What a character reads as for matching: `None` drops it (zero-width and soft-hyphen
/// characters); full-width ASCII forms, mathematical digits and the compatibility spaces fold
/// to ASCII, as NFKC would, and the Unicode hyphens to `-`.
fn fold(c: char) -> Option<char> {
    match c {
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => None,
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => Some(' '),
        '\u{2010}'..='\u{2013}' | '\u{2212}' | '\u{FE63}' => Some('-'),
        '\u{FE6B}' => Some('@'),
        '\u{1D7CE}'..='\u{1D7FF}' => char::from_digit((c as u32 - 0x1D7CE) % 10, 10),
        // Arabic-Indic, Eastern Arabic-Indic and Devanagari digits: not NFKC, but a card
        // number written with them is still a card number.
        '\u{0660}'..='\u{0669}' => char::from_digit(c as u32 - 0x0660, 10),
        '\u{06F0}'..='\u{06F9}' => char::from_digit(c as u32 - 0x06F0, 10),
        '\u{0966}'..='\u{096F}' => char::from_digit(c as u32 - 0x0966, 10),
        _ => Some(c),
    }
}

/// A text as the detectors see it, with the way back to the original's byte offsets.
pub struct Normalized<'a> {
    original: &'a str,
    /// The folded text; `None` when it equals the original.
    folded: Option<String>,
    /// For each byte offset of the folded text (and its end): where that character starts in
    /// the original, and where the character before it ends.
    starts: Vec<usize>,
    ends: Vec<usize>,
}

/// Folds a text for matching (see [`fold`]); free when there is nothing to fold.
pub fn normalize(text: &str) -> Normalized<'_> {
    if text.chars().all(|c| fold(c) == Some(c)) {
        return Normalized {
            original: text,
            folded: None,
            starts: Vec::new(),
            ends: Vec::new(),
        };
    }
    let mut folded = String::with_capacity(text.len());
    let mut starts = Vec::with_capacity(text.len() + 1);
    let mut ends = Vec::with_capacity(text.len() + 1);
    ends.push(0);
    for (at, c) in text.char_indices() {
        let Some(f) = fold(c) else { continue };
        folded.push(f);
        let end = at + c.len_utf8();
        for _ in 0..f.len_utf8() {
            starts.push(at);
            ends.push(end);
        }
    }
    starts.push(text.len());
    Normalized {
        original: text,
        folded: Some(folded),
        starts,
        ends,
    }
}

impl Normalized<'_> {
    /// The text to match against.
    pub fn text(&self) -> &str {
        self.folded.as_deref().unwrap_or(self.original)
    }

    /// The original byte range of a folded range.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if self.folded.is_none() {
            return (start, end);
        }
        (self.starts[start], self.ends[end].max(self.starts[start]))
    }

    /// Where the folded offset `at` (a character boundary) falls in the original.
    pub fn original_offset(&self, at: usize) -> usize {
        if self.folded.is_none() { at } else { self.starts[at] }
    }
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

/// Every match of the wanted entities in a text, as original byte ranges, earliest first.
pub fn find(text: &str, wanted: &[String]) -> Vec<Found> {
    let normalized = normalize(text);
    find_folded(normalized.text(), wanted)
        .into_iter()
        .map(|f| {
            let (start, end) = normalized.original_span(f.start, f.end);
            Found { start, end, ..f }
        })
        .collect()
}

/// The matches in an already folded text (folded byte ranges). A match inside an earlier
/// detector's match is dropped (an email's digits are not also a phone number); one that
/// reaches past it is kept, so the caller's redaction covers the union.
pub fn find_folded(text: &str, wanted: &[String]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for (entity, re) in detectors() {
        if !wanted.iter().any(|w| w == entity) {
            continue;
        }
        for m in re.find_iter(text) {
            if !valid(entity, m.as_str()) || (*entity == "phone" && part_of_longer_number(text, m.start(), m.end())) {
                continue;
            }
            let overlaps = |f: &Found| m.start() < f.end && f.start < m.end();
            let inside = |f: &Found| f.start <= m.start() && m.end() <= f.end;
            if found.iter().any(|f| inside(f) || (overlaps(f) && f.entity == *entity)) {
                continue;
            }
            // Two detectors overlapping without containment: keep the earlier one's label
            // for counting, but widen it so nothing of the later match stays in clear.
            if let Some(f) = found.iter_mut().find(|f| overlaps(f)) {
                f.start = f.start.min(m.start());
                f.end = f.end.max(m.end());
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

    /// The spans found, as the original text they cover.
    fn spans(text: &str) -> Vec<(&'static str, String)> {
        find(text, &all())
            .into_iter()
            .map(|f| (f.entity, text[f.start..f.end].to_owned()))
            .collect()
    }

    #[test]
    fn long_and_newer_secret_formats_are_matched_whole() {
        let proj = format!("sk-proj-{}", "Ab3_-x9Z".repeat(20));
        assert_eq!(spans(&format!("key {proj} end")), vec![("api_key", proj.clone())]);
        let pat = format!("github_pat_11ABCDEFG0{}", "aB3dE_fG9h".repeat(8));
        assert_eq!(spans(&format!("token {pat}.")), vec![("api_key", pat.clone())]);
        for prefix in ["sk_live_", "rk_live_"] {
            let stripe = format!("{prefix}51H8xYzAbCdEfGhIjKlMnOpQrStUv");
            assert_eq!(spans(&format!("stripe {stripe} ok")), vec![("api_key", stripe.clone())]);
        }
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(spans(&format!("bearer {jwt}")), vec![("api_key", jwt.to_owned())]);
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd+/==\n-----END RSA PRIVATE KEY-----";
        assert_eq!(spans(&format!("here:\n{pem}\nbye")), vec![("api_key", pem.to_owned())]);
        // An unterminated block (a stream cut short) is still a key, up to where the base64 ends.
        let open = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
        assert_eq!(spans(open), vec![("api_key", open.to_owned())]);
    }

    #[test]
    fn full_width_and_zero_width_characters_do_not_hide_a_value() {
        // Full-width digits (U+FF10..U+FF19) in a card number; the span is in the original text.
        let card = "４１１１ １１１１ １１１１ １１１１";
        assert_eq!(
            spans(&format!("card {card} ok")),
            vec![("credit_card", card.to_owned())]
        );
        // Zero-width characters inside an e-mail address and a card number.
        let email = "jane\u{200B}.doe@exa\u{2060}mple.com";
        assert_eq!(spans(&format!("mail {email} now")), vec![("email", email.to_owned())]);
        let zw_card = "4111\u{200C}1111\u{200D}1111\u{FEFF}1111";
        assert_eq!(spans(zw_card), vec![("credit_card", zw_card.to_owned())]);
        let at = "jane＠example．com";
        assert_eq!(spans(at), vec![("email", at.to_owned())]);
    }
}
