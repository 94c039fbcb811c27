//! Holdout evaluation of a transaction model, as in Fader, Hardie & Lee (2005), section 5:
//! the tracking curve of cumulative repeat purchases (their Figure 4), conditional expectations
//! by calibration frequency (their Figure 5), and per-customer error metrics.
//!
//! Pure functions over slices: the caller splits its transactions into calibration and holdout
//! and passes times in the model's unit on one calendar axis.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::purchase::PurchaseModel;

/// Cumulative actual vs predicted repeat purchases on a calendar axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingCurve {
    /// Calendar times the curve is evaluated at.
    pub times: Vec<f64>,
    /// Repeat purchases observed at or before each time.
    pub actual_cumulative: Vec<f64>,
    /// Σ over customers of the unconditional E[X(time − birth)] (0 before a customer's birth).
    pub predicted_cumulative: Vec<f64>,
}

fn check_finite(field: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(row) => Err(Error::InvalidInput {
            row,
            field,
            value: v[row],
            reason: "must be finite",
        }),
        None => Ok(()),
    }
}

/// The tracking curve: at every time τ in `times`, the number of `repeat_purchase_times` ≤ τ
/// against Σ_i E[X(τ − birth_i)] over customers born at `births` (their first purchase).
///
/// All times are on one calendar axis in the model's unit (e.g. weeks since the start of the
/// cohort). Errors on empty `births` or non-finite values, naming the row.
pub fn tracking_curve(
    model: &dyn PurchaseModel,
    births: &[f64],
    repeat_purchase_times: &[f64],
    times: &[f64],
) -> Result<TrackingCurve> {
    if births.is_empty() {
        return Err(Error::Empty {
            what: "tracking curve births",
        });
    }
    check_finite("birth", births)?;
    check_finite("repeat_purchase_time", repeat_purchase_times)?;
    check_finite("time", times)?;
    // Customers born together share one expectation per time.
    let mut sorted = births.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut cohorts: Vec<(f64, f64)> = Vec::new();
    for b in sorted {
        match cohorts.last_mut() {
            Some((v, n)) if *v == b => *n += 1.0,
            _ => cohorts.push((b, 1.0)),
        }
    }
    let mut purchases = repeat_purchase_times.to_vec();
    purchases.sort_by(f64::total_cmp);
    let mut actual = Vec::with_capacity(times.len());
    let mut predicted = Vec::with_capacity(times.len());
    for &tau in times {
        actual.push(purchases.partition_point(|&p| p <= tau) as f64);
        let mut sum = 0.0;
        for &(birth, n) in &cohorts {
            if tau > birth {
                sum += n * model.expected_purchases(tau - birth)?;
            }
        }
        predicted.push(sum);
    }
    Ok(TrackingCurve {
        times: times.to_vec(),
        actual_cumulative: actual,
        predicted_cumulative: predicted,
    })
}

/// Mean predicted and actual holdout purchases of the customers with one calibration frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyBucket {
    /// Calibration repeat-purchase count x (the lower bound of the last, open-ended bucket).
    pub frequency: u32,
    /// True for the last bucket, which holds every x ≥ `frequency`.
    pub open_ended: bool,
    /// Customers in the bucket.
    pub n_customers: usize,
    /// Mean conditional expectation.
    pub mean_predicted: f64,
    /// Mean actual holdout purchases.
    pub mean_actual: f64,
}

fn check_aligned(what: &'static str, a: &[f64], b: &[f64]) -> Result<()> {
    if a.is_empty() {
        return Err(Error::Empty { what });
    }
    if a.len() != b.len() {
        return Err(Error::LengthMismatch {
            what,
            left: a.len(),
            right: b.len(),
        });
    }
    Ok(())
}

/// Conditional expectations against actual holdout purchases, grouped by calibration frequency
/// 0, 1, …, `max_frequency` − 1 and an open bucket `max_frequency`+ (FHL 2005, Figure 5 uses 7+).
/// Empty buckets are left out.
pub fn conditional_expectation_by_frequency(
    frequency: &[f64],
    predicted: &[f64],
    actual: &[f64],
    max_frequency: u32,
) -> Result<Vec<FrequencyBucket>> {
    const WHAT: &str = "conditional expectation by frequency";
    check_aligned(WHAT, frequency, predicted)?;
    check_aligned(WHAT, frequency, actual)?;
    check_finite("predicted", predicted)?;
    check_finite("actual", actual)?;
    let n_buckets = max_frequency as usize + 1;
    let mut sums = vec![(0usize, 0.0, 0.0); n_buckets];
    for (row, &x) in frequency.iter().enumerate() {
        if !x.is_finite() || x < 0.0 {
            return Err(Error::InvalidInput {
                row,
                field: "frequency",
                value: x,
                reason: "must be finite and >= 0",
            });
        }
        let b = (x.floor() as usize).min(max_frequency as usize);
        sums[b].0 += 1;
        sums[b].1 += predicted[row];
        sums[b].2 += actual[row];
    }
    Ok(sums
        .into_iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(b, (n, p, a))| FrequencyBucket {
            frequency: b as u32,
            open_ended: b == max_frequency as usize,
            n_customers: n,
            mean_predicted: p / n as f64,
            mean_actual: a / n as f64,
        })
        .collect())
}

