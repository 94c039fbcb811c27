//! Pareto/NBD: Poisson purchasing with exponential lifetimes (Schmittlein, Morrison & Colombo
//! 1987), rates λ ~ Gamma(r, α) and dropout rates μ ~ Gamma(s, β).
//!
//! The likelihood follows Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and
//! Related Expressions", brucehardie.com note 009 (FH-note below), section 3:
//!
//! L = Γ(r+x) α^r β^s / Γ(r) · [ 1/((α+T)^{r+x} (β+T)^s) + s · I ],
//! I = ∫_{t_x}^{T} (α+τ)^{−(r+x)} (β+τ)^{−(s+1)} dτ = A₀ / (r+s+x),
//!
//! where A₀ is the note's difference of two ₂F₁ terms (its eq. for A₀, cases α ≥ β and α < β). Here I is computed in log space: as that
//! ₂F₁ difference after Euler's transformation (every series term positive, no overflow for any
//! x) when the series converges fast, and otherwise by Gauss–Legendre quadrature in
//! u = ln(min(α,β)+τ), where the log-integrand is concave. At t_x = T, I = 0 exactly.

use serde::{Deserialize, Serialize};

use crate::data::{BtydData, Table};
use crate::error::{Error, Result};
use crate::fit::{
    self, check_customer, check_positive, check_time, fit_log_params, FitDiagnostics, Spec,
};
use crate::optim::{numeric_gradient, Objective};
use crate::purchase::PurchaseModel;
use crate::special::{ln_add_exp, ln_gamma, one_minus_exp_over, sigmoid, GL10_NODES, GL10_WEIGHTS};

const MODEL: &str = "pareto/nbd";
const NAMES: &[&str] = &["r", "alpha", "s", "beta"];

/// Settings for fitting a Pareto/NBD model by maximum likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParetoNbdParams {
    /// L2 penalty c·(r² + α² + s² + β²) added to the mean negative log-likelihood, as in
    /// lifetimes' `penalizer_coef`; 0 gives the plain MLE.
    pub penalizer_coef: f64,
    /// Most BFGS iterations per start.
    pub max_iter: usize,
    /// Gradient tolerance (largest component, mean objective, log-parameters).
    pub tol: f64,
    /// Number of deterministic starting points tried (1–4).
    pub n_starts: usize,
}

impl Default for ParetoNbdParams {
    fn default() -> Self {
        Self {
            penalizer_coef: 0.0,
            max_iter: 500,
            tol: 1e-8,
            n_starts: 3,
        }
    }
}

/// A fitted Pareto/NBD model: (r, α, s, β) and how the fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdFitted {
    r: f64,
    alpha: f64,
    s: f64,
    beta: f64,
    diagnostics: FitDiagnostics,
}

impl ParetoNbdParams {
    /// Fits (r, α, s, β) to the customers in `data`.
    ///
    /// The gradient is numerical (central differences), since the derivatives of the ₂F₁ terms
    /// in the shape parameters have no cheap closed form; each iteration therefore costs about
    /// nine likelihood evaluations, against one for BG/NBD.
    pub fn fit(&self, data: &BtydData) -> Result<ParetoNbdFitted> {
        fit::check_settings(self.penalizer_coef, self.tol)?;
        let table = data.table();
        if table.repeat_weight() <= 0.0 {
            return Err(Error::NoRepeatBuyers {
                model: MODEL,
                n_customers: data.len(),
            });
        }
        let starts = starting_points(table, self.n_starts);
        let coef = self.penalizer_coef;
        let mut objective = mean_objective(table, coef);
        let sub = table.screening_subsample();
        let mut screen = sub.as_ref().map(|t| mean_objective(t, coef));
        let w_total = table.total_weight;
        let spec = Spec {
            model: MODEL,
            names: NAMES,
            starts: &starts,
            max_iter: self.max_iter,
            tol: self.tol,
            hessian_step: 1e-4,
            numeric_gradient: true,
            total_weight: w_total,
            n_unique_rows: table.x.len(),
        };
        let (phi, mut diagnostics) = fit_log_params(
            &spec,
            &mut objective,
            screen.as_mut().map(|s| s as &mut Objective<'_>),
        )?;
        let (r, alpha, s, beta) = (phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp());
        diagnostics.log_likelihood = log_likelihood(table, r, alpha, s, beta);
        Ok(ParetoNbdFitted {
            r,
            alpha,
            s,
            beta,
            diagnostics,
        })
    }
}

/// The mean penalized negative log-likelihood in log-parameters, with a central-difference
/// gradient.
fn mean_objective(table: &Table, coef: f64) -> impl FnMut(&[f64], &mut [f64]) -> f64 + '_ {
    let w_total = table.total_weight;
    let value = move |phi: &[f64]| -> f64 {
        let (r, alpha, s, beta) = (phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp());
        let ll = log_likelihood(table, r, alpha, s, beta);
        let mut unused = [0.0; 4];
        -ll / w_total + fit::penalty(coef, phi, &mut unused)
    };
    move |phi: &[f64], grad: &mut [f64]| -> f64 {
        if !grad.is_empty() {
            let mut v = value;
            numeric_gradient(&mut v, phi, grad, 1e-5);
        }
        value(phi)
    }
}

