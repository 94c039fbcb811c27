//! Bootstrap intervals of an AUC and of the AUC difference of two models on the same rows
//! (Efron & Tibshirani 1993, ch. 13, percentile method).
//!
//! A resample draws n rows with replacement; it is kept as a count per row, and the AUC of the
//! resample is the Mann–Whitney statistic with those counts as weights over the one sort of the
//! full data, so a replicate costs O(n) instead of a fresh O(n log n) sort. Resamples that hold
//! only one class have no AUC and are skipped (and counted). The interval is the pair of type-7
//! quantiles at 2.5 % and 97.5 % of the kept replicates. The generator is `ChaCha8Rng` seeded with
//! `seed`, so the same seed gives the same interval on every platform.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::binary::Ranking;
use super::{check_binary, check_finite_scores, check_lengths, quantile, require_both_classes};
use crate::bootstrap::Interval;
use crate::error::{Error, Result};

/// Central coverage of the intervals.
const CONFIDENCE: f64 = 0.95;

/// The AUC with its bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapAuc {
    /// AUC on all rows (`estimate`) and the 2.5 % and 97.5 % bootstrap percentiles.
    pub auc: Interval,
    /// Resamples drawn.
    pub n_resamples: usize,
    /// Resamples skipped because they held only one class.
    pub n_skipped: usize,
    /// Seed of the `ChaCha8Rng` that drew the resamples.
    pub seed: u64,
}

/// Two models' AUCs on the same rows, and their paired bootstrap difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AucDifference {
    /// AUC of model a with its interval.
    pub auc_a: Interval,
    /// AUC of model b with its interval.
    pub auc_b: Interval,
    /// AUC(a) − AUC(b) on all rows with the interval of the paired replicates.
    pub difference: Interval,
    /// Share of kept resamples in which a's AUC is strictly above b's.
    pub share_a_better: f64,
    /// Resamples drawn.
    pub n_resamples: usize,
    /// Resamples skipped because they held only one class.
    pub n_skipped: usize,
    /// Seed of the `ChaCha8Rng` that drew the resamples.
    pub seed: u64,
}

fn check_n_boot(n_boot: usize) -> Result<()> {
    if n_boot == 0 {
        return Err(Error::InvalidArgument {
            name: "n_boot",
            value: 0.0,
            reason: "must be at least 1; 1000 or more gives a stable 95 % interval",
        });
    }
    Ok(())
}

/// Draws `n_boot` resamples of `n` rows and calls `replicate` with each one's row counts.
fn resample(n: usize, n_boot: usize, seed: u64, mut replicate: impl FnMut(&[u32])) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0u32; n];
    for _ in 0..n_boot {
        counts.fill(0);
        for _ in 0..n {
            counts[rng.random_range(0..n)] += 1;
        }
        replicate(&counts);
    }
}

fn weighted_auc(ranking: &Ranking, y: &[bool], counts: &[u32]) -> Option<f64> {
    let (u, p, n) = ranking.mann_whitney(y, |i| f64::from(counts[i]));
    (p > 0.0 && n > 0.0).then(|| u / (p * n))
}

fn interval(estimate: f64, mut replicates: Vec<f64>) -> Interval {
    replicates.sort_by(f64::total_cmp);
    let tail = 0.5 * (1.0 - CONFIDENCE);
    Interval {
        estimate,
        lower: quantile(&replicates, tail),
        upper: quantile(&replicates, 1.0 - tail),
    }
}

fn no_replicates(n_boot: usize) -> Error {
    Error::Undefined {
        model: "bootstrap auc",
        quantity: "the interval",
        reason: format!("all {n_boot} resamples held only one class; add rows of the rarer class"),
    }
}

/// AUC with a 95 % percentile bootstrap interval over `n_boot` resamples of the rows, drawn by a
/// `ChaCha8Rng` seeded with `seed`.
///
/// Errors like [`super::auc`], on `n_boot` = 0, and when every resample held only one class.
pub fn bootstrap_auc(
    y_true: &[bool],
    score: &[f64],
    n_boot: usize,
    seed: u64,
) -> Result<BootstrapAuc> {
    const WHAT: &str = "bootstrap auc";
    check_binary(WHAT, y_true, score)?;
    require_both_classes(WHAT, y_true)?;
    check_n_boot(n_boot)?;
    let ranking = Ranking::new(score);
    let (u, p, n) = ranking.mann_whitney(y_true, |_| 1.0);
    let mut replicates = Vec::with_capacity(n_boot);
    resample(y_true.len(), n_boot, seed, |counts| {
        replicates.extend(weighted_auc(&ranking, y_true, counts));
    });
    if replicates.is_empty() {
        return Err(no_replicates(n_boot));
    }
    Ok(BootstrapAuc {
        n_skipped: n_boot - replicates.len(),
        auc: interval(u / (p * n), replicates),
        n_resamples: n_boot,
        seed,
    })
}

