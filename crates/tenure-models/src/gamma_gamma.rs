//! Gamma-Gamma model of spend per transaction.
//!
//! Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", brucehardie.com note 025
//! (FH13 below), after Colombo & Jiang (1999). A customer's transaction values are
//! Gamma(p, ν) with ν ~ Gamma(q, γ) across customers, independent of the transaction process.
//! The model is fitted on repeat buyers: x ≥ 1 repeat transactions with mean value m̄ > 0.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fit::{self, check_positive, fit_log_params, FitDiagnostics, Spec};
use crate::optim::Objective;
use crate::special::{digamma, ln_gamma};

const MODEL: &str = "gamma-gamma";
const NAMES: &[&str] = &["p", "q", "gamma"];

/// Settings for fitting the Gamma-Gamma spend model by maximum likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GammaGammaParams {
    /// L2 penalty c·(p² + q² + γ²) added to the mean negative log-likelihood, as in lifetimes'
    /// `penalizer_coef`; 0 gives the plain MLE.
    pub penalizer_coef: f64,
    /// Most BFGS iterations per start.
    pub max_iter: usize,
    /// Gradient tolerance (largest component, mean objective, log-parameters).
    pub tol: f64,
    /// Number of deterministic starting points tried (1–4).
    pub n_starts: usize,
}

impl Default for GammaGammaParams {
    fn default() -> Self {
        Self {
            penalizer_coef: 0.0,
            max_iter: 500,
            tol: 1e-9,
            n_starts: 3,
        }
    }
}

/// A fitted Gamma-Gamma model: (p, q, γ), how the fit went, and which customers it skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFitted {
    p: f64,
    q: f64,
    gamma: f64,
    diagnostics: FitDiagnostics,
    n_excluded_no_repeat: usize,
    n_excluded_nonpositive_spend: usize,
}

/// Repeat buyers compressed to distinct (x, m̄) rows, sorted and grouped by x.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpendTable {
    x: Vec<f64>,
    ln_x: Vec<f64>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
    w: Vec<f64>,
    /// (start, end, weight) of every run of equal x.
    groups: Vec<(usize, usize, f64)>,
    total_weight: f64,
    mean_spend: f64,
}

impl SpendTable {
    /// Builds the table from (x, m̄, weight) rows already filtered to x > 0, m̄ > 0.
    /// A screening subsample (see [`crate::data::screening_sample`]).
    fn screening_subsample(&self) -> Option<Self> {
        let rows = crate::data::screening_sample(&self.w)?;
        Some(Self::from_rows(
            rows.into_iter()
                .map(|(i, w)| (self.x[i], self.m[i], w))
                .collect(),
        ))
    }

    pub(crate) fn from_rows(mut rows: Vec<(f64, f64, f64)>) -> Self {
        rows.retain(|r| r.2 > 0.0);
        rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut t = SpendTable {
            x: Vec::new(),
            ln_x: Vec::new(),
            m: Vec::new(),
            ln_m: Vec::new(),
            w: Vec::new(),
            groups: Vec::new(),
            total_weight: 0.0,
            mean_spend: 0.0,
        };
        for (x, m, w) in rows {
            let n = t.x.len();
            if n > 0 && t.x[n - 1] == x && t.m[n - 1] == m {
                t.w[n - 1] += w;
                continue;
            }
            t.x.push(x);
            t.ln_x.push(x.ln());
            t.m.push(m);
            t.ln_m.push(m.ln());
            t.w.push(w);
        }
        let mut start = 0;
        let mut spend = 0.0;
        for i in 0..t.x.len() {
            t.total_weight += t.w[i];
            spend += t.w[i] * t.m[i];
            if i + 1 == t.x.len() || t.x[i + 1] != t.x[i] {
                t.groups.push((start, i + 1, t.w[start..=i].iter().sum()));
                start = i + 1;
            }
        }
        t.mean_spend = spend / t.total_weight.max(1e-300);
        t
    }
}

/// Usable (x, m̄, weight) rows, customers without repeat purchases, repeat buyers with spend <= 0.
type UsableRows = (Vec<(f64, f64, f64)>, usize, usize);

