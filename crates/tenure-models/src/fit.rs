//! Shared maximum-likelihood machinery: multi-start BFGS on log-parameters, then diagnostics
//! (gradient norm, Hessian definiteness, standard errors, identification warnings).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optim::{self, Objective, Options};

/// Every log-parameter is kept in [−LOG_BOUND, LOG_BOUND] (about 1e-11 to 7e10).
pub(crate) const LOG_BOUND: f64 = 25.0;

/// How a fit went: the numbers a caller needs to trust (or distrust) the estimates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitDiagnostics {
    /// Total log-likelihood of the data at the estimate, summed over customers (no penalty).
    pub log_likelihood: f64,
    /// The minimized objective: mean negative log-likelihood per customer plus the L2 penalty.
    pub objective: f64,
    /// Euclidean norm of the objective's gradient with respect to the log-parameters.
    pub gradient_norm: f64,
    /// BFGS iterations of the winning start.
    pub iterations: usize,
    /// Whether the winning start met the gradient tolerance.
    pub converged: bool,
    /// Whether the (numerical) Hessian of the objective is positive definite at the estimate.
    pub hessian_positive_definite: bool,
    /// Parameter names, in the order of `standard_errors`.
    pub parameter_names: Vec<String>,
    /// Asymptotic standard errors on the natural scale (delta method from the inverse Hessian of
    /// the total negative log-likelihood in log-parameters); `None` when the Hessian is not
    /// positive definite.
    pub standard_errors: Option<Vec<f64>>,
    /// Customers used by the fit.
    pub n_customers: usize,
    /// Distinct rows after compression.
    pub n_unique_rows: usize,
    /// Starting points tried.
    pub n_starts: usize,
    /// Human-readable problems: non-convergence, unidentified or poorly identified parameters.
    pub warnings: Vec<String>,
}

/// What the model-specific code hands to [`fit_log_params`].
pub(crate) struct Spec<'a> {
    pub model: &'static str,
    pub names: &'static [&'static str],
    pub starts: &'a [Vec<f64>],
    pub max_iter: usize,
    pub tol: f64,
    /// Step for the numerical Hessian (larger when the gradient itself is numerical).
    pub hessian_step: f64,
    /// The gradient is numerical: build the Hessian from values (the objective is then called
    /// with an empty gradient slice and must return the value alone).
    pub numeric_gradient: bool,
    pub total_weight: f64,
    pub n_unique_rows: usize,
}

/// Minimizes `objective` (mean penalized negative log-likelihood in log-parameters) from every
/// start, keeps the best, and builds the diagnostics. `screen`, if given, is the same objective
/// on a subsample of the rows, used to choose among the starts cheaply. `log_likelihood` is left
/// at 0 for the caller.
pub(crate) fn fit_log_params(
    spec: &Spec<'_>,
    objective: &mut Objective<'_>,
    screen: Option<&mut Objective<'_>>,
) -> Result<(Vec<f64>, FitDiagnostics)> {
    let opts = Options {
        max_iter: spec.max_iter,
        gtol: spec.tol,
        bound: LOG_BOUND,
    };
    // Phase 1: every start to a loose tolerance, which is enough to tell the optima apart; on a
    // subsample of the rows when the caller supplies one (large data).
    let loose = Options {
        gtol: spec.tol.max(1e-5),
        ..opts
    };
    // Phase 2: the winner, continued with its inverse-Hessian approximation, to full tolerance.
    let mut best = screen
        .and_then(|screen| best_start(screen, spec.starts, &loose))
        .and_then(|s| {
            optim::minimize(objective, &s.x, Some(&s.inv_hessian), &opts).map(|m| optim::Minimum {
                iterations: s.iterations + m.iterations,
                ..m
            })
        });
    if best.is_none() {
        best = best_start(objective, spec.starts, &loose).map(|s| {
            match optim::minimize(objective, &s.x, Some(&s.inv_hessian), &opts) {
                Some(m) if m.f <= s.f => optim::Minimum {
                    iterations: s.iterations + m.iterations,
                    ..m
                },
                _ => s,
            }
        });
    }
    let Some(mut best) = best else {
        return Err(Error::FitFailed {
            model: spec.model,
            reason: "the log-likelihood is not finite at any starting point".into(),
        });
    };
    let n = best.x.len();
    let hess = if spec.numeric_gradient {
        let mut value = |x: &[f64]| objective(x, &mut []);
        optim::hessian_from_values(&mut value, &best.x, spec.hessian_step)
    } else {
        optim::hessian(objective, &best.x, spec.hessian_step)
    };
    if let Some(h) = &hess {
        newton_polish(objective, &mut best, h);
    }
    best.converged = optim::inf_norm(&best.grad) <= spec.tol;
    let mut warnings = Vec::new();
    let gradient_norm = optim::euclid_norm(&best.grad);
    if !best.converged {
        warnings.push(format!(
            "the optimizer stopped after {} iterations with largest gradient component {:.3e} above \
             tol = {:.1e}; estimates may be imprecise",
            best.iterations,
            optim::inf_norm(&best.grad),
            spec.tol
        ));
    }
    let covariance = hess.as_ref().and_then(|h| {
        // Observed information of the total log-likelihood = W × Hessian of the mean.
        let info: Vec<f64> = h.iter().map(|v| v * spec.total_weight).collect();
        optim::inverse_spd(&info, n)
    });
    let hessian_positive_definite = hess
        .as_ref()
        .is_some_and(|h| optim::cholesky(h, n).is_some());
    if !hessian_positive_definite {
        warnings.push(
            "the Hessian of the log-likelihood is not positive definite at the estimate, so at least \
             one parameter is not identified by this data; standard errors are unavailable"
                .into(),
        );
    }
    let theta: Vec<f64> = best.x.iter().map(|v| v.exp()).collect();
    for (i, name) in spec.names.iter().enumerate() {
        if best.x[i].abs() > LOG_BOUND - 1.0 {
            warnings.push(format!(
                "{name} = {:.4e} ran to the edge of the search range; it is not identified by this data",
                theta[i]
            ));
        }
    }
    let standard_errors = match (&covariance, hessian_positive_definite) {
        (Some(cov), true) => {
            let mut se = Vec::with_capacity(n);
            for (i, name) in spec.names.iter().enumerate() {
                let se_log = cov[i * n + i].max(0.0).sqrt();
                if se_log > 3.0 {
                    warnings.push(format!(
                        "{name} is poorly identified: the standard error of ln {name} is {se_log:.2}"
                    ));
                }
                se.push(theta[i] * se_log);
            }
            se.iter().all(|v| v.is_finite()).then_some(se)
        }
        _ => None,
    };
    let diagnostics = FitDiagnostics {
        log_likelihood: 0.0,
        objective: best.f,
        gradient_norm,
        iterations: best.iterations,
        converged: best.converged,
        hessian_positive_definite,
        parameter_names: spec.names.iter().map(|s| s.to_string()).collect(),
        standard_errors,
        n_customers: spec.total_weight.round() as usize,
        n_unique_rows: spec.n_unique_rows,
        n_starts: spec.starts.len(),
        warnings,
    };
    Ok((best.x, diagnostics))
}

