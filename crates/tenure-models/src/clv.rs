//! Customer lifetime value over a finite horizon with monthly discounting.
//!
//! Following lifetimes' `customer_lifetime_value` (lifetimes 0.11.3, `utils._customer_lifetime_value`)
//! and Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
//! Analysis", *Journal of Marketing Research* 42(4): for a customer with history (x, t_x, T) and
//! expected spend per transaction s (typically the Gamma-Gamma conditional expectation),
//!
//! CLV = Σ_{i=1}^{H} ( E[Y(i·u) | x, t_x, T] − E[Y((i−1)·u) | x, t_x, T] ) · s / (1 + d)^i,
//!
//! where H is `horizon_months`, d the monthly discount rate and u the number of model time units
//! per month (lifetimes uses u = 30 for daily data, 4.345 for weekly and 1 for monthly). Month i's
//! expected purchases are discounted by a full month i, as lifetimes does (end-of-month cash
//! flows).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bg_nbd::BgNbdParams;
use crate::bootstrap::{self, BootstrapParams, BootstrapResult};
use crate::data::{multinomial_counts, BtydData, Table};
use crate::error::{Error, Result};
use crate::gamma_gamma::{GammaGammaFitted, GammaGammaParams, SpendTable};
use crate::purchase::PurchaseModel;

/// Settings of the CLV calculation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClvParams {
    /// Number of months H summed over.
    pub horizon_months: u32,
    /// Monthly discount rate d (0.01 = 1 % a month).
    pub monthly_discount_rate: f64,
    /// Model time units per month u: 30 for data in days, 4.345 for weeks (lifetimes), 1 for months.
    pub units_per_month: f64,
}

impl Default for ClvParams {
    fn default() -> Self {
        Self {
            horizon_months: 12,
            monthly_discount_rate: 0.01,
            units_per_month: 30.0,
        }
    }
}

impl ClvParams {
    /// Checks the discount rate and the month length.
    pub(crate) fn validate(&self) -> Result<()> {
        if !self.monthly_discount_rate.is_finite() || self.monthly_discount_rate <= -1.0 {
            return Err(Error::InvalidArgument {
                name: "monthly_discount_rate",
                value: self.monthly_discount_rate,
                reason: "must be finite and > -1",
            });
        }
        if !self.units_per_month.is_finite() || self.units_per_month <= 0.0 {
            return Err(Error::InvalidArgument {
                name: "units_per_month",
                value: self.units_per_month,
                reason: "must be finite and > 0",
            });
        }
        Ok(())
    }

    /// Σ_i (E[Y(i·u)] − E[Y((i−1)·u)]) / (1+d)^i for one customer: CLV per unit of spend. All
    /// month ends `ts` (= i·u) are evaluated in one call, so models can share work across them.
    fn discounted_purchases(
        &self,
        model: &dyn PurchaseModel,
        ts: &[f64],
        x: f64,
        t_x: f64,
        age: f64,
    ) -> Result<f64> {
        let mut e = vec![0.0; ts.len()];
        model.conditional_expected_purchases_many(ts, x, t_x, age, &mut e)?;
        Ok(self.discount(e))
    }

    /// Σ_i (e_i − e_{i−1}) / (1+d)^i over cumulative expected purchases `e` at the month ends
    /// (e_0 = 0): CLV per unit of spend.
    pub(crate) fn discount(&self, cumulative: impl IntoIterator<Item = f64>) -> f64 {
        let mut total = 0.0;
        let mut previous = 0.0;
        let mut discount = 1.0;
        for e in cumulative {
            discount /= 1.0 + self.monthly_discount_rate;
            total += (e - previous).max(0.0) * discount;
            previous = e;
        }
        total
    }

    /// The month ends of the horizon, in model time units.
    pub(crate) fn month_ends(&self) -> Vec<f64> {
        (1..=self.horizon_months)
            .map(|i| f64::from(i) * self.units_per_month)
            .collect()
    }