/// Checks the two columns and splits the customers into usable rows and exclusion counts.
fn usable_rows(frequency: &[f64], monetary: &[f64]) -> Result<UsableRows> {
    const WHAT: &str = "gamma-gamma input";
    if frequency.is_empty() {
        return Err(Error::Empty { what: WHAT });
    }
    if monetary.len() != frequency.len() {
        return Err(Error::LengthMismatch {
            what: WHAT,
            left: frequency.len(),
            right: monetary.len(),
        });
    }
    let mut rows = Vec::new();
    let (mut no_repeat, mut nonpositive) = (0, 0);
    for (row, (&x, &m)) in frequency.iter().zip(monetary).enumerate() {
        check_frequency(row, x)?;
        if x == 0.0 {
            no_repeat += 1;
            continue;
        }
        if m.is_nan() || m.is_infinite() {
            return Err(Error::InvalidInput {
                row,
                field: "monetary",
                value: m,
                reason: "the mean repeat spend of a repeat buyer must be finite",
            });
        }
        if m <= 0.0 {
            nonpositive += 1;
            continue;
        }
        rows.push((x, m, 1.0));
    }
    Ok((rows, no_repeat, nonpositive))
}

fn check_frequency(row: usize, x: f64) -> Result<()> {
    if !x.is_finite() || x < 0.0 || x.fract() != 0.0 {
        return Err(Error::InvalidInput {
            row,
            field: "frequency",
            value: x,
            reason: "the repeat-purchase count must be a whole number >= 0",
        });
    }
    Ok(())
}

impl GammaGammaParams {
    /// Fits (p, q, γ) on the repeat buyers among the customers given.
    ///
    /// `frequency` is each customer's number of repeat purchases x and `monetary` the mean value
    /// of those repeat purchases. Customers with x = 0 are skipped (their `monetary` is ignored and
    /// may be anything); repeat buyers with zero or negative mean spend are skipped and counted.
    /// Errors on invalid rows (naming the row) and when no usable repeat buyer remains.
    pub fn fit(&self, frequency: &[f64], monetary: &[f64]) -> Result<GammaGammaFitted> {
        let (rows, no_repeat, nonpositive) = usable_rows(frequency, monetary)?;
        if rows.is_empty() {
            return Err(if nonpositive > 0 {
                Error::FitFailed {
                    model: MODEL,
                    reason: format!(
                        "all {nonpositive} repeat buyers have zero or negative mean spend; the \
                         model needs positive spends"
                    ),
                }
            } else {
                Error::NoRepeatBuyers {
                    model: MODEL,
                    n_customers: frequency.len(),
                }
            });
        }
        let mut fitted = self.fit_table(&SpendTable::from_rows(rows), None)?;
        fitted.n_excluded_no_repeat = no_repeat;
        fitted.n_excluded_nonpositive_spend = nonpositive;
        if nonpositive > 0 {
            fitted.diagnostics.warnings.push(format!(
                "{nonpositive} repeat buyers with zero or negative mean spend were left out of the fit"
            ));
        }
        Ok(fitted)
    }

    pub(crate) fn fit_table(
        &self,
        table: &SpendTable,
        warm: Option<[f64; 3]>,
    ) -> Result<GammaGammaFitted> {
        fit::check_settings(self.penalizer_coef, self.tol)?;
        if table.total_weight <= 0.0 {
            return Err(Error::NoRepeatBuyers {
                model: MODEL,
                n_customers: 0,
            });
        }
        let mean = table.mean_spend;
        let starts: Vec<Vec<f64>> = match warm {
            Some(p) => vec![p.iter().map(|v| v.ln()).collect()],
            None => {
                let candidates = [
                    [1.0, 2.0, mean],
                    [5.0, 3.0, 0.4 * mean],
                    [1.0, 1.0, 1.0],
                    [20.0, 10.0, 0.45 * mean],
                ];
                candidates
                    .iter()
                    .take(self.n_starts.clamp(1, candidates.len()))
                    .map(|c| c.iter().map(|v| v.ln().clamp(-20.0, 20.0)).collect())
                    .collect()
            }
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
        let (p, q, gamma) = (phi[0].exp(), phi[1].exp(), phi[2].exp());
        diagnostics.log_likelihood = log_likelihood_and_gradient(table, p, q, gamma).0;
        if q <= 1.0 {
            diagnostics.warnings.push(format!(
                "q = {q:.4} <= 1: the population mean spend p·γ/(q−1) is infinite, so expected spend \
                 of customers without repeat purchases is undefined"
            ));
        }
        Ok(GammaGammaFitted {
            p,
            q,
            gamma,
            diagnostics,
            n_excluded_no_repeat: 0,
            n_excluded_nonpositive_spend: 0,
        })
    }
}

/// The mean penalized negative log-likelihood in log-parameters, with its gradient.
fn mean_objective(table: &SpendTable, coef: f64) -> impl FnMut(&[f64], &mut [f64]) -> f64 + '_ {
    let w_total = table.total_weight;
    move |phi: &[f64], grad: &mut [f64]| -> f64 {
        let th = [phi[0].exp(), phi[1].exp(), phi[2].exp()];
        let (ll, g) = log_likelihood_and_gradient(table, th[0], th[1], th[2]);
        for (i, gi) in grad.iter_mut().enumerate() {
            *gi = -th[i] * g[i] / w_total;
        }
        -ll / w_total + fit::penalty(coef, phi, grad)
    }
}

