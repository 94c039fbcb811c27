//! Request metrics in Prometheus' text format, kept by hand (a few maps under a mutex): request
//! counts by route template, method and status, and latency histograms by route and method.

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

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
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
        let h = m
            .latency
            .entry((route.to_string(), method.to_string()))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
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
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "tenure_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "tenure_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "tenure_http_request_duration_seconds_sum{{{l}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "tenure_http_request_duration_seconds_count{{{l}}} {}",
                h.count
            );
        }
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
}
