//! Multi-class classification metrics over class indices and per-row probability vectors.

use serde::{Deserialize, Serialize};

use super::binary::LOG_LOSS_EPS;
use super::check_lengths;
use crate::error::{Error, Result};

/// How far a row of probabilities may sum from 1 before it is refused: float32 softmax outputs
/// over a handful of classes are off by ~1e-7, a row of unnormalized scores by far more.
pub const PROBA_ROW_SUM_TOL: f64 = 1e-5;

/// Precision, recall and F1 of one class against the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The class label.
    pub label: String,
    /// Share of rows predicted as this class that are this class; 0 when none are predicted.
    pub precision: f64,
    /// Share of rows of this class predicted as it; 0 when the class has no rows.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 2TP / (2TP + FP + FN); 0 when that is 0/0.
    pub f1: f64,
    /// Rows whose true class this is.
    pub support: usize,
}

/// The evaluation of a multi-class classifier whose prediction is the most probable class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassReport {
    /// Rows evaluated.
    pub n: usize,
    /// Class labels, in index order.
    pub labels: Vec<String>,
    /// Share of rows whose most probable class is the true one.
    pub accuracy: f64,
    /// One entry per class, in index order.
    pub per_class: Vec<ClassMetrics>,
    /// Unweighted mean of the per-class precisions (every class counts, absent ones included).
    pub macro_precision: f64,
    /// Unweighted mean of the per-class recalls.
    pub macro_recall: f64,
    /// Unweighted mean of the per-class F1 (sklearn's `f1_score(average="macro")`).
    pub macro_f1: f64,
    /// Support-weighted mean of the per-class F1 (sklearn's `average="weighted"`).
    pub weighted_f1: f64,
    /// `confusion[t][p]`: rows of true class t predicted as p (sklearn's `confusion_matrix`).
    pub confusion: Vec<Vec<usize>>,
    /// Mean cross-entropy −(1/n) Σ ln p_{i, y_i}, probabilities clipped at [`LOG_LOSS_EPS`].
    pub log_loss: f64,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Index of the largest probability; the first one on ties, as `numpy.argmax`.
fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

fn validate(y_true: &[usize], proba: &[Vec<f64>], labels: &[String]) -> Result<()> {
    check_lengths("multiclass report", y_true.len(), proba.len())?;
    let k = labels.len();
    if k < 2 {
        return Err(Error::InvalidArgument {
            name: "labels",
            value: k as f64,
            reason: "a multi-class report needs at least two labels, one per probability column",
        });
    }
    for (row, (&y, p)) in y_true.iter().zip(proba).enumerate() {
        if y >= k {
            return Err(Error::InvalidInput {
                row,
                field: "y_true",
                value: y as f64,
                reason: "must be a class index below the number of labels",
            });
        }
        if p.len() != k {
            return Err(Error::InvalidInput {
                row,
                field: "probability row length",
                value: p.len() as f64,
                reason: "must equal the number of labels",
            });
        }
        if let Some(&v) = p.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(Error::InvalidInput {
                row,
                field: "probability",
                value: v,
                reason: "must be a probability in [0, 1]; pass softmax outputs, not logits",
            });
        }
        let sum: f64 = p.iter().sum();
        if (sum - 1.0).abs() > PROBA_ROW_SUM_TOL {
            return Err(Error::InvalidInput {
                row,
                field: "probability row sum",
                value: sum,
                reason: "must be 1 within 1e-5; normalize each row (softmax) first",
            });
        }
    }
    Ok(())
}

