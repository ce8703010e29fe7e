//! Route strategies: the order in which a route's deployments are tried for one call.

use super::health::Health;
use super::peers::{self, PeerView};
use crate::config::{DeploymentConfig, Strategy};
use crate::pricing::PriceBook;
use crate::usage::Usage;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the strategies look at.
pub struct Inputs<'a> {
    pub health: &'a HashMap<String, Arc<Health>>,
    /// Other processes' figures, added to this process's own.
    pub peers: &'a PeerView,
    pub prices: &'a PriceBook,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
}

/// Smooth weighted round-robin state, per route (nginx's algorithm: even spread, exact ratio).
#[derive(Default)]
pub struct RoundRobin {
    current: Mutex<HashMap<String, HashMap<String, i64>>>,
}

impl RoundRobin {
    fn pick(&self, route: &str, candidates: &[DeploymentConfig]) -> Option<usize> {
        let mut all = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let current = all.entry(route.to_owned()).or_default();
        let total: i64 = candidates.iter().map(|d| d.weight as i64).sum();
        if total == 0 {
            return None;
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, d) in candidates.iter().enumerate() {
            let c = current.entry(d.name.clone()).or_insert(0);
            *c += d.weight as i64;
            if best.is_none_or(|(_, b)| *c > b) {
                best = Some((i, *c));
            }
        }
        let (i, _) = best?;
        *current.get_mut(&candidates[i].name).expect("just inserted") -= total;
        Some(i)
    }
}

fn latency_score(d: &DeploymentConfig, inputs: &Inputs<'_>) -> f64 {
    let health = inputs.health.get(&d.name);
    let latency = peers::latency_ms(&d.name, health, inputs.peers).unwrap_or(0.0);
    latency * (peers::in_flight(&d.name, health, inputs.peers) as f64 + 1.0)
}

pub fn estimated_cost(d: &DeploymentConfig, inputs: &Inputs<'_>) -> Option<f64> {
    let usage = Usage {
        input_tokens: inputs.prompt_tokens,
        output_tokens: inputs.output_tokens,
        ..Usage::default()
    };
    inputs.prices.cost(&d.model, &usage)
}

fn sort_by_key_f64(order: &mut [usize], key: impl Fn(usize) -> f64) {
    order.sort_by(|a, b| key(*a).partial_cmp(&key(*b)).unwrap_or(std::cmp::Ordering::Equal));
}

/// The order to try `candidates` in (indices into it).
pub fn order(
    strategy: Strategy,
    route: &str,
    candidates: &[DeploymentConfig],
    inputs: &Inputs<'_>,
    rr: &RoundRobin,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    match strategy {
        Strategy::Priority => {}
        Strategy::Weighted => {
            order.sort_by_key(|i| std::cmp::Reverse(candidates[*i].weight));
            if let Some(first) = rr.pick(route, candidates) {
                order.retain(|i| *i != first);
                order.insert(0, first);
            }
        }
        Strategy::LeastLatency => {
            sort_by_key_f64(&mut order, |i| latency_score(&candidates[i], inputs));
            if candidates.len() >= 2 {
                // Power of two choices: compare two at random rather than always taking the
                // best, so that a stale EWMA cannot herd every call onto one deployment.
                let a = rand::random_range(0..candidates.len());
                let b = (a + rand::random_range(1..candidates.len())) % candidates.len();
                let winner = if latency_score(&candidates[a], inputs) <= latency_score(&candidates[b], inputs) {
                    a
                } else {
                    b
                };
                order.retain(|i| *i != winner);
                order.insert(0, winner);
            }
        }
        Strategy::LowestCost => {
            sort_by_key_f64(&mut order, |i| {
                estimated_cost(&candidates[i], inputs).unwrap_or(f64::INFINITY)
            });
        }
        Strategy::LeastBusy => {
            order.sort_by_key(|i| {
                let name = &candidates[*i].name;
                peers::in_flight(name, inputs.health.get(name), inputs.peers)
            });
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, weight: u64) -> DeploymentConfig {
        DeploymentConfig {
            name: name.into(),
            provider: "p".into(),
            model: "m".into(),
            region: None,
            rpm: None,
            tpm: None,
            weight,
            max_input_tokens: None,
            callable: false,
            max_tokens_default: None,
        }
    }

    #[test]
    fn smooth_weighted_round_robin_is_exact_and_spread() {
        let rr = RoundRobin::default();
        let c = vec![d("a", 5), d("b", 1), d("c", 1)];
        let picks: Vec<usize> = (0..7).map(|_| rr.pick("r", &c).unwrap()).collect();
        assert_eq!(picks.iter().filter(|p| **p == 0).count(), 5);
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
    }
}
