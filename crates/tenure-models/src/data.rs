//! The BTYD input table (x, t_x, T per customer) and its compressed, weighted form.

use std::sync::OnceLock;

use rand::Rng;
use rand_distr::{Binomial, Distribution};

use crate::error::{Error, Result};

/// Repeat-purchase summary per customer, the input of every BTYD model.
///
/// For customer *i*: `x` is the number of repeat purchases (purchases after the first, so a
/// one-time buyer has x = 0), `t_x` the time of the last purchase and `age` (the literature's *T*)
/// the time of the end of the calibration period, both measured from the customer's first
/// purchase, in one time unit of the caller's choosing (days, weeks). Validated on construction:
/// every value finite and non-negative, `x` whole, `t_x ≤ age`, and `t_x = 0` when `x = 0`.
///
/// The table compresses itself to its distinct rows (with customer counts) the first time a model
/// needs it and keeps that, so fitting and scoring the same data sorts it only once.
#[derive(Debug, Clone)]
pub struct BtydData {
    x: Vec<f64>,
    t_x: Vec<f64>,
    age: Vec<f64>,
    compressed: OnceLock<Compressed>,
}

impl PartialEq for BtydData {
    fn eq(&self, other: &Self) -> bool {
        self.x == other.x && self.t_x == other.t_x && self.age == other.age
    }
}

/// Distinct rows and, for every customer, the index of its row.
#[derive(Debug, Clone)]
struct Compressed {
    table: Table,
    row_of: Vec<u32>,
}

/// Largest table: row and time indices are stored as u32 (times ≤ 2 · rows ≤ 2 · customers).
const MAX_CUSTOMERS: usize = i32::MAX as usize;

/// Relative slack allowed when `t_x` exceeds `age` by rounding (then `t_x` is set to `age`).
const RECENCY_SLACK: f64 = 1e-9;

impl BtydData {
    /// Validates and wraps the three columns (x, t_x, T).
    ///
    /// Errors name the first offending row.
    pub fn new(x: Vec<f64>, t_x: Vec<f64>, age: Vec<f64>) -> Result<Self> {
        const WHAT: &str = "btyd data";
        if x.is_empty() {
            return Err(Error::Empty { what: WHAT });
        }
        if x.len() > MAX_CUSTOMERS {
            return Err(Error::InvalidArgument {
                name: "number of customers",
                value: x.len() as f64,
                reason: "at most 2^31 - 1 customers fit in one table; split the data",
            });
        }
        for other in [t_x.len(), age.len()] {
            if other != x.len() {
                return Err(Error::LengthMismatch {
                    what: WHAT,
                    left: x.len(),
                    right: other,
                });
            }
        }
        let mut t_x = t_x;
        for row in 0..x.len() {
            t_x[row] = validate_row(row, x[row], t_x[row], age[row])?;
        }
        // Normalise −0.0 so that bit patterns order like the values.
        let clean = |v: Vec<f64>| v.into_iter().map(|e| e + 0.0).collect::<Vec<_>>();
        Ok(Self {
            x: clean(x),
            t_x: clean(t_x),
            age: clean(age),
            compressed: OnceLock::new(),
        })
    }

