//! Simulation parameters and the row counts a run reports.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Parameters of the simulated shop; see the crate docs for the process they drive.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `customers` | 10,000 | customers written, prospects included |
/// | `seed` | 42 | key of the ChaCha8 generator |
/// | `start`, `end` | 2023-01-01, 2024-12-31 | first and last day of the period (both included) |
/// | `products` | 500 | catalogue size |
/// | `currency` | `USD` | currency of prices and amounts |
/// | `r`, `alpha` | 0.35, 5.0 | purchase rate λ ~ Gamma(shape r, rate α), per week (CDNOW: 0.24, 4.41) |
/// | `a`, `b` | 0.8, 2.5 | base dropout probability p ~ Beta(a, b) (CDNOW: 0.79, 2.43) |
/// | `satisfaction_effect` | 1.0 | β in p' = logistic(logit p − β·s); 0 switches the satisfaction link off (with `leave_after_issue` = 0 too, text says nothing about dropout) |
/// | `leave_after_issue` | 0.5 | chance that an order issue makes a customer of average satisfaction leave after that order (logit shifted by −β·s); the customer says so in the order's review or ticket 90% of the time; 0 switches this text-only signal off |
/// | `spend_p`, `spend_q`, `spend_gamma` | 6.0, 3.8, 25.0 | Gamma-Gamma spend: ν ~ Gamma(q, rate γ), order target ~ Gamma(p, rate ν) (CDNOW: 6.25, 3.74, 15.44) |
/// | `acquisition_growth` | 3.0 | acquisition rate on the last day ÷ on the first day (linear ramp) |
/// | `holiday_boost` | 1.0 | extra acquisition from 15 November to 31 December (1.0 doubles it) |
/// | `prospect_share` | 0.1 | share of customers who sign up and never order |
/// | `zh_customer_share` | 0.35 | share of customers in Chinese-writing places (write reviews and tickets in Chinese) |
/// | `zh_product_share` | 0.3 | share of products with Chinese titles and descriptions |
/// | `review_prob` | 0.2 | chance that a completed order gets a review |
/// | `browse_sessions_per_week` | 0.05 | browsing sessions without purchase while alive, base rate |
/// | `browse_sessions_per_purchase` | 2.0 | extra browsing sessions per expected purchase (rate += this · λ) |
/// | `email_opens_per_week` | 0.08 | marketing e-mail opens while alive |
/// | `email_opens_after_dropout_per_week` | 0.02 | marketing e-mail opens after dropout and by prospects |
///
/// The defaults keep CDNOW's shape (most customers buy once or twice, a few buy often) with a
/// somewhat busier shop: about 2.5 orders per buying customer over two years.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimParams {
    /// Customers written, prospects included.
    pub customers: u64,
    /// Key of the ChaCha8 generator; the same parameters and seed give byte-identical files.
    pub seed: u64,
    /// First day of the period (from 00:00:00 UTC).
    pub start: NaiveDate,
    /// Last day of the period (to 23:59:59 UTC); must be after `start`.
    pub end: NaiveDate,
    /// Catalogue size, 1 to 10,000,000.
    pub products: u32,
    /// Currency code written in `orders.csv`.
    pub currency: String,
    /// Gamma shape of the purchase rate λ (per week).
    pub r: f64,
    /// Gamma rate of λ, in weeks: mean λ = r / alpha purchases per week.
    pub alpha: f64,
    /// Beta `a` of the base dropout probability.
    pub a: f64,
    /// Beta `b` of the base dropout probability.
    pub b: f64,
    /// How strongly satisfaction lowers dropout (β); 0 switches the planted signal off.
    pub satisfaction_effect: f64,
    /// Chance that an order with an issue (late, broken, wrong item) makes a customer of average
    /// satisfaction resolve to leave right after that order; per customer
    /// logistic(logit(`leave_after_issue`) − β·s). The order's review and ticket then state it
    /// ("This was my last order here.") with probability 0.9 each, while the rating, the issue and
    /// the ticket count follow the same rules as for customers who stay: only the words tell. 0
    /// switches it off and reproduces the shop without it byte for byte.
    pub leave_after_issue: f64,
    /// Gamma-Gamma `p`: shape of one order's target spend given the customer.
    pub spend_p: f64,
    /// Gamma-Gamma `q`: shape of the customer's spend rate ν; must exceed 1 for a finite mean.
    pub spend_q: f64,
    /// Gamma-Gamma `γ`: rate of ν (currency units); mean order ≈ p·γ / (q − 1).
    pub spend_gamma: f64,
    /// Acquisition rate on the last day divided by that on the first (1 = flat).
    pub acquisition_growth: f64,
    /// Extra acquisition from 15 November to 31 December (0 = none, 1 = double).
    pub holiday_boost: f64,
    /// Share of customers who sign up and never order, 0 to 1.
    pub prospect_share: f64,
    /// Share of customers in Chinese-writing places, 0 to 1.
    pub zh_customer_share: f64,
    /// Share of products with Chinese titles and descriptions, 0 to 1.
    pub zh_product_share: f64,
    /// Chance that a completed order gets a review, 0 to 1.
    pub review_prob: f64,
    /// Browsing sessions per week while alive, on top of those before each order.
    pub browse_sessions_per_week: f64,
    /// Extra browsing sessions per expected purchase: the session rate grows by this times λ.
    pub browse_sessions_per_purchase: f64,
    /// Marketing e-mail opens per week while alive.
    pub email_opens_per_week: f64,
    /// Marketing e-mail opens per week after dropout, and for prospects.
    pub email_opens_after_dropout_per_week: f64,
}