/// Total log-likelihood of the mean spends (FH13's marginal density of m̄ given x) and its
/// gradient with respect to (p, q, γ):
///
/// ln f(m̄ | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m̄ + px ln x
///               − (px+q) ln(γ + x m̄).
pub(crate) fn log_likelihood_and_gradient(
    table: &SpendTable,
    p: f64,
    q: f64,
    gamma: f64,
) -> (f64, [f64; 3]) {
    let (lg_q, dg_q) = (ln_gamma(q), digamma(q));
    let ln_g = gamma.ln();
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for &(start, end, wg) in &table.groups {
        let x = table.x[start];
        let ln_x = table.ln_x[start];
        let px = p * x;
        let dg_pxq = digamma(px + q);
        ll += wg * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_g + px * ln_x);
        g[0] += wg * x * (dg_pxq - digamma(px) + ln_x);
        g[1] += wg * (dg_pxq - dg_q + ln_g);
        g[2] += wg * q / gamma;
        let (mut s_ll, mut s_dp, mut s_lxm, mut s_inv) = (0.0, 0.0, 0.0, 0.0);
        for i in start..end {
            let w = table.w[i];
            let xm = x * table.m[i] + gamma;
            let lxm = xm.ln();
            s_ll += w * ((px - 1.0) * table.ln_m[i] - (px + q) * lxm);
            s_dp += w * (table.ln_m[i] - lxm);
            s_lxm += w * lxm;
            s_inv += w / xm;
        }
        ll += s_ll;
        g[0] += x * s_dp;
        g[1] -= s_lxm;
        g[2] -= (px + q) * s_inv;
    }
    (ll, g)
}

impl GammaGammaFitted {
    /// A model with the given parameters; the diagnostics are empty. Errors unless every
    /// parameter is finite and positive.
    pub fn from_parameters(p: f64, q: f64, gamma: f64) -> Result<Self> {
        for (name, v) in NAMES.iter().zip([p, q, gamma]) {
            check_positive(name, v)?;
        }
        Ok(Self {
            p,
            q,
            gamma,
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
            n_excluded_no_repeat: 0,
            n_excluded_nonpositive_spend: 0,
        })
    }

    /// Shape p of the Gamma distribution of transaction values.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Shape q of the Gamma prior on the scale ν.
    pub fn q(&self) -> f64 {
        self.q
    }

    /// Scale γ of the Gamma prior on ν.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// How the fit went.
    pub fn diagnostics(&self) -> &FitDiagnostics {
        &self.diagnostics
    }

    /// Customers left out because they made no repeat purchase (x = 0).
    pub fn n_excluded_no_repeat(&self) -> usize {
        self.n_excluded_no_repeat
    }

    /// Repeat buyers left out because their mean spend was zero or negative.
    pub fn n_excluded_nonpositive_spend(&self) -> usize {
        self.n_excluded_nonpositive_spend
    }

    /// Total log-likelihood (FH13's density of m̄) of the usable repeat buyers in the columns given.
    pub fn log_likelihood(&self, frequency: &[f64], monetary: &[f64]) -> Result<f64> {
        let (rows, _, _) = usable_rows(frequency, monetary)?;
        Ok(log_likelihood_and_gradient(&SpendTable::from_rows(rows), self.p, self.q, self.gamma).0)
    }

    /// Population mean spend per transaction, E\[Z\] = pγ/(q−1) (FH13); errors when q ≤ 1.
    pub fn expected_spend(&self) -> Result<f64> {
        self.conditional_expected_spend(0.0, 0.0)
    }

    /// E[Z | x, m̄] = p(γ + x m̄) / (px + q − 1) (FH13's conditional expectation), the weighted average of the
    /// population mean and the customer's own mean. For x = 0 the population mean is returned and
    /// `monetary` ignored; for x > 0 a non-positive `monetary` counts as 0. Errors when the
    /// expectation is infinite (px + q ≤ 1).
    pub fn conditional_expected_spend(&self, frequency: f64, monetary: f64) -> Result<f64> {
        check_frequency(0, frequency)?;
        if frequency > 0.0 && !monetary.is_finite() {
            return Err(Error::InvalidInput {
                row: 0,
                field: "monetary",
                value: monetary,
                reason: "the mean repeat spend of a repeat buyer must be finite",
            });
        }
        self.expected_spend_unchecked(frequency, monetary)
    }

