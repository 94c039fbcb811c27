//! The fusion head and the embedding reduction behind the language features of churn models.
//!
//! **Fusion head** ([`AdamLogisticParams`]): a logistic model p = σ(b + w·z) over standardized
//! columns z (mean/standard deviation of the training rows; a missing value becomes the mean, z =
//! 0), trained by full-batch Adam (Kingma & Ba 2015, Algorithm 1: bias-corrected first and second
//! moment estimates with β₁, β₂, ε) on the mean binary cross-entropy plus an L2 penalty
//! ½·λ·‖w‖² on the weights (not the intercept). Full batch keeps it deterministic without a seed.
//! It is the seed's "model fusion" head: its inputs are the behaviour model's score as a logit and
//! the reduced text features, so it learns how much the text adds on top of behaviour.
//!
//! **Random projection** ([`RandomProjection`]): embeddings of a few hundred dimensions are reduced
//! to k by a fixed Gaussian matrix R (k × d, entries N(0, 1/k), ChaCha8 with an explicit seed).
//! By the Johnson–Lindenstrauss lemma (Dasgupta & Gupta 2003) distances and inner products are
//! kept up to a factor 1 ± ε with k = O(log n / ε²); unlike PCA it needs no fit, so it cannot leak
//! the evaluation rows into the training features and is identical at every origin and at scoring.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::{check_binary_fit, moments_ignoring_nan, FeatureTable};

/// Hyper-parameters of the Adam-trained logistic head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamLogisticParams {
    /// Adam step size α.
    pub learning_rate: f64,
    /// Full-batch steps.
    pub max_iter: usize,
    /// L2 penalty λ on the weights (per row: the loss is mean BCE + ½·λ·‖w‖²).
    pub l2: f64,
    /// Adam β₁ (decay of the mean of the gradients).
    pub beta1: f64,
    /// Adam β₂ (decay of the mean of the squared gradients).
    pub beta2: f64,
    /// Adam ε.
    pub epsilon: f64,
    /// Stop early when the loss improves by less than this over one step.
    pub tol: f64,
}

impl Default for AdamLogisticParams {
    /// α = 0.05, 500 steps, λ = 0.01, β₁ = 0.9, β₂ = 0.999, ε = 1e-8 (Kingma & Ba's defaults for
    /// the moments), tol 1e-9.
    fn default() -> Self {
        Self {
            learning_rate: 0.05,
            max_iter: 500,
            l2: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            tol: 1e-9,
        }
    }
}

/// A fitted head: column names, standardization and coefficients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamLogisticFitted {
    params: AdamLogisticParams,
    names: Vec<String>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    coef: Vec<f64>,
    intercept: f64,
    /// Training loss (mean BCE + penalty) after each step.
    losses: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl AdamLogisticParams {
    fn check(&self) -> Result<()> {
        let bad = |name, value, reason| {
            Err(Error::InvalidArgument {
                name,
                value,
                reason,
            })
        };
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(
                "learning_rate",
                self.learning_rate,
                "must be positive and finite",
            );
        }
        if self.max_iter == 0 {
            return bad("max_iter", 0.0, "must be at least 1");
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return bad("l2", self.l2, "must be at least 0 and finite");
        }
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(name, v, "must lie in [0, 1)");
            }
        }
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return bad("epsilon", self.epsilon, "must be positive and finite");
        }
        Ok(())
    }

    /// Fit to binary labels `y` on the columns of `x`.
    ///
    /// Errors on invalid hyper-parameters, an empty matrix, labels of another length or of one
    /// class only.
    pub fn fit(&self, x: &FeatureTable, y: &[bool]) -> Result<AdamLogisticFitted> {
        const WHAT: &str = "adam logistic fit";
        self.check()?;
        let positives = check_binary_fit(WHAT, x, y)?;
        let (n, p) = (x.n_rows(), x.n_columns());
        let mut mean = Vec::with_capacity(p);
        let mut scale = Vec::with_capacity(p);
        let mut z: Vec<Vec<f64>> = Vec::with_capacity(p);
        for j in 0..p {
            let c = x.column_at(j);
            let (m, var) = moments_ignoring_nan(c);
            let s = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
            z.push(
                c.iter()
                    .map(|&v| if v.is_nan() { 0.0 } else { (v - m) / s })
                    .collect(),
            );
            mean.push(m);
            scale.push(s);
        }
        // Start at the prevalence's log-odds with zero weights.
        let prior = positives as f64 / n as f64;
        let mut theta = vec![0.0; p + 1];
        theta[p] = (prior / (1.0 - prior)).ln();
        let (mut m1, mut m2) = (vec![0.0; p + 1], vec![0.0; p + 1]);
        let mut grad = vec![0.0; p + 1];
        let mut eta = vec![0.0; n];
        let mut losses = Vec::with_capacity(self.max_iter);
        let inv_n = 1.0 / n as f64;
        for step in 1..=self.max_iter {
            eta.iter_mut().for_each(|e| *e = theta[p]);
            for (j, col) in z.iter().enumerate() {
                let w = theta[j];
                for (e, v) in eta.iter_mut().zip(col) {
                    *e += w * v;
                }
            }
            let mut loss = 0.0;
            let mut resid = vec![0.0; n];
            for i in 0..n {
                let q = sigmoid(eta[i]);
                // log(1 + e^η) − y·η, stable for large |η|.
                let softplus = eta[i].max(0.0) + (-eta[i].abs()).exp().ln_1p();
                loss += softplus - if y[i] { eta[i] } else { 0.0 };
                resid[i] = q - if y[i] { 1.0 } else { 0.0 };
            }
            let penalty: f64 = theta[..p].iter().map(|w| w * w).sum::<f64>() * 0.5 * self.l2;
            let loss = loss * inv_n + penalty;
            for (j, col) in z.iter().enumerate() {
                grad[j] = col.iter().zip(&resid).map(|(v, r)| v * r).sum::<f64>() * inv_n
                    + self.l2 * theta[j];
            }
            grad[p] = resid.iter().sum::<f64>() * inv_n;
            let (b1, b2) = (self.beta1, self.beta2);
            let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
            for k in 0..=p {
                m1[k] = b1 * m1[k] + (1.0 - b1) * grad[k];
                m2[k] = b2 * m2[k] + (1.0 - b2) * grad[k] * grad[k];
                theta[k] -=
                    self.learning_rate * (m1[k] / c1) / ((m2[k] / c2).sqrt() + self.epsilon);
            }
            let done = losses
                .last()
                .is_some_and(|&prev: &f64| (prev - loss).abs() < self.tol);
            losses.push(loss);
            if !loss.is_finite() {
                return Err(Error::FitFailed {
                    model: "adam logistic",
                    reason: format!("the loss became {loss} at step {step}; lower learning_rate"),
                });
            }
            if done {
                break;
            }
        }
        let intercept = theta[p];
        theta.truncate(p);
        Ok(AdamLogisticFitted {
            params: self.clone(),
            names: x.names().to_vec(),
            mean,
            scale,
            coef: theta,
            intercept,
            losses,
        })
    }
}