/// The lowest minimum over the starts, each run with `opts`.
fn best_start(
    objective: &mut Objective<'_>,
    starts: &[Vec<f64>],
    opts: &Options,
) -> Option<optim::Minimum> {
    let mut best: Option<optim::Minimum> = None;
    for start in starts {
        let Some(m) = optim::minimize(objective, start, None, opts) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| m.f < b.f) {
            best = Some(m);
        }
    }
    best
}

/// Up to three Newton (chord) steps with one numerical Hessian, each accepted only if it shrinks
/// the gradient without raising the objective beyond rounding. Near the optimum BFGS stalls once
/// objective differences fall below machine precision; the gradient still carries information,
/// and Newton's method uses it.
fn newton_polish(objective: &mut Objective<'_>, best: &mut optim::Minimum, hess: &[f64]) {
    let n = best.x.len();
    let Some(inv) = optim::inverse_spd(hess, n) else {
        return;
    };
    for _ in 0..3 {
        let x_new: Vec<f64> = (0..n)
            .map(|i| best.x[i] - (0..n).map(|j| inv[i * n + j] * best.grad[j]).sum::<f64>())
            .collect();
        if x_new.iter().any(|v| !v.is_finite() || v.abs() > LOG_BOUND) {
            return;
        }
        let mut g_new = vec![0.0; n];
        let f_new = objective(&x_new, &mut g_new);
        let better = f_new.is_finite()
            && g_new.iter().all(|v| v.is_finite())
            && optim::inf_norm(&g_new) < optim::inf_norm(&best.grad)
            && f_new <= best.f + 1e-13 * (1.0 + best.f.abs());
        if !better {
            return;
        }
        best.x = x_new;
        best.grad = g_new;
        best.f = f_new;
    }
}

/// lifetimes' L2 penalty, c·Σθ², and its gradient with respect to φ = ln θ (2cθ²).
pub(crate) fn penalty(coef: f64, phi: &[f64], grad: &mut [f64]) -> f64 {
    if coef <= 0.0 {
        return 0.0;
    }
    let mut total = 0.0;
    for (g, p) in grad.iter_mut().zip(phi) {
        let t2 = (2.0 * p).exp();
        total += coef * t2;
        *g += 2.0 * coef * t2;
    }
    total
}

/// Checks the shared fitting settings.
pub(crate) fn check_settings(penalizer_coef: f64, tol: f64) -> Result<()> {
    if !penalizer_coef.is_finite() || penalizer_coef < 0.0 {
        return Err(Error::InvalidArgument {
            name: "penalizer_coef",
            value: penalizer_coef,
            reason: "must be finite and >= 0",
        });
    }
    if !tol.is_finite() || tol <= 0.0 {
        return Err(Error::InvalidArgument {
            name: "tol",
            value: tol,
            reason: "must be finite and > 0",
        });
    }
    Ok(())
}

/// Validates one customer's (x, t_x, T) for the scalar prediction methods; returns t_x.
pub(crate) fn check_customer(x: f64, t_x: f64, age: f64) -> Result<f64> {
    crate::data::validate_row(0, x, t_x, age)
}

/// Validates a forecast horizon or other non-negative time argument.
pub(crate) fn check_time(name: &'static str, t: f64) -> Result<()> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name,
            value: t,
            reason: "must be finite and >= 0",
        })
    }
}

/// Validates a fitted parameter supplied by hand.
pub(crate) fn check_positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name,
            value: v,
            reason: "model parameters must be finite and > 0",
        })
    }
}