fn starting_points(table: &Table, n_starts: usize) -> Vec<Vec<f64>> {
    let (mean_x, mean_t) = table.means();
    let rate = (mean_x.max(1e-3) / mean_t.max(1e-9)).clamp(1e-8, 1e8);
    let span = mean_t.max(1e-6);
    let candidates = [
        [1.0, 1.0 / rate, 1.0, span],
        [0.5, 0.5 / rate, 0.5, 0.5 * span],
        [1.0, 1.0, 1.0, 1.0],
        [2.0, 2.0 / rate, 2.0, 2.0 * span],
    ];
    candidates
        .iter()
        .take(n_starts.clamp(1, candidates.len()))
        .map(|c| c.iter().map(|v| v.ln().clamp(-20.0, 20.0)).collect())
        .collect()
}

/// The integral I of FH-note section 3 for one x: ∫ (α+τ)^{−(r+x)} (β+τ)^{−(s+1)} dτ, written as
/// ∫ (M+τ)^{−e_M} (m+τ)^{−e_m} dτ with M = max(α, β), m = min(α, β).
struct Integral {
    big: f64,
    small: f64,
    e_big: f64,
    e_small: f64,
    /// r + s + x = e_M + e_m − 1.
    a: f64,
}

/// Above this z the ₂F₁ series is replaced by quadrature.
const Z_SERIES_MAX: f64 = 0.95;

impl Integral {
    fn new(r: f64, alpha: f64, s: f64, beta: f64, x: f64) -> Self {
        let (big, small, e_big, e_small) = if alpha >= beta {
            (alpha, beta, r + x, s + 1.0)
        } else {
            (beta, alpha, s + 1.0, r + x)
        };
        Self {
            big,
            small,
            e_big,
            e_small,
            a: r + s + x,
        }
    }

    /// ln I over [t0, t1]; −∞ when the interval is empty.
    fn ln_integral(&self, t0: f64, t1: f64) -> f64 {
        self.ln_integral_with(t0, t1, (self.big + t0).ln(), (self.small + t0).ln())
    }

    /// ln I over [t0, t1] given ln(M + t0) and ln(m + t0).
    ///
    /// With G(τ) = ∫_τ^∞ (integrand) = (M+τ)^{−A} ₂F₁(A, e_m; A+1; z) / A, z = (M−m)/(M+τ)
    /// (the terms of A₀ in FH-note section 3), Euler's transformation (A&S 15.3.3) gives
    /// ₂F₁(A, e_m; A+1; z) = (1−z)^{1−e_m} S(z) with S(z) = Σ_k (e_M)_k/(A+1)_k z^k, every term
    /// positive, so ln G(τ) = −e_M ln(M+τ) + (1−e_m) ln(m+τ) − ln A + ln S(z). Then
    /// I = G(t0) − G(t1) = G(t0)·(1 − e^{Δ}), with Δ = ln G(t1) − ln G(t0) assembled from
    /// ln1p terms and from S(z1) − S(z0) = Σ_k c_k (z1^k − z0^k), each difference built by
    /// recurrence from z1 − z0, so that short intervals lose no precision to cancellation.
    /// For z0 > 0.95 the series is slow and quadrature is used instead.
    fn ln_integral_with(&self, t0: f64, t1: f64, ln_big0: f64, ln_small0: f64) -> f64 {
        if t1.is_nan() || t1 <= t0 {
            return f64::NEG_INFINITY;
        }
        let gap = t1 - t0;
        let spread = self.big - self.small;
        let z0 = spread / (self.big + t0);
        if z0 > Z_SERIES_MAX {
            return self.quadrature(t0, (gap / (self.small + t0)).ln_1p());
        }
        let z1 = spread / (self.big + t1);
        let dz = -spread * gap / ((self.big + t1) * (self.big + t0));
        let (mut c, mut z0k, mut dk) = (1.0, 1.0, 0.0);
        let (mut s0, mut ds) = (1.0, 0.0);
        if z0 > 0.0 {
            let tail = z0 / (1.0 - z0);
            for k in 0..4000 {
                let kf = f64::from(k);
                c *= (self.e_big + kf) / (self.a + 1.0 + kf);
                dk = z1 * dk + z0k * dz;
                z0k *= z0;
                let term = c * z0k;
                s0 += term;
                ds += c * dk;
                if term * tail <= 1e-17 * s0 && (c * dk).abs() * tail <= 1e-17 * ds.abs() {
                    break;
                }
            }
        }
        let delta = -self.e_big * (gap / (self.big + t0)).ln_1p()
            + (1.0 - self.e_small) * (gap / (self.small + t0)).ln_1p()
            + (ds / s0).ln_1p();
        let ln_g0 =
            -self.e_big * ln_big0 + (1.0 - self.e_small) * ln_small0 - self.a.ln() + s0.ln();
        ln_g0 + (-delta.min(-f64::MIN_POSITIVE).exp_m1()).ln()
    }