/// Paired bootstrap of AUC(a) − AUC(b) for two models scored on the same rows: every resample
/// draws rows once and scores both models on them, so the interval accounts for the correlation
/// of the two AUCs (the bootstrap counterpart of DeLong et al. 1988). Also reports the share of
/// resamples in which a beats b.
///
/// Errors like [`bootstrap_auc`], and when the three columns differ in length.
pub fn bootstrap_auc_difference(
    y_true: &[bool],
    score_a: &[f64],
    score_b: &[f64],
    n_boot: usize,
    seed: u64,
) -> Result<AucDifference> {
    const WHAT: &str = "bootstrap auc difference";
    check_binary(WHAT, y_true, score_a)?;
    check_lengths(WHAT, y_true.len(), score_b.len())?;
    check_finite_scores("score_b", score_b)?;
    require_both_classes(WHAT, y_true)?;
    check_n_boot(n_boot)?;
    let (rank_a, rank_b) = (Ranking::new(score_a), Ranking::new(score_b));
    let full = |r: &Ranking| {
        let (u, p, n) = r.mann_whitney(y_true, |_| 1.0);
        u / (p * n)
    };
    let (auc_a, auc_b) = (full(&rank_a), full(&rank_b));
    let (mut reps_a, mut reps_b, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    let mut a_better = 0usize;
    resample(y_true.len(), n_boot, seed, |counts| {
        let a = weighted_auc(&rank_a, y_true, counts);
        let b = weighted_auc(&rank_b, y_true, counts);
        if let (Some(a), Some(b)) = (a, b) {
            reps_a.push(a);
            reps_b.push(b);
            diffs.push(a - b);
            a_better += usize::from(a > b);
        }
    });
    if diffs.is_empty() {
        return Err(no_replicates(n_boot));
    }
    Ok(AucDifference {
        share_a_better: a_better as f64 / diffs.len() as f64,
        n_skipped: n_boot - diffs.len(),
        auc_a: interval(auc_a, reps_a),
        auc_b: interval(auc_b, reps_b),
        difference: interval(auc_a - auc_b, diffs),
        n_resamples: n_boot,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::auc;

    fn data() -> (Vec<bool>, Vec<f64>, Vec<f64>) {
        // A good model a and an uninformative model b on 200 rows (a fixed, hand-rolled pattern).
        let y: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
        let a: Vec<f64> = (0..200)
            .map(|i| 0.5 * f64::from(u8::from(i % 3 == 0)) + f64::from(i % 7) / 10.0)
            .collect();
        let b: Vec<f64> = (0..200).map(|i| f64::from((i * 37) % 11)).collect();
        (y, a, b)
    }

    #[test]
    fn same_seed_same_interval() {
        let (y, a, _) = data();
        let one = bootstrap_auc(&y, &a, 200, 7).expect("valid");
        let two = bootstrap_auc(&y, &a, 200, 7).expect("valid");
        assert_eq!(one, two);
        let other = bootstrap_auc(&y, &a, 200, 8).expect("valid");
        assert_ne!(one.auc.lower, other.auc.lower);
        assert!((one.auc.estimate - auc(&y, &a).expect("valid")).abs() < 1e-15);
        assert!(one.auc.lower <= one.auc.estimate && one.auc.estimate <= one.auc.upper);
        assert_eq!((one.n_resamples, one.n_skipped), (200, 0));
    }

    #[test]
    fn weighted_auc_equals_auc_of_the_materialized_resample() {
        let (y, a, _) = data();
        let ranking = Ranking::new(&a);
        resample(y.len(), 3, 11, |counts| {
            let (mut ry, mut rs) = (Vec::new(), Vec::new());
            for (i, &c) in counts.iter().enumerate() {
                for _ in 0..c {
                    ry.push(y[i]);
                    rs.push(a[i]);
                }
            }
            let w = weighted_auc(&ranking, &y, counts).expect("both classes");
            assert!((w - auc(&ry, &rs).expect("valid")).abs() < 1e-12);
        });
    }

    #[test]
    fn difference_of_a_model_with_itself_is_zero() {
        let (y, a, b) = data();
        let same = bootstrap_auc_difference(&y, &a, &a, 100, 3).expect("valid");
        assert_eq!(
            (
                same.difference.lower,
                same.difference.upper,
                same.share_a_better
            ),
            (0.0, 0.0, 0.0)
        );
        let d = bootstrap_auc_difference(&y, &a, &b, 300, 3).expect("valid");
        assert!(d.difference.estimate > 0.3, "{d:?}");
        assert!(d.difference.lower > 0.0 && d.share_a_better == 1.0, "{d:?}");
        let solo = bootstrap_auc(&y, &a, 300, 3).expect("valid");
        assert_eq!(d.auc_a, solo.auc, "same seed, same resamples");
    }

    #[test]
    fn errors_are_clear() {
        assert!(bootstrap_auc(&[true, false], &[0.1, 0.2], 0, 1).is_err());
        assert!(matches!(
            bootstrap_auc(&[true, true], &[0.1, 0.2], 10, 1),
            Err(Error::SingleClass { .. })
        ));
        assert!(matches!(
            bootstrap_auc_difference(&[true, false], &[0.1, 0.2], &[0.3], 10, 1),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            bootstrap_auc_difference(&[true, false], &[0.1, 0.2], &[0.3, f64::NAN], 10, 1),
            Err(Error::InvalidInput {
                row: 1,
                field: "score_b",
                ..
            })
        ));
        // One positive and one negative: a resample of two rows holds one class half the time.
        let r = bootstrap_auc(&[true, false], &[0.9, 0.1], 400, 5).expect("some resamples kept");
        assert!(r.n_skipped > 0 && r.n_skipped < 400);
    }
}
