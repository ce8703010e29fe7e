//! Routing: which deployments may serve a call, in which order, and within what time.
//!
//! A request's `model` names a route (or, directly, a deployment). The plan is the route's
//! targets in order, then the targets of its fallback routes, each deployment once. Richer
//! strategies plug in here by reordering or filtering the candidates.

use crate::config::{Config, DeploymentConfig, suggest};
use crate::error::{Error, ErrorKind};
use crate::meter::CallRecord;
use crate::options::CallOptions;
use std::time::{Duration, Instant};

/// Upper bound on candidates, so that a web of fallbacks cannot make a call unbounded.
const MAX_CANDIDATES: usize = 16;

pub struct Plan {
    pub route: String,
    pub candidates: Vec<DeploymentConfig>,
    pub timeout: Option<Duration>,
}

impl Plan {
    pub fn for_model(config: &Config, model: &str, options: &CallOptions) -> Result<Plan, Error> {
        let (route_timeout, candidates) = if let Some(route) = config.routes.get(model) {
            let mut names: Vec<&str> = Vec::new();
            let mut routes = vec![route];
            let mut seen_routes = vec![route.name.as_str()];
            while let Some(r) = routes.first().copied() {
                routes.remove(0);
                for t in &r.targets {
                    if !names.contains(&t.as_str()) {
                        names.push(t);
                    }
                }
                for f in &r.fallbacks {
                    if let Some(next) = config.routes.get(f).filter(|_| !seen_routes.contains(&f.as_str())) {
                        seen_routes.push(f);
                        routes.push(next);
                    }
                }
            }
            names.truncate(MAX_CANDIDATES);
            let candidates = names.iter().filter_map(|n| config.deployments.get(*n).cloned()).collect();
            (route.timeout_total, candidates)
        } else if let Some(deployment) = config.deployments.get(model) {
            (None, vec![deployment.clone()])
        } else {
            let names = config.routes.keys().chain(config.deployments.keys()).map(String::as_str);
            let near = suggest::hint(model, names);
            let known: Vec<&str> = config.routes.keys().map(String::as_str).collect();
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no route or deployment named `{model}`{near} (routes: {}); `model` names a route from the config", known.join(", ")),
            ));
        };
        let timeout = match (route_timeout, options.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(Plan { route: model.to_owned(), candidates, timeout })
    }

    pub fn deadline(&self, started: Instant) -> Option<Instant> {
        self.timeout.map(|t| started + t)
    }

    pub fn timeout_error(&self, record: &CallRecord) -> Error {
        let t = self.timeout.unwrap_or_default();
        Error::new(
            ErrorKind::Timeout,
            format!(
                "route `{}` did not answer within {:.3}s ({} attempt(s)); raise the call's `timeout` or the route's `timeout.total`",
                self.route,
                t.as_secs_f64(),
                record.attempts
            ),
        )
        .with_request_id(&record.request_id)
    }

    /// The error when every candidate failed: the last failure, with the route's story.
    pub fn exhausted(&self, last: Option<Error>, record: &CallRecord) -> Error {
        let mut e = last.unwrap_or_else(|| Error::new(ErrorKind::ProviderError, "no candidate deployment"));
        e.message = format!(
            "every target of route `{}` failed ({} attempt(s)); last error: {}",
            self.route, record.attempts, e.message
        );
        e.with_request_id(&record.request_id)
    }
}
