//! BG/NBD: the beta-geometric / negative-binomial model of repeat buying.
//!
//! Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An Alternative to the
//! Pareto/NBD Model", *Marketing Science* 24(2), 275–284 (FHL below). While alive a customer buys
//! as a Poisson process with rate λ ~ Gamma(r, α); after every purchase she drops out with
//! probability p ~ Beta(a, b).
//!
//! The log-likelihood is evaluated in log space as in Hardie's note 027 ("Overcoming the BG/NBD
//! model's #NUM! error problem"), so arbitrarily large x cannot overflow, and summed over the
//! compressed (x, t_x, T) table; terms that depend on x alone are computed once per x.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bootstrap::{self, BootstrapParams, BootstrapResult};
use crate::data::{multinomial_counts, BtydData, Table};
use crate::error::{Error, Result};
use crate::fit::{
    self, check_customer, check_positive, check_time, fit_log_params, FitDiagnostics, Spec,
};
use crate::optim::Objective;
use crate::purchase::PurchaseModel;
use crate::special::{digamma, expm1_over, ln_gamma, sigmoid};

const MODEL: &str = "bg/nbd";
const NAMES: &[&str] = &["r", "alpha", "a", "b"];

/// Settings for fitting a BG/NBD model by maximum likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BgNbdParams {
    /// L2 penalty c·(r² + α² + a² + b²) added to the mean negative log-likelihood, as in
    /// lifetimes' `penalizer_coef`; 0 gives the plain MLE.
    pub penalizer_coef: f64,
    /// Most BFGS iterations per start.
    pub max_iter: usize,
    /// Gradient tolerance (largest component, mean objective, log-parameters).
    pub tol: f64,
    /// Number of deterministic starting points tried (1–4); the best optimum wins.
    pub n_starts: usize,
}

impl Default for BgNbdParams {
    fn default() -> Self {
        Self {
            penalizer_coef: 0.0,
            max_iter: 500,
            tol: 1e-9,
            n_starts: 3,
        }
    }
}

/// A fitted BG/NBD model: the parameters (r, α, a, b) and how the fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFitted {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    diagnostics: FitDiagnostics,
}

impl BgNbdParams {
    /// Fits (r, α, a, b) to the customers in `data`.
    ///
    /// Errors when nobody made a repeat purchase (the model is not identified), when the
    /// settings are invalid, or when no start gives a finite likelihood.
    pub fn fit(&self, data: &BtydData) -> Result<BgNbdFitted> {
        self.fit_table(data.table(), None)
    }

    pub(crate) fn fit_table(&self, table: &Table, warm: Option<[f64; 4]>) -> Result<BgNbdFitted> {
        fit::check_settings(self.penalizer_coef, self.tol)?;
        if table.repeat_weight() <= 0.0 {
            return Err(Error::NoRepeatBuyers {
                model: MODEL,
                n_customers: table.total_weight.round() as usize,
            });
        }
        let starts: Vec<Vec<f64>> = match warm {
            Some(p) => vec![p.iter().map(|v| v.ln()).collect()],
            None => starting_points(table, self.n_starts),
        };
        let coef = self.penalizer_coef;
        let mut objective = mean_objective(table, coef);
        let sub = warm
            .is_none()
            .then(|| table.screening_subsample())
            .flatten();
        let mut screen = sub.as_ref().map(|t| mean_objective(t, coef));
        let w_total = table.total_weight;
        let spec = Spec {
            model: MODEL,
            names: NAMES,
            starts: &starts,
            max_iter: self.max_iter,
            tol: self.tol,
            hessian_step: 1e-4,
            numeric_gradient: false,
            total_weight: w_total,
            n_unique_rows: table.x.len(),
        };
        let (phi, mut diagnostics) = fit_log_params(
            &spec,
            &mut objective,
            screen.as_mut().map(|s| s as &mut Objective<'_>),
        )?;
        let (r, alpha, a, b) = (phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp());
        diagnostics.log_likelihood = log_likelihood_and_gradient(table, r, alpha, a, b).0;
        Ok(BgNbdFitted {
            r,
            alpha,
            a,
            b,
            diagnostics,
        })
    }

    /// Bootstrap-over-customers interval for E[Y(t) | x, t_x, T] of every customer in `query`,
    /// refitting on resamples of `data` (see [`crate::BootstrapParams`]).
    pub fn bootstrap_conditional_expected_purchases(
        &self,
        data: &BtydData,
        query: &BtydData,
        t: f64,
        boot: &BootstrapParams,
    ) -> Result<BootstrapResult> {
        check_time("t", t)?;
        boot.validate()?;
        let table = data.table();
        let full = self.fit_table(table, None)?;
        let predict =
            |m: &BgNbdFitted| query.map_unique(|x, tx, age| m.conditional_unchecked(t, x, tx, age));
        let estimates = predict(&full);
        let warm = [full.r, full.alpha, full.a, full.b];
        let mut rng = ChaCha8Rng::seed_from_u64(boot.seed);
        let mut replicates = Vec::with_capacity(boot.n_resamples);
        let mut n_failed = 0;
        for _ in 0..boot.n_resamples {
            let w = multinomial_counts(&table.w, &mut rng);
            match self.fit_table(&table.reweighted(&w), Some(warm)) {
                Ok(m) => replicates.push(predict(&m)),
                Err(_) => n_failed += 1,
            }
        }
        if replicates.is_empty() {
            return Err(Error::FitFailed {
                model: MODEL,
                reason: format!("all {} bootstrap refits failed", boot.n_resamples),
            });
        }
        Ok(bootstrap::collect(
            &estimates,
            &replicates,
            boot.confidence,
            n_failed,
        ))
    }
}

/// The mean penalized negative log-likelihood in log-parameters, with its gradient.
fn mean_objective(table: &Table, coef: f64) -> impl FnMut(&[f64], &mut [f64]) -> f64 + '_ {
    let w_total = table.total_weight;
    move |phi: &[f64], grad: &mut [f64]| -> f64 {
        let th = [phi[0].exp(), phi[1].exp(), phi[2].exp(), phi[3].exp()];
        let (ll, g) = log_likelihood_and_gradient(table, th[0], th[1], th[2], th[3]);
        for (i, gi) in grad.iter_mut().enumerate() {
            *gi = -th[i] * g[i] / w_total;
        }
        -ll / w_total + fit::penalty(coef, phi, grad)
    }
}

