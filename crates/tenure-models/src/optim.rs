//! A small dense BFGS minimizer for the 3–4 log-parameters of the BTYD models, plus numerical
//! derivatives and the linear algebra the diagnostics need.
//!
//! BFGS with the strong-Wolfe line search of Nocedal & Wright, *Numerical Optimization* (2nd ed.),
//! Algorithms 3.5/3.6 and eq. 6.17 for the inverse-Hessian update. Points outside the box
//! `|x_i| ≤ bound` (log scale) and points where the objective is not finite count as "too far",
//! so the line search backs off from them instead of failing.

/// Objective with gradient: returns f(x) and writes ∇f(x) into the slice.
pub(crate) type Objective<'a> = dyn FnMut(&[f64], &mut [f64]) -> f64 + 'a;

/// Stopping rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Most BFGS iterations.
    pub max_iter: usize,
    /// Converged when the largest absolute gradient component is at most this.
    pub gtol: f64,
    /// Box on every coordinate, |x_i| ≤ bound.
    pub bound: f64,
}

/// Where the minimizer stopped.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    /// Final inverse-Hessian approximation (row-major), to continue from.
    pub inv_hessian: Vec<f64>,
}

/// Largest step, in log-parameter units, that one line search may start with.
const MAX_STEP: f64 = 3.0;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

pub(crate) fn euclid_norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn eval(f: &mut Objective<'_>, x: &[f64], g: &mut [f64], bound: f64) -> f64 {
    if x.iter().any(|v| !v.is_finite() || v.abs() > bound) {
        return f64::INFINITY;
    }
    let v = f(x, g);
    if v.is_finite() && g.iter().all(|v| v.is_finite()) {
        v
    } else {
        f64::INFINITY
    }
}

struct Point {
    a: f64,
    f: f64,
    x: Vec<f64>,
    g: Vec<f64>,
}

/// Strong-Wolfe line search (N&W Algorithm 3.5 with zoom 3.6); `None` when no decrease was found.
fn line_search(
    f: &mut Objective<'_>,
    x: &[f64],
    f0: f64,
    g0: &[f64],
    d: &[f64],
    a_init: f64,
    bound: f64,
) -> Option<Point> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    // Few tries: near the optimum, failures are due to rounding and more tries only burn time.
    const MAX_EXPAND: usize = 12;
    const MAX_ZOOM: usize = 16;
    let n = x.len();
    let dphi0 = dot(g0, d);
    let mut trial = |a: f64| -> Point {
        let xa: Vec<f64> = x.iter().zip(d).map(|(xi, di)| xi + a * di).collect();
        let mut ga = vec![0.0; n];
        let fa = eval(f, &xa, &mut ga, bound);
        Point {
            a,
            f: fa,
            x: xa,
            g: ga,
        }
    };
    let mut prev = Point {
        a: 0.0,
        f: f0,
        x: x.to_vec(),
        g: g0.to_vec(),
    };
    let mut a = a_init;
    let mut tries = 0;
    let (mut lo, mut hi) = loop {
        if tries == MAX_EXPAND {
            return (prev.a > 0.0).then_some(prev);
        }
        let p = trial(a);
        if !p.f.is_finite() || p.f > f0 + C1 * p.a * dphi0 || (tries > 0 && p.f >= prev.f) {
            break (prev, p);
        }
        let dphi = dot(&p.g, d);
        if dphi.abs() <= -C2 * dphi0 {
            return Some(p);
        }
        if dphi >= 0.0 {
            break (p, prev);
        }
        prev = p;
        a *= 2.0;
        tries += 1;
    };
    for _ in 0..MAX_ZOOM {
        let width = hi.a - lo.a;
        if width.abs() < 1e-16 * (1.0 + lo.a.abs()) {
            break;
        }
        // Quadratic interpolation from f(lo), f'(lo), f(hi), safeguarded to the middle 80 %.
        let dphi_lo = dot(&lo.g, d);
        let mut a_new = if hi.f.is_finite() {
            let denom = 2.0 * (hi.f - lo.f - dphi_lo * width);
            if denom > 0.0 {
                lo.a - dphi_lo * width * width / denom
            } else {
                lo.a + 0.5 * width
            }
        } else {
            lo.a + 0.5 * width
        };
        let (left, right) = (lo.a.min(hi.a), lo.a.max(hi.a));
        let margin = 0.1 * (right - left);
        if !a_new.is_finite() || a_new < left + margin || a_new > right - margin {
            a_new = lo.a + 0.5 * width;
        }
        let p = trial(a_new);
        if !p.f.is_finite() || p.f > f0 + C1 * p.a * dphi0 || p.f >= lo.f {
            hi = p;
        } else {
            let dphi = dot(&p.g, d);
            if dphi.abs() <= -C2 * dphi0 {
                return Some(p);
            }
            if dphi * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = p;
        }
    }
    (lo.a > 0.0 && lo.f < f0).then_some(lo)
}

