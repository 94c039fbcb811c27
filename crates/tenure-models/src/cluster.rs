//! k-means clustering for customer segmentation: a named feature matrix, a z-score scaler, k-means
//! with k-means++ seeding and Lloyd iterations, the silhouette score, and a choice of k by silhouette.
//!
//! - **Lloyd's algorithm** (Lloyd 1982, "Least squares quantization in PCM", IEEE Trans. Inf.
//!   Theory 28(2)): alternate assigning every row to its nearest centroid and moving every centroid
//!   to the mean of its rows; each step lowers the inertia Σᵢ ‖xᵢ − c₍ₗᵢ₎‖².
//! - **k-means++ seeding** (Arthur & Vassilvitskii 2007, "k-means++: the advantages of careful
//!   seeding", SODA): the first centre uniformly, each next one with probability ∝ D(x)², the squared
//!   distance to the nearest centre chosen so far. As in scikit-learn, each step draws
//!   `2 + ⌊ln k⌋` candidates and keeps the one that lowers the potential most ("greedy" k-means++).
//! - **Silhouette** (Rousseeuw 1987, "Silhouettes: a graphical aid to the interpretation and
//!   validation of cluster analysis", J. Comput. Appl. Math. 20, eq. 1 on p. 55):
//!   s(i) = (b(i) − a(i)) / max(a(i), b(i)), with a(i) the mean Euclidean distance from i to the other
//!   members of its cluster, b(i) the smallest mean distance to the members of another cluster, and
//!   s(i) = 0 for a singleton. The score is the mean of s(i).
//!
//! Parameter names follow scikit-learn's `KMeans` (`n_clusters`, `n_init`, `max_iter`, `tol`), and so
//! does the convergence rule: stop when the squared centroid shift summed over centroids is at most
//! `tol` × the mean per-feature variance of the data.

use std::ops::RangeInclusive;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A dense row-major matrix of finite `f64` with one name per column: the input of the scaler and of
/// k-means. Behaviour features, text-embedding dimensions or both (see [`FeatureMatrix::hstack`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatrix {
    names: Vec<String>,
    n_rows: usize,
    data: Vec<f64>,
}

impl FeatureMatrix {
    /// Build from columns (one `Vec` per name, all of the same length). Every value must be finite:
    /// impute missing values before building the matrix.
    pub fn from_columns(names: Vec<String>, columns: &[Vec<f64>]) -> Result<FeatureMatrix> {
        if names.len() != columns.len() {
            return Err(Error::LengthMismatch {
                what: "feature matrix: names vs columns",
                left: names.len(),
                right: columns.len(),
            });
        }
        if names.is_empty() {
            return Err(Error::Empty {
                what: "feature matrix (no columns)",
            });
        }
        let n_rows = columns[0].len();
        for c in columns {
            if c.len() != n_rows {
                return Err(Error::LengthMismatch {
                    what: "feature matrix columns",
                    left: n_rows,
                    right: c.len(),
                });
            }
        }
        let d = names.len();
        let mut data = vec![0.0; n_rows * d];
        for (j, c) in columns.iter().enumerate() {
            for (i, &v) in c.iter().enumerate() {
                data[i * d + j] = v;
            }
        }
        FeatureMatrix::from_row_major(names, data)
    }