    /// ln of the integrand in u = ln(m+τ), including the Jacobian e^u.
    fn ln_integrand(&self, u: f64) -> f64 {
        (1.0 - self.e_small) * u - self.e_big * ((self.big - self.small) + u.exp()).ln()
    }

    /// Composite 10-point Gauss–Legendre in u, panels narrow enough that the log-integrand
    /// varies by at most about 2 across each; panels more than e^60 below the peak are skipped.
    fn quadrature(&self, t0: f64, du: f64) -> f64 {
        let u0 = (self.small + t0).ln();
        let u1 = u0 + du;
        // ℓ'(u) = (1 − e_m) − e_M e^u / (M − m + e^u) decreases in u (ℓ is concave), so the
        // steepest slope on the interval is at one of its ends.
        let d_ln = |u: f64| {
            let eu = u.exp();
            (1.0 - self.e_small) - self.e_big * eu / ((self.big - self.small) + eu)
        };
        let slope = d_ln(u0).abs().max(d_ln(u1).abs()).max(1e-3);
        // The log-integrand is concave; its maximum on [u0, u1] is at the clamped stationary point.
        let mode = if self.e_small < 1.0 && self.big > self.small {
            ((1.0 - self.e_small) * (self.big - self.small) / self.a)
                .ln()
                .clamp(u0, u1)
        } else {
            u0
        };
        let peak = self.ln_integrand(mode);
        const DROP: f64 = 60.0;
        // Restrict to where the integrand is within e^-DROP of its peak (bisection on each side).
        let (mut lo, mut hi) = (u0, u1);
        if slope * du > 2.0 * DROP {
            if self.ln_integrand(u0) < peak - DROP {
                let (mut a, mut b) = (u0, mode);
                for _ in 0..60 {
                    let m = 0.5 * (a + b);
                    if self.ln_integrand(m) < peak - DROP {
                        a = m;
                    } else {
                        b = m;
                    }
                }
                lo = a;
            }
            if self.ln_integrand(u1) < peak - DROP {
                let (mut a, mut b) = (mode, u1);
                for _ in 0..60 {
                    let m = 0.5 * (a + b);
                    if self.ln_integrand(m) < peak - DROP {
                        b = m;
                    } else {
                        a = m;
                    }
                }
                hi = b;
            }
        }
        // Keep du itself when the range was not narrowed: (u0 + du) − u0 would lose the digits
        // of a short interval to rounding.
        let width = if lo == u0 && hi == u1 { du } else { hi - lo };
        if width.is_nan() || width <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let slope = d_ln(lo).abs().max(d_ln(hi).abs()).max(1e-3);
        let n_panels = ((slope * width / 2.0).ceil() as usize).clamp(1, 4096);
        let h = width / n_panels as f64;
        let mut sum = 0.0;
        for p in 0..n_panels {
            let pa = lo + h * p as f64;
            let pb = pa + h;
            let panel_max = if pb < mode {
                self.ln_integrand(pb)
            } else if pa > mode {
                self.ln_integrand(pa)
            } else {
                peak
            };
            if panel_max < peak - DROP {
                continue;
            }
            let mid = 0.5 * (pa + pb);
            let half = 0.5 * h;
            for (node, weight) in GL10_NODES.iter().zip(GL10_WEIGHTS) {
                sum += weight * (self.ln_integrand(mid - half * node) - peak).exp();
                sum += weight * (self.ln_integrand(mid + half * node) - peak).exp();
            }
        }
        if sum > 0.0 {
            peak + (sum * 0.5 * h).ln()
        } else {
            f64::NEG_INFINITY
        }
    }
}

