//! Gradient-boosted decision trees for a binary target (churn, high value), with histogram split
//! finding — a compact, pure-Rust counterpart of scikit-learn's `HistGradientBoostingClassifier`.
//!
//! **Model.** The log-odds of the positive class is F(x) = F₀ + Σ_m η·f_m(x), F₀ the log-odds of
//! the training base rate, η the learning rate and f_m regression trees of depth ≤ `max_depth`
//! (Friedman 2001, "Greedy function approximation", algorithm 5 with the binomial deviance).
//! Each tree is grown on the gradient g = p − y and Hessian h = p(1 − p) of the log loss, with
//! second-order split gain and leaf values (Chen & Guestrin 2016, XGBoost, eqs. 5–7):
//! gain = ½ [G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ)], leaf = −G/(H + λ), λ the
//! `l2_regularization`.
//!
//! **Histograms.** Every feature is cut once into at most `max_bins` value bins (all distinct values
//! when there are few, else quantiles), plus one bin for missing values (`NaN`); a node's split
//! search sums (g, h, count) per bin and scans the cumulative sums, O(rows · features) per level
//! (Ke et al. 2017, LightGBM). Missing values go to whichever side gains more (XGBoost's learned
//! default direction). Splits are stored as raw thresholds (`x ≤ t` goes left), so prediction
//! needs no binning and one customer's row scores in microseconds.
//!
//! **Randomness.** `subsample` < 1 draws that share of rows without replacement for each tree
//! (Friedman 2002, stochastic gradient boosting) from a `ChaCha8Rng` seeded with `seed`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::{check_binary_fit, FeatureTable};

/// Smallest Hessian sum a child may hold (scikit-learn's `min_hessian_to_split`, 1e-3).
const MIN_CHILD_HESSIAN: f64 = 1e-3;

/// Hyper-parameters of [`GbdtParams::fit`], named as scikit-learn names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    /// Boosting rounds (trees).
    pub n_estimators: usize,
    /// Shrinkage η of every tree's contribution, in (0, 1].
    pub learning_rate: f64,
    /// Depth of each tree (1 = stumps, additive model; 2 = pairwise interactions).
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// Share of rows drawn (without replacement) for each tree, in (0, 1].
    pub subsample: f64,
    /// Most value bins per feature (2 to 65,535); missing values get one more.
    pub max_bins: usize,
    /// L2 penalty λ on leaf values (XGBoost's `lambda`; scikit-learn's `l2_regularization`).
    pub l2_regularization: f64,
    /// Seed of the `ChaCha8Rng` behind `subsample`.
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            n_estimators: 100,
            learning_rate: 0.1,
            max_depth: 3,
            min_samples_leaf: 20,
            subsample: 1.0,
            max_bins: 255,
            l2_regularization: 1.0,
            seed: 0,
        }
    }
}

/// One node of a fitted tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// A split: rows with `x[feature] <= threshold` go to `left`; missing values go left when
    /// `missing_left`.
    Split {
        /// Column index in the model's feature order.
        feature: usize,
        /// Rows at or below go left.
        threshold: f64,
        /// Where `NaN` goes.
        missing_left: bool,
        /// Index of the left child.
        left: usize,
        /// Index of the right child.
        right: usize,
    },
    /// A leaf: its contribution to the log-odds (learning rate included).
    Leaf {
        /// η · (−G / (H + λ)).
        value: f64,
    },
}

/// A fitted regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, children after their parent.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value reached by a row; `value(j)` gives the row's value of feature j.
    #[inline]
    fn eval(&self, value: impl Fn(usize) -> f64) -> f64 {
        let mut k = 0;
        loop {
            match self.nodes[k] {
                Node::Leaf { value } => return value,
                Node::Split {
                    feature,
                    threshold,
                    missing_left,
                    left,
                    right,
                } => {
                    let v = value(feature);
                    let go_left = if v.is_nan() {
                        missing_left
                    } else {
                        v <= threshold
                    };
                    k = if go_left { left } else { right };
                }
            }
        }
    }
}

