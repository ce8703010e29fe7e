//! Prometheus text exposition, with the OpenTelemetry GenAI metric names and advisory buckets
//! (`gen_ai.client.operation.duration` → `gen_ai_client_operation_duration_seconds`, …) plus
//! sluicegate's own request, cost and overhead metrics.

use super::Event;
use std::collections::BTreeMap;
use std::fmt::Write;

const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];
const OVERHEAD_BUCKETS: [f64; 12] = [
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if value <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

/// Label sets are kept as rendered `k="v",…` strings, sorted for a stable output.
type Labels = String;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The rendered label sets one kind of call feeds, worked out once per distinct kind of call
/// (rendering and escaping labels on every call was a tenth of the gateway's own time).
struct Series {
    base: Labels,
    base_ok: Labels,
    tokens: [Labels; 2],
    requests: Labels,
    cost: Labels,
    overhead: Labels,
}

impl Series {
    fn new(e: &Event) -> Series {
        let system = e.provider_system.as_deref().unwrap_or("_OTHER");
        let model = e.model.as_deref().unwrap_or("");
        let mut base = vec![
            ("gen_ai_operation_name", e.operation),
            ("gen_ai_provider_name", system),
            ("gen_ai_request_model", model),
        ];
        let base_ok = labels(&base);
        if e.outcome != "ok" {
            base.push(("error_type", e.outcome.as_str()));
        }
        let token = |kind: &str| {
            let mut l = base[..3].to_vec();
            l.push(("gen_ai_token_type", kind));
            labels(&l)
        };
        let deployment = e.deployment.as_deref().unwrap_or("");
        Series {
            base: labels(&base),
            tokens: [token("input"), token("output")],
            base_ok,
            requests: labels(&[("route", &e.route), ("deployment", deployment), ("outcome", &e.outcome)]),
            cost: labels(&[
                ("route", &e.route),
                ("deployment", deployment),
                ("gen_ai_request_model", model),
            ]),
            overhead: labels(&[("gen_ai_operation_name", e.operation)]),
        }
    }
}

/// Finds or adds a series without cloning its label set when it exists.
fn slot<'a, T: Default>(map: &'a mut BTreeMap<Labels, T>, labels: &Labels) -> &'a mut T {
    if !map.contains_key(labels) {
        map.insert(labels.clone(), T::default());
    }
    map.get_mut(labels).expect("just inserted")
}

#[derive(Default)]
pub struct Registry {
    duration: BTreeMap<Labels, Histogram>,
    ttft: BTreeMap<Labels, Histogram>,
    tokens: BTreeMap<Labels, Histogram>,
    overhead: BTreeMap<Labels, Histogram>,
    requests: BTreeMap<Labels, u64>,
    cost: BTreeMap<Labels, f64>,
    /// Label sets by what they are made of (`\0`-separated raw values).
    series: std::collections::HashMap<String, Series>,
    scratch: String,
}

impl Registry {
    pub fn observe(&mut self, e: &Event) {
        self.scratch.clear();
        for part in [
            e.operation,
            e.provider_system.as_deref().unwrap_or("\u{1}"),
            e.model.as_deref().unwrap_or(""),
            &e.outcome,
            &e.route,
            e.deployment.as_deref().unwrap_or(""),
        ] {
            self.scratch.push_str(part);
            self.scratch.push('\0');
        }
        if !self.series.contains_key(&self.scratch) {
            self.series.insert(self.scratch.clone(), Series::new(e));
        }
        let series = &self.series[&self.scratch];
        let ok = e.outcome == "ok";
        slot(&mut self.duration, &series.base).observe(&DURATION_BUCKETS, e.latency_ms / 1000.0);
        if let Some(t) = e.ttft_ms.filter(|_| ok) {
            slot(&mut self.ttft, &series.base_ok).observe(&DURATION_BUCKETS, t / 1000.0);
        }
        if ok && (e.input_tokens > 0 || e.output_tokens > 0) {
            for (labels, n) in series.tokens.iter().zip([e.input_tokens, e.output_tokens]) {
                slot(&mut self.tokens, labels).observe(&TOKEN_BUCKETS, n as f64);
            }
        }
        *slot(&mut self.requests, &series.requests) += 1;
        if let Some(c) = e.cost_usd {
            *slot(&mut self.cost, &series.cost) += c;
        }
        if let Some(us) = e.overhead_us {
            slot(&mut self.overhead, &series.overhead).observe(&OVERHEAD_BUCKETS, us as f64 / 1e6);
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        histogram(
            &mut out,
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration (gen_ai.client.operation.duration).",
            &DURATION_BUCKETS,
            &self.duration,
        );
        histogram(
            &mut out,
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "Time to the first chunk or the whole answer (gen_ai.client.operation.time_to_first_chunk).",
            &DURATION_BUCKETS,
            &self.ttft,
        );
        histogram(
            &mut out,
            "gen_ai_client_token_usage",
            "Tokens used per call (gen_ai.client.token.usage).",
            &TOKEN_BUCKETS,
            &self.tokens,
        );
        histogram(
            &mut out,
            "sluicegate_overhead_seconds",
            "Time spent in sluicegate itself, providers excluded.",
            &OVERHEAD_BUCKETS,
            &self.overhead,
        );
        let _ = writeln!(
            out,
            "# HELP sluicegate_requests_total Calls by route, deployment and outcome.\n# TYPE sluicegate_requests_total counter"
        );
        for (l, n) in &self.requests {
            let _ = writeln!(out, "sluicegate_requests_total{{{l}}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP sluicegate_cost_usd_total Spend in US dollars.\n# TYPE sluicegate_cost_usd_total counter"
        );
        for (l, c) in &self.cost {
            let _ = writeln!(out, "sluicegate_cost_usd_total{{{l}}} {c}");
        }
        out
    }
}

fn histogram(out: &mut String, name: &str, help: &str, bounds: &[f64], series: &BTreeMap<Labels, Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (l, h) in series {
        let sep = if l.is_empty() { "" } else { "," };
        for (b, c) in bounds.iter().zip(&h.counts) {
            let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
    }
}