    /// Build from row-major data (`data.len()` = rows × `names.len()`); every value must be finite.
    pub fn from_row_major(names: Vec<String>, data: Vec<f64>) -> Result<FeatureMatrix> {
        let d = names.len();
        if d == 0 {
            return Err(Error::Empty {
                what: "feature matrix (no columns)",
            });
        }
        if !data.len().is_multiple_of(d) {
            return Err(Error::LengthMismatch {
                what: "feature matrix: values vs a whole number of rows",
                left: data.len(),
                right: d,
            });
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput {
                row: pos / d,
                field: "feature matrix",
                value: data[pos],
                reason: "every feature must be finite: impute missing values first",
            });
        }
        Ok(FeatureMatrix {
            names,
            n_rows: data.len() / d,
            data,
        })
    }

    /// Append the columns of `other` (same number of rows) to the right, e.g. embedding dimensions
    /// after the behaviour features.
    pub fn hstack(&self, other: &FeatureMatrix) -> Result<FeatureMatrix> {
        if self.n_rows != other.n_rows {
            return Err(Error::LengthMismatch {
                what: "hstack: rows",
                left: self.n_rows,
                right: other.n_rows,
            });
        }
        let (a, b) = (self.n_cols(), other.n_cols());
        let mut data = Vec::with_capacity(self.n_rows * (a + b));
        for i in 0..self.n_rows {
            data.extend_from_slice(self.row(i));
            data.extend_from_slice(other.row(i));
        }
        let mut names = self.names.clone();
        names.extend(other.names.iter().cloned());
        Ok(FeatureMatrix {
            names,
            n_rows: self.n_rows,
            data,
        })
    }

    /// Column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    /// Row `i` (panics when out of range, like slice indexing).
    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.n_cols();
        &self.data[i * d..(i + 1) * d]
    }

    /// The rows in order.
    pub fn rows(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.n_cols())
    }

    /// Mean and population variance of each column.
    fn column_moments(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.n_cols();
        let n = self.n_rows.max(1) as f64;
        let mut mean = vec![0.0; d];
        for r in self.rows() {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; d];
        for r in self.rows() {
            for j in 0..d {
                let e = r[j] - mean[j];
                var[j] += e * e;
            }
        }
        var.iter_mut().for_each(|v| *v /= n);
        (mean, var)
    }
}

fn check_width(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            left: expected,
            right: got,
        })
    }
}

fn check_finite(row: &[f64]) -> Result<()> {
    match row.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(j) => Err(Error::InvalidInput {
            row: 0,
            field: "feature row",
            value: row[j],
            reason: "every feature must be finite: impute missing values first",
        }),
    }
}

/// Z-score standardisation, z = (x − mean) / sd with the population sd (scikit-learn's
/// `StandardScaler`). k-means measures Euclidean distance, so without it the feature with the largest
/// units (money) would decide the clusters alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {}

/// A fitted [`StandardScaler`]: the mean and scale of every column, saved with a model so that a
/// new row is scaled exactly as the training rows were. A column with zero variance gets scale 1, so
/// it becomes all zeros instead of NaN (scikit-learn does the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScalerFitted {
    /// Column names, in order.
    pub feature_names: Vec<String>,
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 for constant columns).
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Learn the mean and standard deviation of every column.
    pub fn fit(&self, x: &FeatureMatrix) -> Result<StandardScalerFitted> {
        if x.n_rows() == 0 {
            return Err(Error::Empty {
                what: "standard scaler",
            });
        }
        let (mean, var) = x.column_moments();
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(&v, &m)| {
                let sd = v.sqrt();
                // Variance that is rounding noise relative to the mean counts as zero.
                if sd <= 1e-12 * m.abs().max(1.0) {
                    1.0
                } else {
                    sd
                }
            })
            .collect();
        Ok(StandardScalerFitted {
            feature_names: x.names().to_vec(),
            mean,
            scale,
        })
    }
}

impl StandardScalerFitted {
    /// Columns whose variance was zero (scaled by 1: they carry no information).
    pub fn constant_columns(&self) -> Vec<&str> {
        self.scale
            .iter()
            .zip(&self.feature_names)
            .filter(|(s, _)| **s == 1.0)
            .map(|(_, n)| n.as_str())
            .collect()
    }

