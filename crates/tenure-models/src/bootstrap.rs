//! Bootstrap-over-customers intervals (Efron & Tibshirani 1993, ch. 13, percentile method).
//!
//! A resample draws as many customers as the data holds, with replacement; on the compressed
//! table that is one multinomial draw of row counts. Each resample is refitted (warm-started at
//! the full-data estimate) and the prediction recomputed; the interval is the pair of empirical
//! quantiles (linear interpolation, Hyndman & Fan type 7) of the replicates. The generator is
//! `ChaCha8Rng` seeded with [`BootstrapParams::seed`], so the same seed gives the same intervals.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Settings of a bootstrap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapParams {
    /// Number of resamples (refits).
    pub n_resamples: usize,
    /// Central coverage of the interval, in (0, 1); 0.9 gives the 5 % and 95 % quantiles.
    pub confidence: f64,
    /// Seed of the `ChaCha8Rng` that draws the resamples.
    pub seed: u64,
}

impl Default for BootstrapParams {
    fn default() -> Self {
        Self {
            n_resamples: 200,
            confidence: 0.9,
            seed: 0,
        }
    }
}

impl BootstrapParams {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.n_resamples == 0 {
            return Err(Error::InvalidArgument {
                name: "n_resamples",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::InvalidArgument {
                name: "confidence",
                value: self.confidence,
                reason: "must lie strictly between 0 and 1",
            });
        }
        Ok(())
    }
}

/// A point estimate with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The estimate from the model fitted on all customers.
    pub estimate: f64,
    /// Lower percentile bound.
    pub lower: f64,
    /// Upper percentile bound.
    pub upper: f64,
}

/// Intervals for every queried customer, plus one for their total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapResult {
    /// One interval per queried customer, in query order.
    pub intervals: Vec<Interval>,
    /// Interval of the sum over the queried customers.
    pub total: Interval,
    /// Resamples whose refit succeeded (the replicates behind the intervals).
    pub n_succeeded: usize,
    /// Resamples whose refit failed and were skipped.
    pub n_failed: usize,
}

/// Type-7 empirical quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = pos - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Builds the result from full-data estimates and replicate predictions (one Vec per replicate).
pub(crate) fn collect(
    estimates: &[f64],
    replicates: &[Vec<f64>],
    confidence: f64,
    n_failed: usize,
) -> BootstrapResult {
    let lo_q = 0.5 * (1.0 - confidence);
    let hi_q = 1.0 - lo_q;
    let interval = |estimate: f64, mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        Interval {
            estimate,
            lower: quantile(&values, lo_q),
            upper: quantile(&values, hi_q),
        }
    };
    let intervals = (0..estimates.len())
        .map(|i| interval(estimates[i], replicates.iter().map(|r| r[i]).collect()))
        .collect();
    let total = interval(
        estimates.iter().sum(),
        replicates.iter().map(|r| r.iter().sum()).collect(),
    );
    BootstrapResult {
        intervals,
        total,
        n_succeeded: replicates.len(),
        n_failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_intervals_interpolate() {
        let reps: Vec<Vec<f64>> = (0..=10).map(|i| vec![i as f64]).collect();
        let r = collect(&[5.0], &reps, 0.8, 2);
        assert_eq!(r.intervals[0].estimate, 5.0);
        assert!((r.intervals[0].lower - 1.0).abs() < 1e-12);
        assert!((r.intervals[0].upper - 9.0).abs() < 1e-12);
        assert_eq!((r.n_succeeded, r.n_failed), (11, 2));
        assert!(BootstrapParams {
            confidence: 1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
