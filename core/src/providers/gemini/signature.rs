//! Gemini thought signatures carried through OpenAI tool-call ids.
//!
//! Gemini 3 answers 400 when the first `functionCall` part of a step in the current turn comes
//! back without the `thoughtSignature` the model sent beside it. An OpenAI client returns only
//! the tool-call `id` for sure (every client must echo it as `tool_call_id`), so the signature
//! travels inside the id, reversibly:
//!
//! - `call_<24 hex>` — a call without a signature;
//! - `call_<24 hex>__ts_<signature>` — a standard-base64 signature (what the API sends), written
//!   in the URL-safe alphabet without padding (`+`→`-`, `/`→`_`, `=` dropped; the padding comes
//!   back from the length), so the id stays within `[A-Za-z0-9_-]` as Anthropic requires of
//!   `tool_use` ids and a fallback can carry it;
//! - `call_<24 hex>__tx_<hex>` — any other signature string, as the hex of its UTF-8 bytes.
//!
//! The hex part is unique per call: a hash of a per-process random value, the response id, the
//! candidate and the call's position (`call_0`, `call_1`… in every turn would collide in a
//! history, which Anthropic rejects). A history the model did not write (the application's own,
//! or another provider's) has no signature; its steps get [`PLACEHOLDER`], the value Google
//! documents for that case (<https://ai.google.dev/gemini-api/docs/thought-signatures>, FAQ).

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The signature Google documents for function calls the model did not produce.
pub const PLACEHOLDER: &str = "skip_thought_signature_validator";

const BASE64: &str = "__ts_";
const HEX: &str = "__tx_";

fn is_standard_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// A unique id for call `call` of candidate `candidate` in the response `response_id`.
pub fn unique_id(response_id: &str, candidate: u64, call: usize) -> String {
    static NONCE: OnceLock<u64> = OnceLock::new();
    let nonce = NONCE.get_or_init(rand::random::<u64>);
    let digest = Sha256::digest(format!("{nonce}\n{response_id}\n{candidate}\n{call}"));
    format!("call_{}", &hex::encode(digest)[..24])
}

/// The tool-call id for `id` carrying `signature`, if any.
pub fn attach(id: &str, signature: Option<&str>) -> String {
    match signature {
        None | Some("") => id.to_owned(),
        Some(s) if is_standard_base64(s) => {
            let url_safe: String = s
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '+' => '-',
                    '/' => '_',
                    c => c,
                })
                .collect();
            format!("{id}{BASE64}{url_safe}")
        }
        Some(s) => format!("{id}{HEX}{}", hex::encode(s)),
    }
}

/// The id without its signature (what another provider should see).
pub fn plain_id(id: &str) -> &str {
    [BASE64, HEX]
        .iter()
        .filter_map(|mark| id.find(mark))
        .min()
        .map_or(id, |at| &id[..at])
}

/// The signature a tool-call id carries, exactly as the API sent it.
pub fn signature_of(id: &str) -> Option<String> {
    let at = plain_id(id).len();
    let rest = &id[at..];
    if let Some(b) = rest.strip_prefix(BASE64) {
        let mut s: String = b
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        Some(s)
    } else {
        rest.strip_prefix(HEX)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_through_ids() {
        for sig in [
            "CiQBVKhc7g+/Zz==",
            "CiQBVKhc7gA=",
            "CiQBVKhc",
            PLACEHOLDER,
            "odd value!",
            "QQ",
        ] {
            let id = attach("call_0123456789abcdef01234567", Some(sig));
            assert_eq!(signature_of(&id).as_deref(), Some(sig), "{id}");
            assert_eq!(plain_id(&id), "call_0123456789abcdef01234567");
            assert!(
                id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{id}"
            );
        }
        assert_eq!(signature_of("call_abc"), None);
        assert_eq!(signature_of("toolu_01A09q90qw90lq917835lq9"), None);
        assert_eq!(attach("call_x", None), "call_x");
    }

    #[test]
    fn ids_are_unique_per_call_and_stable_per_response() {
        assert_ne!(unique_id("r1", 0, 0), unique_id("r1", 0, 1));
        assert_ne!(unique_id("r1", 0, 0), unique_id("r2", 0, 0));
        assert_ne!(unique_id("r1", 0, 0), unique_id("r1", 1, 0));
        assert_eq!(unique_id("r1", 0, 0), unique_id("r1", 0, 0));
        assert_eq!(unique_id("r1", 0, 0).len(), 29);
    }
}