/// A fitted boosted-tree classifier: trees, the column names it reads, and what training measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtFitted {
    params: GbdtParams,
    feature_names: Vec<String>,
    base_score: f64,
    trees: Vec<Tree>,
    gain: Vec<f64>,
    train_log_loss: Vec<f64>,
    n_train: usize,
}

/// Per-feature bin thresholds and the binned training rows.
struct Binned {
    /// Thresholds of each feature: bin b holds t[b−1] < x ≤ t[b].
    thresholds: Vec<Vec<f64>>,
    /// Bin of every row, per feature; `thresholds[f].len() + 1` is the missing bin.
    bins: Vec<Vec<u16>>,
}

fn bin_column(values: &[f64], max_bins: usize) -> (Vec<f64>, Vec<u16>) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    let thresholds: Vec<f64> = if distinct.len() <= max_bins {
        distinct.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
    } else {
        let n = sorted.len();
        let mut t: Vec<f64> = (1..max_bins)
            .map(|k| {
                let i = k * n / max_bins;
                let (lo, hi) = (sorted[i.saturating_sub(1)], sorted[i]);
                if lo < hi {
                    0.5 * (lo + hi)
                } else {
                    lo
                }
            })
            .collect();
        t.dedup();
        let max = distinct.last().copied().unwrap_or(0.0);
        t.retain(|&v| v < max);
        t
    };
    let missing = (thresholds.len() + 1) as u16;
    let bins = values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                missing
            } else {
                thresholds.partition_point(|&t| t < v) as u16
            }
        })
        .collect();
    (thresholds, bins)
}

/// Sums of gradient, Hessian and rows in one histogram bin.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bin {
    g: f64,
    h: f64,
    n: usize,
}

impl std::ops::AddAssign for Bin {
    fn add_assign(&mut self, o: Bin) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
}

/// The best split of one feature's histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    gain: f64,
    /// Rows in bins ≤ `bin` go left.
    bin: usize,
    missing_left: bool,
}

fn score(b: Bin, lambda: f64) -> f64 {
    b.g * b.g / (b.h + lambda)
}

/// Best split of a histogram whose last entry is the missing bin, scanning cumulative sums.
fn best_split(hist: &[Bin], lambda: f64, min_leaf: usize) -> Option<Candidate> {
    let (values, missing) = hist.split_at(hist.len() - 1);
    let missing = missing[0];
    let mut total = missing;
    for &b in values {
        total += b;
    }
    let parent = score(total, lambda);
    let mut best: Option<Candidate> = None;
    let mut left = Bin::default();
    for (bin, &b) in values
        .iter()
        .enumerate()
        .take(values.len().saturating_sub(1))
    {
        left += b;
        let dirs: &[bool] = if missing.n > 0 {
            &[true, false]
        } else {
            &[false]
        };
        for &missing_left in dirs {
            let mut l = left;
            if missing_left {
                l += missing;
            }
            let r = Bin {
                g: total.g - l.g,
                h: total.h - l.h,
                n: total.n - l.n,
            };
            if l.n < min_leaf
                || r.n < min_leaf
                || l.h < MIN_CHILD_HESSIAN
                || r.h < MIN_CHILD_HESSIAN
            {
                continue;
            }
            let gain = 0.5 * (score(l, lambda) + score(r, lambda) - parent);
            if gain > 1e-12 && best.is_none_or(|c| gain > c.gain) {
                best = Some(Candidate {
                    gain,
                    bin,
                    missing_left,
                });
            }
        }
    }
    best
}

struct Grower<'a> {
    binned: &'a Binned,
    g: &'a [f64],
    h: &'a [f64],
    params: &'a GbdtParams,
    nodes: Vec<Node>,
    gain: &'a mut [f64],
}