/// A date that exists; the fallback is never used.
fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            customers: 10_000,
            seed: 42,
            start: date(2023, 1, 1),
            end: date(2024, 12, 31),
            products: 500,
            currency: "USD".to_string(),
            r: 0.35,
            alpha: 5.0,
            a: 0.8,
            b: 2.5,
            satisfaction_effect: 1.0,
            leave_after_issue: 0.5,
            spend_p: 6.0,
            spend_q: 3.8,
            spend_gamma: 25.0,
            acquisition_growth: 3.0,
            holiday_boost: 1.0,
            prospect_share: 0.1,
            zh_customer_share: 0.35,
            zh_product_share: 0.3,
            review_prob: 0.2,
            browse_sessions_per_week: 0.05,
            browse_sessions_per_purchase: 2.0,
            email_opens_per_week: 0.08,
            email_opens_after_dropout_per_week: 0.02,
        }
    }
}

/// Row counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSummary {
    /// Rows of `customers.csv` (and of `ground_truth.csv`).
    pub customers: u64,
    /// Rows of `orders.csv`.
    pub orders: u64,
    /// Rows of `order_items.csv`.
    pub order_items: u64,
    /// Rows of `events.csv`.
    pub events: u64,
    /// Rows of `reviews.csv`.
    pub reviews: u64,
    /// Rows of `tickets.csv`.
    pub tickets: u64,
    /// Rows of `products.csv`.
    pub products: u64,
}

fn param(name: &'static str, value: impl ToString, expected: &'static str) -> Error {
    Error::Param {
        name,
        value: value.to_string(),
        expected,
    }
}