    /// Like [`BtydData::new`], copying from slices.
    pub fn from_slices(x: &[f64], t_x: &[f64], age: &[f64]) -> Result<Self> {
        Self::new(x.to_vec(), t_x.to_vec(), age.to_vec())
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Always false: construction rejects empty input.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Repeat-purchase counts.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// Times of the last purchase.
    pub fn t_x(&self) -> &[f64] {
        &self.t_x
    }

    /// Ages at the end of calibration (*T*).
    pub fn age(&self) -> &[f64] {
        &self.age
    }

    /// Customers with at least one repeat purchase.
    pub fn n_repeat_buyers(&self) -> usize {
        self.x.iter().filter(|&&x| x > 0.0).count()
    }

    /// The compressed table (distinct rows weighted by customer counts), built once.
    pub(crate) fn table(&self) -> &Table {
        &self.compressed().table
    }

    fn compressed(&self) -> &Compressed {
        self.compressed.get_or_init(|| {
            let mut keys: Vec<(u64, u64, u64, u32)> = (0..self.len())
                .map(|i| {
                    (
                        self.x[i].to_bits(),
                        self.t_x[i].to_bits(),
                        self.age[i].to_bits(),
                        // Fits: `new` rejects more than MAX_CUSTOMERS customers.
                        i as u32,
                    )
                })
                .collect();
            // x, t_x and T are >= 0 (and −0.0 was normalised), so bits order like values.
            keys.sort_unstable();
            let mut row_of = vec![0u32; self.len()];
            let mut rows = Vec::new();
            for (xb, tb, ab, i) in keys {
                let row = (f64::from_bits(xb), f64::from_bits(tb), f64::from_bits(ab));
                match rows.last_mut() {
                    Some((x, t, a, w)) if (*x, *t, *a) == row => *w += 1.0,
                    _ => rows.push((row.0, row.1, row.2, 1.0)),
                }
                row_of[i as usize] = (rows.len() - 1) as u32;
            }
            Compressed {
                table: Table::from_sorted_rows(rows.into_iter()),
                row_of,
            }
        })
    }

    /// Evaluates `f(x, t_x, T)` once per distinct row and scatters the results to every customer.
    pub(crate) fn map_unique(&self, f: impl Fn(f64, f64, f64) -> f64 + Sync) -> Vec<f64> {
        self.map_unique_wide(1, |x, t_x, age, out| out[0] = f(x, t_x, age))
            .pop()
            .unwrap_or_default()
    }
}

impl BtydData {
    /// Evaluates `f(x, t_x, T, out)` once per distinct row, where `f` fills `width` outputs, and
    /// returns `width` columns with every customer's values: the many-output form of
    /// [`BtydData::map_unique`], for predictions that share work across outputs.
    pub(crate) fn map_unique_wide(
        &self,
        width: usize,
        f: impl Fn(f64, f64, f64, &mut [f64]) + Sync,
    ) -> Vec<Vec<f64>> {
        let mut columns = vec![Vec::with_capacity(self.len()); width];
        if width == 0 {
            return columns;
        }
        let mut row = vec![0.0; width];
        if self.len() < 64 {
            for i in 0..self.len() {
                f(self.x[i], self.t_x[i], self.age[i], &mut row);
                for (c, v) in columns.iter_mut().zip(&row) {
                    c.push(*v);
                }
            }
            return columns;
        }
        let c = self.compressed();
        let t = &c.table;
        let flat = parallel_fill(t.x.len(), width, |j, out| {
            f(t.x[j], t.t_x[j], t.age[j], out)
        });
        for &j in &c.row_of {
            let values = &flat[j as usize * width..(j as usize + 1) * width];
            for (c, v) in columns.iter_mut().zip(values) {
                c.push(*v);
            }
        }
        columns
    }
}

/// Rows below which one thread does the work: thread start-up costs more than it saves.
const PARALLEL_MIN_ROWS: usize = 4_096;

/// `width` outputs for each of `n` rows, `f(i, out)` filling row i's, in one flat row-major
/// vector, split into contiguous chunks of rows over the machine's cores (the first on the calling
/// thread). The kernels are pure functions of their row, so the result is identical to the
/// sequential one.
pub(crate) fn parallel_fill(
    n: usize,
    width: usize,
    f: impl Fn(usize, &mut [f64]) + Sync,
) -> Vec<f64> {
    let mut out = vec![0.0; n * width];
    if width == 0 {
        return out;
    }
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(n / PARALLEL_MIN_ROWS)
        .max(1);
    let chunk = n.div_ceil(threads).max(1);
    let fill = |first: usize, part: &mut [f64]| {
        for (k, row) in part.chunks_mut(width).enumerate() {
            f(first + k, row);
        }
    };
    if threads == 1 {
        fill(0, &mut out);
        return out;
    }
    std::thread::scope(|scope| {
        let mut parts = out.chunks_mut(chunk * width).enumerate();
        let first = parts.next();
        for (k, part) in parts {
            let fill = &fill;
            scope.spawn(move || fill(k * chunk, part));
        }
        // The calling thread takes a share instead of waiting.
        if let Some((_, part)) = first {
            fill(0, part);
        }
    });
    out
}

/// Checks one customer's (x, t_x, T) and returns t_x, snapped to T when it exceeds T by rounding.
pub(crate) fn validate_row(row: usize, x: f64, t_x: f64, age: f64) -> Result<f64> {
    let bad = |field, value, reason| Error::InvalidInput {
        row,
        field,
        value,
        reason,
    };
    if !x.is_finite() || x < 0.0 || x.fract() != 0.0 {
        return Err(bad(
            "x",
            x,
            "the repeat-purchase count must be a whole number >= 0",
        ));
    }
    if !t_x.is_finite() || t_x < 0.0 {
        return Err(bad("t_x", t_x, "recency must be finite and >= 0"));
    }
    if !age.is_finite() || age < 0.0 {
        return Err(bad("T", age, "customer age must be finite and >= 0"));
    }
    let mut t_x = t_x;
    if t_x > age {
        if t_x - age <= RECENCY_SLACK * age.max(1.0) {
            t_x = age;
        } else {
            return Err(bad(
                "t_x",
                t_x,
                "recency must not exceed the customer's age T",
            ));
        }
    }
    if x == 0.0 && t_x != 0.0 {
        return Err(bad(
            "t_x",
            t_x,
            "a customer without repeat purchases (x = 0) must have t_x = 0",
        ));
    }
    Ok(t_x)
}

/// Customers that share an x value: rows `start..end` of a [`Table`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Group {
    pub x: f64,
    pub start: usize,
    pub end: usize,
    pub weight: f64,
}

