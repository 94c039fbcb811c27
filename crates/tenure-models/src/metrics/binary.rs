//! Binary classification metrics over a label column and a score column.
//!
//! Everything rank-based works on one sort of the rows by score, highest first, with rows of equal
//! score kept together as a tie group; a tie is never broken by input order, so every metric here
//! is invariant to the order of the rows.

use serde::{Deserialize, Serialize};

use super::{check_binary, check_lengths, check_probabilities, class_counts, require_both_classes};
use crate::error::{Error, Result};

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]` before the logarithm, so a
/// confident miss costs about 34.5 nats instead of infinity.
///
/// This is scikit-learn's `log_loss(eps=1e-15)`, the default before 1.5; from 1.5 sklearn clips at
/// the float64 machine epsilon (2.2e-16). The two agree unless a probability lies within 1e-15 of
/// 0 or 1.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Rows sorted by score, highest first, cut into groups of equal score.
pub(super) struct Ranking {
    /// Row indices in descending score order.
    pub(super) order: Vec<usize>,
    /// Start of every tie group in `order`, then `order.len()`.
    pub(super) bounds: Vec<usize>,
}

impl Ranking {
    pub(super) fn new(score: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..score.len()).collect();
        order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
        let mut bounds = Vec::new();
        for j in 0..order.len() {
            if j == 0 || score[order[j]] != score[order[j - 1]] {
                bounds.push(j);
            }
        }
        bounds.push(order.len());
        Self { order, bounds }
    }

    /// The Mann–Whitney statistic of weighted rows: (U, Σ positive weight, Σ negative weight),
    /// where U counts (positive, negative) pairs with the positive scored higher, ties counting ½.
    /// AUC = U / (P·N) (Hanley & McNeil 1982; equal to the rank-sum form with average ranks).
    pub(super) fn mann_whitney(
        &self,
        y: &[bool],
        weight: impl Fn(usize) -> f64,
    ) -> (f64, f64, f64) {
        let (mut pos_above, mut neg_total, mut u) = (0.0, 0.0, 0.0);
        for g in self.bounds.windows(2) {
            let (mut p, mut n) = (0.0, 0.0);
            for &i in &self.order[g[0]..g[1]] {
                if y[i] {
                    p += weight(i);
                } else {
                    n += weight(i);
                }
            }
            u += n * (pos_above + 0.5 * p);
            pos_above += p;
            neg_total += n;
        }
        (u, pos_above, neg_total)
    }

    /// Tie groups with their score, size and positives, highest score first.
    fn groups(&self, y: &[bool], score: &[f64]) -> Vec<Group> {
        self.bounds
            .windows(2)
            .map(|g| {
                let rows = &self.order[g[0]..g[1]];
                Group {
                    score: score[rows[0]],
                    rows: rows.len(),
                    positives: rows.iter().filter(|&&i| y[i]).count(),
                }
            })
            .collect()
    }
}

/// Rows sharing one score.
struct Group {
    score: f64,
    rows: usize,
    positives: usize,
}

/// Positives among the top k rows, a tie group straddling the cut contributing pro rata (the
/// expected count when ties are broken at random), so the answer does not depend on row order.
struct TopK {
    /// Rows in groups 0..=g.
    ends: Vec<usize>,
    /// Positives in groups 0..=g.
    positives: Vec<usize>,
}

impl TopK {
    fn new(groups: &[Group]) -> Self {
        let (mut rows, mut pos) = (0, 0);
        let mut ends = Vec::with_capacity(groups.len());
        let mut positives = Vec::with_capacity(groups.len());
        for g in groups {
            rows += g.rows;
            pos += g.positives;
            ends.push(rows);
            positives.push(pos);
        }
        Self { ends, positives }
    }

    fn positives_in_top(&self, k: usize) -> f64 {
        let g = self.ends.partition_point(|&e| e < k);
        let Some(&end) = self.ends.get(g) else {
            return self.positives.last().copied().unwrap_or(0) as f64;
        };
        let (start, before) = match g {
            0 => (0, 0),
            _ => (self.ends[g - 1], self.positives[g - 1]),
        };
        let inside = (self.positives[g] - before) as f64;
        before as f64 + inside * (k - start) as f64 / (end - start) as f64
    }
}

/// Area under the ROC curve: the probability that a random positive row scores above a random
/// negative one, ties counting one half.
///
/// Computed from the Mann–Whitney U statistic with average ranks for ties (Hanley & McNeil 1982),
/// in O(n log n); equals scikit-learn's `roc_auc_score`. Errors on empty or misaligned input, a
/// non-finite score, or labels of only one class (AUC is then undefined).
pub fn auc(y_true: &[bool], score: &[f64]) -> Result<f64> {
    const WHAT: &str = "auc";
    check_binary(WHAT, y_true, score)?;
    require_both_classes(WHAT, y_true)?;
    let (u, p, n) = Ranking::new(score).mann_whitney(y_true, |_| 1.0);
    Ok(u / (p * n))
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// False positive rate FP / N of flagging every row with `score >= threshold`.
    pub fpr: f64,
    /// True positive rate (recall) TP / P at the same threshold.
    pub tpr: f64,
    /// The threshold; the first point's is +∞ (nobody flagged), written as `null` in JSON.
    #[serde(with = "infinite_as_null")]
    pub threshold: f64,
}

/// Serializes a non-finite threshold as `null` (JSON has no infinity) and reads `null` as +∞.
mod infinite_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

fn roc_from_groups(groups: &[Group], p: usize, n: usize) -> Vec<RocPoint> {
    let (mut tp, mut fp) = (0i64, 0i64);
    let mut tps = Vec::with_capacity(groups.len());
    let mut fps = Vec::with_capacity(groups.len());
    for g in groups {
        tp += g.positives as i64;
        fp += (g.rows - g.positives) as i64;
        tps.push(tp);
        fps.push(fp);
    }
    let len = groups.len();
    // sklearn's drop_intermediate: keep the ends and every corner (non-zero second difference).
    let keep = |i: usize| {
        len <= 2
            || i == 0
            || i == len - 1
            || fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0
            || tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0
    };
    let mut points = vec![RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    }];
    points.extend((0..len).filter(|&i| keep(i)).map(|i| RocPoint {
        fpr: fps[i] as f64 / n as f64,
        tpr: tps[i] as f64 / p as f64,
        threshold: groups[i].score,
    }));
    points
}

/// The ROC curve: (false positive rate, true positive rate) of flagging `score >= threshold` at
/// every distinct score, from (0, 0) at threshold +∞ to (1, 1).
///
/// Matches scikit-learn's `roc_curve(drop_intermediate=True)` (sklearn ≥ 1.3, first threshold
/// `inf`): points collinear with their neighbours are dropped, which leaves the area unchanged.
/// Errors like [`auc`].
pub fn roc_curve(y_true: &[bool], score: &[f64]) -> Result<Vec<RocPoint>> {
    const WHAT: &str = "roc curve";
    check_binary(WHAT, y_true, score)?;
    let (p, n) = require_both_classes(WHAT, y_true)?;
    let groups = Ranking::new(score).groups(y_true, score);
    Ok(roc_from_groups(&groups, p, n))
}

/// Mean binary cross-entropy −(1/n) Σ [y ln p + (1 − y) ln(1 − p)] of predicted probabilities
/// (Bishop 2006, eq. 4.90), with p and 1 − p clipped to `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]`.
///
/// Equals scikit-learn's `log_loss(y_true, probability)` (see [`LOG_LOSS_EPS`] for the clipping).
/// Errors on empty or misaligned input or a probability outside `[0, 1]` (NaN included).
pub fn log_loss(y_true: &[bool], probability: &[f64]) -> Result<f64> {
    check_lengths("log loss", y_true.len(), probability.len())?;
    check_probabilities("probability", probability)?;
    Ok(log_loss_unchecked(y_true, probability))
}

fn log_loss_unchecked(y: &[bool], p: &[f64]) -> f64 {
    let clip = |q: f64| q.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
    let sum: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            if y {
                -clip(p).ln()
            } else {
                -clip(1.0 - p).ln()
            }
        })
        .sum();
    sum / y.len() as f64
}

/// Brier score (1/n) Σ (p − y)² (Brier 1950): mean squared error of predicted probabilities, 0 is
/// perfect and a constant 0.5 scores 0.25. Equals scikit-learn's `brier_score_loss`.
///
/// Errors on empty or misaligned input or a probability outside `[0, 1]`.
pub fn brier(y_true: &[bool], probability: &[f64]) -> Result<f64> {
    check_lengths("brier score", y_true.len(), probability.len())?;
    check_probabilities("probability", probability)?;
    Ok(brier_unchecked(y_true, probability))
}

fn brier_unchecked(y: &[bool], p: &[f64]) -> f64 {
    let sum: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let e = p - if y { 1.0 } else { 0.0 };
            e * e
        })
        .sum();
    sum / y.len() as f64
}

/// Counts of a binary decision against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Positives flagged.
    pub true_positives: usize,
    /// Negatives flagged.
    pub false_positives: usize,
    /// Negatives not flagged.
    pub true_negatives: usize,
    /// Positives not flagged.
    pub false_negatives: usize,
}

/// The decision `score >= threshold` scored against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMetrics {
    /// Rows with `score >= threshold` are flagged positive.
    pub threshold: f64,
    /// Counts behind the rates.
    pub confusion: ConfusionMatrix,
    /// (TP + TN) / n.
    pub accuracy: f64,
    /// TP / (TP + FP); 0 when nothing is flagged (sklearn's `zero_division` default).
    pub precision: f64,
    /// TP / (TP + FN), the true positive rate; 0 when there are no positives.
    pub recall: f64,
    /// TN / (TN + FP), the true negative rate; 0 when there are no negatives.
    pub specificity: f64,
    /// Harmonic mean of precision and recall, 2TP / (2TP + FP + FN); 0 when that is 0/0.
    pub f1: f64,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl ThresholdMetrics {
    fn from_counts(threshold: f64, tp: usize, fp: usize, tn: usize, fn_: usize) -> Self {
        Self {
            threshold,
            confusion: ConfusionMatrix {
                true_positives: tp,
                false_positives: fp,
                true_negatives: tn,
                false_negatives: fn_,
            },
            accuracy: ratio(tp + tn, tp + fp + tn + fn_),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            specificity: ratio(tn, tn + fp),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
        }
    }
}

fn check_threshold(threshold: f64) -> Result<()> {
    if !threshold.is_finite() {
        return Err(Error::InvalidArgument {
            name: "threshold",
            value: threshold,
            reason: "must be finite",
        });
    }
    Ok(())
}

fn threshold_unchecked(y: &[bool], score: &[f64], threshold: f64) -> ThresholdMetrics {
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for (&y, &s) in y.iter().zip(score) {
        match (y, s >= threshold) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    ThresholdMetrics::from_counts(threshold, tp, fp, tn, fn_)
}

/// Confusion matrix, accuracy, precision, recall, specificity and F1 of flagging every row with
/// `score >= threshold` (sklearn's `accuracy_score`, `precision_score`, … of that decision).
///
/// Errors on empty or misaligned input, a non-finite score or a non-finite threshold.
pub fn threshold_metrics(
    y_true: &[bool],
    score: &[f64],
    threshold: f64,
) -> Result<ThresholdMetrics> {
    check_binary("threshold metrics", y_true, score)?;
    check_threshold(threshold)?;
    Ok(threshold_unchecked(y_true, score, threshold))
}

fn best_f1_from(groups: &[Group], p: usize, n: usize) -> ThresholdMetrics {
    let (mut tp, mut fp) = (0usize, 0usize);
    // (numerator, denominator, threshold, tp, fp) of the best F1 so far, compared exactly.
    let mut best: Option<(u128, u128, f64, usize, usize)> = None;
    for g in groups {
        tp += g.positives;
        fp += g.rows - g.positives;
        let (num, den) = (2 * tp as u128, (2 * tp + fp + (p - tp)) as u128);
        let better = match best {
            None => true,
            Some((bn, bd, ..)) => num * bd > bn * den,
        };
        if better {
            best = Some((num, den, g.score, tp, fp));
        }
    }
    let (threshold, tp, fp) = best.map_or((f64::INFINITY, 0, 0), |b| (b.2, b.3, b.4));
    ThresholdMetrics::from_counts(threshold, tp, fp, n - fp, p - tp)
}

/// The threshold (one of the scores) whose decision `score >= threshold` has the highest F1, with
/// its metrics; among equal F1 the highest threshold (fewest rows flagged) wins.
///
/// A sweep over the distinct scores as in sklearn's `precision_recall_curve`, F1 compared exactly
/// in integers. Errors on empty or misaligned input, a non-finite score, or no positive row.
pub fn best_f1_threshold(y_true: &[bool], score: &[f64]) -> Result<ThresholdMetrics> {
    const WHAT: &str = "best f1 threshold";
    check_binary(WHAT, y_true, score)?;
    let (p, n) = require_positives(WHAT, y_true)?;
    let groups = Ranking::new(score).groups(y_true, score);
    Ok(best_f1_from(&groups, p, n))
}

fn require_positives(what: &'static str, y: &[bool]) -> Result<(usize, usize)> {
    let (p, n) = class_counts(y);
    if p == 0 {
        return Err(Error::SingleClass {
            what,
            n: y.len(),
            present: "negative",
        });
    }
    Ok((p, n))
}

/// One equal-width bin of predicted probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lower edge (inclusive for the first bin only).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Rows whose probability falls in the bin.
    pub count: usize,
    /// Mean predicted probability of those rows; `None` for an empty bin.
    pub mean_predicted: Option<f64>,
    /// Share of those rows that are positive; `None` for an empty bin.
    pub observed_rate: Option<f64>,
}

fn calibration_unchecked(y: &[bool], p: &[f64], n_bins: usize) -> Vec<CalibrationBin> {
    // numpy.linspace(0, 1, n_bins + 1) and searchsorted(edges[1:-1], p), as sklearn does.
    let step = 1.0 / n_bins as f64;
    let edge = |i: usize| if i == n_bins { 1.0 } else { i as f64 * step };
    let inner: Vec<f64> = (1..n_bins).map(edge).collect();
    let mut sums = vec![(0usize, 0.0, 0usize); n_bins];
    for (&y, &p) in y.iter().zip(p) {
        let b = inner.partition_point(|&e| e < p);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += usize::from(y);
    }
    sums.into_iter()
        .enumerate()
        .map(|(b, (count, sum_p, pos))| CalibrationBin {
            lower: edge(b),
            upper: edge(b + 1),
            count,
            mean_predicted: (count > 0).then(|| sum_p / count as f64),
            observed_rate: (count > 0).then(|| pos as f64 / count as f64),
        })
        .collect()
}

/// Reliability diagram data: `n_bins` equal-width bins of predicted probability on [0, 1], each
/// with its count, mean prediction and observed positive rate (DeGroot & Fienberg 1983).
///
/// The non-empty bins equal scikit-learn's `calibration_curve(strategy="uniform")` (same edges,
/// a probability on an inner edge goes to the lower bin); empty bins are kept with `None` means.
/// Errors on empty or misaligned input, a probability outside `[0, 1]`, or `n_bins` = 0.
pub fn calibration_bins(
    y_true: &[bool],
    probability: &[f64],
    n_bins: usize,
) -> Result<Vec<CalibrationBin>> {
    check_lengths("calibration bins", y_true.len(), probability.len())?;
    check_probabilities("probability", probability)?;
    check_n_bins(n_bins)?;
    Ok(calibration_unchecked(y_true, probability, n_bins))
}

fn check_n_bins(n_bins: usize) -> Result<()> {
    if n_bins == 0 {
        return Err(Error::InvalidArgument {
            name: "n_bins",
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    Ok(())
}

/// Expected calibration error Σ_b (n_b / n) |mean predicted_b − observed rate_b| over the bins
/// (Naeini, Cooper & Hauskrecht 2015).
fn expected_calibration_error(bins: &[CalibrationBin], n: usize) -> f64 {
    bins.iter()
        .filter_map(|b| Some(b.count as f64 * (b.mean_predicted? - b.observed_rate?).abs()))
        .sum::<f64>()
        / n as f64
}

/// One tenth of the rows, ranked by score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LiftBucket {
    /// 1 for the highest-scored tenth, 10 for the lowest.
    pub decile: usize,
    /// Rows in the decile: ⌊d·n/10⌋ − ⌊(d−1)·n/10⌋.
    pub n_rows: usize,
    /// Highest score in the decile.
    pub max_score: f64,
    /// Lowest score in the decile.
    pub min_score: f64,
    /// Positives in the decile; a tie group cut by the decile boundary is shared pro rata, so
    /// this can be fractional.
    pub positives: f64,
    /// positives / n_rows.
    pub rate: f64,
    /// rate / overall positive rate: how many times better than flagging at random.
    pub lift: f64,
    /// Rows in deciles 1..=decile.
    pub cumulative_rows: usize,
    /// Positives in deciles 1..=decile.
    pub cumulative_positives: f64,
    /// Share of all positives captured by deciles 1..=decile (the gains curve).
    pub cumulative_capture: f64,
    /// Positive rate of deciles 1..=decile over the overall rate.
    pub cumulative_lift: f64,
}

fn lift_from(ranking: &Ranking, top: &TopK, score: &[f64], p: usize) -> Vec<LiftBucket> {
    let n = ranking.order.len();
    let base = p as f64 / n as f64;
    let score_at = |pos: usize| score[ranking.order[pos]];
    (0..10)
        .filter_map(|d| {
            let (lo, hi) = (d * n / 10, (d + 1) * n / 10);
            if hi == lo {
                return None;
            }
            let cumulative = top.positives_in_top(hi);
            let positives = cumulative - top.positives_in_top(lo);
            let rate = positives / (hi - lo) as f64;
            Some(LiftBucket {
                decile: d + 1,
                n_rows: hi - lo,
                max_score: score_at(lo),
                min_score: score_at(hi - 1),
                positives,
                rate,
                lift: rate / base,
                cumulative_rows: hi,
                cumulative_positives: cumulative,
                cumulative_capture: cumulative / p as f64,
                cumulative_lift: cumulative / hi as f64 / base,
            })
        })
        .collect()
}

/// Lift table: rows sorted by score (highest first) and cut into ten near-equal deciles, each with
/// its positive rate, lift over the base rate and cumulative capture of positives (the gains
/// chart of direct marketing; Ling & Li 1998).
///
/// With fewer than ten rows some deciles are empty and left out. Ties across a decile boundary
/// are shared pro rata (see [`LiftBucket::positives`]). Errors on empty or misaligned input, a
/// non-finite score, or no positive row (lift is then undefined).
pub fn lift_by_decile(y_true: &[bool], score: &[f64]) -> Result<Vec<LiftBucket>> {
    const WHAT: &str = "lift by decile";
    check_binary(WHAT, y_true, score)?;
    let (p, _) = require_positives(WHAT, y_true)?;
    let ranking = Ranking::new(score);
    let top = TopK::new(&ranking.groups(y_true, score));
    Ok(lift_from(&ranking, &top, score, p))
}

/// Precision and recall of the k highest-scored rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrecisionAtK {
    /// Rows taken from the top.
    pub k: usize,
    /// Positives among them (pro rata for a tie group cut at k, so possibly fractional).
    pub positives: f64,
    /// positives / k.
    pub precision: f64,
    /// positives / all positives; 0 when there are none.
    pub recall: f64,
}

fn precision_at_k_from(top: &TopK, ks: &[usize], p: usize) -> Vec<PrecisionAtK> {
    ks.iter()
        .map(|&k| {
            let positives = top.positives_in_top(k);
            PrecisionAtK {
                k,
                positives,
                precision: positives / k as f64,
                recall: if p == 0 { 0.0 } else { positives / p as f64 },
            }
        })
        .collect()
}

/// Precision@k for every k in `ks`: the share of positives among the k highest-scored rows, as
/// when a campaign can contact only k customers (Manning, Raghavan & Schütze 2008, §8.4).
///
/// A tie group cut at k counts pro rata, so the result does not depend on row order. Errors on
/// empty or misaligned input, a non-finite score, or a k outside 1..=n.
pub fn precision_at_k(y_true: &[bool], score: &[f64], ks: &[usize]) -> Result<Vec<PrecisionAtK>> {
    check_binary("precision at k", y_true, score)?;
    if let Some(&k) = ks.iter().find(|&&k| k == 0 || k > y_true.len()) {
        return Err(Error::InvalidArgument {
            name: "k",
            value: k as f64,
            reason: "must be between 1 and the number of rows",
        });
    }
    let (p, _) = class_counts(y_true);
    let top = TopK::new(&Ranking::new(score).groups(y_true, score));
    Ok(precision_at_k_from(&top, ks, p))
}

/// Settings of [`binary_report_with`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BinaryReportParams {
    /// Rows with `score >= threshold` are flagged positive for the threshold metrics.
    pub threshold: f64,
    /// The k of precision@k; those above the number of rows (or 0) are left out of the report.
    pub ks: Vec<usize>,
    /// Equal-width calibration bins on [0, 1].
    pub n_calibration_bins: usize,
}

impl Default for BinaryReportParams {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            ks: vec![10, 100, 1000],
            n_calibration_bins: 10,
        }
    }
}

/// Everything a binary classifier's evaluation page shows, computed from one sort of the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryReport {
    /// Rows evaluated.
    pub n: usize,
    /// Positive rows.
    pub positives: usize,
    /// positives / n, the base rate lift is measured against.
    pub prevalence: f64,
    /// Area under the ROC curve ([`auc`]).
    pub auc: f64,
    /// ROC curve points ([`roc_curve`]).
    pub roc: Vec<RocPoint>,
    /// Log loss ([`log_loss`]); `None` when some score lies outside [0, 1] (not a probability).
    pub log_loss: Option<f64>,
    /// Brier score ([`brier`]); `None` when the scores are not probabilities.
    pub brier: Option<f64>,
    /// Calibration bins ([`calibration_bins`]); `None` when the scores are not probabilities.
    pub calibration: Option<Vec<CalibrationBin>>,
    /// Σ_b (n_b / n) |mean predicted − observed| over the calibration bins (Naeini et al. 2015).
    pub expected_calibration_error: Option<f64>,
    /// Decision metrics at the requested threshold ([`threshold_metrics`]).
    pub at_threshold: ThresholdMetrics,
    /// Decision metrics at the best-F1 threshold ([`best_f1_threshold`]).
    pub best_f1: ThresholdMetrics,
    /// Lift table ([`lift_by_decile`]).
    pub lift: Vec<LiftBucket>,
    /// Precision@k for the requested ks that fit in the rows ([`precision_at_k`]).
    pub precision_at_k: Vec<PrecisionAtK>,
}

/// [`binary_report_with`] at `threshold`, precision@k for k = 10, 100, 1000 and 10 calibration
/// bins.
pub fn binary_report(y_true: &[bool], score: &[f64], threshold: f64) -> Result<BinaryReport> {
    binary_report_with(
        y_true,
        score,
        &BinaryReportParams {
            threshold,
            ..BinaryReportParams::default()
        },
    )
}

/// The full evaluation of scores against binary labels: AUC and ROC curve, log loss, Brier score
/// and calibration (when every score is a probability), decision metrics at the chosen and at the
/// best-F1 threshold, lift by decile and precision@k.
///
/// Errors on empty or misaligned input, a non-finite score, labels of only one class (AUC is
/// undefined), a non-finite threshold or zero calibration bins.
pub fn binary_report_with(
    y_true: &[bool],
    score: &[f64],
    params: &BinaryReportParams,
) -> Result<BinaryReport> {
    const WHAT: &str = "binary report";
    check_binary(WHAT, y_true, score)?;
    let (p, n_neg) = require_both_classes(WHAT, y_true)?;
    check_threshold(params.threshold)?;
    check_n_bins(params.n_calibration_bins)?;
    let n = y_true.len();
    let ranking = Ranking::new(score);
    let groups = ranking.groups(y_true, score);
    let top = TopK::new(&groups);
    let (u, ..) = ranking.mann_whitney(y_true, |_| 1.0);
    let probabilities = check_probabilities("score", score).is_ok();
    let calibration =
        probabilities.then(|| calibration_unchecked(y_true, score, params.n_calibration_bins));
    let ks: Vec<usize> = params
        .ks
        .iter()
        .copied()
        .filter(|&k| (1..=n).contains(&k))
        .collect();
    Ok(BinaryReport {
        n,
        positives: p,
        prevalence: p as f64 / n as f64,
        auc: u / (p as f64 * n_neg as f64),
        roc: roc_from_groups(&groups, p, n_neg),
        log_loss: probabilities.then(|| log_loss_unchecked(y_true, score)),
        brier: probabilities.then(|| brier_unchecked(y_true, score)),
        expected_calibration_error: calibration
            .as_deref()
            .map(|b| expected_calibration_error(b, n)),
        calibration,
        at_threshold: threshold_unchecked(y_true, score, params.threshold),
        best_f1: best_f1_from(&groups, p, n_neg),
        lift: lift_from(&ranking, &top, score, p),
        precision_at_k: precision_at_k_from(&top, &ks, p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn auc_counts_pairs_and_half_ties() {
        // Positives 0.9, 0.6, 0.4; negatives 0.3, 0.6, 0.1: 3 + 2.5 + 2 = 7.5 of 9 pairs.
        let y = [true, false, true, false, false, true];
        let s = [0.9, 0.3, 0.6, 0.6, 0.1, 0.4];
        assert!(close(auc(&y, &s).expect("valid"), 7.5 / 9.0));
        assert!(close(auc(&[true, false], &[1.0, 0.0]).expect("valid"), 1.0));
        assert!(close(auc(&[true, false], &[0.0, 1.0]).expect("valid"), 0.0));
        assert!(close(auc(&[true, false], &[2.0, 2.0]).expect("valid"), 0.5));
    }

    #[test]
    fn one_class_is_a_clear_error() {
        let err = auc(&[true, true], &[0.1, 0.2]).expect_err("one class");
        assert_eq!(
            err,
            Error::SingleClass {
                what: "auc",
                n: 2,
                present: "positive"
            }
        );
        assert!(err.to_string().contains("undefined"), "{err}");
        assert!(matches!(
            lift_by_decile(&[false, false], &[0.1, 0.2]),
            Err(Error::SingleClass {
                present: "negative",
                ..
            })
        ));
        assert!(matches!(
            binary_report(&[false], &[0.1], 0.5),
            Err(Error::SingleClass { .. })
        ));
    }

    #[test]
    fn bad_input_is_named() {
        assert!(matches!(auc(&[], &[]), Err(Error::Empty { .. })));
        assert!(matches!(
            roc_curve(&[true, false], &[0.1]),
            Err(Error::LengthMismatch {
                left: 2,
                right: 1,
                ..
            })
        ));
        assert!(matches!(
            auc(&[true, false, true], &[0.1, f64::NAN, 0.3]),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        assert!(matches!(
            binary_report(&[true, false], &[0.1, f64::INFINITY], 0.5),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        assert!(matches!(
            log_loss(&[true, false], &[0.5, 1.5]),
            Err(Error::InvalidInput {
                row: 1,
                field: "probability",
                ..
            })
        ));
        assert!(matches!(
            brier(&[true, false], &[-0.1, 0.5]),
            Err(Error::InvalidInput { row: 0, .. })
        ));
        assert!(log_loss(&[true], &[f64::NAN]).is_err());
        assert!(threshold_metrics(&[true], &[0.5], f64::NAN).is_err());
        assert!(calibration_bins(&[true], &[0.5], 0).is_err());
        assert!(precision_at_k(&[true, false], &[0.5, 0.1], &[3]).is_err());
        assert!(precision_at_k(&[true, false], &[0.5, 0.1], &[0]).is_err());
    }

    #[test]
    fn log_loss_and_brier_by_hand() {
        // −(ln 0.8 + ln 0.6) / 2 and ((0.2)² + (0.4)²) / 2.
        let y = [true, false];
        let p = [0.8, 0.4];
        assert!(close(
            log_loss(&y, &p).expect("valid"),
            -(0.8f64.ln() + 0.6f64.ln()) / 2.0
        ));
        assert!(close(brier(&y, &p).expect("valid"), 0.1));
        // A confident miss is clipped, not infinite.
        let l = log_loss(&[true], &[0.0]).expect("valid");
        assert!(close(l, -LOG_LOSS_EPS.ln()), "{l}");
        assert!(close(
            log_loss(&[true], &[1.0]).expect("valid"),
            -(1.0f64 - LOG_LOSS_EPS).ln()
        ));
    }

    #[test]
    fn threshold_metrics_by_hand() {
        let y = [true, true, false, false, true];
        let s = [0.9, 0.4, 0.6, 0.1, 0.5];
        let m = threshold_metrics(&y, &s, 0.5).expect("valid");
        let c = m.confusion;
        assert_eq!(
            (
                c.true_positives,
                c.false_positives,
                c.true_negatives,
                c.false_negatives
            ),
            (2, 1, 1, 1)
        );
        assert!(close(m.accuracy, 0.6) && close(m.precision, 2.0 / 3.0));
        assert!(close(m.recall, 2.0 / 3.0) && close(m.specificity, 0.5));
        assert!(close(m.f1, 2.0 / 3.0));
        // Nothing flagged: precision and F1 are 0, not NaN.
        let none = threshold_metrics(&y, &s, 2.0).expect("valid");
        assert_eq!((none.precision, none.f1, none.recall), (0.0, 0.0, 0.0));
    }

    #[test]
    fn roc_curve_drops_collinear_points() {
        // Scores 4 > 3 > 2 > 1 with labels +, +, −, −: the middle points of each straight run go.
        let y = [true, true, false, false];
        let s = [4.0, 3.0, 2.0, 1.0];
        let roc = roc_curve(&y, &s).expect("valid");
        let pts: Vec<(f64, f64, f64)> = roc.iter().map(|p| (p.fpr, p.tpr, p.threshold)).collect();
        assert_eq!(
            pts,
            vec![
                (0.0, 0.0, f64::INFINITY),
                (0.0, 0.5, 4.0),
                (0.0, 1.0, 3.0),
                (1.0, 1.0, 1.0)
            ]
        );
    }

    #[test]
    fn roc_threshold_round_trips_through_json() {
        let roc = roc_curve(&[true, false], &[0.7, 0.2]).expect("valid");
        let json = serde_json::to_string(&roc).expect("serializes");
        assert!(
            json.starts_with(r#"[{"fpr":0.0,"tpr":0.0,"threshold":null}"#),
            "{json}"
        );
        let back: Vec<RocPoint> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, roc);
    }

    #[test]
    fn calibration_bins_by_hand() {
        // 0.05 → bin 0; 0.1 sits on an edge and goes to the lower bin 0; 0.95 and 1.0 → bin 9.
        let y = [false, true, true, false];
        let p = [0.05, 0.1, 0.95, 1.0];
        let bins = calibration_bins(&y, &p, 10).expect("valid");
        assert_eq!(bins.len(), 10);
        assert_eq!((bins[0].count, bins[9].count), (2, 2));
        assert!(close(bins[0].mean_predicted.expect("filled"), 0.075));
        assert!(close(bins[0].observed_rate.expect("filled"), 0.5));
        assert_eq!((bins[5].count, bins[5].mean_predicted), (0, None));
        assert_eq!((bins[0].lower, bins[9].upper), (0.0, 1.0));
    }

    #[test]
    fn lift_and_precision_at_k_share_ties_pro_rata() {
        // 20 rows: scores 19..0; positives at the top 4 rows, so decile 1 (2 rows) and 2 hold all.
        let s: Vec<f64> = (0..20).rev().map(f64::from).collect();
        let y: Vec<bool> = (0..20).map(|i| i < 4).collect();
        let lift = lift_by_decile(&y, &s).expect("valid");
        assert_eq!(lift.len(), 10);
        assert!(close(lift[0].rate, 1.0) && close(lift[0].lift, 5.0));
        assert!(close(lift[1].cumulative_capture, 1.0) && close(lift[2].positives, 0.0));
        assert!(close(lift[9].cumulative_lift, 1.0));
        assert_eq!((lift[0].max_score, lift[0].min_score), (19.0, 18.0));
        // A tie of 1 positive and 3 negatives cut at k = 2 gives half a positive.
        let p = precision_at_k(&[true, false, false, false], &[1.0; 4], &[2, 4]).expect("valid");
        assert!(close(p[0].positives, 0.5) && close(p[0].precision, 0.25));
        assert!(close(p[1].recall, 1.0));
        // Five rows fill five deciles.
        let few = lift_by_decile(
            &[true, false, true, false, false],
            &[5.0, 4.0, 3.0, 2.0, 1.0],
        )
        .expect("valid");
        let deciles: Vec<usize> = few.iter().map(|b| b.decile).collect();
        assert_eq!(deciles, vec![2, 4, 6, 8, 10]);
    }

    #[test]
    fn best_f1_prefers_the_highest_of_tied_thresholds() {
        // Flag ≥ 0.8: F1 = 2/3 (tp 1, fn 1); flag ≥ 0.5: tp 2, fp 1 → 0.8; flag all: 4/7.
        let y = [true, false, true, false];
        let s = [0.8, 0.6, 0.5, 0.2];
        let b = best_f1_threshold(&y, &s).expect("valid");
        assert_eq!(b.threshold, 0.5);
        assert!(close(b.f1, 0.8));
        // Flag ≥ 4: 2·1 / (2 + 0 + 1) = 2/3; flag all: 2·2 / (4 + 2 + 0) = 2/3 too; 4 wins.
        let tied = best_f1_threshold(&[true, false, false, true], &[4.0, 3.0, 2.0, 1.0]);
        assert_eq!(tied.expect("valid").threshold, 4.0);
        assert!(best_f1_threshold(&[false], &[0.2]).is_err());
    }

    #[test]
    fn report_leaves_out_probability_metrics_for_raw_scores() {
        let y = [true, false, true, false];
        let margins = [2.5, -1.0, 0.3, 0.7];
        let r = binary_report(&y, &margins, 0.0).expect("valid");
        assert_eq!(
            (r.log_loss, r.brier, r.calibration.is_none()),
            (None, None, true)
        );
        assert!(close(r.auc, 0.75));
        assert!(r.precision_at_k.is_empty(), "k = 10 > n = 4 is left out");
        let json = serde_json::to_string(&r).expect("serializes");
        let back: BinaryReport = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, r);
    }
}