/// The two log terms of the likelihood's bracket (FH-note section 3) for one customer:
/// B1 = −(r+x) ln(α+T) − s ln(β+T) (alive at T) and B2 = ln s + ln I (died in (t_x, T]).
fn bracket_terms(r: f64, alpha: f64, s: f64, beta: f64, x: f64, t_x: f64, age: f64) -> (f64, f64) {
    let b1 = -(r + x) * (alpha + age).ln() - s * (beta + age).ln();
    let b2 = s.ln() + Integral::new(r, alpha, s, beta, x).ln_integral(t_x, age);
    (b1, b2)
}

/// Total log-likelihood over the compressed table (FH-note section 3).
pub(crate) fn log_likelihood(table: &Table, r: f64, alpha: f64, s: f64, beta: f64) -> f64 {
    let lg_r = ln_gamma(r);
    let ln_alpha = alpha.ln();
    let ln_beta = beta.ln();
    let ln_s = s.ln();
    // ln(α + τ) and ln(β + τ) once per distinct time; rows index into these.
    let ln_at: Vec<f64> = table.times.iter().map(|t| (alpha + t).ln()).collect();
    let ln_bt: Vec<f64> = table.times.iter().map(|t| (beta + t).ln()).collect();
    let (ln_big, ln_small) = if alpha >= beta {
        (&ln_at, &ln_bt)
    } else {
        (&ln_bt, &ln_at)
    };
    let mut ll = 0.0;
    for grp in &table.groups {
        let x = grp.x;
        let a1 = ln_gamma(r + x) - lg_r + r * ln_alpha + s * ln_beta;
        ll += grp.weight * a1;
        let integral = Integral::new(r, alpha, s, beta, x);
        let mut sum = 0.0;
        for i in grp.start..grp.end {
            let (ka, kt) = (table.age_idx[i] as usize, table.tx_idx[i] as usize);
            let b1 = -(r + x) * ln_at[ka] - s * ln_bt[ka];
            let ln_i =
                integral.ln_integral_with(table.t_x[i], table.age[i], ln_big[kt], ln_small[kt]);
            sum += table.w[i] * ln_add_exp(b1, ln_s + ln_i);
        }
        ll += sum;
    }
    ll
}

impl ParetoNbdFitted {
    /// A model with the given parameters (for instance published ones); the diagnostics are
    /// empty. Errors unless every parameter is finite and positive.
    pub fn from_parameters(r: f64, alpha: f64, s: f64, beta: f64) -> Result<Self> {
        for (name, v) in NAMES.iter().zip([r, alpha, s, beta]) {
            check_positive(name, v)?;
        }
        Ok(Self {
            r,
            alpha,
            s,
            beta,
            diagnostics: FitDiagnostics {
                log_likelihood: 0.0,
                objective: 0.0,
                gradient_norm: 0.0,
                iterations: 0,
                converged: true,
                hessian_positive_definite: true,
                parameter_names: NAMES.iter().map(|s| s.to_string()).collect(),
                standard_errors: None,
                n_customers: 0,
                n_unique_rows: 0,
                n_starts: 0,
                warnings: vec!["parameters supplied by hand, not fitted".into()],
            },
        })
    }

    /// Shape r of the Gamma prior on the purchase rate λ.
    pub fn r(&self) -> f64 {
        self.r
    }

    /// Scale α of the Gamma prior on λ.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Shape s of the Gamma prior on the dropout rate μ.
    pub fn s(&self) -> f64 {
        self.s
    }

    /// Scale β of the Gamma prior on μ.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// How the fit went.
    pub fn diagnostics(&self) -> &FitDiagnostics {
        &self.diagnostics
    }

    /// Total log-likelihood of `data` (FH-note section 3).
    pub fn log_likelihood(&self, data: &BtydData) -> f64 {
        log_likelihood(data.table(), self.r, self.alpha, self.s, self.beta)
    }

