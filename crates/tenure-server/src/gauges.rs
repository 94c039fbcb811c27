//! Gauges read from the store at scrape time: build, customers scored by the latest run, and the
//! newest version of each model kind.

use std::fmt::Write;

use tenure_engine::store::Store;

use crate::metrics::label;

/// What `/metrics` reads from the store.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Latest scoring run: id, as-of day, customers.
    pub run: Option<(String, String, i64)>,
    /// Newest model of each kind: kind, model id, version.
    pub models: Vec<(String, String, i64)>,
}

/// Read the gauges.
pub fn collect(store: &Store) -> tenure_engine::Result<Gauges> {
    let run = tenure_engine::latest_score_run(store)?
        .map(|r| (r.run_id, r.as_of.to_string(), r.customers));
    let mut models: Vec<(String, String, i64)> = Vec::new();
    for m in store.models()? {
        match models.iter_mut().find(|(k, _, _)| *k == m.kind) {
            Some(e) if e.2 < m.version => *e = (m.kind, m.model_id, m.version),
            Some(_) => {}
            None => models.push((m.kind, m.model_id, m.version)),
        }
    }
    models.sort();
    Ok(Gauges { run, models })
}

/// The gauges in Prometheus' text format.
pub fn render(g: &Gauges, uptime_s: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP tenure_build_info Build of the running server.\n# TYPE tenure_build_info gauge\ntenure_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "# HELP tenure_uptime_seconds Seconds since the server started.\n# TYPE tenure_uptime_seconds gauge\ntenure_uptime_seconds {uptime_s:.3}"
    );
    out.push_str("# HELP tenure_customers_scored Customers in the latest value scoring run.\n# TYPE tenure_customers_scored gauge\n");
    match &g.run {
        Some((run, as_of, n)) => {
            let _ = writeln!(
                out,
                "tenure_customers_scored{{run_id=\"{}\",as_of=\"{}\"}} {n}",
                label(run),
                label(as_of)
            );
        }
        None => out.push_str("tenure_customers_scored 0\n"),
    }
    out.push_str("# HELP tenure_model_version Newest registered version of each model kind.\n# TYPE tenure_model_version gauge\n");
    for (kind, id, v) in &g.models {
        let _ = writeln!(
            out,
            "tenure_model_version{{kind=\"{}\",model_id=\"{}\"}} {v}",
            label(kind),
            label(id)
        );
    }
    out
}
