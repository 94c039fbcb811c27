//! The predictions every fitted transaction model (BG/NBD, Pareto/NBD) offers, as one trait so
//! that CLV and holdout evaluation work with either.

use crate::error::Result;
use crate::fit::{check_customer, check_time};

/// A fitted model of the repeat-purchase process ("buy till you die").
///
/// Times are in the unit of the data the model was fitted on; `age` is the customer's *T*. Every
/// method validates its arguments and reports the first invalid one as an error.
pub trait PurchaseModel: Sync {
    /// Short model name for messages ("bg/nbd", "pareto/nbd").
    fn model_name(&self) -> &'static str;

    /// Unconditional E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired.
    fn expected_purchases(&self, t: f64) -> Result<f64>;

    /// Conditional E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] given the history.
    fn conditional_expected_purchases(&self, t: f64, x: f64, t_x: f64, age: f64) -> Result<f64>;

    /// Conditional E[Y(t) | x, t_x, T] of one customer for several horizons `ts` at once, into
    /// `out` (same length). Models override it where horizons can share work (BG/NBD shares its
    /// hypergeometric series' coefficients and P(alive)); CLV's monthly sums use it.
    fn conditional_expected_purchases_many(
        &self,
        ts: &[f64],
        x: f64,
        t_x: f64,
        age: f64,
        out: &mut [f64],
    ) -> Result<()> {
        for (t, o) in ts.iter().zip(out.iter_mut()) {
            *o = self.conditional_expected_purchases(*t, x, t_x, age)?;
        }
        Ok(())
    }

    /// Conditional E[Y(t) | x, t_x, T] of one customer as a function of t ∈ (0, `max_t`], for
    /// callers that evaluate one customer at many horizons one after another (root finding).
    /// Models override it where the horizons can share work (BG/NBD computes P(alive) and its
    /// series coefficients once); the answers equal [`PurchaseModel::conditional_expected_purchases`].
    fn conditional_expected_purchases_curve<'a>(
        &'a self,
        x: f64,
        t_x: f64,
        age: f64,
        max_t: f64,
    ) -> Result<Box<dyn Fn(f64) -> Result<f64> + 'a>> {
        check_customer(x, t_x, age)?;
        check_time("max_t", max_t)?;
        Ok(Box::new(move |t| {
            self.conditional_expected_purchases(t, x, t_x, age)
        }))
    }

    /// P(alive at T | x, t_x, T), in [0, 1].
    fn probability_alive(&self, x: f64, t_x: f64, age: f64) -> Result<f64>;

    /// Expected time until the next purchase, measured from the end of calibration (*T*).
    ///
    /// Defined as the horizon t* at which the conditional expected number of purchases reaches
    /// one, E[Y(t*) | x, t_x, T] = 1 (found by safeguarded false position; E is increasing in t).
    /// `None` when fewer than one purchase is expected within `max_horizon`, i.e. the customer is
    /// not expected to order again in the window the caller cares about. Add t* to the as-of date
    /// to get a next-order date.
    fn expected_time_to_next_purchase(
        &self,
        x: f64,
        t_x: f64,
        age: f64,
        max_horizon: f64,
    ) -> Result<Option<f64>> {
        check_customer(x, t_x, age)?;
        check_time("max_horizon", max_horizon)?;
        let f = |t: f64| -> Result<f64> {
            Ok(self.conditional_expected_purchases(t, x, t_x, age)? - 1.0)
        };
        let f_hi = f(max_horizon)?;
        if f_hi < 0.0 {
            return Ok(None);
        }
        // E[Y(0)] = 0, so f(0) = −1.
        root_in_bracket(f, 0.0, -1.0, max_horizon, f_hi, 0.0).map(Some)
    }
}

/// The root of the increasing function `f` in [lo, hi], given f(lo) < 0 ≤ f(hi), by Brent's
/// method (R. P. Brent, *Algorithms for Minimization without Derivatives*, 1973, ch. 4: inverse
/// quadratic interpolation and secant steps, with bisection whenever they do not shrink the
/// bracket fast enough), until the bracket is narrower than `tolerance` or 1e-10 of `hi`,
/// whichever is wider. Shared by [`PurchaseModel::expected_time_to_next_purchase`] and the
/// one-pass forecast, which brackets the root with horizons it has already evaluated; on the
/// smooth expectation curves it needs about half the evaluations of regula falsi.
pub(crate) fn root_in_bracket(
    f: impl Fn(f64) -> Result<f64>,
    lo: f64,
    f_lo: f64,
    hi: f64,
    f_hi: f64,
    tolerance: f64,
) -> Result<f64> {
    let tol = tolerance.max(1e-10 * hi.max(1e-300));
    // b: best estimate; a: previous b; c: the other end of the bracket [b, c].
    let (mut a, mut fa, mut b, mut fb) = (lo, f_lo, hi, f_hi);
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..200 {
        if (fb > 0.0) == (fc > 0.0) && fb != 0.0 {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol1 = 2.0 * f64::EPSILON * b.abs() + 0.5 * tol;
        let xm = 0.5 * (c - b);
        if xm.abs() <= tol1 || fb == 0.0 {
            return Ok(b);
        }
        if e.abs() >= tol1 && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q) = if a == c {
                (2.0 * xm * s, 1.0 - s)
            } else {
                let q = fa / fc;
                let r = fb / fc;
                (
                    s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0)),
                    (q - 1.0) * (r - 1.0) * (s - 1.0),
                )
            };
            if p > 0.0 {
                q = -q;
            }
            p = p.abs();
            let min1 = 3.0 * xm * q - (tol1 * q).abs();
            let min2 = (e * q).abs();
            if 2.0 * p < min1.min(min2) {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol1 { d } else { tol1.copysign(xm) };
        fb = f(b)?;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Increasing functions of several shapes (flat, steep, convex, concave, kinked): the
        /// answer lies within the tolerance of the true root.
        #[test]
        fn brent_finds_the_root_of_increasing_functions(
            root in 0.5f64..700.0,
            slope in 1e-4f64..10.0,
            cubic in 0.0f64..1.0,
            kink in 0.0f64..5.0,
            tolerance in prop_oneof![Just(0.0), Just(1e-6), Just(1e-3)],
        ) {
            let f = |t: f64| -> Result<f64> {
                let u = t - root;
                Ok(slope * u + cubic * u * u * u + kink * u.max(0.0))
            };
            let hi = 730.0;
            let lo = 0.0;
            let found = root_in_bracket(f, lo, f(lo)?, hi, f(hi)?, tolerance)?;
            let allowed = tolerance.max(1e-10 * hi) + 1e-9;
            prop_assert!((found - root).abs() <= allowed, "{found} vs {root}");
        }
    }
}
