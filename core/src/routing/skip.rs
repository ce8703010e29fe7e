//! Why a deployment was passed over for a call, kept typed until it is shown: the error for a
//! call no deployment could take is chosen from the variants (not by searching their text),
//! and its `retry_after` comes from the wait they carry.

use super::health::Unavailable;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// A `policies.residency` rule that applies to the call does not allow this region.
    Residency {
        region: String,
        when: String,
        allowed: String,
    },
    /// A route rule that applies to the call does not allow this region.
    RouteRegion {
        region: String,
        when: String,
        allowed: String,
    },
    /// A route rule that applies to the call names other targets.
    NotATarget { when: String },
    /// The estimated prompt does not fit the deployment's context window.
    ContextWindow { window: u64, prompt: u64 },
    /// The circuit breaker is open, here or (`elsewhere`) in another process on shared state.
    BreakerOpen { probe_in: Duration, elsewhere: bool },
    /// The deployment's `rpm`/`tpm` capacity is used up until `frees_in`.
    Saturated { frees_in: Duration },
}

impl SkipReason {
    /// How long until this deployment could take the call again, when that is known.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            SkipReason::BreakerOpen { probe_in, .. } => Some(*probe_in),
            SkipReason::Saturated { frees_in } => Some(*frees_in),
            _ => None,
        }
    }
}

impl From<Unavailable> for SkipReason {
    fn from(why: Unavailable) -> SkipReason {
        match why {
            Unavailable::BreakerOpen(probe_in) => SkipReason::BreakerOpen {
                probe_in,
                elsewhere: false,
            },
            Unavailable::Saturated(frees_in) => SkipReason::Saturated { frees_in },
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Residency { region, when, allowed } => {
                write!(
                    f,
                    "residency: region `{region}` not allowed for {when} (allowed: {allowed})"
                )
            }
            SkipReason::RouteRegion { region, when, allowed } => {
                write!(f, "region `{region}` not allowed for {when} (allowed: {allowed})")
            }
            SkipReason::NotATarget { when } => write!(f, "not a target for {when}"),
            SkipReason::ContextWindow { window, prompt } => {
                write!(f, "context window {window} tokens < estimated prompt {prompt} tokens")
            }
            SkipReason::BreakerOpen {
                probe_in,
                elsewhere: false,
            } => {
                write!(f, "breaker open (probe in {:.1}s)", probe_in.as_secs_f64())
            }
            SkipReason::BreakerOpen {
                probe_in,
                elsewhere: true,
            } => {
                write!(
                    f,
                    "breaker open in another process (probe in {:.1}s)",
                    probe_in.as_secs_f64()
                )
            }
            SkipReason::Saturated { frees_in } => {
                write!(f, "saturated (capacity frees in {:.1}s)", frees_in.as_secs_f64())
            }
        }
    }
}
