//! `tenure train churn|highvalue`, `tenure eval churn`, `tenure score risk`, `tenure bench risk`:
//! parse, call the engine, print.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use tenure_engine::store::{parse_date, Horizon, Store};
use tenure_engine::{Embedder, FusionOptions, FusionReport, RiskOptions, RiskTarget};
use tenure_lm::{installed_dir, Encoder, EncoderOptions, Head};

use crate::lm::models_dir;

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
    #[command(flatten)]
    text: TextArgs,
}

/// `--text`: add the language features and compare behaviour only, text only and fused.
#[derive(Args)]
pub struct TextArgs {
    /// Also fit the text-only and fused heads (reviews, tickets, narratives) and write the
    /// three-way comparison into the model's report.
    #[arg(long)]
    text: bool,
    /// Encoder of the language features: an installed catalogue model (`tenure models list`), or
    /// `hashed` for feature hashing of the words (no model needed).
    #[arg(long, default_value = "all-minilm-l6-v2")]
    encoder: String,
    /// Encoder threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Let the fused head also read the projected embedding blocks (emb_*, narr_*), not only the
    /// summary text columns and the per-text scores (train only).
    #[arg(long)]
    fuse_embeddings: bool,
}

/// Loaded encoder and sentiment head behind an [`Embedder`].
struct TextModel {
    encoder: Option<Encoder>,
    head: Option<Head>,
}

impl TextModel {
    fn load(a: &TextArgs) -> Result<TextModel> {
        if a.encoder == "hashed" {
            return Ok(TextModel {
                encoder: None,
                head: None,
            });
        }
        let dir = installed_dir(&models_dir()?, &a.encoder).with_context(|| {
            format!(
                "encoder {} (install it with `tenure models pull {}`, or pass --encoder hashed)",
                a.encoder, a.encoder
            )
        })?;
        let encoder = Encoder::from_dir(
            &dir,
            EncoderOptions {
                max_length: Some(128),
                num_threads: a.threads,
                ..EncoderOptions::default()
            },
        )?;
        let head = tenure_engine::builtin_sentiment_head(&a.encoder)
            .map(|(card, weights)| {
                Head::from_bytes(card, weights, &format!("builtin:{}", a.encoder))
            })
            .transpose()?;
        Ok(TextModel {
            encoder: Some(encoder),
            head,
        })
    }

    fn embedder(&self) -> Embedder<'_> {
        match &self.encoder {
            Some(encoder) => Embedder::Encoder {
                encoder,
                sentiment: self.head.as_ref(),
            },
            None => Embedder::Hashed { dim: 256 },
        }
    }
}

fn print_fusion(r: &FusionReport) {
    println!(
        "  language features ({}): fitted at {} on {} customers ({} with text), evaluated as of {} on {} ({} with text); {} texts embedded, {} from cache",
        r.embedder,
        r.training_origin,
        r.train_rows,
        r.train_with_text,
        r.as_of,
        r.eval_rows,
        r.eval_with_text,
        r.embedded,
        r.cached
    );
    for k in &r.rankings {
        println!(
            "  {:<15} AUC {:.4}  log loss {:.4}",
            k.name, k.auc, k.log_loss
        );
    }
    let (d, t) = (
        &r.fused_vs_behaviour.difference,
        &r.text_vs_behaviour.difference,
    );
    println!(
        "  fused − behaviour: {:+.4} (95% paired bootstrap {:+.4} to {:+.4}); text − behaviour: {:+.4} ({:+.4} to {:+.4})",
        d.estimate, d.lower, d.upper, t.estimate, t.lower, t.upper
    );
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
    let fusion = if a.text.text {
        let model = TextModel::load(&a.text)?;
        Some(tenure_engine::train_fusion(
            &store,
            target,
            &opts.gbdt,
            &model.embedder(),
            &FusionOptions {
                fuse_embeddings: a.text.fuse_embeddings,
                ..FusionOptions::default()
            },
        )?)
    } else {
        None
    };
    if json {
        return crate::print_json(&serde_json::json!({"model": r, "text": fusion}));
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
    if let Some(f) = &fusion {
        print_fusion(f);
    }
    println!("  report: {}", r.report_html.display());
    Ok(())
}

/// Run `tenure eval churn [--text]`: re-evaluate the latest churn model at its origin on today's
/// store; with `--text` also its text-only and fused heads (written into its report).
pub fn eval_churn(project: &Path, text: &TextArgs, json: bool) -> Result<()> {
    let store = if text.text {
        Store::open(project)?
    } else {
        Store::open_read_only(project)?
    };
    let e = tenure_engine::evaluate_risk(&store, RiskTarget::Churn)?;
    let fusion = if text.text {
        let model = TextModel::load(text)?;
        Some(tenure_engine::evaluate_fusion(
            &store,
            RiskTarget::Churn,
            &model.embedder(),
            FusionOptions::default().n_boot,
        )?)
    } else {
        None
    };
    if json {
        return crate::print_json(&serde_json::json!({"model": e, "text": fusion}));
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
    if let Some(f) = &fusion {
        print_fusion(f);
    }
    println!("  report: {}", e.report_html.display());
    Ok(())
}

/// Run `tenure narratives`: write every customer's narrative as of a day into
/// `customer_narratives`.
pub fn narratives(project: &Path, as_of: Option<String>, json: bool) -> Result<()> {
    let store = Store::open(project)?;
    let as_of = as_of.as_deref().map(parse_date).transpose()?;
    let s = tenure_engine::write_narratives(&store, as_of, chrono::Utc::now().naive_utc())?;
    if json {
        return crate::print_json(&s);
    }
    println!(
        "wrote {} narratives as of {} ({} in Chinese), run {}",
        s.customers, s.as_of, s.chinese, s.run_id
    );
    for r in &s.examples {
        println!("  {} [{}]: {}", r.customer_id, r.language, r.text);
    }
    println!(
        "  all: tenure sql \"SELECT customer_id, text FROM customer_narratives WHERE run_id = '{}'\"",
        s.run_id
    );
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
