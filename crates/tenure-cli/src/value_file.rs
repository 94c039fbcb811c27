//! `tenure score value --orders FILE --out SCORES`: score an orders file without a project.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use tenure_engine::store::{Config, OrdersFileOptions};
use tenure_engine::ValueOptions;

use crate::input::InputArgs;

/// Read, validate and score `orders`, write the scores to `out`, print what happened. The project
/// folder's `tenure.toml`, when there is one, supplies the time zone, the date format and the
/// `[mapping.orders]` block (flags win), as for `tenure ingest`. Exit code 3 when rows were refused
/// (the scores are still written; the rejects file says which rows and why).
pub fn score(
    project: &Path,
    orders: &Path,
    out: Option<PathBuf>,
    columns: &[String],
    input: &InputArgs,
    opts: ValueOptions,
    json: bool,
) -> Result<ExitCode> {
    let out = out.context("--orders needs --out FILE.csv: where to write the scores")?;
    let config = Config::load(project)?;
    let time_zone = config.time_zone().map_err(anyhow::Error::msg)?;
    let mut read = input.options("orders")?;
    let mut map: Vec<(String, String)> = config
        .mapping
        .get("orders")
        .map(|m| m.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
        .unwrap_or_default();
    for (ours, theirs) in read.map.drain(..) {
        map.retain(|(o, _)| *o != ours);
        map.push((ours, theirs));
    }
    read.map = map;
    let mut rejects = out.clone().into_os_string();
    rejects.push(".rejects.csv");
    let file_opts = OrdersFileOptions {
        input: read,
        time_zone,
        date_format: config.project.date_format.clone(),
        rejects: PathBuf::from(rejects),
    };
    let s = tenure_engine::score_orders_file(orders, &file_opts, &opts, &out, columns)
        .with_context(|| format!("score {}", orders.display()))?;
    let i = &s.input;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "read {} rows of {}: {} accepted, {} duplicate, {} conflicting, {} rejected{}",
            i.read,
            i.source,
            i.accepted,
            i.duplicate,
            i.conflicting,
            i.rejected,
            i.rejects_file
                .as_ref()
                .map(|p| format!(" (see {})", p.display()))
                .unwrap_or_default()
        );
        println!(
            "scored {} customers as of {} into {}",
            s.customers,
            s.as_of,
            s.out.display()
        );
        let [r, alpha, a, b] = s.bg_nbd;
        println!(
            "  BG/NBD (days): r {r:.4}, alpha {alpha:.3}, a {a:.4}, b {b:.4}; log-likelihood {:.2}; converged {}",
            s.bg_nbd_diagnostics.log_likelihood, s.bg_nbd_diagnostics.converged
        );
        if let Some([p, q, g]) = s.gamma_gamma {
            println!("  Gamma-Gamma: p {p:.3}, q {q:.3}, gamma {g:.3}");
        }
        for w in s.bg_nbd_diagnostics.warnings.iter().chain(&s.warnings) {
            println!("  warning: {w}");
        }
        println!(
            "  expected purchases next 90 days: {:.1}; CLV over {} months: {:.2}",
            s.expected_purchases_90d, opts.clv_months, s.clv_total
        );
        for (name, g) in &s.groups {
            println!(
                "  {:<18} {:>10} customers {:>14.2} spend {:>14.2} CLV",
                name, g.customers, g.spend, g.clv
            );
        }
    }
    Ok(if i.rejected + i.conflicting > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