/// The compressed (x, t_x, T) table with weights (customer counts), sorted by (x, t_x, T) and
/// grouped by x, so that terms depending on x alone are computed once per group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub age: Vec<f64>,
    pub w: Vec<f64>,
    pub groups: Vec<Group>,
    pub total_weight: f64,
    /// Distinct values of t_x and T together, so that ln(α + ·) is computed once per value.
    pub times: Vec<f64>,
    /// Index of each row's t_x in `times`.
    pub tx_idx: Vec<u32>,
    /// Index of each row's T in `times`.
    pub age_idx: Vec<u32>,
}

impl Table {
    /// Builds the table from rows already sorted by (x, t_x, T); equal rows are merged and
    /// zero-weight rows dropped.
    pub fn from_sorted_rows(rows: impl Iterator<Item = (f64, f64, f64, f64)>) -> Self {
        let mut t = Table {
            x: Vec::new(),
            t_x: Vec::new(),
            age: Vec::new(),
            w: Vec::new(),
            groups: Vec::new(),
            total_weight: 0.0,
            times: Vec::new(),
            tx_idx: Vec::new(),
            age_idx: Vec::new(),
        };
        for (x, tx, age, w) in rows {
            if w <= 0.0 {
                continue;
            }
            let n = t.x.len();
            if n > 0 && t.x[n - 1] == x && t.t_x[n - 1] == tx && t.age[n - 1] == age {
                t.w[n - 1] += w;
            } else {
                t.x.push(x);
                t.t_x.push(tx);
                t.age.push(age);
                t.w.push(w);
            }
        }
        t.regroup();
        t.index_times();
        t
    }

    fn index_times(&mut self) {
        let mut times: Vec<f64> = self.t_x.iter().chain(&self.age).copied().collect();
        times.sort_unstable_by(f64::total_cmp);
        times.dedup();
        let index = |v: &f64| times.partition_point(|t| t < v) as u32;
        self.tx_idx = self.t_x.iter().map(index).collect();
        self.age_idx = self.age.iter().map(index).collect();
        self.times = times;
    }