impl Grower<'_> {
    fn leaf(&mut self, rows: &[u32]) -> usize {
        let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &i| {
            (g + self.g[i as usize], h + self.h[i as usize])
        });
        let value = -g / (h + self.params.l2_regularization).max(1e-12) * self.params.learning_rate;
        self.nodes.push(Node::Leaf { value });
        self.nodes.len() - 1
    }

    fn grow(&mut self, rows: &mut [u32], depth: usize) -> usize {
        let p = self.params;
        if depth >= p.max_depth || rows.len() < 2 * p.min_samples_leaf.max(1) {
            return self.leaf(rows);
        }
        let mut best: Option<(usize, Candidate)> = None;
        for (f, bins) in self.binned.bins.iter().enumerate() {
            let mut hist = vec![Bin::default(); self.binned.thresholds[f].len() + 2];
            for &i in rows.iter() {
                let b = &mut hist[bins[i as usize] as usize];
                b.g += self.g[i as usize];
                b.h += self.h[i as usize];
                b.n += 1;
            }
            if let Some(c) = best_split(&hist, p.l2_regularization, p.min_samples_leaf.max(1)) {
                if best.is_none_or(|(_, b)| c.gain > b.gain) {
                    best = Some((f, c));
                }
            }
        }
        let Some((f, c)) = best else {
            return self.leaf(rows);
        };
        self.gain[f] += c.gain;
        let missing = self.binned.thresholds[f].len() + 1;
        let bins = &self.binned.bins[f];
        let goes_left = |i: u32| {
            let b = bins[i as usize] as usize;
            if b == missing {
                c.missing_left
            } else {
                b <= c.bin
            }
        };
        // Stable in-place partition: left rows first.
        let mut split = 0;
        for k in 0..rows.len() {
            if goes_left(rows[k]) {
                rows.swap(split, k);
                split += 1;
            }
        }
        let at = self.nodes.len();
        self.nodes.push(Node::Leaf { value: 0.0 });
        let (l_rows, r_rows) = rows.split_at_mut(split);
        let left = self.grow(l_rows, depth + 1);
        let right = self.grow(r_rows, depth + 1);
        self.nodes[at] = Node::Split {
            feature: f,
            threshold: self.binned.thresholds[f][c.bin],
            missing_left: c.missing_left,
            left,
            right,
        };
        at
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn log_loss_raw(y: &[bool], raw: &[f64]) -> f64 {
    // log(1 + e^z) − y·z, computed stably.
    let sum: f64 = y
        .iter()
        .zip(raw)
        .map(|(&y, &z)| {
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            softplus - if y { z } else { 0.0 }
        })
        .sum();
    sum / y.len() as f64
}

impl GbdtParams {
    fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, reason| {
            Err(Error::InvalidArgument {
                name,
                value,
                reason,
            })
        };
        if self.n_estimators == 0 {
            return bad("n_estimators", 0.0, "must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate", self.learning_rate, "must lie in (0, 1]");
        }
        if self.max_depth == 0 || self.max_depth > 32 {
            return bad("max_depth", self.max_depth as f64, "must lie in 1..=32");
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", self.subsample, "must lie in (0, 1]");
        }
        if !(2..=65_534).contains(&self.max_bins) {
            return bad("max_bins", self.max_bins as f64, "must lie in 2..=65534");
        }
        if !(self.l2_regularization >= 0.0 && self.l2_regularization.is_finite()) {
            return bad(
                "l2_regularization",
                self.l2_regularization,
                "must be finite and non-negative",
            );
        }
        Ok(())
    }

    /// Fit boosted trees to binary labels `y` (true = positive) on the columns of `x`.
    ///
    /// Errors on invalid parameters, a matrix without rows or columns, labels of another length,
    /// or labels of one class only.
    pub fn fit(&self, x: &FeatureTable, y: &[bool]) -> Result<GbdtFitted> {
        const WHAT: &str = "gbdt fit";
        self.validate()?;
        let positives = check_binary_fit(WHAT, x, y)?;
        let n = x.n_rows();
        let (thresholds, bins): (Vec<_>, Vec<_>) = (0..x.n_columns())
            .map(|j| bin_column(x.column_at(j), self.max_bins))
            .unzip();
        let binned = Binned { thresholds, bins };
        let rate = positives as f64 / n as f64;
        let base_score = (rate / (1.0 - rate)).ln();
        let mut raw = vec![base_score; n];
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n];
        let mut gain = vec![0.0; x.n_columns()];
        let mut trees = Vec::with_capacity(self.n_estimators);
        let mut train_log_loss = Vec::with_capacity(self.n_estimators);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let n_sub = ((self.subsample * n as f64).round() as usize).clamp(1, n);
        let mut order: Vec<u32> = (0..n as u32).collect();
        for _ in 0..self.n_estimators {
            for i in 0..n {
                let p = sigmoid(raw[i]);
                g[i] = p - if y[i] { 1.0 } else { 0.0 };
                h[i] = (p * (1.0 - p)).max(1e-16);
            }
            let mut rows: Vec<u32> = if n_sub < n {
                // Partial Fisher–Yates: the first n_sub entries are a uniform sample.
                for k in 0..n_sub {
                    let j = rng.random_range(k..n);
                    order.swap(k, j);
                }
                order[..n_sub].to_vec()
            } else {
                (0..n as u32).collect()
            };
            let mut grower = Grower {
                binned: &binned,
                g: &g,
                h: &h,
                params: self,
                nodes: Vec::new(),
                gain: &mut gain,
            };
            grower.grow(&mut rows, 0);
            let tree = Tree {
                nodes: grower.nodes,
            };
            for (i, r) in raw.iter_mut().enumerate() {
                *r += tree.eval(|f| x.column_at(f)[i]);
            }
            train_log_loss.push(log_loss_raw(y, &raw));
            trees.push(tree);
        }
        Ok(GbdtFitted {
            params: self.clone(),
            feature_names: x.names().to_vec(),
            base_score,
            trees,
            gain,
            train_log_loss,
            n_train: n,
        })
    }
}

