//! The mock provider: deterministic, scriptable answers with no network, in-process
//! ([`MockProvider`](crate::providers::mock)) or over loopback HTTP ([`MockServer`]).

pub mod billing;
mod script;
// The HTTP mock server is for tests and the CLI's `mock-provider`; applications embedding the
// library do not carry it unless they ask for the `mock-server` feature.
#[cfg(feature = "mock-server")]
pub mod server;
/// Public so fixture tests can check the mock against the providers' own material.
#[cfg(any(feature = "mock-server", test))]
pub mod wire;

pub use script::{STALL, Script, Step, default_reply, split_words};
#[cfg(feature = "mock-server")]
pub use server::MockServer;

/// A deterministic unit-length embedding derived from the text (FNV-1a seeded).
pub fn embedding_vector(text: &str, dims: usize) -> Vec<f64> {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    let raw: Vec<f64> = (0..dims)
        .map(|i| {
            hash = hash
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407 + i as u64);
            ((hash >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    raw.into_iter().map(|x| (x / norm * 1e6).round() / 1e6).collect()
}