    fn regroup(&mut self) {
        self.groups.clear();
        self.total_weight = 0.0;
        let mut start = 0;
        for i in 0..self.x.len() {
            self.total_weight += self.w[i];
            let last = i + 1 == self.x.len() || self.x[i + 1] != self.x[i];
            if last {
                let weight = self.w[start..=i].iter().sum();
                self.groups.push(Group {
                    x: self.x[start],
                    start,
                    end: i + 1,
                    weight,
                });
                start = i + 1;
            }
        }
    }

    /// The same rows with new weights (one per row); zero-weight rows are dropped.
    pub fn reweighted(&self, w: &[f64]) -> Self {
        Self::from_sorted_rows(
            (0..self.x.len()).map(|i| (self.x[i], self.t_x[i], self.age[i], w[i])),
        )
    }

    /// A screening subsample (see [`screening_sample`]) with at least one repeat buyer.
    pub fn screening_subsample(&self) -> Option<Self> {
        let rows = screening_sample(&self.w)?;
        let sub = Self::from_sorted_rows(
            rows.into_iter()
                .map(|(i, w)| (self.x[i], self.t_x[i], self.age[i], w)),
        );
        (sub.repeat_weight() > 0.0).then_some(sub)
    }

    /// Weighted mean of x and of T, used to scale starting values.
    pub fn means(&self) -> (f64, f64) {
        let mut sx = 0.0;
        let mut st = 0.0;
        for i in 0..self.x.len() {
            sx += self.w[i] * self.x[i];
            st += self.w[i] * self.age[i];
        }
        (sx / self.total_weight, st / self.total_weight)
    }

    /// Weight of rows with x > 0.
    pub fn repeat_weight(&self) -> f64 {
        self.groups
            .iter()
            .filter(|g| g.x > 0.0)
            .map(|g| g.weight)
            .sum()
    }
}

/// A subsample of weighted rows for screening starting points on large data: rows at least as
/// heavy as 1/2,000 of the total are kept as they are, every k-th of the others is kept with its
/// weight multiplied by k (so the weighted mean stays unbiased). `None` for small tables (up to 6,000
/// rows). Screening only chooses among starts; the winner is then refined on the full table, so a
/// small sample costs no accuracy (the CDNOW master file's 11k rows fit to the same 1e-12).
pub(crate) fn screening_sample(w: &[f64]) -> Option<Vec<(usize, f64)>> {
    const TARGET: usize = 2_000;
    if w.len() <= 3 * TARGET {
        return None;
    }
    let k = w.len() / TARGET;
    let heavy = w.iter().sum::<f64>() / TARGET as f64;
    let mut out = Vec::with_capacity(2 * TARGET);
    let mut light = 0usize;
    for (i, &wi) in w.iter().enumerate() {
        if wi >= heavy {
            out.push((i, wi));
        } else {
            if light.is_multiple_of(k) {
                out.push((i, wi * k as f64));
            }
            light += 1;
        }
    }
    Some(out)
}