impl AdamLogisticFitted {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &AdamLogisticParams {
        &self.params
    }

    /// Columns it reads, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.names
    }

    /// Weights on the standardized columns.
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }

    /// Intercept.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Training loss after each step (the last is the final loss).
    pub fn losses(&self) -> &[f64] {
        &self.losses
    }

    /// P(positive) for one row of values in [`Self::feature_names`] order (`NaN` = missing).
    ///
    /// Errors when the row has another length.
    pub fn predict_row(&self, row: &[f64]) -> Result<f64> {
        if row.len() != self.names.len() {
            return Err(Error::LengthMismatch {
                what: "adam logistic row",
                left: self.names.len(),
                right: row.len(),
            });
        }
        let mut eta = self.intercept;
        for (j, &v) in row.iter().enumerate() {
            if !v.is_nan() {
                eta += self.coef[j] * (v - self.mean[j]) / self.scale[j];
            }
        }
        Ok(sigmoid(eta))
    }

    /// P(positive) for every row of `x`, whose columns are looked up by name.
    ///
    /// Errors when a column the head was fitted on is absent.
    pub fn predict_proba(&self, x: &FeatureTable) -> Result<Vec<f64>> {
        let cols = x.aligned(&self.names, "adam logistic")?;
        let mut eta = vec![self.intercept; x.n_rows()];
        for (j, col) in cols.iter().enumerate() {
            let (w, m, s) = (self.coef[j], self.mean[j], self.scale[j]);
            for (e, &v) in eta.iter_mut().zip(col.iter()) {
                if !v.is_nan() {
                    *e += w * (v - m) / s;
                }
            }
        }
        Ok(eta.into_iter().map(sigmoid).collect())
    }
}

/// A fixed Gaussian random projection from `d` to `k` dimensions (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomProjection {
    /// Input dimension d.
    pub input_dim: usize,
    /// Output dimension k.
    pub output_dim: usize,
    /// Seed of the ChaCha8 generator that drew the matrix.
    pub seed: u64,
    /// Row-major k × d matrix, entries N(0, 1/k).
    matrix: Vec<f64>,
}