    /// Standardise one row.
    pub fn transform_row(&self, row: &[f64]) -> Result<Vec<f64>> {
        check_width("scale a row: features", self.mean.len(), row.len())?;
        check_finite(row)?;
        Ok(row
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(v, (m, s))| (v - m) / s)
            .collect())
    }

    /// Standardise every row.
    pub fn transform(&self, x: &FeatureMatrix) -> Result<FeatureMatrix> {
        if x.names() != self.feature_names.as_slice() {
            return Err(Error::FitFailed {
                model: "standard scaler",
                reason: format!(
                    "columns {:?} differ from the fitted columns {:?}; pass the same features in the same order",
                    x.names(),
                    self.feature_names
                ),
            });
        }
        let mut data = Vec::with_capacity(x.data.len());
        for r in x.rows() {
            data.extend(
                r.iter()
                    .zip(self.mean.iter().zip(&self.scale))
                    .map(|(v, (m, s))| (v - m) / s),
            );
        }
        Ok(FeatureMatrix {
            names: x.names.clone(),
            n_rows: x.n_rows,
            data,
        })
    }

    /// Map a standardised row back to the original units: x = z · sd + mean.
    pub fn inverse_transform_row(&self, z: &[f64]) -> Result<Vec<f64>> {
        check_width("unscale a row: features", self.mean.len(), z.len())?;
        Ok(z.iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(v, (m, s))| v * s + m)
            .collect())
    }
}

/// Parameters of k-means (names as in scikit-learn's `KMeans`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    /// Number of clusters k (≥ 1, ≤ the number of rows).
    pub n_clusters: usize,
    /// Independent k-means++ starts; the run with the lowest inertia wins.
    pub n_init: usize,
    /// Most Lloyd iterations per start.
    pub max_iter: usize,
    /// Relative tolerance: stop when Σ‖Δcentroid‖² ≤ tol × mean feature variance.
    pub tol: f64,
    /// Seed of the ChaCha8 generator behind the seeding.
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            n_clusters: 8,
            n_init: 4,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