impl GbdtFitted {
    /// The parameters it was fitted with.
    pub fn params(&self) -> &GbdtParams {
        &self.params
    }

    /// The columns it reads, in the order [`GbdtFitted::predict_row`] expects.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// F₀, the log-odds of the training base rate.
    pub fn base_score(&self) -> f64 {
        self.base_score
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// Training rows.
    pub fn n_train(&self) -> usize {
        self.n_train
    }

    /// Mean training log loss after each tree.
    pub fn train_log_loss(&self) -> &[f64] {
        &self.train_log_loss
    }

    /// Feature importance by total split gain (the sum of the gains of every split on the feature,
    /// LightGBM's `importance_type="gain"`), as shares summing to 1, in column order.
    pub fn feature_importance(&self) -> Vec<(String, f64)> {
        let total: f64 = self.gain.iter().sum();
        self.feature_names
            .iter()
            .zip(&self.gain)
            .map(|(n, &g)| (n.clone(), if total > 0.0 { g / total } else { 0.0 }))
            .collect()
    }

    /// The log-odds F(x) of one row given in [`GbdtFitted::feature_names`] order.
    ///
    /// Errors when the row has another length or an infinite value.
    pub fn decision_row(&self, row: &[f64]) -> Result<f64> {
        if row.len() != self.feature_names.len() {
            return Err(Error::LengthMismatch {
                what: "gbdt predict row",
                left: self.feature_names.len(),
                right: row.len(),
            });
        }
        if let Some(j) = row.iter().position(|v| v.is_infinite()) {
            return Err(Error::InvalidInput {
                row: j,
                field: "feature",
                value: row[j],
                reason: "must be finite or NaN (missing)",
            });
        }
        Ok(self.base_score + self.trees.iter().map(|t| t.eval(|f| row[f])).sum::<f64>())
    }

    /// P(positive) of one row given in [`GbdtFitted::feature_names`] order: the single-customer
    /// re-score, no matrix needed.
    pub fn predict_row(&self, row: &[f64]) -> Result<f64> {
        Ok(sigmoid(self.decision_row(row)?))
    }

    /// P(positive) of every row of `x`, whose columns are looked up by name.
    ///
    /// Errors when a training column is missing.
    pub fn predict_proba(&self, x: &FeatureTable) -> Result<Vec<f64>> {
        let cols = x.aligned(&self.feature_names, "gbdt")?;
        Ok((0..x.n_rows())
            .map(|i| {
                let z = self.base_score
                    + self
                        .trees
                        .iter()
                        .map(|t| t.eval(|f| cols[f][i]))
                        .sum::<f64>();
                sigmoid(z)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matrix(cols: &[(&str, Vec<f64>)]) -> FeatureTable {
        FeatureTable::from_columns(
            cols.iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
        .expect("valid matrix")
    }

    /// The best split found by summing rows directly for every threshold and missing direction.
    fn naive_best(
        bins: &[u16],
        g: &[f64],
        h: &[f64],
        n_bins: usize,
        lambda: f64,
        min_leaf: usize,
    ) -> Option<f64> {
        let missing = n_bins as u16;
        let sum = |pick: &dyn Fn(u16) -> bool| {
            let mut b = Bin::default();
            for i in 0..bins.len() {
                if pick(bins[i]) {
                    b += Bin {
                        g: g[i],
                        h: h[i],
                        n: 1,
                    };
                }
            }
            b
        };
        let total = sum(&|_| true);
        let mut best: Option<f64> = None;
        for t in 0..n_bins.saturating_sub(1) {
            for ml in [true, false] {
                let l = sum(&|b| if b == missing { ml } else { (b as usize) <= t });
                let r = Bin {
                    g: total.g - l.g,
                    h: total.h - l.h,
                    n: total.n - l.n,
                };
                if l.n < min_leaf
                    || r.n < min_leaf
                    || l.h < MIN_CHILD_HESSIAN
                    || r.h < MIN_CHILD_HESSIAN
                {
                    continue;
                }
                let gain = 0.5 * (score(l, lambda) + score(r, lambda) - score(total, lambda));
                if gain > 1e-12 && best.is_none_or(|b| gain > b) {
                    best = Some(gain);
                }
            }
        }
        best
    }

    proptest! {
        /// The cumulative-histogram scan finds the same best gain as brute force over rows.
        #[test]
        fn histogram_split_matches_brute_force(
            rows in prop::collection::vec((0u16..7, -1.0f64..1.0, 0.01f64..0.25), 2..60),
            min_leaf in 1usize..5,
            lambda in 0.0f64..2.0,
        ) {
            let n_bins = 6; // bin 6 is missing
            let bins: Vec<u16> = rows.iter().map(|r| r.0).collect();
            let g: Vec<f64> = rows.iter().map(|r| r.1).collect();
            let h: Vec<f64> = rows.iter().map(|r| r.2).collect();
            let mut hist = vec![Bin::default(); n_bins + 1];
            for i in 0..bins.len() {
                hist[bins[i] as usize] += Bin { g: g[i], h: h[i], n: 1 };
            }
            let fast = best_split(&hist, lambda, min_leaf).map(|c| c.gain);
            let slow = naive_best(&bins, &g, &h, n_bins, lambda, min_leaf);
            match (fast, slow) {
                (None, None) => {}
                (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}"),
                other => prop_assert!(false, "{other:?}"),
            }
        }

        /// A label that is a threshold of one feature is learned perfectly: every positive scores
        /// above every negative, whatever the noise column holds.
        #[test]
        fn monotone_threshold_is_learned(
            xs in prop::collection::vec(0.0f64..100.0, 40..200),
            cut in 0.2f64..0.8,
            seed in 0u64..1000,
        ) {
            let c = 100.0 * cut;
            let y: Vec<bool> = xs.iter().map(|&v| v > c).collect();
            let (p, n) = (y.iter().filter(|&&v| v).count(), y.iter().filter(|&&v| !v).count());
            prop_assume!(p >= 2 && n >= 2);
            let noise: Vec<f64> = (0..xs.len()).map(|i| ((i as u64 * 7919 + seed) % 101) as f64).collect();
            let m = matrix(&[("noise", noise), ("x", xs.clone())]);
            let fit = GbdtParams { min_samples_leaf: 1, n_estimators: 30, ..GbdtParams::default() }
                .fit(&m, &y).expect("fits");
            let prob = fit.predict_proba(&m).expect("predicts");
            let min_pos = (0..y.len()).filter(|&i| y[i]).map(|i| prob[i]).fold(f64::INFINITY, f64::min);
            let max_neg = (0..y.len()).filter(|&i| !y[i]).map(|i| prob[i]).fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(min_pos > max_neg, "{min_pos} <= {max_neg}");
            prop_assert!(prob.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }

    fn toy(n: usize) -> (FeatureTable, Vec<bool>) {
        let a: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
        let b: Vec<f64> = (0..n)
            .map(|i| {
                if i % 11 == 0 {
                    f64::NAN
                } else {
                    ((i * 53) % 67) as f64
                }
            })
            .collect();
        let y: Vec<bool> = (0..n)
            .map(|i| a[i] + if b[i].is_nan() { 80.0 } else { b[i] } > 80.0 + ((i * 13) % 29) as f64)
            .collect();
        (matrix(&[("a", a), ("b", b)]), y)
    }

    #[test]
    fn same_seed_same_model_and_row_scoring_agrees() -> Result<()> {
        let (m, y) = toy(500);
        let params = GbdtParams {
            subsample: 0.6,
            seed: 3,
            ..GbdtParams::default()
        };
        let one = params.fit(&m, &y)?;
        assert_eq!(one, params.fit(&m, &y)?);
        assert_ne!(
            one,
            GbdtParams {
                seed: 4,
                ..params.clone()
            }
            .fit(&m, &y)?
        );
        let all = one.predict_proba(&m)?;
        for i in [0, 11, 250] {
            let row = m.row(i).expect("row");
            assert!((one.predict_row(&row)? - all[i]).abs() < 1e-12);
        }
        // Training log loss falls, the missing values are routed, importance sums to 1.
        let loss = one.train_log_loss();
        assert!(loss[loss.len() - 1] < loss[0]);
        let imp: f64 = one.feature_importance().iter().map(|(_, v)| v).sum();
        assert!((imp - 1.0).abs() < 1e-9);
        assert!(one.predict_row(&[1.0]).is_err());
        assert!(one.predict_row(&[1.0, f64::INFINITY]).is_err());
        // A serde round trip keeps every prediction (to the last bits JSON keeps).
        let back: GbdtFitted =
            serde_json::from_str(&serde_json::to_string(&one).expect("json")).expect("parse");
        for (p, q) in back.predict_proba(&m)?.iter().zip(&all) {
            assert!((p - q).abs() < 1e-12, "{p} vs {q}");
        }
        Ok(())
    }

    #[test]
    fn row_order_of_training_data_does_not_change_predictions() -> Result<()> {
        let (m, y) = toy(300);
        let fit = GbdtParams::default().fit(&m, &y)?;
        let rev: Vec<usize> = (0..300).rev().collect();
        let y_rev: Vec<bool> = rev.iter().map(|&i| y[i]).collect();
        let fit_rev = GbdtParams::default().fit(&m.select_rows(&rev), &y_rev)?;
        let (a, b) = (fit.predict_proba(&m)?, fit_rev.predict_proba(&m)?);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-9, "{p} vs {q}");
        }
        Ok(())
    }

    #[test]
    fn bad_input_is_refused() {
        let (m, y) = toy(50);
        assert!(GbdtParams::default().fit(&m, &y[..10]).is_err());
        assert!(GbdtParams::default().fit(&m, &[false; 50]).is_err());
        assert!(GbdtParams {
            learning_rate: 0.0,
            ..GbdtParams::default()
        }
        .fit(&m, &y)
        .is_err());
        assert!(GbdtParams {
            subsample: 1.5,
            ..GbdtParams::default()
        }
        .fit(&m, &y)
        .is_err());
        assert!(GbdtParams::default()
            .fit(&FeatureTable::new(0), &[])
            .is_err());
    }
}