/// Minimizes `f` from `x0` with BFGS, starting from the inverse-Hessian approximation `h0` if
/// given (to continue an earlier run); `None` when `f(x0)` is not finite.
pub(crate) fn minimize(
    f: &mut Objective<'_>,
    x0: &[f64],
    h0: Option<&[f64]>,
    opts: &Options,
) -> Option<Minimum> {
    let n = x0.len();
    let mut x: Vec<f64> = x0
        .iter()
        .map(|v| v.clamp(-opts.bound, opts.bound))
        .collect();
    let mut g = vec![0.0; n];
    let mut fx = eval(f, &x, &mut g, opts.bound);
    if !fx.is_finite() {
        return None;
    }
    let identity = |h: &mut Vec<f64>| {
        h.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            h[i * n + i] = 1.0;
        }
    };
    let mut h = vec![0.0; n * n];
    identity(&mut h);
    let mut h_is_identity = true;
    if let Some(h0) = h0.filter(|h0| h0.len() == n * n && h0.iter().all(|v| v.is_finite())) {
        h.copy_from_slice(h0);
        h_is_identity = false;
    }
    let mut iterations = 0;
    let mut stalls = 0;
    while iterations < opts.max_iter {
        if inf_norm(&g) <= opts.gtol {
            break;
        }
        iterations += 1;
        let mut d: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>())
            .collect();
        if dot(&g, &d) >= 0.0 || d.iter().any(|v| !v.is_finite()) {
            identity(&mut h);
            h_is_identity = true;
            d = g.iter().map(|v| -v).collect();
        }
        // The predicted decrease is below what f can resolve: further line searches would only
        // chase rounding noise (the caller's Newton polish, driven by the gradient, takes over).
        if -dot(&g, &d) <= 8.0 * f64::EPSILON * fx.abs() {
            break;
        }
        let dn = inf_norm(&d);
        let a0 = if dn > MAX_STEP { MAX_STEP / dn } else { 1.0 };
        let Some(p) = line_search(f, &x, fx, &g, &d, a0, opts.bound) else {
            if h_is_identity {
                break;
            }
            identity(&mut h);
            h_is_identity = true;
            continue;
        };
        let s: Vec<f64> = p.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = p.g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        let yy = dot(&y, &y);
        if sy > 1e-12 * euclid_norm(&s) * yy.sqrt() {
            if h_is_identity {
                // N&W eq. 6.20: scale the first approximation.
                let scale = sy / yy;
                h.iter_mut().for_each(|v| *v *= scale);
            }
            // N&W eq. 6.17: H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ.
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum())
                .collect();
            let yhy = dot(&y, &hy);
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] +=
                        rho * ((1.0 + rho * yhy) * s[i] * s[j] - hy[i] * s[j] - s[i] * hy[j]);
                }
            }
            h_is_identity = false;
        }
        let decrease = fx - p.f;
        x = p.x;
        g = p.g;
        fx = p.f;
        // Stop when the objective no longer moves at machine precision.
        if decrease <= 1e-15 * (1.0 + fx.abs()) {
            stalls += 1;
            if stalls >= 2 {
                break;
            }
        } else {
            stalls = 0;
        }
    }
    let converged = inf_norm(&g) <= opts.gtol;
    Some(Minimum {
        x,
        f: fx,
        grad: g,
        iterations,
        converged,
        inv_hessian: h,
    })
}

/// Central-difference gradient, (f(x+h) − f(x−h)) / 2h per coordinate: error O(h²) from
/// truncation plus O(ε|f|/h) from rounding, about 1e-10 for h = 1e-5 on the O(1) mean objectives
/// here, well below the gradient tolerances used.
pub(crate) fn numeric_gradient(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    grad: &mut [f64],
    h: f64,
) {
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        xp[i] = x[i] + h;
        let fp = f(&xp);
        xp[i] = x[i] - h;
        let fm = f(&xp);
        xp[i] = x[i];
        grad[i] = (fp - fm) / (2.0 * h);
    }
}