/// Deterministic starts on the log scale, with α scaled to the data's time unit.
fn starting_points(table: &Table, n_starts: usize) -> Vec<Vec<f64>> {
    let (mean_x, mean_t) = table.means();
    // Purchase rate of the average customer, E[λ] = r/α, sets the scale of α.
    let rate = (mean_x.max(1e-3) / mean_t.max(1e-9)).clamp(1e-8, 1e8);
    let candidates = [
        [1.0, 1.0 / rate, 1.0, 1.0],
        [0.5, 0.5 / rate, 0.5, 2.0],
        [1.0, 1.0, 1.0, 1.0],
        [2.0, 2.0 / rate, 2.0, 6.0],
    ];
    candidates
        .iter()
        .take(n_starts.clamp(1, candidates.len()))
        .map(|c| c.iter().map(|v| v.ln().clamp(-20.0, 20.0)).collect())
        .collect()
}

/// Total log-likelihood (FHL eq. 6, in the log form of Hardie's note 027) and its gradient with
/// respect to (r, α, a, b).
///
/// ln L_i = A1 + A2 + ln(e^{A3} + δ_{x>0} e^{A4}) with
/// A1 = ln Γ(r+x) − ln Γ(r) + r ln α, A2 = ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x),
/// A3 = −(r+x) ln(α+T), A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x).
pub(crate) fn log_likelihood_and_gradient(
    table: &Table,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
) -> (f64, [f64; 4]) {
    let ln_alpha = alpha.ln();
    // ln(α + τ) and 1/(α + τ) once per distinct time; rows index into these.
    let ln_at: Vec<f64> = table.times.iter().map(|t| (alpha + t).ln()).collect();
    let inv_at: Vec<f64> = table.times.iter().map(|t| 1.0 / (alpha + t)).collect();
    let terms = LlTerms {
        table,
        r,
        alpha,
        a,
        b,
        ln_alpha,
        ln_at: &ln_at,
        inv_at: &inv_at,
    };
    // Large tables: the groups in two parts of about equal rows, one per core. The split
    // depends on the table alone and the parts are added in the same order either way, so the
    // result does not depend on the machine.
    let groups = &table.groups;
    if table.x.len() < PARALLEL_LL_ROWS || groups.len() < 2 {
        return terms.sum(groups);
    }
    let half = table.x.len() / 2;
    let split = groups
        .partition_point(|g| g.end <= half)
        .clamp(1, groups.len() - 1);
    let (first, second) = groups.split_at(split);
    let (l1, g1, (l2, g2)) = if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        std::thread::scope(|scope| {
            let other = scope.spawn(|| terms.sum(second));
            let (l1, g1) = terms.sum(first);
            // The sum has no failure of its own; a panic there is a defect that must surface.
            let rest = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (l1, g1, rest)
        })
    } else {
        let (l1, g1) = terms.sum(first);
        (l1, g1, terms.sum(second))
    };
    (l1 + l2, [0, 1, 2, 3].map(|i| g1[i] + g2[i]))
}

/// Distinct rows from which [`log_likelihood_and_gradient`] splits its sum over two cores (below,
/// thread start-up costs more than the half sum saves).
const PARALLEL_LL_ROWS: usize = 8_192;

/// What every row's term of the BG/NBD log-likelihood shares.
struct LlTerms<'a> {
    table: &'a Table,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    ln_alpha: f64,
    ln_at: &'a [f64],
    inv_at: &'a [f64],
}