/// Per-customer accuracy of holdout predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutMetrics {
    /// Customers compared.
    pub n_customers: usize,
    /// Σ predicted.
    pub total_predicted: f64,
    /// Σ actual.
    pub total_actual: f64,
    /// total_predicted / total_actual − 1; `None` when nothing was bought.
    pub relative_error: Option<f64>,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Pearson correlation of predicted and actual; `None` when either is constant.
    pub correlation: Option<f64>,
}

/// MAE, RMSE, correlation and totals of `predicted` against `actual`.
pub fn holdout_metrics(predicted: &[f64], actual: &[f64]) -> Result<HoldoutMetrics> {
    const WHAT: &str = "holdout metrics";
    check_aligned(WHAT, predicted, actual)?;
    check_finite("predicted", predicted)?;
    check_finite("actual", actual)?;
    let n = predicted.len() as f64;
    let total_predicted: f64 = predicted.iter().sum();
    let total_actual: f64 = actual.iter().sum();
    let (mp, ma) = (total_predicted / n, total_actual / n);
    let (mut abs, mut sq, mut spp, mut saa, mut spa) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (p, a) in predicted.iter().zip(actual) {
        let e = p - a;
        abs += e.abs();
        sq += e * e;
        spp += (p - mp) * (p - mp);
        saa += (a - ma) * (a - ma);
        spa += (p - mp) * (a - ma);
    }
    let correlation = (spp > 0.0 && saa > 0.0).then(|| spa / (spp * saa).sqrt());
    Ok(HoldoutMetrics {
        n_customers: predicted.len(),
        total_predicted,
        total_actual,
        relative_error: (total_actual > 0.0).then(|| total_predicted / total_actual - 1.0),
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        correlation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bg_nbd::BgNbdFitted;

    #[test]
    fn metrics_on_a_small_example() {
        let m = holdout_metrics(&[1.0, 2.0, 3.0], &[1.0, 3.0, 5.0]).expect("valid");
        assert!((m.mae - 1.0).abs() < 1e-12);
        assert!((m.rmse - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.correlation.expect("varies") - 1.0).abs() < 1e-12);
        assert!((m.relative_error.expect("bought") + 1.0 / 3.0).abs() < 1e-12);
        let flat = holdout_metrics(&[1.0, 1.0], &[0.0, 0.0]).expect("valid");
        assert_eq!((flat.correlation, flat.relative_error), (None, None));
        assert!(holdout_metrics(&[], &[]).is_err());
        assert!(matches!(
            holdout_metrics(&[1.0, f64::NAN], &[1.0, 1.0]),
            Err(Error::InvalidInput { row: 1, .. })
        ));
    }

    #[test]
    fn buckets_censor_at_max_frequency() {
        let b = conditional_expectation_by_frequency(
            &[0.0, 0.0, 1.0, 9.0, 12.0],
            &[0.1, 0.3, 1.0, 5.0, 7.0],
            &[0.0, 1.0, 2.0, 4.0, 6.0],
            7,
        )
        .expect("valid");
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].frequency, b[0].n_customers), (0, 2));
        assert!((b[0].mean_predicted - 0.2).abs() < 1e-12);
        assert!(b[2].open_ended && b[2].n_customers == 2 && (b[2].mean_actual - 5.0).abs() < 1e-12);
    }

    #[test]
    fn tracking_curve_sums_cohort_expectations() {
        let m = BgNbdFitted::from_parameters(0.25, 4.4, 0.8, 2.4).expect("valid");
        let c = tracking_curve(&m, &[0.0, 0.0, 2.0], &[1.5, 3.0, 3.5], &[1.0, 3.0]).expect("valid");
        assert_eq!(c.actual_cumulative, vec![0.0, 2.0]);
        let e = |t: f64| m.expected_purchases(t).expect("valid");
        assert!((c.predicted_cumulative[0] - 2.0 * e(1.0)).abs() < 1e-12);
        assert!((c.predicted_cumulative[1] - (2.0 * e(3.0) + e(1.0))).abs() < 1e-12);
    }
}
