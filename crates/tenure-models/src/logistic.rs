//! L2-regularised logistic regression on standardized features: the linear baseline beside the
//! boosted trees (scikit-learn's `StandardScaler` + `LogisticRegression(C=…)`).
//!
//! Each column is centred and scaled by its training mean and standard deviation (a constant column
//! keeps scale 1); a missing value (`NaN`) becomes the training mean, i.e. 0 after scaling. The
//! weights minimise C · Σᵢ log-loss(yᵢ, σ(b + wᵀzᵢ)) + ½‖w‖², the intercept b unpenalised
//! (scikit-learn's objective), by Newton's method (iteratively reweighted least squares; Hastie,
//! Tibshirani & Friedman 2009, §4.4.1) with step halving: the gradient is C·Zᵀ(p − y) + w and the
//! Hessian C·ZᵀWZ + I with W = diag(p(1 − p)). The problem is strictly convex, so the optimum is
//! unique and needs no seed.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::{check_binary_fit, moments_ignoring_nan, FeatureTable};

/// Hyper-parameters of [`LogisticParams::fit`], named as scikit-learn names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticParams {
    /// Inverse regularisation strength C (larger = weaker penalty).
    pub c: f64,
    /// Most Newton steps.
    pub max_iter: usize,
    /// Stop when no coefficient moves more than this.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            max_iter: 100,
            tol: 1e-8,
        }
    }
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticFitted {
    params: LogisticParams,
    feature_names: Vec<String>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Weights on the standardized columns.
    coef: Vec<f64>,
    intercept: f64,
    n_iter: usize,
    converged: bool,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Solve A x = b for a symmetric positive definite A (row-major, k × k) by Cholesky.
fn cholesky_solve(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum();
            if i == j {
                let d = a[i * k + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * k + i] = d.sqrt();
            } else {
                l[i * k + j] = (a[i * k + j] - s) / l[j * k + j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        let s: f64 = (0..i).map(|m| l[i * k + m] * y[m]).sum();
        y[i] = (b[i] - s) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|m| l[m * k + i] * x[m]).sum();
        x[i] = (y[i] - s) / l[i * k + i];
    }
    Some(x)
}

impl LogisticParams {
    /// Fit to binary labels `y` on the columns of `x`.
    ///
    /// Errors on `c` ≤ 0, an empty matrix, labels of another length or of one class only, and when
    /// the Newton system is singular (it cannot be for C > 0, short of non-finite data).
    pub fn fit(&self, x: &FeatureTable, y: &[bool]) -> Result<LogisticFitted> {
        const WHAT: &str = "logistic fit";
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "c",
                value: self.c,
                reason: "must be positive and finite",
            });
        }
        let positives = check_binary_fit(WHAT, x, y)?;
        let (n, p) = (x.n_rows(), x.n_columns());
        let mut mean = Vec::with_capacity(p);
        let mut scale = Vec::with_capacity(p);
        for j in 0..p {
            let (m, var) = moments_ignoring_nan(x.column_at(j));
            mean.push(m);
            scale.push(if var > 0.0 { var.sqrt() } else { 1.0 });
        }
        // Standardized design with a leading column of ones (row-major, n × k).
        let k = p + 1;
        let mut z = vec![0.0; n * k];
        for i in 0..n {
            z[i * k] = 1.0;
            for j in 0..p {
                let v = x.column_at(j)[i];
                z[i * k + j + 1] = if v.is_nan() {
                    0.0
                } else {
                    (v - mean[j]) / scale[j]
                };
            }
        }
        let yf: Vec<f64> = y.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect();
        let objective = |beta: &[f64]| -> f64 {
            let mut loss = 0.0;
            for i in 0..n {
                let eta: f64 = (0..k).map(|j| z[i * k + j] * beta[j]).sum();
                loss += softplus(eta) - yf[i] * eta;
            }
            self.c * loss + 0.5 * beta[1..].iter().map(|w| w * w).sum::<f64>()
        };
        let mut beta = vec![0.0; k];
        let rate = positives as f64 / n as f64;
        beta[0] = (rate / (1.0 - rate)).ln();
        let mut current = objective(&beta);
        let (mut n_iter, mut converged) = (0, false);
        while n_iter < self.max_iter {
            n_iter += 1;
            let mut grad = vec![0.0; k];
            let mut hess = vec![0.0; k * k];
            for i in 0..n {
                let row = &z[i * k..(i + 1) * k];
                let eta: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
                let prob = sigmoid(eta);
                let w = (prob * (1.0 - prob)).max(1e-12);
                for a in 0..k {
                    grad[a] += self.c * (prob - yf[i]) * row[a];
                    for b in 0..=a {
                        hess[a * k + b] += self.c * w * row[a] * row[b];
                    }
                }
            }
            for a in 1..k {
                grad[a] += beta[a];
                hess[a * k + a] += 1.0;
            }
            for a in 0..k {
                for b in 0..a {
                    hess[b * k + a] = hess[a * k + b];
                }
            }
            let step = cholesky_solve(&hess, &grad, k).ok_or_else(|| Error::FitFailed {
                model: "logistic regression",
                reason: "the Newton system is singular; check the features for non-finite values"
                    .into(),
            })?;
            let mut t = 1.0;
            let mut next: Vec<f64>;
            loop {
                next = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
                let value = objective(&next);
                if value <= current + 1e-12 * current.abs() || t < 1e-10 {
                    current = value;
                    break;
                }
                t *= 0.5;
            }
            let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
            beta = next;
            if moved < self.tol {
                converged = true;
                break;
            }
        }
        Ok(LogisticFitted {
            params: self.clone(),
            feature_names: x.names().to_vec(),
            mean,
            scale,
            intercept: beta[0],
            coef: beta[1..].to_vec(),
            n_iter,
            converged,
        })
    }
}