/// Accuracy, per-class precision/recall/F1/support, macro and weighted averages, the confusion
/// matrix and log loss of `proba` (one row of class probabilities per row, columns in `labels`
/// order) against class indices `y_true`; the prediction is each row's most probable class.
///
/// Definitions are scikit-learn's `classification_report(labels=range(k))`, `confusion_matrix`
/// and `log_loss(labels=range(k))` (Bishop 2006, eq. 4.108): a class without rows still counts in
/// the macro mean, with recall 0. Errors on empty or misaligned input, fewer than two labels, a
/// class index out of range, or a row that is not a probability vector (entries in [0, 1] summing
/// to 1 within [`PROBA_ROW_SUM_TOL`]).
pub fn multiclass_report(
    y_true: &[usize],
    proba: &[Vec<f64>],
    labels: &[String],
) -> Result<MulticlassReport> {
    validate(y_true, proba, labels)?;
    let k = labels.len();
    let n = y_true.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut loss = 0.0;
    for (&y, p) in y_true.iter().zip(proba) {
        confusion[y][argmax(p)] += 1;
        loss -= p[y].clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS).ln();
    }
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = confusion.iter().map(|r| r[c]).sum();
            ClassMetrics {
                label: labels[c].clone(),
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, support + predicted),
                support,
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
    Ok(MulticlassReport {
        n,
        labels: labels.to_vec(),
        accuracy: ratio(correct, n),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_f1: per_class
            .iter()
            .map(|c| c.f1 * c.support as f64)
            .sum::<f64>()
            / n as f64,
        per_class,
        confusion,
        log_loss: loss / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("class {c}")).collect()
    }

    #[test]
    fn perfect_and_by_hand() {
        let proba = vec![vec![0.8, 0.2], vec![0.3, 0.7], vec![0.6, 0.4]];
        let r = multiclass_report(&[0, 1, 1], &proba, &labels(2)).expect("valid");
        // Predictions 0, 1, 0: class 0 precision 1/2, recall 1; class 1 precision 1, recall 1/2.
        assert_eq!(r.confusion, vec![vec![1, 0], vec![1, 1]]);
        assert!((r.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.per_class[0].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.macro_f1 - 2.0 / 3.0).abs() < 1e-12);
        let ll = -(0.8f64.ln() + 0.7f64.ln() + 0.4f64.ln()) / 3.0;
        assert!((r.log_loss - ll).abs() < 1e-12);
    }

    #[test]
    fn absent_class_counts_zero_in_macro() {
        let proba = vec![vec![0.9, 0.05, 0.05], vec![0.1, 0.8, 0.1]];
        let r = multiclass_report(&[0, 1], &proba, &labels(3)).expect("valid");
        assert_eq!(r.per_class[2].support, 0);
        assert_eq!((r.per_class[2].precision, r.per_class[2].f1), (0.0, 0.0));
        assert!((r.macro_f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.weighted_f1 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_rows_are_named() {
        let ok = vec![vec![0.5, 0.5], vec![0.5, 0.5]];
        assert!(matches!(
            multiclass_report(&[], &[], &labels(2)),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            multiclass_report(&[0], &ok, &labels(2)),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            multiclass_report(&[0, 2], &ok, &labels(2)),
            Err(Error::InvalidInput {
                row: 1,
                field: "y_true",
                ..
            })
        ));
        assert!(matches!(
            multiclass_report(&[0, 1], &ok, &labels(1)),
            Err(Error::InvalidArgument { .. })
        ));
        let short = vec![vec![0.5, 0.5], vec![1.0]];
        assert!(matches!(
            multiclass_report(&[0, 1], &short, &labels(2)),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        let logits = vec![vec![0.5, 0.5], vec![2.0, -1.0]];
        assert!(matches!(
            multiclass_report(&[0, 1], &logits, &labels(2)),
            Err(Error::InvalidInput {
                row: 1,
                field: "probability",
                ..
            })
        ));
        let unnormalized = vec![vec![0.5, 0.4], vec![0.5, 0.5]];
        assert!(matches!(
            multiclass_report(&[0, 1], &unnormalized, &labels(2)),
            Err(Error::InvalidInput {
                row: 0,
                field: "probability row sum",
                ..
            })
        ));
        let nan = vec![vec![f64::NAN, 1.0], vec![0.5, 0.5]];
        assert!(multiclass_report(&[0, 1], &nan, &labels(2)).is_err());
    }
}
