//! Amounts over time, per dimension and value (spend by team, rejections by policy…), in time
//! buckets that widen as the log's span grows: memory is bounded by the number of buckets times
//! the variety of values, never by the number of records.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The finest bucket: one minute.
const FIRST_WIDTH: i64 = 60;
/// When there would be more buckets than this, each bucket doubles in width.
const MAX_BUCKETS: usize = 240;
/// Values shown per dimension; the rest are summed as `(other)`.
const TOP_VALUES: usize = 8;

pub struct Series {
    width: i64,
    /// Bucket start (unix seconds) → (dimension, value) → amount.
    buckets: BTreeMap<i64, HashMap<(&'static str, String), f64>>,
}

impl Default for Series {
    fn default() -> Series {
        Series {
            width: FIRST_WIDTH,
            buckets: BTreeMap::new(),
        }
    }
}

impl Series {
    pub fn add(&mut self, ts: f64, dimension: &'static str, value: &str, amount: f64) {
        let start = (ts.floor() as i64).div_euclid(self.width) * self.width;
        let cell = self.buckets.entry(start).or_default();
        match cell.get_mut(&(dimension, value.to_owned())) {
            Some(total) => *total += amount,
            None => {
                cell.insert((dimension, value.to_owned()), amount);
            }
        }
        while self.span_buckets() > MAX_BUCKETS {
            self.widen();
        }
    }

    /// How many buckets the span from the first to the last covers at the current width.
    fn span_buckets(&self) -> usize {
        match (self.buckets.keys().next(), self.buckets.keys().next_back()) {
            (Some(first), Some(last)) => ((last - first) / self.width + 1) as usize,
            _ => 0,
        }
    }

    fn widen(&mut self) {
        self.width *= 2;
        let old = std::mem::take(&mut self.buckets);
        for (start, cell) in old {
            let merged = self
                .buckets
                .entry(start.div_euclid(self.width) * self.width)
                .or_default();
            for (k, v) in cell {
                *merged.entry(k).or_insert(0.0) += v;
            }
        }
    }

    /// `{width_secs, start: [...], by: {DIMENSION: {VALUE: [amount per bucket]}}}`, every
    /// bucket of the span present (zeros included) so that a chart's x axis is time.
    pub fn to_json(&self, dimensions: &[&'static str]) -> Value {
        let (Some(&first), Some(&last)) = (self.buckets.keys().next(), self.buckets.keys().next_back()) else {
            return json!({"width_secs": self.width, "start": [], "by": {}});
        };
        let starts: Vec<i64> = (0..=(last - first) / self.width)
            .map(|i| first + i * self.width)
            .collect();
        let mut by = serde_json::Map::new();
        for &dimension in dimensions {
            let mut totals: HashMap<&str, f64> = HashMap::new();
            for cell in self.buckets.values() {
                for ((d, v), amount) in cell {
                    if *d == dimension {
                        *totals.entry(v.as_str()).or_insert(0.0) += amount;
                    }
                }
            }
            let mut ranked: Vec<(&str, f64)> = totals.into_iter().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            let shown: Vec<&str> = ranked.iter().take(TOP_VALUES).map(|(v, _)| *v).collect();
            let mut rows: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for (i, start) in starts.iter().enumerate() {
                let Some(cell) = self.buckets.get(start) else { continue };
                for ((d, v), amount) in cell {
                    if *d != dimension {
                        continue;
                    }
                    let name = if shown.contains(&v.as_str()) {
                        v.clone()
                    } else {
                        "(other)".to_owned()
                    };
                    rows.entry(name).or_insert_with(|| vec![0.0; starts.len()])[i] += amount;
                }
            }
            by.insert(dimension.to_owned(), json!(rows));
        }
        json!({"width_secs": self.width, "start": starts, "by": by})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_widen_and_keep_every_amount() {
        let mut s = Series::default();
        // Ten days of one call a minute: far more minutes than buckets.
        for minute in 0..14_400 {
            s.add(
                1_800_000_000.0 + minute as f64 * 60.0,
                "team",
                if minute % 2 == 0 { "a" } else { "b" },
                1.0,
            );
        }
        assert!(s.buckets.len() <= MAX_BUCKETS, "{} buckets", s.buckets.len());
        let j = s.to_json(&["team"]);
        let sum = |v: &str| {
            j["by"]["team"][v]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .sum::<f64>()
        };
        assert_eq!(sum("a"), 7200.0);
        assert_eq!(sum("b"), 7200.0);
        assert_eq!(
            j["start"].as_array().unwrap().len(),
            j["by"]["team"]["a"].as_array().unwrap().len()
        );
    }

    #[test]
    fn values_beyond_the_top_are_other() {
        let mut s = Series::default();
        for i in 0..20 {
            s.add(1_800_000_000.0, "model", &format!("m{i:02}"), (i + 1) as f64);
        }
        let j = s.to_json(&["model"]);
        let by = j["by"]["model"].as_object().unwrap();
        assert_eq!(by.len(), TOP_VALUES + 1);
        assert!(by.contains_key("m19") && !by.contains_key("m00"));
        // The 12 smallest: 1 + 2 + … + 12.
        assert_eq!(by["(other)"][0], json!(78.0));
    }
}