    /// P(alive) for every customer in `data`.
    pub fn predict_probability_alive(&self, data: &BtydData) -> Vec<f64> {
        data.map_unique(|x, tx, age| self.p_alive_unchecked(x, tx, age))
    }

    /// E[Y(t) | x, t_x, T] for every customer in `data`.
    pub fn predict_conditional_expected_purchases(
        &self,
        data: &BtydData,
        t: f64,
    ) -> Result<Vec<f64>> {
        check_time("t", t)?;
        Ok(data.map_unique(|x, tx, age| self.conditional_unchecked(t, x, tx, age)))
    }

    /// FH-note section 5: P(alive) = e^{B1} / (e^{B1} + e^{B2}).
    pub(crate) fn p_alive_unchecked(&self, x: f64, t_x: f64, age: f64) -> f64 {
        let (b1, b2) = bracket_terms(self.r, self.alpha, self.s, self.beta, x, t_x, age);
        if b2 == f64::NEG_INFINITY {
            return 1.0;
        }
        sigmoid(b1 - b2)
    }

    /// FH-note section 6: E[Y(t) | ·] = (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^{s−1}]
    /// · P(alive), with the bracket over (s−1) evaluated stably through s = 1.
    pub(crate) fn conditional_unchecked(&self, t: f64, x: f64, t_x: f64, age: f64) -> f64 {
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        let (r, alpha, s, beta) = (self.r, self.alpha, self.s, self.beta);
        let v = (r + x) * (beta + age) / (alpha + age)
            * one_minus_exp_over(s - 1.0, (t / (beta + age)).ln_1p())
            * self.p_alive_unchecked(x, t_x, age);
        if v.is_finite() {
            v.max(0.0)
        } else {
            f64::MAX
        }
    }
}