impl LlTerms<'_> {
    /// Log-likelihood and gradient summed over `groups` (rows grouped by x).
    fn sum(&self, groups: &[crate::data::Group]) -> (f64, [f64; 4]) {
        let LlTerms {
            table,
            r,
            alpha,
            a,
            b,
            ln_alpha,
            ln_at,
            inv_at,
        } = *self;
        let ln_a = a.ln();
        let (lg_r, dg_r) = (ln_gamma(r), digamma(r));
        let (lg_ab, dg_ab) = (ln_gamma(a + b), digamma(a + b));
        let (lg_b, dg_b) = (ln_gamma(b), digamma(b));
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        for grp in groups {
            let x = grp.x;
            let rx = r + x;
            let wg = grp.weight;
            let rows = grp.start..grp.end;
            if x == 0.0 {
                ll += wg * r * ln_alpha;
                g[0] += wg * ln_alpha;
                g[1] += wg * r / alpha;
                let (mut s_l, mut s_inv) = (0.0, 0.0);
                for (&w, &k) in table.w[rows.clone()].iter().zip(&table.age_idx[rows]) {
                    s_l += w * ln_at[k as usize];
                    s_inv += w * inv_at[k as usize];
                }
                ll -= rx * s_l;
                g[0] -= s_l;
                g[1] -= rx * s_inv;
                continue;
            }
            let a1 = ln_gamma(rx) - lg_r + r * ln_alpha;
            let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
            let dg_abx = digamma(a + b + x);
            ll += wg * (a1 + a2);
            g[0] += wg * (digamma(rx) - dg_r + ln_alpha);
            g[1] += wg * r / alpha;
            g[2] += wg * (dg_ab - dg_abx);
            g[3] += wg * (dg_ab + digamma(b + x) - dg_b - dg_abx);
            let bx1 = b + x - 1.0;
            let c4 = ln_a - bx1.ln();
            let (mut s_ll, mut s_dr, mut s_dalpha, mut s_w4) = (0.0, 0.0, 0.0, 0.0);
            let w = &table.w[rows.clone()];
            let ia = &table.age_idx[rows.clone()];
            let it = &table.tx_idx[rows];
            for j in 0..w.len() {
                let (ka, kt) = (ia[j] as usize, it[j] as usize);
                let (l_at, l_atx) = (ln_at[ka], ln_at[kt]);
                let a3 = -rx * l_at;
                let a4 = c4 - rx * l_atx;
                // ln(e^{A3} + e^{A4}) = A3 + softplus(A4 − A3); weight of A4 = sigmoid(A4 − A3).
                let d = a4 - a3;
                let e = (-d.abs()).exp();
                let softplus = d.max(0.0) + e.ln_1p();
                let inv1e = 1.0 / (1.0 + e);
                let w4 = if d >= 0.0 { inv1e } else { e * inv1e };
                let w3 = 1.0 - w4;
                let wj = w[j];
                s_ll += wj * (a3 + softplus);
                s_dr += wj * (w3 * l_at + w4 * l_atx);
                s_dalpha += wj * (w3 * inv_at[ka] + w4 * inv_at[kt]);
                s_w4 += wj * w4;
            }
            ll += s_ll;
            g[0] -= s_dr;
            g[1] -= rx * s_dalpha;
            g[2] += s_w4 / a;
            g[3] -= s_w4 / bx1;
        }
        (ll, g)
    }
}