impl RandomProjection {
    /// Draws the k × d matrix from ChaCha8 seeded with `seed`.
    ///
    /// Errors when d or k is 0.
    pub fn new(input_dim: usize, output_dim: usize, seed: u64) -> Result<Self> {
        if input_dim == 0 || output_dim == 0 {
            return Err(Error::InvalidArgument {
                name: if input_dim == 0 {
                    "input_dim"
                } else {
                    "output_dim"
                },
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let s = 1.0 / (output_dim as f64).sqrt();
        let matrix = (0..input_dim * output_dim)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                s * z
            })
            .collect::<Vec<f64>>();
        Ok(Self {
            input_dim,
            output_dim,
            seed,
            matrix,
        })
    }

    /// R·v.
    ///
    /// Errors when `v` does not have `input_dim` values.
    pub fn project(&self, v: &[f64]) -> Result<Vec<f64>> {
        if v.len() != self.input_dim {
            return Err(Error::LengthMismatch {
                what: "random projection",
                left: self.input_dim,
                right: v.len(),
            });
        }
        Ok(self
            .matrix
            .chunks_exact(self.input_dim)
            .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn table(cols: Vec<(&str, Vec<f64>)>) -> FeatureTable {
        FeatureTable::from_columns(cols.into_iter().map(|(n, v)| (n.to_string(), v)).collect())
            .expect("table")
    }

    /// On data drawn from a known logistic model the fit recovers the sign and rough size of the
    /// weights and ranks well; an irrelevant column gets a weight near 0.
    #[test]
    fn recovers_a_logistic_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 4000;
        let a: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let b: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let noise: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let y: Vec<bool> = (0..n)
            .map(|i| rng.random::<f64>() < sigmoid(-0.5 + 1.5 * a[i] - 1.0 * b[i]))
            .collect();
        let x = table(vec![("a", a), ("b", b), ("noise", noise)]);
        let params = AdamLogisticParams {
            l2: 0.0,
            max_iter: 2000,
            ..AdamLogisticParams::default()
        };
        let f = params.fit(&x, &y).expect("fit");
        let w = f.coef();
        // Standardized N(0,1) columns: weights ≈ the true ones.
        assert!((w[0] - 1.5).abs() < 0.2, "{w:?}");
        assert!((w[1] + 1.0).abs() < 0.2, "{w:?}");
        assert!(w[2].abs() < 0.15, "{w:?}");
        assert!((f.intercept() + 0.5).abs() < 0.2, "{}", f.intercept());
        let l = f.losses();
        assert!(l.last().expect("losses") < &l[0], "the loss falls");
        let p = f.predict_proba(&x).expect("predict");
        let auc = crate::metrics::auc(&y, &p).expect("auc");
        assert!(auc > 0.8, "{auc}");
        let row = x.row(3).expect("row");
        assert!((f.predict_row(&row).expect("row") - p[3]).abs() < 1e-12);
    }

    #[test]
    fn penalty_shrinks_and_missing_is_the_mean() {
        let x = table(vec![("a", vec![0.0, 1.0, 2.0, 3.0, f64::NAN, 5.0])]);
        let y = [false, false, true, false, true, true];
        let loose = AdamLogisticParams {
            l2: 0.0,
            ..AdamLogisticParams::default()
        }
        .fit(&x, &y)
        .expect("fit");
        let tight = AdamLogisticParams {
            l2: 10.0,
            ..AdamLogisticParams::default()
        }
        .fit(&x, &y)
        .expect("fit");
        assert!(tight.coef()[0].abs() < loose.coef()[0].abs());
        // A missing value predicts like the training mean (2.2).
        let p_nan = loose.predict_row(&[f64::NAN]).expect("row");
        let p_mean = loose.predict_row(&[2.2]).expect("row");
        assert!((p_nan - p_mean).abs() < 1e-12);
    }

    #[test]
    fn refuses_bad_input() {
        let x = table(vec![("a", vec![0.0, 1.0])]);
        let p = AdamLogisticParams::default();
        assert!(matches!(
            p.fit(&x, &[true, true]),
            Err(Error::SingleClass { .. })
        ));
        assert!(matches!(
            p.fit(&x, &[true]),
            Err(Error::LengthMismatch { .. })
        ));
        let bad = AdamLogisticParams {
            learning_rate: 0.0,
            ..AdamLogisticParams::default()
        };
        assert!(matches!(
            bad.fit(&x, &[true, false]),
            Err(Error::InvalidArgument { .. })
        ));
        let f = p.fit(&x, &[false, true]).expect("fit");
        assert!(f.predict_row(&[1.0, 2.0]).is_err());
        assert!(f.predict_proba(&table(vec![("b", vec![1.0])])).is_err());
    }

    /// Same seed, same matrix; inner products kept within a few percent at k = 256 on unit vectors
    /// (Johnson–Lindenstrauss).
    #[test]
    fn projection_is_seeded_and_keeps_geometry() {
        let r = RandomProjection::new(384, 256, 3).expect("projection");
        assert_eq!(r, RandomProjection::new(384, 256, 3).expect("projection"));
        assert_ne!(r, RandomProjection::new(384, 256, 4).expect("projection"));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut unit = || {
            let v: Vec<f64> = (0..384).map(|_| rng.sample(StandardNormal)).collect();
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f64>>()
        };
        let (a, b) = (unit(), unit());
        let (pa, pb) = (r.project(&a).expect("a"), r.project(&b).expect("b"));
        let norm = pa.iter().map(|x| x * x).sum::<f64>();
        assert!((norm - 1.0).abs() < 0.25, "{norm}");
        let dist =
            |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
        let ratio = dist(&pa, &pb) / dist(&a, &b);
        assert!((ratio - 1.0).abs() < 0.25, "{ratio}");
        assert!(r.project(&[1.0]).is_err());
        assert!(RandomProjection::new(0, 3, 1).is_err());
    }
}