impl PurchaseModel for ParetoNbdFitted {
    fn model_name(&self) -> &'static str {
        MODEL
    }

    /// FH-note section 4: E[X(t)] = rβ / (α(s−1)) · [1 − (β/(β+t))^{s−1}].
    fn expected_purchases(&self, t: f64) -> Result<f64> {
        check_time("t", t)?;
        let v = self.r * self.beta / self.alpha
            * one_minus_exp_over(self.s - 1.0, (t / self.beta).ln_1p());
        Ok(if v.is_finite() { v.max(0.0) } else { f64::MAX })
    }

    fn conditional_expected_purchases(&self, t: f64, x: f64, t_x: f64, age: f64) -> Result<f64> {
        check_time("t", t)?;
        let t_x = check_customer(x, t_x, age)?;
        Ok(self.conditional_unchecked(t, x, t_x, age))
    }

    fn probability_alive(&self, x: f64, t_x: f64, age: f64) -> Result<f64> {
        let t_x = check_customer(x, t_x, age)?;
        Ok(self.p_alive_unchecked(x, t_x, age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plain composite Simpson on a fine grid, for comparison.
    fn naive_integral(r: f64, alpha: f64, s: f64, beta: f64, x: f64, t0: f64, t1: f64) -> f64 {
        let n = 200_000;
        let h = (t1 - t0) / n as f64;
        let f = |t: f64| (alpha + t).powf(-(r + x)) * (beta + t).powf(-(s + 1.0));
        let mut acc = f(t0) + f(t1);
        for i in 1..n {
            acc += f(t0 + h * i as f64) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        acc * h / 3.0
    }

    #[test]
    fn series_and_quadrature_match_simpson() {
        for &(r, alpha, s, beta, x, t0, t1) in &[
            (0.55, 10.58, 0.61, 11.67, 0.0, 0.0, 38.0),
            (0.55, 10.58, 0.61, 11.67, 3.0, 20.0, 38.0),
            (0.55, 10.58, 0.61, 11.67, 3.0, 37.9, 38.0),
            (0.55, 0.1, 0.61, 40.0, 1.0, 0.0, 30.0),
            (2.0, 60.0, 0.3, 0.05, 2.0, 0.0, 30.0),
            (0.8, 5.0, 1.5, 5.0, 6.0, 3.0, 9.0),
        ] {
            let got = Integral::new(r, alpha, s, beta, x)
                .ln_integral(t0, t1)
                .exp();
            let want = naive_integral(r, alpha, s, beta, x, t0, t1);
            assert!(
                (got - want).abs() <= 1e-8 * want,
                "{r} {alpha} {s} {beta} {x} [{t0}, {t1}]: {got} vs {want}"
            );
        }
    }

    #[test]
    fn methods_agree_where_both_apply() {
        for &(x, t0, t1) in &[
            (4.0, 5.0, 30.0),
            (0.0, 0.0, 38.0),
            (30.0, 37.0, 37.5),
            (2.0, 20.0, 20.001),
        ] {
            for &(alpha, beta) in &[(10.58, 11.67), (11.67, 10.58), (3.0, 40.0)] {
                let ig = Integral::new(0.55, alpha, 0.61, beta, x);
                let du = ((t1 - t0) / (ig.small + t0)).ln_1p();
                let series = ig.ln_integral(t0, t1);
                let quad = ig.quadrature(t0, du);
                assert!(
                    (series - quad).abs() < 1e-12,
                    "{x} [{t0}, {t1}] {alpha} {beta}: {series} vs {quad}"
                );
            }
        }
    }

    #[test]
    fn huge_x_stays_finite_and_monotone() {
        // Regression: naive ₂F₁ evaluation overflows near x ≈ 130 at t_x = T = 200.
        let m = ParetoNbdFitted::from_parameters(0.5534, 10.5802, 0.6061, 11.6562).expect("valid");
        let e132 = m
            .conditional_expected_purchases(52.0, 132.0, 200.0, 200.0)
            .expect("valid");
        let e133 = m
            .conditional_expected_purchases(52.0, 133.0, 200.0, 200.0)
            .expect("valid");
        assert!(
            e132.is_finite() && e133.is_finite() && e133 > e132,
            "{e132} {e133}"
        );
        let e132 = m
            .conditional_expected_purchases(52.0, 132.0, 150.0, 200.0)
            .expect("valid");
        let e133 = m
            .conditional_expected_purchases(52.0, 133.0, 150.0, 200.0)
            .expect("valid");
        assert!(e132.is_finite() && e133.is_finite(), "{e132} {e133}");
        for x in [132.0, 133.0, 5000.0] {
            let d = BtydData::from_slices(&[x], &[200.0], &[200.0]).expect("valid");
            assert!(m.log_likelihood(&d).is_finite());
            let d = BtydData::from_slices(&[x], &[100.0], &[200.0]).expect("valid");
            assert!(m.log_likelihood(&d).is_finite());
        }
    }

    #[test]
    fn one_time_buyers_only_is_a_clear_error() {
        let d = BtydData::from_slices(&[0.0], &[0.0], &[5.0]).expect("valid");
        let err = ParetoNbdParams::default()
            .fit(&d)
            .expect_err("not identified");
        assert!(matches!(err, Error::NoRepeatBuyers { .. }));
    }

    #[test]
    fn degenerate_data_fits_with_warnings() {
        // One customer, and a customer whose last purchase is at T.
        let d = BtydData::from_slices(&[4.0], &[20.0], &[20.0]).expect("valid");
        let m = ParetoNbdParams::default().fit(&d).expect("fits");
        assert!(m.diagnostics().log_likelihood.is_finite());
        assert!(!m.diagnostics().warnings.is_empty());
        let e = m
            .conditional_expected_purchases(10.0, 4.0, 20.0, 20.0)
            .expect("valid");
        assert!(e.is_finite() && e >= 0.0);
        let p = m.probability_alive(4.0, 2.0, 20.0).expect("valid");
        assert!((0.0..=1.0).contains(&p));
    }

    proptest! {
        #[test]
        fn log_likelihood_is_finite_and_p_alive_in_unit_interval(
            x in 0u32..5000,
            frac in 0.0f64..=1.0,
            age in 0.0f64..1000.0,
            r in 0.01f64..20.0,
            alpha in 0.01f64..100.0,
            s in 0.01f64..20.0,
            beta in 0.01f64..100.0,
        ) {
            let xf = f64::from(x);
            let tx = if x == 0 { 0.0 } else { frac * age };
            let m = ParetoNbdFitted::from_parameters(r, alpha, s, beta).expect("valid");
            let d = BtydData::from_slices(&[xf], &[tx], &[age]).expect("valid");
            prop_assert!(m.log_likelihood(&d).is_finite());
            let p = m.probability_alive(xf, tx, age).expect("valid");
            prop_assert!((0.0..=1.0).contains(&p));
            let e = m.conditional_expected_purchases(52.0, xf, tx, age).expect("valid");
            prop_assert!(e.is_finite() && e >= 0.0);
        }
    }
}
