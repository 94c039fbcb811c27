//! Evaluation shared by every classifier in the project: ranking quality (ROC curve, AUC, lift by
//! decile, precision@k), probability quality (log loss, Brier score, calibration bins), decisions
//! at a threshold (confusion matrix, accuracy, precision, recall, F1, the best-F1 threshold),
//! multi-class reports (per-class and macro/weighted F1), and bootstrap intervals of an AUC and of
//! the AUC difference of two models scored on the same rows.
//!
//! Conventions follow scikit-learn, and the tests compare against it: a row is flagged positive
//! when `score >= threshold`; a precision or recall with an empty denominator is 0 (sklearn's
//! `zero_division` default); probabilities are clipped to `[ε, 1 − ε]` before a logarithm. Scores
//! may be any finite numbers for the ranking metrics; the probability metrics need `[0, 1]`.
//! Every function validates its input and returns [`crate::Error`] instead of panicking. Reports
//! are serde types (write them as JSON) and render themselves as self-contained HTML with inline
//! SVG charts; like the rest of the crate, nothing here does I/O.
//!
//! ```
//! use tenure_models::metrics::{auc, binary_report};
//!
//! let churned = [true, false, true, false, false, true];
//! let risk = [0.9, 0.3, 0.6, 0.6, 0.1, 0.4];
//! assert!((auc(&churned, &risk)? - 7.5 / 9.0).abs() < 1e-12);
//! let report = binary_report(&churned, &risk, 0.5)?;
//! assert_eq!(report.at_threshold.confusion.true_positives, 2);
//! let page = report.to_html("churn model <holdout>");
//! assert!(page.contains("churn model &lt;holdout&gt;") && page.contains("<svg"));
//! # Ok::<(), tenure_models::Error>(())
//! ```

mod binary;
mod multiclass;
mod render;
mod resample;

pub use binary::{
    auc, best_f1_threshold, binary_report, binary_report_with, brier, calibration_bins,
    lift_by_decile, log_loss, precision_at_k, roc_curve, threshold_metrics, BinaryReport,
    BinaryReportParams, CalibrationBin, ConfusionMatrix, LiftBucket, PrecisionAtK, RocPoint,
    ThresholdMetrics, LOG_LOSS_EPS,
};
pub use multiclass::{multiclass_report, ClassMetrics, MulticlassReport, PROBA_ROW_SUM_TOL};
pub use render::{calibration_svg, roc_svg};
pub use resample::{bootstrap_auc, bootstrap_auc_difference, AucDifference, BootstrapAuc};

use crate::error::{Error, Result};

/// Errors unless `y` is non-empty and as long as `other`.
fn check_lengths(what: &'static str, y: usize, other: usize) -> Result<()> {
    if y == 0 {
        return Err(Error::Empty { what });
    }
    if y != other {
        return Err(Error::LengthMismatch {
            what,
            left: y,
            right: other,
        });
    }
    Ok(())
}

/// Errors on the first NaN or infinite score, naming its row.
fn check_finite_scores(field: &'static str, s: &[f64]) -> Result<()> {
    match s.iter().position(|x| !x.is_finite()) {
        Some(row) => Err(Error::InvalidInput {
            row,
            field,
            value: s[row],
            reason: "must be finite; drop or impute rows without a score",
        }),
        None => Ok(()),
    }
}

/// Errors on the first value outside `[0, 1]` (NaN included), naming its row.
fn check_probabilities(field: &'static str, p: &[f64]) -> Result<()> {
    match p.iter().position(|x| !(0.0..=1.0).contains(x)) {
        Some(row) => Err(Error::InvalidInput {
            row,
            field,
            value: p[row],
            reason: "must be a probability in [0, 1]; pass predicted probabilities, not raw scores",
        }),
        None => Ok(()),
    }
}

/// Validated binary input: non-empty, aligned, finite scores.
fn check_binary(what: &'static str, y: &[bool], s: &[f64]) -> Result<()> {
    check_lengths(what, y.len(), s.len())?;
    check_finite_scores("score", s)
}

/// Number of positives and negatives.
fn class_counts(y: &[bool]) -> (usize, usize) {
    let p = y.iter().filter(|&&v| v).count();
    (p, y.len() - p)
}

/// Errors with [`Error::SingleClass`] unless both classes are present; returns (positives, negatives).
fn require_both_classes(what: &'static str, y: &[bool]) -> Result<(usize, usize)> {
    let (p, n) = class_counts(y);
    if p == 0 || n == 0 {
        return Err(Error::SingleClass {
            what,
            n: y.len(),
            present: if p == 0 { "negative" } else { "positive" },
        });
    }
    Ok((p, n))
}

/// Type-7 empirical quantile (Hyndman & Fan 1996; numpy's default) of sorted, non-empty values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n <= 1 {
        return sorted.first().copied().unwrap_or(f64::NAN);
    }
    let pos = q * (n - 1) as f64;
    let lo = (pos.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}
