//! The call pipeline, one for every operation (chat, chat stream, embeddings):
//!
//! ```text
//! admit ──► cache? ──► attempt loop ──► settle ──► record
//! (key, input guard,   (hit: served    (plain: the     (usage and cost   (metering, trace,
//!  plan, reserve)       free)           answer;         into the record,  hooks, audit)
//!                                        stream: first   ticket charged;
//!                                        content)        output guard)
//! ```
//!
//! [`admit`] identifies, guards, plans and reserves; [`attempt::attempt_loop`] is the only
//! place deployments are tried; [`settle::settle`] is the only place a ticket is charged for an
//! answer; [`record`] is the only place a finished call is written down. A plain call runs the
//! whole pipeline before it returns ([`plain`]); a stream returns after its first content and
//! its reader task settles and records when the stream ends or is dropped ([`stream`],
//! [`pump`]).

pub(crate) mod admit;
pub(crate) mod attempt;
pub(crate) mod cache;
pub(crate) mod plain;
pub(crate) mod pump;
pub(crate) mod record;
pub(crate) mod settle;
pub(crate) mod stream;

use crate::engine::Engine;
use crate::error::{Error, ErrorKind};
use crate::meter::CallRecord;
use crate::operation::Operation;
use crate::policy::Principal;

/// Records a call as cancelled if its future is dropped before it finished (asyncio cancel,
/// Ctrl-C, an aborted promise, a cancelled token): the call still has its audit record.
pub(crate) struct DropRecorder<'a> {
    pub engine: &'a Engine,
    pub operation: Operation,
    pub request_id: &'a str,
    pub route: &'a str,
    pub principal: &'a Principal,
    pub armed: bool,
}

impl Drop for DropRecorder<'_> {
    fn drop(&mut self) {
        if self.armed {
            let e = Error::new(ErrorKind::Cancelled, "the caller stopped waiting for the call")
                .with_request_id(self.request_id);
            // The call's own record is held by the dropped future: a fresh one carries its id
            // and route.
            let record = CallRecord::new(
                self.request_id.to_owned(),
                self.route.to_owned(),
                self.principal.tags.clone(),
            );
            self.engine
                .record(self.operation, &record, Some(self.principal), Err(&e), None);
        }
    }
}
