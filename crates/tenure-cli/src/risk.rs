//! `tenure train churn|highvalue`, `tenure eval churn`, `tenure score risk`, `tenure bench risk`:
//! parse, call the engine, print.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use tenure_engine::store::{parse_date, Horizon, Store};
use tenure_engine::{RiskOptions, RiskTarget};

/// Options of `tenure train churn|highvalue`.
#[derive(Args)]
pub struct TrainRiskArgs {
    /// Evaluation origin (YYYY-MM-DD): features on or before it, labels after it; default: the last
    /// order day minus the horizon.
    #[arg(long)]
    as_of: Option<String>,
    /// Label window after the origin, e.g. 90d, 39w, 6m.
    #[arg(long, default_value = "90d")]
    horizon: String,
    /// Share of customers labelled high value (highvalue only).
    #[arg(long, default_value_t = 0.2)]
    share: f64,
}

/// Run `tenure train churn|highvalue`.
#[allow(
    dead_code,
    reason = "called from `tenure train`, whose subcommand enum lands with the sentiment trainer's wiring"
)]
pub fn train(target: RiskTarget, a: TrainRiskArgs, project: &Path, json: bool) -> Result<()> {
    let store = Store::open(project)?;
    let horizon = Horizon::parse(&a.horizon)?;
    let as_of = match a.as_of {
        Some(d) => parse_date(&d)?,
        None => {
            let last = tenure_engine::last_order_date(&store)?;
            let days = horizon.days(last)?;
            last - chrono::Days::new(days as u64)
        }
    };
    let opts = RiskOptions {
        horizon,
        high_value_share: a.share,
        ..RiskOptions::new(target, as_of)
    };
    let r = tenure_engine::train_risk(&store, &opts, chrono::Utc::now().naive_utc())?;
    if json {
        return crate::print_json(&r);
    }
    println!(
        "{} model {} (version {}): fitted as of {} on labels to {} ({} customers), evaluated as of {} on ({}, {}]",
        r.target.name(),
        r.model_id,
        r.version,
        r.training.origin,
        r.training.label_end,
        r.train_rows,
        r.as_of,
        r.as_of,
        r.holdout_end
    );
    if r.training.clipped {
        println!("  origin: {}", r.training.rule);
    }
    let m = &r.model;
    println!(
        "  AUC {:.4}; log loss {}; F1 {:.3} at threshold {:.3} (best F1 on the training origin); positives {} of {}",
        m.auc,
        m.log_loss.map_or("n/a".into(), |v| format!("{v:.4}")),
        m.at_threshold.f1,
        m.at_threshold.threshold,
        m.positives,
        m.n
    );
    for b in &r.baselines {
        println!("  baseline {:<26} AUC {:.4}", b.name, b.auc);
    }
    let d = &r.vs_best_btyd.difference;
    println!(
        "  vs {}: {:+.4} (95% bootstrap {:+.4} to {:+.4})",
        r.best_btyd, d.estimate, d.lower, d.upper
    );
    let top: Vec<String> = r
        .importance
        .iter()
        .take(5)
        .map(|(n, v)| format!("{n} {v:.2}"))
        .collect();
    println!("  importance: {}", top.join(", "));
    println!("  report: {}", r.report_html.display());
    Ok(())
}

/// Run `tenure eval churn`: re-evaluate the latest churn model at its origin on today's store.
pub fn eval_churn(project: &Path, json: bool) -> Result<()> {
    let store = Store::open_read_only(project)?;
    let e = tenure_engine::evaluate_risk(&store, RiskTarget::Churn)?;
    if json {
        return crate::print_json(&e);
    }
    let m = &e.report;
    println!(
        "churn model {} at {} over {}: AUC {:.4} (registered {:.4}); log loss {}; F1 {:.3} at {:.3}; {} of {} churned",
        e.model_id,
        e.as_of,
        e.horizon,
        m.auc,
        e.registered_auc,
        m.log_loss.map_or("n/a".into(), |v| format!("{v:.4}")),
        m.at_threshold.f1,
        m.at_threshold.threshold,
        m.positives,
        m.n
    );
    for b in &m.lift {
        println!(
            "  decile {:>2}: churn rate {:.3}, lift {:.2}",
            b.decile, b.rate, b.lift
        );
    }
    println!("  report: {}", e.report_html.display());
    Ok(())
}

/// Run `tenure score risk`.
pub fn score(project: &Path, as_of: Option<String>, json: bool) -> Result<()> {
    let store = Store::open(project)?;
    let as_of = as_of.as_deref().map(parse_date).transpose()?;
    let s = tenure_engine::score_risk(&store, as_of, chrono::Utc::now().naive_utc())?;
    if json {
        return crate::print_json(&s);
    }
    println!(
        "scored {} of {} customers as of {} (run {}) with {}{}",
        s.scored,
        s.customers,
        s.as_of,
        s.run_id,
        s.churn_model,
        s.high_value_model
            .as_ref()
            .map(|m| format!(" and {m}"))
            .unwrap_or_default()
    );
    println!(
        "  mean churn probability {:.3}; {} customers at or above the model's threshold{}",
        s.mean_churn,
        s.flagged_churn,
        s.mean_high_value
            .map(|v| format!("; mean high-value probability {v:.3}"))
            .unwrap_or_default()
    );
    println!(
        "  scores: tenure sql \"SELECT * FROM customer_risk WHERE run_id = '{}'\"",
        s.run_id
    );
    Ok(())
}

/// Run `tenure bench risk`.
pub fn bench(customers: usize, seed: u64, json: bool) -> Result<()> {
    let params = tenure_engine::sim::HistoryParams {
        n_customers: customers,
        seed,
        ..Default::default()
    };
    let r = tenure_engine::bench_risk(&params)?;
    if json {
        return crate::print_json(&r);
    }
    println!(
        "{} customers: generate {:.2} s; fit BG/NBD {:.2} s; fit trees on {} rows {:.2} s; score all {:.2} s (trees {:.2} s)",
        r.customers, r.generate_s, r.fit_btyd_s, r.train_rows, r.fit_gbdt_s, r.score_s, r.predict_s
    );
    println!(
        "  single-customer re-score: mean {:.3} ms, max {:.3} ms over {} calls; mean churn probability {:.3}",
        r.rescore_mean_ms, r.rescore_max_ms, r.rescore_calls, r.mean_probability
    );
    Ok(())
}