impl SimParams {
    /// Checks every field; the first one out of range is reported.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.start >= self.end {
            return Err(Error::Period {
                start: self.start,
                end: self.end,
            });
        }
        for (name, d) in [("start", self.start), ("end", self.end)] {
            if !(1900..=9999).contains(&d.year()) {
                return Err(param(
                    name,
                    d,
                    "pass a date between the years 1900 and 9999",
                ));
            }
        }
        if !(1..=10_000_000).contains(&self.products) {
            return Err(param(
                "products",
                self.products,
                "pass between 1 and 10,000,000 products",
            ));
        }
        let positive = [
            ("r", self.r),
            ("alpha", self.alpha),
            ("a", self.a),
            ("b", self.b),
            ("spend_p", self.spend_p),
            ("spend_gamma", self.spend_gamma),
            ("acquisition_growth", self.acquisition_growth),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(param(name, v, "pass a finite number greater than 0"));
            }
        }
        if !(self.spend_q.is_finite() && self.spend_q > 1.0) {
            return Err(param(
                "spend_q",
                self.spend_q,
                "pass a finite number greater than 1 (the mean spend is infinite otherwise)",
            ));
        }
        let non_negative = [
            ("holiday_boost", self.holiday_boost),
            ("browse_sessions_per_week", self.browse_sessions_per_week),
            (
                "browse_sessions_per_purchase",
                self.browse_sessions_per_purchase,
            ),
            ("email_opens_per_week", self.email_opens_per_week),
            (
                "email_opens_after_dropout_per_week",
                self.email_opens_after_dropout_per_week,
            ),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(param(name, v, "pass a finite number of at least 0"));
            }
        }
        let shares = [
            ("prospect_share", self.prospect_share),
            ("zh_customer_share", self.zh_customer_share),
            ("zh_product_share", self.zh_product_share),
            ("review_prob", self.review_prob),
        ];
        if !(0.0..1.0).contains(&self.leave_after_issue) {
            return Err(param(
                "leave_after_issue",
                self.leave_after_issue,
                "pass a probability from 0 (off) up to, not including, 1",
            ));
        }
        for (name, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(param(name, v, "pass a share between 0 and 1"));
            }
        }
        if !self.satisfaction_effect.is_finite() || self.satisfaction_effect.abs() > 20.0 {
            return Err(param(
                "satisfaction_effect",
                self.satisfaction_effect,
                "pass a number between -20 and 20 (0 switches the signal off)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SimParams::default().validate().expect("defaults validate");
    }

    #[test]
    fn reversed_period_is_refused() {
        let d = SimParams::default();
        let p = SimParams {
            start: d.end,
            end: d.start,
            ..d
        };
        assert!(matches!(p.validate(), Err(Error::Period { .. })));
        let p = SimParams {
            end: p.end,
            start: p.end,
            ..p
        };
        assert!(matches!(p.validate(), Err(Error::Period { .. })));
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let cases = [
            SimParams {
                r: 0.0,
                ..SimParams::default()
            },
            SimParams {
                alpha: f64::NAN,
                ..SimParams::default()
            },
            SimParams {
                spend_q: 1.0,
                ..SimParams::default()
            },
            SimParams {
                products: 0,
                ..SimParams::default()
            },
            SimParams {
                prospect_share: 1.5,
                ..SimParams::default()
            },
            SimParams {
                email_opens_per_week: -1.0,
                ..SimParams::default()
            },
            SimParams {
                satisfaction_effect: f64::INFINITY,
                ..SimParams::default()
            },
            SimParams {
                leave_after_issue: 1.0,
                ..SimParams::default()
            },
            SimParams {
                start: date(1800, 1, 1),
                ..SimParams::default()
            },
        ];
        for p in cases {
            let e = p.validate().expect_err("refused");
            assert!(matches!(e, Error::Param { .. }), "{e}");
            assert!(
                e.to_string().contains("pass"),
                "message says what to do: {e}"
            );
        }
    }

    #[test]
    fn params_round_trip_through_json() {
        let p = SimParams {
            customers: 7,
            seed: 9,
            ..SimParams::default()
        };
        let json = serde_json::to_string(&p).expect("serialize");
        let back: SimParams = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(p, back);
        let partial: SimParams =
            serde_json::from_str(r#"{"customers": 3}"#).expect("defaults fill the rest");
        assert_eq!(partial.customers, 3);
        assert_eq!(partial.r, SimParams::default().r);
    }
}