    /// Expected discounted purchases over the horizon for every customer (CLV per unit spend).
    pub fn discounted_expected_purchases(
        &self,
        model: &dyn PurchaseModel,
        data: &BtydData,
    ) -> Result<Vec<f64>> {
        self.validate()?;
        let ts = self.month_ends();
        let failure = std::sync::OnceLock::new();
        let out =
            data.map_unique(
                |x, tx, age| match self.discounted_purchases(model, &ts, x, tx, age) {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = failure.set(e);
                        0.0
                    }
                },
            );
        match failure.into_inner() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// CLV of every customer in `data` given each one's expected spend per transaction.
    ///
    /// Errors on invalid settings, misaligned columns, or a spend that is not finite and >= 0
    /// (naming the row).
    pub fn customer_lifetime_value(
        &self,
        model: &dyn PurchaseModel,
        data: &BtydData,
        expected_spend: &[f64],
    ) -> Result<Vec<f64>> {
        if expected_spend.len() != data.len() {
            return Err(Error::LengthMismatch {
                what: "clv",
                left: data.len(),
                right: expected_spend.len(),
            });
        }
        if let Some(row) = expected_spend
            .iter()
            .position(|s| !s.is_finite() || *s < 0.0)
        {
            return Err(Error::InvalidInput {
                row,
                field: "expected_spend",
                value: expected_spend[row],
                reason: "expected spend must be finite and >= 0",
            });
        }
        let per_unit = self.discounted_expected_purchases(model, data)?;
        Ok(per_unit
            .iter()
            .zip(expected_spend)
            .map(|(d, s)| d * s)
            .collect())
    }