impl BgNbdFitted {
    /// A model with the given parameters (for instance published ones); the diagnostics are
    /// empty. Errors unless every parameter is finite and positive.
    pub fn from_parameters(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self> {
        for (name, v) in NAMES.iter().zip([r, alpha, a, b]) {
            check_positive(name, v)?;
        }
        Ok(Self {
            r,
            alpha,
            a,
            b,
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

    /// Scale α of the Gamma prior on λ (in the data's time unit).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// First shape a of the Beta prior on the dropout probability p.
    pub fn a(&self) -> f64 {
        self.a
    }

    /// Second shape b of the Beta prior on p.
    pub fn b(&self) -> f64 {
        self.b
    }

    /// How the fit went.
    pub fn diagnostics(&self) -> &FitDiagnostics {
        &self.diagnostics
    }

    /// Total log-likelihood of `data` under this model (FHL eq. 6).
    pub fn log_likelihood(&self, data: &BtydData) -> f64 {
        log_likelihood_and_gradient(data.table(), self.r, self.alpha, self.a, self.b).0
    }

    /// P(X(t) = k) for a customer just acquired (FHL eq. 8).
    pub fn probability_of_purchases(&self, t: f64, k: u32) -> Result<f64> {
        check_time("t", t)?;
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        if t == 0.0 {
            return Ok(if k == 0 { 1.0 } else { 0.0 });
        }
        let kf = f64::from(k);
        let ln_beta = |p: f64, q: f64| ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q);
        let ln_bab = ln_beta(a, b);
        let ln_q = (alpha / (alpha + t)).ln();
        let ln_p = (t / (alpha + t)).ln();
        // NBD pmf ln P(N = j) = ln Γ(r+j) − ln Γ(r) − ln j! + r ln(α/(α+t)) + j ln(t/(α+t)).
        let ln_nbd =
            |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + r * ln_q + j * ln_p;
        let mut p = (ln_beta(a, b + kf) - ln_bab + ln_nbd(kf)).exp();
        if k > 0 {
            let mut cdf = 0.0;
            let mut ln_term = r * ln_q;
            for j in 0..k {
                let jf = f64::from(j);
                cdf += ln_term.exp();
                ln_term += ((r + jf) / (jf + 1.0)).ln() + ln_p;
            }
            let tail = (1.0 - cdf).clamp(0.0, 1.0);
            p += (ln_beta(a + 1.0, b + kf - 1.0) - ln_bab).exp() * tail;
        }
        Ok(p.clamp(0.0, 1.0))
    }

    /// P(alive) for every customer in `data` (see [`PurchaseModel::probability_alive`]).
    pub fn predict_probability_alive(&self, data: &BtydData) -> Vec<f64> {
        (0..data.len())
            .map(|i| self.p_alive_unchecked(data.x()[i], data.t_x()[i], data.age()[i]))
            .collect()
    }

    /// E[Y(t) | x, t_x, T] for every customer in `data` (FHL eq. 10).
    pub fn predict_conditional_expected_purchases(
        &self,
        data: &BtydData,
        t: f64,
    ) -> Result<Vec<f64>> {
        check_time("t", t)?;
        Ok(data.map_unique(|x, tx, age| self.conditional_unchecked(t, x, tx, age)))
    }

    /// [`PurchaseModel::expected_time_to_next_purchase`] for every customer in `data`.
    pub fn predict_time_to_next_purchase(
        &self,
        data: &BtydData,
        max_horizon: f64,
    ) -> Result<Vec<Option<f64>>> {
        check_time("max_horizon", max_horizon)?;
        let encoded = data.map_unique(|x, tx, age| {
            self.expected_time_to_next_purchase(x, tx, age, max_horizon)
                .ok()
                .flatten()
                .unwrap_or(-1.0)
        });
        Ok(encoded
            .into_iter()
            .map(|v| (v >= 0.0).then_some(v))
            .collect())
    }

    pub(crate) fn p_alive_unchecked(&self, x: f64, t_x: f64, age: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        // 1 / (1 + a/(b+x−1) · ((α+T)/(α+t_x))^{r+x})
        let ln_ratio = self.a.ln() - (self.b + x - 1.0).ln()
            + (self.r + x) * ((age - t_x) / (self.alpha + t_x)).ln_1p();
        sigmoid(-ln_ratio)
    }

    pub(crate) fn conditional_unchecked(&self, t: f64, x: f64, t_x: f64, age: f64) -> f64 {
        self.expected_if_alive(t, x, age) * self.p_alive_unchecked(x, t_x, age)
    }

    /// The numerator of FHL eq. 10: expected purchases in (T, T+t] of a customer known to be
    /// alive at T with x repeat purchases (x = 0, T = 0 gives the unconditional E[X(t)], eq. 9):
    ///
    /// (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^{r+x} ₂F₁(r+x, b+x; a+b+x−1; z)], z = t/(α+T+t).
    ///
    /// Evaluated after Euler's transformation ₂F₁(A,B;C;z) = (1−z)^{C−A−B} ₂F₁(C−A, C−B; C; z)
    /// (A&S 15.3.3), which turns the bracket into 1 − (1−z)^{a−1} ₂F₁(a+b−1−r, a−1; a+b+x−1; z);
    /// every term of that series carries the factor (a−1), so dividing it out leaves a form that
    /// is exact at a = 1 and cannot overflow for large x. Outside the series' comfort zone the
    /// same quantity is computed as the posterior integral over p (see [`beta_integral`]).
    fn expected_if_alive(&self, t: f64, x: f64, age: f64) -> f64 {
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let tau = t / (alpha + age);
        let z = t / (alpha + age + t);
        let c = a + b + x - 1.0;
        let ap = a + b - 1.0 - r;
        let k = r + x;
        let eps = a - 1.0;
        if c > 0.5 && z <= 0.95 && c < 1e4 * k && ap.abs() * z < 20.0 {
            if let Some(g) = euler_series(ap, eps, c, z) {
                let l = -tau.ln_1p();
                let v = -c * (expm1_over(eps, l) * (1.0 + eps * g) + g);
                if v.is_finite() && v >= 0.0 {
                    return v;
                }
            }
        }
        beta_integral(k, tau, a, b + x)
    }
}

impl BgNbdFitted {
    /// [`BgNbdFitted::expected_if_alive`] for several horizons of one customer. The series
    /// g(z) = Σ q_k z^k has coefficients q_k that do not depend on t, so they are computed once
    /// (one division per term) and every horizon's sum costs one multiply-add per term; the series
    /// runs until it has converged for the largest z, by the same test as [`euler_series`]. Any
    /// horizon outside the series' comfort zone, or a series that does not converge, falls back
    /// to the one-horizon evaluation.
    fn expected_if_alive_many(&self, ts: &[f64], x: f64, age: f64, out: &mut [f64]) {
        const MAX_GRID: usize = 64;
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let c = a + b + x - 1.0;
        let ap = a + b - 1.0 - r;
        let k = r + x;
        let eps = a - 1.0;
        let z_of = |t: f64| t / (alpha + age + t);
        let usable = |t: f64| {
            let z = z_of(t);
            t > 0.0 && z <= 0.95 && ap.abs() * z < 20.0
        };
        let shared = ts.len() <= MAX_GRID
            && ts.len() == out.len()
            && c > 0.5
            && c < 1e4 * k
            && ts.iter().all(|&t| usable(t));
        let mut sums = [0.0f64; MAX_GRID];
        let converged = shared && {
            let n = ts.len();
            let mut zs = [0.0f64; MAX_GRID];
            let mut pw = [0.0f64; MAX_GRID];
            let mut imax = 0;
            for (i, &t) in ts.iter().enumerate() {
                zs[i] = z_of(t);
                pw[i] = zs[i];
                if zs[i] > zs[imax] {
                    imax = i;
                }
            }
            let mut q = ap / c;
            for i in 0..n {
                sums[i] = q * pw[i];
            }
            let hump = ap.abs() + eps.abs() + 2.0;
            let mut done = q == 0.0;
            let mut kk = 1;
            while !done && kk < 5000 {
                let kf = f64::from(kk);
                let q_ratio = (ap + kf) * (eps + kf) / ((c + kf) * (kf + 1.0));
                q *= q_ratio;
                if !q.is_finite() {
                    break;
                }
                for i in 0..n {
                    pw[i] *= zs[i];
                    sums[i] += q * pw[i];
                }
                let term = q * pw[imax];
                let ratio = q_ratio * zs[imax];
                done = term == 0.0
                    || (kf > hump
                        && ratio.abs() < 1.0
                        && term.abs() <= 1e-17 * sums[imax].abs() * (1.0 - ratio.abs()));
                kk += 1;
            }
            done
        };
        for (i, (&t, o)) in ts.iter().zip(out.iter_mut()).enumerate() {
            if t.is_nan() || t <= 0.0 {
                *o = 0.0;
                continue;
            }
            if converged {
                let g = sums[i];
                let tau = t / (alpha + age);
                let l = -tau.ln_1p();
                let v = -c * (expm1_over(eps, l) * (1.0 + eps * g) + g);
                *o = if v.is_finite() && v >= 0.0 {
                    v
                } else {
                    beta_integral(k, tau, a, b + x)
                };
            } else {
                *o = self.expected_if_alive(t, x, age);
            }
        }
    }
}

/// Largest number of series coefficients kept for a curve (beyond it the curve falls back to the
/// one-horizon evaluation).
const CURVE_MAX_TERMS: usize = 2048;

impl BgNbdFitted {
    /// The coefficients q_1, q_2, … of the Euler series g(z) = Σ q_k z^k of FHL eq. 10 for a
    /// customer with x repeat purchases and age T, as many as it takes to converge at horizon
    /// `max_t` by [`euler_series`]'s test; `None` where that function would not use the series.
    fn series_coefficients(&self, x: f64, age: f64, max_t: f64) -> Option<Vec<f64>> {
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let c = a + b + x - 1.0;
        let ap = a + b - 1.0 - r;
        let eps = a - 1.0;
        let z = max_t / (alpha + age + max_t);
        if !(c > 0.5 && z > 0.0 && z <= 0.95 && c < 1e4 * (r + x) && ap.abs() * z < 20.0) {
            return None;
        }
        let mut q = ap / c;
        let mut coef = vec![q];
        if q == 0.0 {
            return Some(coef);
        }
        let mut zk = z;
        let mut sum = q * z;
        let hump = ap.abs() + eps.abs() + 2.0;
        for k in 1..CURVE_MAX_TERMS {
            let kf = k as f64;
            let q_ratio = (ap + kf) * (eps + kf) / ((c + kf) * (kf + 1.0));
            q *= q_ratio;
            zk *= z;
            let term = q * zk;
            if !term.is_finite() {
                return None;
            }
            coef.push(q);
            sum += term;
            let ratio = q_ratio * z;
            if term == 0.0
                || (kf > hump
                    && ratio.abs() < 1.0
                    && term.abs() <= 1e-17 * sum.abs() * (1.0 - ratio.abs()))
            {
                return Some(coef);
            }
        }
        None
    }
}

/// g = Σ_{k≥1} (A')_k (ε+1)_{k−1} / ((c)_k k!) z^k, the Euler-transformed ₂F₁ of FHL eq. 10 with
/// the factor ε = a − 1 taken out; `None` if it has not converged after 5000 terms.
fn euler_series(ap: f64, eps: f64, c: f64, z: f64) -> Option<f64> {
    let mut term = ap * z / c;
    let mut sum = term;
    if term == 0.0 {
        return Some(0.0);
    }
    let hump = ap.abs() + eps.abs() + 2.0;
    for k in 1..5000 {
        let kf = f64::from(k);
        let ratio = (ap + kf) * (eps + kf) * z / ((c + kf) * (kf + 1.0));
        term *= ratio;
        sum += term;
        if term == 0.0 {
            return Some(sum);
        }
        if kf > hump && ratio.abs() < 1.0 && term.abs() <= 1e-17 * sum.abs() * (1.0 - ratio.abs()) {
            return Some(sum);
        }
    }
    None
}

/// E over the posterior p ~ Beta(a, bb) of (1 − (1 + pτ)^{−k}) / p, i.e. FHL eq. 10's numerator
/// written as an integral: given alive, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x), and
/// E[X(t) | λ, p] = (1 − e^{−λpt}) / p (FHL eq. 7).
///
/// The linear interpolant of φ between p = 0 and p = 1 is integrated exactly and the smooth
/// remainder, which vanishes at both ends, by tanh-sinh quadrature (Takahasi & Mori 1974) in a
/// logit variable centred on the Beta mean when the Beta is concentrated.
fn beta_integral(k: f64, tau: f64, a: f64, bb: f64) -> f64 {
    let phi0 = k * tau;
    let phi1 = -(-k * tau.ln_1p()).exp_m1();
    let phi = |p: f64| {
        if p > 0.0 {
            -(-k * (p * tau).ln_1p()).exp_m1() / p
        } else {
            phi0
        }
    };
    let ln_b = ln_gamma(a) + ln_gamma(bb) - ln_gamma(a + bb);
    let spread = (1.0 / a + 1.0 / bb).sqrt();
    let (centre, scale) = if spread < 1.0 {
        ((a / bb).ln(), spread)
    } else {
        (0.0, 1.0)
    };
    let softplus = |y: f64| y.max(0.0) + (-y.abs()).exp().ln_1p();
    const H: f64 = 1.0 / 16.0;
    let mut sum = 0.0;
    for j in -64i32..=64 {
        let u = f64::from(j) * H;
        let v = centre + scale * std::f64::consts::PI * u.sinh();
        let ln_p = -softplus(-v);
        let ln_q = -softplus(v);
        let (p, q) = (ln_p.exp(), ln_q.exp());
        let rho = phi(p) - phi0 * q - phi1 * p;
        let ln_w = a * ln_p + bb * ln_q - ln_b + (scale * std::f64::consts::PI * u.cosh()).ln();
        let term = ln_w.exp() * rho;
        if term.is_finite() {
            sum += term;
        }
    }
    let v = phi0 * bb / (a + bb) + phi1 * a / (a + bb) + H * sum;
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

impl PurchaseModel for BgNbdFitted {
    fn model_name(&self) -> &'static str {
        MODEL
    }

    /// FHL eq. 9.
    fn expected_purchases(&self, t: f64) -> Result<f64> {
        check_time("t", t)?;
        Ok(self.expected_if_alive(t, 0.0, 0.0))
    }

    /// FHL eq. 10.
    fn conditional_expected_purchases(&self, t: f64, x: f64, t_x: f64, age: f64) -> Result<f64> {
        check_time("t", t)?;
        let t_x = check_customer(x, t_x, age)?;
        Ok(self.conditional_unchecked(t, x, t_x, age))
    }

    /// FHL eq. 10 for several horizons, sharing P(alive) and the series' coefficients.
    fn conditional_expected_purchases_many(
        &self,
        ts: &[f64],
        x: f64,
        t_x: f64,
        age: f64,
        out: &mut [f64],
    ) -> Result<()> {
        for &t in ts {
            check_time("t", t)?;
        }
        let t_x = check_customer(x, t_x, age)?;
        let p = self.p_alive_unchecked(x, t_x, age);
        self.expected_if_alive_many(ts, x, age, out);
        for o in out.iter_mut() {
            *o *= p;
        }
        Ok(())
    }

    /// FHL eq. 10 as a function of the horizon: P(alive) and the Euler series' coefficients
    /// q_k (which do not depend on t) are computed once, up to the term where the series has
    /// converged at `max_t` (so at every shorter horizon too); each evaluation is then one
    /// polynomial in z. Customers outside the series' comfort zone get the one-horizon function.
    fn conditional_expected_purchases_curve<'a>(
        &'a self,
        x: f64,
        t_x: f64,
        age: f64,
        max_t: f64,
    ) -> Result<Box<dyn Fn(f64) -> Result<f64> + 'a>> {
        check_time("max_t", max_t)?;
        let t_x = check_customer(x, t_x, age)?;
        let p = self.p_alive_unchecked(x, t_x, age);
        let one_at_a_time = move |t: f64| -> Result<f64> {
            check_time("t", t)?;
            Ok(self.expected_if_alive(t, x, age) * p)
        };
        let Some(coef) = self.series_coefficients(x, age, max_t) else {
            return Ok(Box::new(one_at_a_time));
        };
        let (alpha, a, b) = (self.alpha, self.a, self.b);
        let c = a + b + x - 1.0;
        let eps = a - 1.0;
        Ok(Box::new(move |t: f64| -> Result<f64> {
            check_time("t", t)?;
            if t <= 0.0 || t > max_t {
                return one_at_a_time(t);
            }
            let z = t / (alpha + age + t);
            // Horner from the highest term: g = z (q_1 + z (q_2 + …)).
            let g = z * coef.iter().rev().fold(0.0, |acc, q| acc * z + q);
            let l = -(t / (alpha + age)).ln_1p();
            let v = -c * (expm1_over(eps, l) * (1.0 + eps * g) + g);
            if v.is_finite() && v >= 0.0 {
                Ok(v * p)
            } else {
                one_at_a_time(t)
            }
        }))
    }

    /// Fader, Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD Model", brucehardie.com
    /// note 021: 1 / (1 + δ_{x>0} a/(b+x−1) ((α+T)/(α+t_x))^{r+x}), evaluated in log space.
    fn probability_alive(&self, x: f64, t_x: f64, age: f64) -> Result<f64> {
        let t_x = check_customer(x, t_x, age)?;
        Ok(self.p_alive_unchecked(x, t_x, age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// lifetimes 0.11.3 estimates on CDNOW (weeks), FHL Table 1.
    fn cdnow() -> BgNbdFitted {
        BgNbdFitted::from_parameters(0.242_593, 4.413_597, 0.792_93, 2.425_895).expect("valid")
    }

    #[test]
    fn split_log_likelihood_equals_one_sum() {
        // 20,000 customers with distinct (x, t_x, T): above the two-part threshold.
        let n = 20_000u32;
        let x: Vec<f64> = (0..n).map(|i| f64::from(i % 23)).collect();
        let age: Vec<f64> = (0..n).map(|i| 50.0 + f64::from(i) * 0.01).collect();
        let t_x: Vec<f64> = (0..n as usize)
            .map(|i| if x[i] == 0.0 { 0.0 } else { age[i] * 0.6 })
            .collect();
        let data = BtydData::new(x, t_x, age).expect("valid");
        let table = data.table();
        assert!(table.x.len() >= PARALLEL_LL_ROWS);
        let (ll, g) = log_likelihood_and_gradient(table, 0.27, 41.9, 0.48, 2.1);
        let ln_at: Vec<f64> = table.times.iter().map(|t| (41.9 + t).ln()).collect();
        let inv_at: Vec<f64> = table.times.iter().map(|t| 1.0 / (41.9 + t)).collect();
        let terms = LlTerms {
            table,
            r: 0.27,
            alpha: 41.9,
            a: 0.48,
            b: 2.1,
            ln_alpha: 41.9f64.ln(),
            ln_at: &ln_at,
            inv_at: &inv_at,
        };
        let (ll1, g1) = terms.sum(&table.groups);
        assert!((ll - ll1).abs() <= 1e-12 * ll1.abs(), "{ll} vs {ll1}");
        for i in 0..4 {
            assert!((g[i] - g1[i]).abs() <= 1e-10 * g1[i].abs().max(1.0), "{i}");
        }
    }

    proptest! {
        /// The curve (stored series coefficients) gives the one-horizon answers at every horizon
        /// up to its limit, and beyond it, and where it falls back.
        #[test]
        fn curve_equals_one_horizon_at_a_time(
            x in 0.0f64..300.0,
            frac in 0.0f64..1.0,
            age in 0.1f64..800.0,
            a in 0.05f64..5.0,
            max_t in 1.0f64..2000.0,
            at in proptest::collection::vec(0.0f64..1.2, 1..8),
        ) {
            let m = BgNbdFitted::from_parameters(0.27, 41.9, a, 2.1).expect("valid");
            let x = x.floor();
            let t_x = if x == 0.0 { 0.0 } else { frac * age };
            let curve = m.conditional_expected_purchases_curve(x, t_x, age, max_t).expect("valid");
            for u in at {
                let t = u * max_t;
                let one = m.conditional_expected_purchases(t, x, t_x, age).expect("valid");
                let v = curve(t).expect("valid");
                prop_assert!((v - one).abs() <= 1e-10 * one.abs().max(1e-3), "t {t}: {v} vs {one}");
            }
        }

        /// Several horizons at once give the one-horizon answers: the shared-coefficient series,
        /// and its fallbacks (large x, a near 1, horizons outside the series' comfort zone).
        #[test]
        fn many_horizons_equal_one_at_a_time(
            x in 0.0f64..300.0,
            frac in 0.0f64..1.0,
            age in 0.1f64..800.0,
            a in 0.05f64..5.0,
            months in 1usize..40,
            unit in 0.5f64..60.0,
        ) {
            let m = BgNbdFitted::from_parameters(0.27, 41.9, a, 2.1).expect("valid");
            let x = x.floor();
            let t_x = if x == 0.0 { 0.0 } else { frac * age };
            let ts: Vec<f64> = (1..=months).map(|i| i as f64 * unit).collect();
            let mut many = vec![0.0; ts.len()];
            m.conditional_expected_purchases_many(&ts, x, t_x, age, &mut many).expect("valid");
            for (t, v) in ts.iter().zip(&many) {
                let one = m.conditional_expected_purchases(*t, x, t_x, age).expect("valid");
                prop_assert!((v - one).abs() <= 1e-10 * one.abs().max(1e-3), "t {t}: {v} vs {one}");
            }
        }
    }

    fn naive_ll(m: &BgNbdFitted, x: f64, tx: f64, age: f64) -> f64 {
        // FHL eq. 6 directly, fine for small x.
        let (r, al, a, b) = (m.r, m.alpha, m.a, m.b);
        let g = |v: f64| ln_gamma(v).exp();
        let beta = |p: f64, q: f64| g(p) * g(q) / g(p + q);
        let l1 =
            beta(a, b + x) / beta(a, b) * g(r + x) * al.powf(r) / (g(r) * (al + age).powf(r + x));
        let l2 = if x > 0.0 {
            beta(a + 1.0, b + x - 1.0) / beta(a, b) * g(r + x) * al.powf(r)
                / (g(r) * (al + tx).powf(r + x))
        } else {
            0.0
        };
        (l1 + l2).ln()
    }

    #[test]
    fn kernel_matches_naive_formula() {
        let m = cdnow();
        let rows = [
            (0.0, 0.0, 30.0),
            (1.0, 2.0, 30.0),
            (3.0, 28.5, 38.0),
            (7.0, 38.0, 38.0),
        ];
        for &(x, tx, age) in &rows {
            let d = BtydData::from_slices(&[x], &[tx], &[age]).expect("valid");
            let fast = m.log_likelihood(&d);
            let slow = naive_ll(&m, x, tx, age);
            assert!(
                (fast - slow).abs() < 1e-10,
                "{x} {tx} {age}: {fast} vs {slow}"
            );
        }
    }

    #[test]
    fn analytic_gradient_matches_numeric() {
        let d = BtydData::from_slices(
            &[0.0, 1.0, 2.0, 5.0, 0.0],
            &[0.0, 3.0, 10.0, 20.0, 0.0],
            &[30.0, 25.0, 30.0, 22.0, 12.0],
        )
        .expect("valid");
        let table = d.table();
        let th = [0.7, 3.0, 0.9, 2.2];
        let (_, g) = log_likelihood_and_gradient(table, th[0], th[1], th[2], th[3]);
        for i in 0..4 {
            let h = 1e-6;
            let mut hi = th;
            let mut lo = th;
            hi[i] += h;
            lo[i] -= h;
            let fh = log_likelihood_and_gradient(table, hi[0], hi[1], hi[2], hi[3]).0;
            let fl = log_likelihood_and_gradient(table, lo[0], lo[1], lo[2], lo[3]).0;
            let num = (fh - fl) / (2.0 * h);
            assert!(
                (num - g[i]).abs() < 1e-6 * (1.0 + num.abs()),
                "param {i}: {num} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn series_and_integral_agree() {
        for &(x, age, t, a, b) in &[
            (0.0, 0.0, 39.0, 0.79, 2.43),
            (2.0, 38.86, 39.0, 0.79, 2.43),
            (5.0, 20.0, 100.0, 1.0, 3.0),
            (1.0, 30.0, 10.0, 3.5, 0.7),
            (40.0, 50.0, 60.0, 0.3, 8.0),
        ] {
            let m = BgNbdFitted::from_parameters(0.3, 4.4, a, b).expect("valid");
            let tau = t / (m.alpha + age);
            let z = t / (m.alpha + age + t);
            let c = a + b + x - 1.0;
            let ap = a + b - 1.0 - m.r;
            let g = euler_series(ap, a - 1.0, c, z).expect("converges");
            let series = -c * (expm1_over(a - 1.0, -tau.ln_1p()) * (1.0 + (a - 1.0) * g) + g);
            let integral = beta_integral(m.r + x, tau, a, b + x);
            assert!(
                (series - integral).abs() < 1e-9 * series.abs().max(1e-3),
                "x={x} a={a}: {series} vs {integral}"
            );
        }
    }

    #[test]
    fn published_predictions_from_published_parameters() {
        // FHL 2005, section 5: E[X(39) | x=2, t_x=30.43, T=38.86] = 1.226 and the unconditional
        // curve of their Figure 3; P(X(39)=0) per lifetimes' probability_of_n_purchases_up_to_time.
        let m = cdnow();
        let e = m
            .conditional_expected_purchases(39.0, 2.0, 30.43, 38.86)
            .expect("valid");
        assert!((e - 1.226).abs() < 1e-3, "{e}");
        for (t, want) in [(1.0, 0.0532), (3.0, 0.1506), (32.0, 1.0437), (78.0, 1.8576)] {
            let got = m.expected_purchases(t).expect("valid");
            assert!((got - want).abs() < 1e-3, "t = {t}: {got} vs {want}");
        }
        let p0 = m.probability_of_purchases(39.0, 0).expect("valid");
        assert!((p0 - 0.5738).abs() < 1e-3, "{p0}");
        let total: f64 = (0..200)
            .map(|k| m.probability_of_purchases(39.0, k).expect("valid"))
            .sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn next_purchase_time_solves_expectation_equals_one() {
        let m = cdnow();
        let t = m
            .expected_time_to_next_purchase(10.0, 38.0, 38.86, 520.0)
            .expect("valid")
            .expect("a frequent buyer orders again");
        let e = m
            .conditional_expected_purchases(t, 10.0, 38.0, 38.86)
            .expect("valid");
        assert!((e - 1.0).abs() < 1e-8, "{e}");
        // A one-time buyer from long ago is not expected to order within a year.
        let none = m
            .expected_time_to_next_purchase(1.0, 0.5, 38.86, 52.0)
            .expect("valid");
        assert_eq!(none, None);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let m = cdnow();
        assert!(m
            .conditional_expected_purchases(f64::NAN, 1.0, 1.0, 2.0)
            .is_err());
        assert!(m.probability_alive(1.0, 3.0, 2.0).is_err());
        let huge = m
            .conditional_expected_purchases(39.0, 10_000.0, 38.0, 38.86)
            .expect("valid");
        assert!(huge.is_finite() && huge > 0.0);
        let p = m.probability_alive(10_000.0, 1.0, 38.86).expect("valid");
        assert!((0.0..=1.0).contains(&p));
        // Extreme parameters route through the integral and stay finite.
        let odd = BgNbdFitted::from_parameters(1e-9, 1e-9, 1e-9, 1e9).expect("valid");
        for t in [0.0, 1.0, 1e6] {
            let v = odd
                .conditional_expected_purchases(t, 3.0, 1.0, 2.0)
                .expect("valid");
            assert!(v.is_finite() && v >= 0.0, "{v}");
        }
        assert!(BgNbdFitted::from_parameters(1.0, -1.0, 1.0, 1.0).is_err());
    }

    #[test]
    fn one_time_buyers_only_is_a_clear_error() {
        let d = BtydData::from_slices(&[0.0, 0.0], &[0.0, 0.0], &[5.0, 9.0]).expect("valid");
        let err = BgNbdParams::default().fit(&d).expect_err("not identified");
        assert!(matches!(err, Error::NoRepeatBuyers { .. }));
    }

    #[test]
    fn single_customer_fit_warns_instead_of_failing() {
        let d = BtydData::from_slices(&[3.0], &[10.0], &[20.0]).expect("valid");
        let m = BgNbdParams::default().fit(&d).expect("fits");
        assert!(m.diagnostics().log_likelihood.is_finite());
        assert!(!m.diagnostics().warnings.is_empty());
        let e = m
            .conditional_expected_purchases(10.0, 3.0, 10.0, 20.0)
            .expect("valid");
        assert!(e.is_finite() && e >= 0.0);
    }

    proptest! {
        #[test]
        fn compressed_kernel_matches_naive_sum(
            rows in prop::collection::vec((0u32..15, 0u32..=10, 0usize..3), 1..40),
        ) {
            let ages = [12.0, 25.0, 39.0];
            let (mut x, mut tx, mut age) = (vec![], vec![], vec![]);
            for &(xi, tenth, ai) in &rows {
                let a = ages[ai];
                x.push(f64::from(xi));
                tx.push(if xi == 0 { 0.0 } else { a * f64::from(tenth) / 10.0 });
                age.push(a);
            }
            let m = cdnow();
            let d = BtydData::new(x.clone(), tx.clone(), age.clone()).expect("valid");
            let fast = m.log_likelihood(&d);
            let slow: f64 = (0..x.len()).map(|i| naive_ll(&m, x[i], tx[i], age[i])).sum();
            prop_assert!((fast - slow).abs() < 1e-9 * (1.0 + slow.abs()), "{} vs {}", fast, slow);
        }

        #[test]
        fn log_likelihood_is_finite_and_p_alive_in_unit_interval(
            x in 0u32..5000,
            frac in 0.0f64..=1.0,
            age in 0.0f64..1000.0,
            r in 0.01f64..20.0,
            alpha in 0.01f64..100.0,
            a in 0.01f64..20.0,
            b in 0.01f64..20.0,
        ) {
            let xf = f64::from(x);
            let tx = if x == 0 { 0.0 } else { frac * age };
            let m = BgNbdFitted::from_parameters(r, alpha, a, b).expect("valid");
            let d = BtydData::from_slices(&[xf], &[tx], &[age]).expect("valid");
            prop_assert!(m.log_likelihood(&d).is_finite());
            let p = m.probability_alive(xf, tx, age).expect("valid");
            prop_assert!((0.0..=1.0).contains(&p));
            let e = m.conditional_expected_purchases(52.0, xf, tx, age).expect("valid");
            prop_assert!(e.is_finite() && e >= 0.0);
        }
    }
}
