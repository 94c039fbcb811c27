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
        let mut hi = max_horizon;
        let mut f_hi = f(hi)?;
        if f_hi < 0.0 {
            return Ok(None);
        }
        let mut lo = 0.0;
        let mut f_lo = -1.0;
        let mut side = 0i8;
        for _ in 0..200 {
            if hi - lo <= 1e-10 * hi.max(1e-300) {
                break;
            }
            // Illinois variant of regula falsi, with a bisection guard.
            let mut mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
            if !(mid > lo && mid < hi) {
                mid = 0.5 * (lo + hi);
            }
            let f_mid = f(mid)?;
            if f_mid == 0.0 {
                return Ok(Some(mid));
            }
            if f_mid < 0.0 {
                lo = mid;
                f_lo = f_mid;
                if side == -1 {
                    f_hi *= 0.5;
                }
                side = -1;
            } else {
                hi = mid;
                f_hi = f_mid;
                if side == 1 {
                    f_lo *= 0.5;
                }
                side = 1;
            }
        }
        Ok(Some(hi))
    }
}