    /// [`GammaGammaFitted::conditional_expected_spend`] for every customer.
    pub fn predict_conditional_expected_spend(
        &self,
        frequency: &[f64],
        monetary: &[f64],
    ) -> Result<Vec<f64>> {
        if monetary.len() != frequency.len() {
            return Err(Error::LengthMismatch {
                what: "gamma-gamma prediction",
                left: frequency.len(),
                right: monetary.len(),
            });
        }
        frequency
            .iter()
            .zip(monetary)
            .enumerate()
            .map(|(row, (&x, &m))| {
                self.conditional_expected_spend(x, m).map_err(|e| match e {
                    Error::InvalidInput {
                        field,
                        value,
                        reason,
                        ..
                    } => Error::InvalidInput {
                        row,
                        field,
                        value,
                        reason,
                    },
                    other => other,
                })
            })
            .collect()
    }

    fn expected_spend_unchecked(&self, x: f64, monetary: f64) -> Result<f64> {
        let denom = self.p * x + self.q - 1.0;
        if denom.is_nan() || denom <= 0.0 {
            return Err(Error::Undefined {
                model: MODEL,
                quantity: "expected spend",
                reason: format!("p·x + q − 1 = {denom:.4} <= 0, so the mean is infinite"),
            });
        }
        let m = if x > 0.0 { monetary.max(0.0) } else { 0.0 };
        let v = self.p * (self.gamma + x * m) / denom;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::Undefined {
                model: MODEL,
                quantity: "expected spend",
                reason: "the value overflows".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_numeric() {
        let t = SpendTable::from_rows(vec![(1.0, 10.0, 1.0), (2.0, 25.0, 2.0), (5.0, 7.5, 1.0)]);
        let th = [3.0, 2.5, 12.0];
        let (_, g) = log_likelihood_and_gradient(&t, th[0], th[1], th[2]);
        for i in 0..3 {
            let h = 1e-6;
            let (mut hi, mut lo) = (th, th);
            hi[i] += h;
            lo[i] -= h;
            let num = (log_likelihood_and_gradient(&t, hi[0], hi[1], hi[2]).0
                - log_likelihood_and_gradient(&t, lo[0], lo[1], lo[2]).0)
                / (2.0 * h);
            assert!(
                (num - g[i]).abs() < 1e-6 * (1.0 + num.abs()),
                "{i}: {num} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn exclusions_are_counted_not_errors() {
        let freq = [0.0, 1.0, 2.0, 3.0, 1.0, 4.0, 2.0];
        let money = [f64::NAN, 0.0, -5.0, 30.0, 12.0, 18.0, 22.0];
        let m = GammaGammaParams::default()
            .fit(&freq, &money)
            .expect("fits");
        assert_eq!(m.n_excluded_no_repeat(), 1);
        assert_eq!(m.n_excluded_nonpositive_spend(), 2);
        assert_eq!(m.diagnostics().n_customers, 4);
        assert!(m.diagnostics().log_likelihood.is_finite());
    }

    #[test]
    fn hostile_inputs_give_clear_errors() {
        let gg = GammaGammaParams::default();
        assert!(matches!(gg.fit(&[], &[]), Err(Error::Empty { .. })));
        assert!(matches!(
            gg.fit(&[1.0, 2.0], &[5.0, f64::NAN]),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        assert!(matches!(
            gg.fit(&[1.0, -2.0], &[5.0, 1.0]),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        assert!(matches!(
            gg.fit(&[0.0, 0.0], &[0.0, 0.0]),
            Err(Error::NoRepeatBuyers { .. })
        ));
        assert!(matches!(
            gg.fit(&[1.0, 2.0], &[0.0, -1.0]),
            Err(Error::FitFailed { .. })
        ));
        // Everyone spends exactly the same: p and q are not identified, but nothing breaks.
        let m = gg.fit(&[1.0, 2.0, 3.0], &[10.0, 10.0, 10.0]).expect("fits");
        assert!(!m.diagnostics().warnings.is_empty());
        let one = gg
            .fit(&[3.0], &[25.0])
            .expect("a single repeat buyer still fits");
        assert!(!one.diagnostics().warnings.is_empty());
        assert!(one
            .conditional_expected_spend(3.0, 25.0)
            .is_ok_and(f64::is_finite));
        let q1 = GammaGammaFitted::from_parameters(2.0, 0.5, 10.0).expect("valid");
        assert!(matches!(q1.expected_spend(), Err(Error::Undefined { .. })));
        let v = q1
            .conditional_expected_spend(3.0, 20.0)
            .expect("finite for x > 0");
        assert!(v.is_finite());
    }
}