/// A fitted k-means model: centroids in the space it was fitted in, plus how the fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansFitted {
    /// Column names of the training matrix.
    pub feature_names: Vec<String>,
    /// One centroid per cluster, each of `feature_names.len()` values.
    pub centroids: Vec<Vec<f64>>,
    /// Sum of squared distances of the training rows to their centroids.
    pub inertia: f64,
    /// Lloyd iterations of the winning start.
    pub n_iter: usize,
    /// Whether the winning start met `tol` before `max_iter`.
    pub converged: bool,
    /// Training rows per cluster.
    pub sizes: Vec<usize>,
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Nearest centroid and its squared distance (the first one on ties).
fn nearest(row: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centroids.iter().enumerate() {
        let d = sq_dist(row, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; scikit-learn's `_kmeans_plusplus`).
fn kmeans_plusplus(x: &FeatureMatrix, k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let n = x.n_rows();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = rng.random_range(0..n);
    let mut centers = vec![x.row(first).to_vec()];
    let mut closest: Vec<f64> = x.rows().map(|r| sq_dist(r, &centers[0])).collect();
    let mut potential: f64 = closest.iter().sum();
    while centers.len() < k {
        let mut best: Option<(usize, f64, Vec<f64>)> = None;
        for _ in 0..trials {
            // Draw a row with probability ∝ D(x)²; when every row sits on a centre, draw uniformly.
            let cand = if potential > 0.0 {
                let target = rng.random::<f64>() * potential;
                let mut acc = 0.0;
                let mut pick = n - 1;
                for (i, d) in closest.iter().enumerate() {
                    acc += d;
                    if acc >= target && *d > 0.0 {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.random_range(0..n)
            };
            let c = x.row(cand);
            let next: Vec<f64> = x
                .rows()
                .zip(&closest)
                .map(|(r, &d)| d.min(sq_dist(r, c)))
                .collect();
            let pot: f64 = next.iter().sum();
            if best.as_ref().is_none_or(|b| pot < b.1) {
                best = Some((cand, pot, next));
            }
        }
        let (cand, pot, next) = best.expect("at least two trials per step");
        centers.push(x.row(cand).to_vec());
        closest = next;
        potential = pot;
    }
    centers
}

struct Run {
    centroids: Vec<Vec<f64>>,
    labels: Vec<usize>,
    inertia: f64,
    n_iter: usize,
    converged: bool,
}

/// Lloyd's iterations from the given centroids. An empty cluster is re-seeded with the row farthest
/// from its current centroid, as scikit-learn does.
fn lloyd(x: &FeatureMatrix, mut centroids: Vec<Vec<f64>>, max_iter: usize, tol_abs: f64) -> Run {
    let (n, d, k) = (x.n_rows(), x.n_cols(), centroids.len());
    let mut labels = vec![0usize; n];
    let mut dist = vec![0.0f64; n];
    let mut n_iter = 0;
    let mut converged = false;
    for it in 0..max_iter.max(1) {
        n_iter = it + 1;
        for (i, r) in x.rows().enumerate() {
            let (j, dd) = nearest(r, &centroids);
            labels[i] = j;
            dist[i] = dd;
        }
        let mut sums = vec![vec![0.0; d]; k];
        let mut counts = vec![0usize; k];
        for (i, r) in x.rows().enumerate() {
            counts[labels[i]] += 1;
            for (s, v) in sums[labels[i]].iter_mut().zip(r) {
                *s += v;
            }
        }
        let mut taken: Vec<usize> = Vec::new();
        for j in 0..k {
            if counts[j] == 0 {
                // Farthest row not already used to re-seed another empty cluster.
                let far = (0..n)
                    .filter(|i| !taken.contains(i))
                    .max_by(|&a, &b| dist[a].total_cmp(&dist[b]));
                if let Some(i) = far {
                    taken.push(i);
                    sums[j] = x.row(i).to_vec();
                    counts[j] = 1;
                    dist[i] = 0.0;
                } else {
                    sums[j] = centroids[j].clone();
                    counts[j] = 1;
                }
            }
        }
        let mut shift = 0.0;
        for j in 0..k {
            let c: Vec<f64> = sums[j].iter().map(|s| s / counts[j] as f64).collect();
            shift += sq_dist(&c, &centroids[j]);
            centroids[j] = c;
        }
        if shift <= tol_abs {
            converged = true;
            break;
        }
    }
    // Final labels and inertia against the final centroids.
    let mut inertia = 0.0;
    for (i, r) in x.rows().enumerate() {
        let (j, dd) = nearest(r, &centroids);
        labels[i] = j;
        inertia += dd;
    }
    Run {
        centroids,
        labels,
        inertia,
        n_iter,
        converged,
    }
}

impl KMeansParams {
    /// Fit k-means on `x`: `n_init` greedy k-means++ starts, each refined by Lloyd's iterations; the
    /// start with the lowest inertia is kept. Same seed and data, same model.
    pub fn fit(&self, x: &FeatureMatrix) -> Result<KMeansFitted> {
        let n = x.n_rows();
        if n == 0 {
            return Err(Error::Empty { what: "k-means" });
        }
        if self.n_clusters == 0 || self.n_clusters > n {
            return Err(Error::InvalidArgument {
                name: "n_clusters",
                value: self.n_clusters as f64,
                reason: "must be between 1 and the number of rows",
            });
        }
        if self.n_init == 0 {
            return Err(Error::InvalidArgument {
                name: "n_init",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "tol",
                value: self.tol,
                reason: "must be finite and non-negative",
            });
        }
        let (_, var) = x.column_moments();
        let tol_abs = self.tol * var.iter().sum::<f64>() / var.len() as f64;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut best: Option<Run> = None;
        for _ in 0..self.n_init {
            let init = kmeans_plusplus(x, self.n_clusters, &mut rng);
            let run = lloyd(x, init, self.max_iter, tol_abs);
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        let run = best.expect("n_init >= 1");
        let mut sizes = vec![0usize; self.n_clusters];
        for &l in &run.labels {
            sizes[l] += 1;
        }
        Ok(KMeansFitted {
            feature_names: x.names().to_vec(),
            centroids: run.centroids,
            inertia: run.inertia,
            n_iter: run.n_iter,
            converged: run.converged,
            sizes,
        })
    }
}

impl KMeansFitted {
    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.centroids.len()
    }

    fn check(&self, x: &FeatureMatrix) -> Result<()> {
        check_width(
            "k-means: features of the input vs the model",
            self.feature_names.len(),
            x.n_cols(),
        )
    }

    /// The nearest centroid of one row and the Euclidean distance to it. This is how a single
    /// customer is (re)assigned without refitting.
    pub fn predict_row(&self, row: &[f64]) -> Result<(usize, f64)> {
        check_width(
            "k-means: features of the row vs the model",
            self.feature_names.len(),
            row.len(),
        )?;
        check_finite(row)?;
        let (j, d) = nearest(row, &self.centroids);
        Ok((j, d.sqrt()))
    }

    /// The nearest centroid of every row.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<usize>> {
        self.check(x)?;
        Ok(x.rows().map(|r| nearest(r, &self.centroids).0).collect())
    }

    /// Euclidean distance of every row to every centroid (rows × k), as scikit-learn's `transform`.
    pub fn transform(&self, x: &FeatureMatrix) -> Result<Vec<Vec<f64>>> {
        self.check(x)?;
        Ok(x.rows()
            .map(|r| {
                self.centroids
                    .iter()
                    .map(|c| sq_dist(r, c).sqrt())
                    .collect()
            })
            .collect())
    }
}

/// Mean silhouette (Rousseeuw 1987) of `labels` on `x`, computed exactly over all pairs: O(n²·d),
/// so use [`silhouette_score_sampled`] above a few thousand rows. Labels must be `0..k` with at
/// least two distinct labels and fewer distinct labels than rows.
pub fn silhouette_score(x: &FeatureMatrix, labels: &[usize]) -> Result<f64> {
    let idx: Vec<usize> = (0..x.n_rows()).collect();
    silhouette_on(x, labels, &idx)
}

/// Mean silhouette on a seeded uniform sample of `sample_size` rows (without replacement), exactly
/// like scikit-learn's `silhouette_score(sample_size=…)`: a(i) and b(i) are measured among the sampled
/// rows only. With `sample_size` ≥ the number of rows this is [`silhouette_score`].
pub fn silhouette_score_sampled(
    x: &FeatureMatrix,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Result<f64> {
    let n = x.n_rows();
    if sample_size >= n {
        return silhouette_score(x, labels);
    }
    // Partial Fisher–Yates shuffle: the first `sample_size` entries are a uniform sample.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..sample_size {
        let j = rng.random_range(i..n);
        idx.swap(i, j);
    }
    idx.truncate(sample_size);
    idx.sort_unstable();
    silhouette_on(x, labels, &idx)
}

fn silhouette_on(x: &FeatureMatrix, labels: &[usize], idx: &[usize]) -> Result<f64> {
    if labels.len() != x.n_rows() {
        return Err(Error::LengthMismatch {
            what: "silhouette: rows vs labels",
            left: x.n_rows(),
            right: labels.len(),
        });
    }
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut counts = vec![0usize; k];
    for &i in idx {
        counts[labels[i]] += 1;
    }
    let distinct = counts.iter().filter(|c| **c > 0).count();
    if distinct < 2 || distinct >= idx.len() {
        return Err(Error::InvalidArgument {
            name: "silhouette: distinct labels",
            value: distinct as f64,
            reason: "the silhouette needs between 2 and (rows - 1) clusters",
        });
    }
    let mut total = 0.0;
    let mut sums = vec![0.0; k];
    for &i in idx {
        sums.iter_mut().for_each(|s| *s = 0.0);
        let ri = x.row(i);
        for &j in idx {
            if i != j {
                sums[labels[j]] += sq_dist(ri, x.row(j)).sqrt();
            }
        }
        let own = labels[i];
        if counts[own] <= 1 {
            continue; // s(i) = 0 for a singleton
        }
        let a = sums[own] / (counts[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    Ok(total / idx.len() as f64)
}

/// One k tried by [`choose_k`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// Number of clusters.
    pub k: usize,
    /// Mean silhouette of its fit (higher is better, in [-1, 1]).
    pub silhouette: f64,
    /// Its inertia.
    pub inertia: f64,
}

/// What [`choose_k`] found: the fit with the best silhouette, and the score of every k tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KChoice {
    /// The winning fit.
    pub model: KMeansFitted,
    /// Its mean silhouette.
    pub silhouette: f64,
    /// Every k tried, in order.
    pub scores: Vec<KScore>,
}

/// Fit k-means for every k in `k_range` (k ≥ 2, capped at rows − 1) with `params` (its `n_clusters`
/// is ignored) and keep the k with the highest mean silhouette; ties go to the smaller k. The
/// silhouette is exact up to `silhouette_sample` rows and measured on a seeded sample of that many
/// rows above (the same sample for every k), so choosing k stays O(sample² · d) per k.
pub fn choose_k(
    params: &KMeansParams,
    x: &FeatureMatrix,
    k_range: RangeInclusive<usize>,
    silhouette_sample: usize,
) -> Result<KChoice> {
    let n = x.n_rows();
    if n < 3 {
        return Err(Error::InvalidArgument {
            name: "rows",
            value: n as f64,
            reason: "choosing k by silhouette needs at least 3 rows",
        });
    }
    let lo = (*k_range.start()).max(2);
    let hi = (*k_range.end()).min(n - 1);
    if lo > hi {
        return Err(Error::InvalidArgument {
            name: "k range",
            value: *k_range.end() as f64,
            reason: "needs some k with 2 <= k <= rows - 1: widen the range or add rows",
        });
    }
    if silhouette_sample < 3 {
        return Err(Error::InvalidArgument {
            name: "silhouette_sample",
            value: silhouette_sample as f64,
            reason: "must be at least 3",
        });
    }
    let mut scores = Vec::new();
    let mut best: Option<(f64, KMeansFitted)> = None;
    for k in lo..=hi {
        let fit = KMeansParams {
            n_clusters: k,
            ..*params
        }
        .fit(x)?;
        let labels = fit.predict(x)?;
        // Too few distinct rows for k clusters: the silhouette is undefined, so this k is skipped.
        let s = match silhouette_score_sampled(x, &labels, silhouette_sample, params.seed) {
            Ok(s) => s,
            Err(Error::InvalidArgument { .. }) => continue,
            Err(e) => return Err(e),
        };
        scores.push(KScore {
            k,
            silhouette: s,
            inertia: fit.inertia,
        });
        if best.as_ref().is_none_or(|(b, _)| s > *b) {
            best = Some((s, fit));
        }
    }
    let (silhouette, model) = best.ok_or(Error::FitFailed {
        model: "k-means",
        reason: "no k in the range gave two or more non-empty clusters; the rows are (nearly) all identical".into(),
    })?;
    Ok(KChoice {
        model,
        silhouette,
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_distr::{Distribution, Normal};

    fn names(d: usize) -> Vec<String> {
        (0..d).map(|j| format!("f{j}")).collect()
    }

    /// Three well-separated Gaussian blobs in 2-D, `per` rows each, and their true labels.
    fn blobs(per: usize, seed: u64) -> (FeatureMatrix, Vec<usize>) {
        let centers = [(0.0, 0.0), (10.0, 10.0), (-10.0, 10.0)];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 1.0).expect("valid normal");
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for (c, (cx, cy)) in centers.iter().enumerate() {
            for _ in 0..per {
                data.push(cx + noise.sample(&mut rng));
                data.push(cy + noise.sample(&mut rng));
                truth.push(c);
            }
        }
        (
            FeatureMatrix::from_row_major(names(2), data).expect("finite"),
            truth,
        )
    }

    #[test]
    fn same_seed_same_model() {
        let (x, _) = blobs(50, 1);
        let p = KMeansParams {
            n_clusters: 4,
            seed: 9,
            ..Default::default()
        };
        assert_eq!(p.fit(&x).expect("fits"), p.fit(&x).expect("fits"));
    }

    #[test]
    fn recovers_well_separated_blobs_and_chooses_three() {
        let (x, truth) = blobs(60, 2);
        let choice = choose_k(&KMeansParams::default(), &x, 2..=6, 2_000).expect("chooses");
        assert_eq!(choice.model.n_clusters(), 3);
        assert!(choice.silhouette > 0.8, "{}", choice.silhouette);
        let labels = choice.model.predict(&x).expect("predicts");
        // Same partition up to relabelling: rows share a label iff they share a true blob.
        for i in 0..labels.len() {
            for j in 0..labels.len() {
                assert_eq!(labels[i] == labels[j], truth[i] == truth[j]);
            }
        }
        assert_eq!(choice.scores.len(), 5);
        assert!(choice.model.converged);
    }

    /// Hand-computed: rows 0, 1, 4, 5 in two clusters {0, 1}, {4, 5}. For 0: a = 1, b = (4 + 5)/2 =
    /// 4.5, s = 3.5/4.5; for 1: a = 1, b = (3 + 4)/2 = 3.5, s = 2.5/3.5; symmetric for 4 and 5.
    #[test]
    fn silhouette_matches_a_hand_computed_example() {
        let x = FeatureMatrix::from_columns(names(1), &[vec![0.0, 1.0, 4.0, 5.0]]).expect("ok");
        let s = silhouette_score(&x, &[0, 0, 1, 1]).expect("defined");
        let expected = (3.5 / 4.5 + 2.5 / 3.5) / 2.0;
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
        // A singleton counts as 0 (Rousseeuw 1987): {0}, {1, 4, 5}.
        let s = silhouette_score(&x, &[0, 1, 1, 1]).expect("defined");
        // 1: a = (3 + 4)/2 = 3.5, b = 1 → (1 - 3.5)/3.5; 4: a = (3 + 1)/2 = 2, b = 4 → 0.5;
        // 5: a = (4 + 1)/2 = 2.5, b = 5 → 0.5.
        let expected = (0.0 + (1.0 - 3.5) / 3.5 + 0.5 + 0.5) / 4.0;
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
        assert!(silhouette_score(&x, &[0, 0, 0, 0]).is_err());
    }

    /// Reference: scikit-learn 1.9.1 `sklearn.metrics.silhouette_score` on the 2-D rows below with labels
    /// [0, 0, 0, 1, 1, 1, 2, 2] (computed in a throwaway venv).
    #[test]
    fn silhouette_matches_scikit_learn() {
        let rows = [
            [1.0, 2.0],
            [1.5, 1.8],
            [1.2, 2.4],
            [5.0, 8.0],
            [6.0, 8.5],
            [5.5, 7.2],
            [9.0, 1.0],
            [8.2, 2.1],
        ];
        let x = FeatureMatrix::from_row_major(names(2), rows.iter().flatten().copied().collect())
            .expect("finite");
        let s = silhouette_score(&x, &[0, 0, 0, 1, 1, 1, 2, 2]).expect("defined");
        assert!((s - SKLEARN_SILHOUETTE).abs() < 1e-9, "{s}");
        let sampled = silhouette_score_sampled(&x, &[0, 0, 0, 1, 1, 1, 2, 2], 6, 3).expect("ok");
        assert!(sampled.is_finite() && sampled <= 1.0);
    }

    const SKLEARN_SILHOUETTE: f64 = 0.860_562_356_772_778_5;

    #[test]
    fn scaler_standardises_and_handles_constant_columns() {
        let x = FeatureMatrix::from_columns(
            vec!["a".into(), "b".into()],
            &[vec![1.0, 2.0, 3.0, 4.0], vec![7.0; 4]],
        )
        .expect("ok");
        let s = StandardScaler::default().fit(&x).expect("fits");
        assert_eq!(s.constant_columns(), vec!["b"]);
        let z = s.transform(&x).expect("ok");
        let (mean, var) = z.column_moments();
        assert!(mean[0].abs() < 1e-12 && (var[0] - 1.0).abs() < 1e-12);
        assert_eq!((mean[1], var[1]), (0.0, 0.0));
        let back = s.inverse_transform_row(z.row(2)).expect("ok");
        assert!((back[0] - 3.0).abs() < 1e-12 && (back[1] - 7.0).abs() < 1e-12);
    }

    #[test]
    fn clear_errors() {
        assert!(matches!(
            FeatureMatrix::from_columns(names(1), &[vec![1.0, f64::NAN]]),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        let x = FeatureMatrix::from_columns(names(1), &[vec![1.0, 2.0]]).expect("ok");
        let err = KMeansParams {
            n_clusters: 3,
            ..Default::default()
        }
        .fit(&x)
        .expect_err("k > n");
        assert!(err.to_string().contains("n_clusters"), "{err}");
        let empty = FeatureMatrix::from_row_major(names(2), vec![]).expect("no rows is a matrix");
        assert!(matches!(
            KMeansParams::default().fit(&empty),
            Err(Error::Empty { .. })
        ));
        let fit = KMeansParams {
            n_clusters: 1,
            ..Default::default()
        }
        .fit(&x)
        .expect("k = 1");
        assert!(fit.predict_row(&[1.0, 2.0]).is_err());
        assert!(fit.predict_row(&[f64::INFINITY]).is_err());
        // All rows identical: no k gives two clusters.
        let same = FeatureMatrix::from_columns(names(1), &[vec![3.0; 10]]).expect("ok");
        assert!(choose_k(&KMeansParams::default(), &same, 2..=4, 100).is_err());
    }

    #[test]
    fn transform_gives_distances_to_every_centroid() {
        let (x, _) = blobs(20, 4);
        let fit = KMeansParams {
            n_clusters: 3,
            ..Default::default()
        }
        .fit(&x)
        .expect("fits");
        let d = fit.transform(&x).expect("ok");
        let labels = fit.predict(&x).expect("ok");
        for (i, row) in d.iter().enumerate() {
            let (j, dist) = fit.predict_row(x.row(i)).expect("ok");
            assert_eq!(j, labels[i]);
            assert!((row[j] - dist).abs() < 1e-12);
            assert!(row.iter().all(|v| *v >= dist));
        }
        let inertia: f64 = (0..x.n_rows()).map(|i| d[i][labels[i]].powi(2)).sum();
        assert!((inertia - fit.inertia).abs() < 1e-9 * inertia.max(1.0));
    }

    proptest! {
        #[test]
        fn predicting_a_centroid_returns_its_own_cluster(
            data in prop::collection::vec(-100.0f64..100.0, 6..120),
            k in 1usize..6,
            seed in 0u64..1000,
        ) {
            let d = 3;
            let rows = data.len() / d;
            prop_assume!(rows >= k);
            let x = FeatureMatrix::from_row_major(names(d), data[..rows * d].to_vec()).expect("finite");
            let fit = KMeansParams { n_clusters: k, n_init: 2, seed, ..Default::default() }
                .fit(&x)
                .expect("fits");
            for c in &fit.centroids {
                let (j, dist) = fit.predict_row(c).expect("ok");
                // Its own centroid, or one at the same place when two coincide.
                prop_assert!(dist == 0.0 && fit.centroids[j] == *c);
            }
        }
    }
}