    /// Bootstrap-over-customers interval of the CLV of every customer in `query`, refitting a
    /// BG/NBD transaction model and a Gamma-Gamma spend model on each resample of `data`
    /// (`monetary` = mean repeat spend per customer; see [`GammaGammaParams::fit`]). Spend is the
    /// Gamma-Gamma conditional expectation.
    #[expect(
        clippy::too_many_arguments,
        reason = "two model settings, fit data, query data and bootstrap settings are all needed"
    )]
    pub fn bootstrap(
        &self,
        transactions: &BgNbdParams,
        spend: &GammaGammaParams,
        data: &BtydData,
        monetary: &[f64],
        query: &BtydData,
        query_monetary: &[f64],
        boot: &BootstrapParams,
    ) -> Result<BootstrapResult> {
        self.validate()?;
        boot.validate()?;
        if monetary.len() != data.len() {
            return Err(Error::LengthMismatch {
                what: "clv bootstrap",
                left: data.len(),
                right: monetary.len(),
            });
        }
        let joint = Joint::new(data, monetary)?;
        let bg = transactions.fit(data)?;
        let gg = spend.fit(data.x(), monetary)?;
        let predict = |bg: &dyn PurchaseModel, gg: &GammaGammaFitted| -> Result<Vec<f64>> {
            let s = gg.predict_conditional_expected_spend(query.x(), query_monetary)?;
            self.customer_lifetime_value(bg, query, &s)
        };
        let estimates = predict(&bg, &gg)?;
        let warm_bg = [bg.r(), bg.alpha(), bg.a(), bg.b()];
        let warm_gg = [gg.p(), gg.q(), gg.gamma()];
        let mut rng = ChaCha8Rng::seed_from_u64(boot.seed);
        let mut replicates = Vec::with_capacity(boot.n_resamples);
        let mut n_failed = 0;
        for _ in 0..boot.n_resamples {
            let counts = multinomial_counts(&joint.w, &mut rng);
            let (table, spend_table) = joint.tables(&counts);
            let refit = transactions
                .fit_table(&table, Some(warm_bg))
                .and_then(|b| Ok((b, spend.fit_table(&spend_table, Some(warm_gg))?)))
                .and_then(|(b, g)| predict(&b, &g));
            match refit {
                Ok(v) => replicates.push(v),
                Err(_) => n_failed += 1,
            }
        }
        if replicates.is_empty() {
            return Err(Error::FitFailed {
                model: "clv",
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

/// Customers compressed on (x, t_x, T, m̄) so that one multinomial draw resamples both models'
/// inputs together.
struct Joint {
    x: Vec<f64>,
    t_x: Vec<f64>,
    age: Vec<f64>,
    m: Vec<f64>,
    w: Vec<f64>,
}

impl Joint {
    fn new(data: &BtydData, monetary: &[f64]) -> Result<Self> {
        let mut keys = Vec::with_capacity(data.len());
        for (i, &money) in monetary.iter().enumerate() {
            let x = data.x()[i];
            // Spend only matters for repeat buyers; normalise the rest so they compress.
            let m = if x > 0.0 {
                let m = money;
                if !m.is_finite() {
                    return Err(Error::InvalidInput {
                        row: i,
                        field: "monetary",
                        value: m,
                        reason: "the mean repeat spend of a repeat buyer must be finite",
                    });
                }
                m + 0.0
            } else {
                0.0
            };
            keys.push((
                x.to_bits(),
                data.t_x()[i].to_bits(),
                data.age()[i].to_bits(),
                m.to_bits(),
                i,
            ));
        }
        // Sort by value: x, t_x and T are >= 0, so their bit patterns order like the values; m
        // may be negative, which only affects its position within a block, never the merging.
        keys.sort_unstable();
        let mut j = Joint {
            x: Vec::new(),
            t_x: Vec::new(),
            age: Vec::new(),
            m: Vec::new(),
            w: Vec::new(),
        };
        for (xb, tb, ab, mb, _) in keys {
            let n = j.x.len();
            let row = (
                f64::from_bits(xb),
                f64::from_bits(tb),
                f64::from_bits(ab),
                f64::from_bits(mb),
            );
            if n > 0 && (j.x[n - 1], j.t_x[n - 1], j.age[n - 1], j.m[n - 1]) == row {
                j.w[n - 1] += 1.0;
            } else {
                j.x.push(row.0);
                j.t_x.push(row.1);
                j.age.push(row.2);
                j.m.push(row.3);
                j.w.push(1.0);
            }
        }
        Ok(j)
    }

    /// The BTYD table and the spend table for the given joint-row counts.
    fn tables(&self, counts: &[f64]) -> (Table, SpendTable) {
        let table = Table::from_sorted_rows(
            (0..self.x.len()).map(|i| (self.x[i], self.t_x[i], self.age[i], counts[i])),
        );
        let spend = SpendTable::from_rows(
            (0..self.x.len())
                .filter(|&i| self.x[i] > 0.0 && self.m[i] > 0.0 && counts[i] > 0.0)
                .map(|i| (self.x[i], self.m[i], counts[i]))
                .collect(),
        );
        (table, spend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bg_nbd::BgNbdFitted;

    #[test]
    fn clv_matches_the_lifetimes_sum() {
        let m =
            BgNbdFitted::from_parameters(0.242_593, 4.413_597, 0.792_93, 2.425_895).expect("valid");
        let data =
            BtydData::from_slices(&[2.0, 0.0], &[30.43, 0.0], &[38.86, 38.86]).expect("valid");
        let params = ClvParams {
            horizon_months: 3,
            monthly_discount_rate: 0.01,
            units_per_month: 4.345,
        };
        let clv = params
            .customer_lifetime_value(&m, &data, &[20.0, 30.0])
            .expect("valid");
        let e = |t: f64, i: usize| {
            m.conditional_expected_purchases(t, data.x()[i], data.t_x()[i], data.age()[i])
                .expect("valid")
        };
        for i in 0..2 {
            let spend = [20.0, 30.0][i];
            let mut want = 0.0;
            for month in 1..=3 {
                let t = f64::from(month) * 4.345;
                want += (e(t, i) - e(t - 4.345, i)) * spend / 1.01f64.powi(month);
            }
            assert!((clv[i] - want).abs() < 1e-12, "{} vs {want}", clv[i]);
        }
        assert!(params.customer_lifetime_value(&m, &data, &[1.0]).is_err());
        assert!(matches!(
            params.customer_lifetime_value(&m, &data, &[1.0, f64::NAN]),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        let zero_spend = params
            .customer_lifetime_value(&m, &data, &[0.0, 0.0])
            .expect("valid");
        assert_eq!(zero_spend, vec![0.0, 0.0]);
    }
}
