//! Request metrics in Prometheus' text format, kept by hand (a few maps under a mutex): request
//! counts by route template, method and status, latency histograms by route and method, rows of
//! the live write routes by table and outcome, and the latency of live re-scoring.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.counts[i] += 1;
            }
        }
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    ingest: BTreeMap<(String, &'static str), u64>,
    scoring: Histogram,
    rescored: u64,
}

/// Row counts of one live ingest request.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestCounts {
    /// Rows read.
    pub read: u64,
    /// Stored.
    pub accepted: u64,
    /// Already stored.
    pub duplicate: u64,
    /// Same key, other content.
    pub conflicting: u64,
    /// Failed validation.
    pub rejected: u64,
}

/// Counters and histograms of the requests served.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Escape a Prometheus label value.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Count one request and its latency.
    pub fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.inner.lock() else {
            return;
        };
        *m.requests
            .entry((route.to_string(), method.to_string(), status))
            .or_insert(0) += 1;
        m.latency
            .entry((route.to_string(), method.to_string()))
            .or_default()
            .observe(seconds);
    }

    /// Count the rows of one live ingest request into `table`.
    pub fn record_ingest(&self, table: &str, c: IngestCounts) {
        let Ok(mut m) = self.inner.lock() else {
            return;
        };
        for (outcome, n) in [
            ("read", c.read),
            ("accepted", c.accepted),
            ("duplicate", c.duplicate),
            ("conflicting", c.conflicting),
            ("rejected", c.rejected),
        ] {
            *m.ingest.entry((table.to_string(), outcome)).or_insert(0) += n;
        }
    }

    /// Observe one live re-score of `customers` customers that took `seconds`.
    pub fn record_scoring(&self, seconds: f64, customers: u64) {
        let Ok(mut m) = self.inner.lock() else {
            return;
        };
        m.scoring.observe(seconds);
        m.rescored += customers;
    }

    /// Append the request metrics in Prometheus' text exposition format.
    pub fn render(&self, out: &mut String) {
        let Ok(m) = self.inner.lock() else {
            return;
        };
        out.push_str("# HELP tenure_http_requests_total HTTP requests by route template, method and status.\n# TYPE tenure_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "tenure_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                label(route),
                label(method)
            );
        }
        out.push_str("# HELP tenure_http_request_duration_seconds HTTP request latency by route template and method.\n# TYPE tenure_http_request_duration_seconds histogram\n");
        for ((route, method), h) in &m.latency {
            let l = format!("route=\"{}\",method=\"{}\"", label(route), label(method));
            h.render(out, "tenure_http_request_duration_seconds", &l);
        }
        out.push_str("# HELP tenure_ingest_rows_total Rows sent to the live write routes, by table and outcome (read = accepted + duplicate + conflicting + rejected).\n# TYPE tenure_ingest_rows_total counter\n");
        for ((table, outcome), n) in &m.ingest {
            let _ = writeln!(
                out,
                "tenure_ingest_rows_total{{table=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(table)
            );
        }
        out.push_str("# HELP tenure_scoring_duration_seconds Latency of live re-scoring after a write (features, value, risk, cluster, rows written).\n# TYPE tenure_scoring_duration_seconds histogram\n");
        m.scoring.render(out, "tenure_scoring_duration_seconds", "");
        out.push_str("# HELP tenure_customers_rescored_total Customers re-scored live.\n# TYPE tenure_customers_rescored_total counter\n");
        let _ = writeln!(out, "tenure_customers_rescored_total {}", m.rescored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record("/v1/x", "GET", 200, 0.003);
        m.record("/v1/x", "GET", 404, 2.0);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains(
            "tenure_http_requests_total{route=\"/v1/x\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(s.contains(
            "tenure_http_request_duration_seconds_bucket{route=\"/v1/x\",method=\"GET\",le=\"0.005\"} 1"
        ));
        assert!(s.contains(
            "tenure_http_request_duration_seconds_bucket{route=\"/v1/x\",method=\"GET\",le=\"+Inf\"} 2"
        ));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn ingest_counters_and_scoring_histogram_render() {
        let m = Metrics::default();
        m.record_ingest(
            "orders",
            IngestCounts {
                read: 3,
                accepted: 2,
                rejected: 1,
                ..IngestCounts::default()
            },
        );
        m.record_ingest(
            "orders",
            IngestCounts {
                read: 1,
                duplicate: 1,
                ..IngestCounts::default()
            },
        );
        m.record_scoring(0.004, 2);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("tenure_ingest_rows_total{table=\"orders\",outcome=\"read\"} 4"));
        assert!(s.contains("tenure_ingest_rows_total{table=\"orders\",outcome=\"accepted\"} 2"));
        assert!(s.contains("tenure_scoring_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(s.contains("tenure_scoring_duration_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(s.contains("tenure_scoring_duration_seconds_count 1"));
        assert!(s.contains("tenure_customers_rescored_total 2"));
    }
}