/// Draws how many times each row is picked when `n` customers are resampled with replacement,
/// row *i* having probability `w_i / Σw` (a multinomial draw by sequential binomials).
pub(crate) fn multinomial_counts<R: Rng>(w: &[f64], rng: &mut R) -> Vec<f64> {
    let total: f64 = w.iter().sum();
    let mut n_left = total.round().max(0.0) as u64;
    let mut mass_left = total;
    let mut out = vec![0.0; w.len()];
    for (i, &wi) in w.iter().enumerate() {
        if n_left == 0 {
            break;
        }
        if i + 1 == w.len() || mass_left <= wi {
            out[i] = n_left as f64;
            break;
        }
        let p = (wi / mass_left).clamp(0.0, 1.0);
        let k = match Binomial::new(n_left, p) {
            Ok(b) => b.sample(rng),
            Err(_) => 0,
        };
        out[i] = k as f64;
        n_left -= k;
        mass_left -= wi;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn validation_names_the_offending_row() {
        let err = BtydData::from_slices(&[1.0, 2.0], &[1.0, f64::NAN], &[3.0, 3.0]);
        assert!(matches!(
            err,
            Err(Error::InvalidInput {
                row: 1,
                field: "t_x",
                ..
            })
        ));
        let err = BtydData::from_slices(&[1.0, -1.0], &[1.0, 0.0], &[3.0, 3.0]);
        assert!(matches!(
            err,
            Err(Error::InvalidInput {
                row: 1,
                field: "x",
                ..
            })
        ));
        let err = BtydData::from_slices(&[1.5], &[1.0], &[3.0]);
        assert!(matches!(
            err,
            Err(Error::InvalidInput {
                row: 0,
                field: "x",
                ..
            })
        ));
        let err = BtydData::from_slices(&[1.0], &[4.0], &[3.0]);
        assert!(matches!(
            err,
            Err(Error::InvalidInput {
                row: 0,
                field: "t_x",
                ..
            })
        ));
        let err = BtydData::from_slices(&[0.0], &[1.0], &[3.0]);
        assert!(matches!(
            err,
            Err(Error::InvalidInput {
                row: 0,
                field: "t_x",
                ..
            })
        ));
        let err = BtydData::from_slices(&[], &[], &[]);
        assert!(matches!(err, Err(Error::Empty { .. })));
        let err = BtydData::from_slices(&[1.0], &[1.0, 2.0], &[3.0]);
        assert!(matches!(err, Err(Error::LengthMismatch { .. })));
        let msg = BtydData::from_slices(&[1.0], &[1.0], &[-3.0])
            .expect_err("negative age")
            .to_string();
        assert!(msg.contains("row 0") && msg.contains("T = -3"), "{msg}");
    }

    #[test]
    fn compression_merges_equal_rows_and_groups_by_x() {
        let d = BtydData::from_slices(
            &[2.0, 0.0, 2.0, 1.0, 0.0],
            &[5.0, 0.0, 5.0, 1.0, 0.0],
            &[9.0, 9.0, 9.0, 9.0, 8.0],
        )
        .expect("valid");
        let t = d.table();
        assert_eq!(t.x, vec![0.0, 0.0, 1.0, 2.0]);
        assert_eq!(t.w, vec![1.0, 1.0, 1.0, 2.0]);
        assert_eq!(t.groups.len(), 3);
        assert_eq!(t.groups[0].weight, 2.0);
        assert_eq!(t.total_weight, 5.0);
        assert_eq!(t.repeat_weight(), 3.0);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let out = d.map_unique(|x, _, _| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            x * 10.0
        });
        assert_eq!(out, vec![20.0, 0.0, 20.0, 10.0, 0.0]);
        assert!(calls.into_inner() <= 5);
        let seq: Vec<f64> = (0..100_000).map(|i| (i as f64).sqrt()).collect();
        assert_eq!(
            parallel_fill(100_000, 1, |i, out| out[0] = (i as f64).sqrt()),
            seq
        );
    }

    #[test]
    fn screening_sample_keeps_heavy_rows_and_the_total_weight() {
        assert!(screening_sample(&[1.0; 100]).is_none());
        let mut w = vec![1.0; 100_000];
        w[7] = 50_000.0;
        let sample = screening_sample(&w).expect("large table");
        assert!(sample.iter().any(|&(i, wi)| i == 7 && wi == 50_000.0));
        let total: f64 = sample.iter().map(|s| s.1).sum();
        let want: f64 = w.iter().sum();
        assert!((total / want - 1.0).abs() < 1e-3, "{total} vs {want}");
        assert!(sample.len() < 2_500);
    }

    #[test]
    fn multinomial_preserves_the_total_and_is_seeded() {
        let w = [3.0, 0.0, 10.0, 1.0, 6.0];
        let a = multinomial_counts(&w, &mut ChaCha8Rng::seed_from_u64(7));
        let b = multinomial_counts(&w, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
        assert_eq!(a.iter().sum::<f64>(), 20.0);
        assert_eq!(a[1], 0.0);
    }
}