/// Symmetric Hessian by central differences of the gradient (row-major n×n); `None` if not finite.
pub(crate) fn hessian(f: &mut Objective<'_>, x: &[f64], h: f64) -> Option<Vec<f64>> {
    let n = x.len();
    let mut out = vec![0.0; n * n];
    let mut xp = x.to_vec();
    let mut gp = vec![0.0; n];
    let mut gm = vec![0.0; n];
    for i in 0..n {
        xp[i] = x[i] + h;
        let fp = f(&xp, &mut gp);
        xp[i] = x[i] - h;
        let fm = f(&xp, &mut gm);
        xp[i] = x[i];
        if !fp.is_finite() || !fm.is_finite() {
            return None;
        }
        for j in 0..n {
            out[i * n + j] = (gp[j] - gm[j]) / (2.0 * h);
        }
    }
    for i in 0..n {
        for j in 0..i {
            let avg = 0.5 * (out[i * n + j] + out[j * n + i]);
            out[i * n + j] = avg;
            out[j * n + i] = avg;
        }
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// Symmetric Hessian from function values alone (row-major n×n), for objectives whose gradient
/// is itself numerical: (f(x±h e_i) − 2f(x)) / h² on the diagonal and the four-point cross
/// difference off it, 2n² + 1 evaluations in all. `None` if any value is not finite.
pub(crate) fn hessian_from_values(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    h: f64,
) -> Option<Vec<f64>> {
    let n = x.len();
    let mut out = vec![0.0; n * n];
    let mut xp = x.to_vec();
    let f0 = f(x);
    let mut at = |xp: &mut Vec<f64>, i: usize, di: f64, j: usize, dj: f64| {
        xp[i] += di;
        xp[j] += dj;
        let v = f(xp);
        xp[i] = x[i];
        xp[j] = x[j];
        v
    };
    for i in 0..n {
        let fp = at(&mut xp, i, h, i, 0.0);
        let fm = at(&mut xp, i, -h, i, 0.0);
        out[i * n + i] = (fp - 2.0 * f0 + fm) / (h * h);
        for j in 0..i {
            let fpp = at(&mut xp, i, h, j, h);
            let fpm = at(&mut xp, i, h, j, -h);
            let fmp = at(&mut xp, i, -h, j, h);
            let fmm = at(&mut xp, i, -h, j, -h);
            let v = (fpp - fpm - fmp + fmm) / (4.0 * h * h);
            out[i * n + j] = v;
            out[j * n + i] = v;
        }
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// Lower Cholesky factor of a symmetric matrix; `None` unless it is positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !sum.is_finite() || sum <= 0.0 {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Inverse of a symmetric positive-definite matrix via its Cholesky factor.
pub(crate) fn inverse_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, n)?;
    let mut inv = vec![0.0; n * n];
    for col in 0..n {
        // Solve L y = e_col, then Lᵀ x = y.
        let mut y = vec![0.0; n];
        for i in 0..n {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i * n + k] * y[k];
            }
            y[i] = s / l[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = y[i];
            for k in i + 1..n {
                s -= l[k * n + i] * inv[k * n + col];
            }
            inv[i * n + col] = s / l[i * n + i];
        }
    }
    inv.iter().all(|v| v.is_finite()).then_some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn bfgs_solves_rosenbrock() {
        let opts = Options {
            max_iter: 500,
            gtol: 1e-10,
            bound: 50.0,
        };
        let m = minimize(&mut rosenbrock, &[-1.2, 1.0], None, &opts).expect("finite start");
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8,
            "{m:?}"
        );
    }

    #[test]
    fn bfgs_backs_off_from_non_finite_regions() {
        // ln-barrier at x = 0.5: the minimizer must stay on the finite side.
        let mut f = |x: &[f64], g: &mut [f64]| {
            if x[0] <= 0.5 {
                return f64::NAN;
            }
            g[0] = 1.0 - 1.0 / (x[0] - 0.5);
            x[0] - (x[0] - 0.5).ln()
        };
        let opts = Options {
            max_iter: 100,
            gtol: 1e-12,
            bound: 10.0,
        };
        let m = minimize(&mut f, &[5.0], None, &opts).expect("finite start");
        assert!((m.x[0] - 1.5).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn numeric_gradient_and_hessian_match_analytic() {
        let mut f = |x: &[f64]| x[0].exp() * x[1].sin();
        let mut g = [0.0; 2];
        numeric_gradient(&mut f, &[0.3, 0.7], &mut g, 1e-5);
        assert!((g[0] - 0.3f64.exp() * 0.7f64.sin()).abs() < 1e-9);
        assert!((g[1] - 0.3f64.exp() * 0.7f64.cos()).abs() < 1e-9);
        let h = hessian(&mut rosenbrock, &[1.0, 1.0], 1e-5).expect("finite");
        // Analytic Hessian of Rosenbrock at (1, 1): [[802, -400], [-400, 200]].
        assert!((h[0] - 802.0).abs() < 1e-4 && (h[1] + 400.0).abs() < 1e-4);
        let mut value = |x: &[f64]| rosenbrock(x, &mut [0.0; 2]);
        let hv = hessian_from_values(&mut value, &[1.0, 1.0], 1e-4).expect("finite");
        for (a, b) in h.iter().zip(&hv) {
            assert!((a - b).abs() < 1e-3, "{h:?} vs {hv:?}");
        }
        let inv = inverse_spd(&h, 2).expect("positive definite");
        let id00 = h[0] * inv[0] + h[1] * inv[2];
        let id01 = h[0] * inv[1] + h[1] * inv[3];
        assert!((id00 - 1.0).abs() < 1e-9 && id01.abs() < 1e-9);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