impl LogisticFitted {
    /// The parameters it was fitted with.
    pub fn params(&self) -> &LogisticParams {
        &self.params
    }

    /// The columns it reads, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Weights on the standardized columns, in column order.
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }

    /// The intercept (log-odds at the training means).
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Whether Newton's method met `tol` within `max_iter` steps, and how many it took.
    pub fn convergence(&self) -> (bool, usize) {
        (self.converged, self.n_iter)
    }

    /// Importance as |weight| on the standardized scale, as shares summing to 1, in column order.
    pub fn feature_importance(&self) -> Vec<(String, f64)> {
        let total: f64 = self.coef.iter().map(|c| c.abs()).sum();
        self.feature_names
            .iter()
            .zip(&self.coef)
            .map(|(n, c)| (n.clone(), if total > 0.0 { c.abs() / total } else { 0.0 }))
            .collect()
    }

    fn eta(&self, value: impl Fn(usize) -> f64) -> f64 {
        self.intercept
            + (0..self.coef.len())
                .map(|j| {
                    let v = value(j);
                    if v.is_nan() {
                        0.0
                    } else {
                        self.coef[j] * (v - self.mean[j]) / self.scale[j]
                    }
                })
                .sum::<f64>()
    }

    /// P(positive) of one row in [`LogisticFitted::feature_names`] order. Errors on another length.
    pub fn predict_row(&self, row: &[f64]) -> Result<f64> {
        if row.len() != self.coef.len() {
            return Err(Error::LengthMismatch {
                what: "logistic predict row",
                left: self.coef.len(),
                right: row.len(),
            });
        }
        Ok(sigmoid(self.eta(|j| row[j])))
    }

    /// P(positive) of every row of `x`, columns looked up by name.
    pub fn predict_proba(&self, x: &FeatureTable) -> Result<Vec<f64>> {
        let cols = x.aligned(&self.feature_names, "logistic regression")?;
        Ok((0..x.n_rows())
            .map(|i| sigmoid(self.eta(|j| cols[j][i])))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (FeatureTable, Vec<bool>) {
        let a: Vec<f64> = (0..200).map(|i| (i % 20) as f64).collect();
        let b: Vec<f64> = (0..200)
            .map(|i| {
                if i % 17 == 0 {
                    f64::NAN
                } else {
                    ((i * 7) % 13) as f64
                }
            })
            .collect();
        let y: Vec<bool> = (0..200).map(|i| (i % 20) + (i * 3) % 7 > 12).collect();
        (
            FeatureTable::from_columns(vec![("a".into(), a), ("b".into(), b)]).expect("matrix"),
            y,
        )
    }

    /// The fitted optimum has a zero gradient of C·Σ loss + ½‖w‖² (checked numerically), and a
    /// weaker penalty gives larger weights.
    #[test]
    fn newton_reaches_the_penalised_optimum() -> Result<()> {
        let (m, y) = data();
        let fit = LogisticParams::default().fit(&m, &y)?;
        assert!(fit.convergence().0);
        assert!(fit.coef()[0] > 0.0, "a drives y up: {:?}", fit.coef());
        let strong = LogisticParams {
            c: 0.001,
            ..Default::default()
        }
        .fit(&m, &y)?;
        assert!(strong.coef()[0].abs() < fit.coef()[0].abs());
        // Gradient of the intercept: Σ (p − y) = 0 at the optimum (it is unpenalised).
        let p = fit.predict_proba(&m)?;
        let g0: f64 = p
            .iter()
            .zip(&y)
            .map(|(p, &y)| p - if y { 1.0 } else { 0.0 })
            .sum();
        assert!(g0.abs() < 1e-6, "{g0}");
        let row = m.row(3).expect("row");
        assert!((fit.predict_row(&row)? - p[3]).abs() < 1e-12);
        assert!(LogisticParams {
            c: 0.0,
            ..Default::default()
        }
        .fit(&m, &y)
        .is_err());
        Ok(())
    }
}
