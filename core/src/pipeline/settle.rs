//! Settling an answered call: what it used is priced into its record, and its ticket (rate
//! limits and budgets) is charged exactly that. Plain calls, finished streams and dropped
//! streams all settle here, so that what is recorded is what is charged.

use crate::config::DeploymentConfig;
use crate::engine::Engine;
use crate::meter::CallRecord;
use crate::policy::Ticket;
use crate::usage::Usage;

/// Prices the call's usage into `record` and settles `ticket` with it. `reported` is the
/// provider's count; without one the call is still billed, at `estimate` (and the record
/// says so). Returns the usage settled.
pub(crate) fn settle(
    engine: &Engine,
    record: &mut CallRecord,
    deployment: &DeploymentConfig,
    reported: Option<Usage>,
    estimate: impl FnOnce() -> Usage,
    ticket: Option<Ticket>,
) -> Usage {
    record.usage_estimated = reported.is_none();
    let usage = reported.unwrap_or_else(estimate);
    engine.price(record, deployment, Some(usage));
    if let Some(ticket) = ticket {
        ticket.settle(usage, record.reported_cost_usd());
    }
    usage
}
