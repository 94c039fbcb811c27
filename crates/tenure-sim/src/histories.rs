//! Per-customer purchase summaries drawn straight from the BG/NBD and Gamma-Gamma processes, without
//! writing any order: the input of scale benchmarks of the value models (`tenure bench value`), where
//! 10M customers' orders as CSV would take tens of gigabytes for no extra information.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The processes behind [`purchase_histories`]. Time unit: days.
///
/// Purchases follow Fader, Hardie & Lee (2005): while alive, a customer buys at rate λ ~ Gamma(r, α)
/// and after each purchase drops out with probability p ~ Beta(a, b). Spend per purchase follows
/// Fader & Hardie (2013): z ~ Gamma(p_spend, ν) with ν ~ Gamma(q, γ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryParams {
    /// Customers to draw.
    pub n_customers: usize,
    /// BG/NBD shape r of the purchase rate.
    pub r: f64,
    /// BG/NBD scale α of the purchase rate, in days.
    pub alpha: f64,
    /// BG/NBD dropout Beta a.
    pub a: f64,
    /// BG/NBD dropout Beta b.
    pub b: f64,
    /// Gamma-Gamma shape p of spend per purchase.
    pub p_spend: f64,
    /// Gamma-Gamma shape q of the spend scale.
    pub q_spend: f64,
    /// Gamma-Gamma scale γ of the spend scale.
    pub gamma_spend: f64,
    /// Customers are acquired uniformly over this many days before the as-of date.
    pub max_age_days: u32,
    /// Seed of the ChaCha8 stream.
    pub seed: u64,
}

impl Default for HistoryParams {
    fn default() -> Self {
        HistoryParams {
            n_customers: 100_000,
            r: 0.25,
            alpha: 30.0,
            a: 0.8,
            b: 2.5,
            p_spend: 6.0,
            q_spend: 3.7,
            gamma_spend: 15.0,
            max_age_days: 730,
            seed: 1,
        }
    }
}

/// Summaries of every customer as of the end of the period, aligned by index, in the units of
/// tenure's features (days; x counts repeat purchase days).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseHistories {
    /// Repeat purchases x.
    pub x: Vec<f64>,
    /// Day of the last purchase after the first (t_x).
    pub t_x: Vec<f64>,
    /// Days since the first purchase (T).
    pub age: Vec<f64>,
    /// Mean spend of repeat purchases (NaN without one).
    pub monetary_mean: Vec<f64>,
    /// Days since the last purchase.
    pub recency: Vec<f64>,
    /// Orders, the first included.
    pub orders: Vec<f64>,
    /// Total spend, the first purchase included.
    pub spend: Vec<f64>,
}

fn param(name: &'static str, value: f64) -> Error {
    Error::Param {
        name,
        value: value.to_string(),
        expected: "a positive finite number",
    }
}

fn gamma(shape: f64, scale: f64, what: &'static str) -> Result<Gamma<f64>> {
    Gamma::new(shape, scale).map_err(|_| param(what, shape))
}

/// Draw `n_customers` summaries. Purchases land on whole days, as in order data; the same
/// parameters give the same summaries.
pub fn purchase_histories(p: &HistoryParams) -> Result<PurchaseHistories> {
    for (name, v) in [
        ("r", p.r),
        ("alpha", p.alpha),
        ("a", p.a),
        ("b", p.b),
        ("p_spend", p.p_spend),
        ("q_spend", p.q_spend),
        ("gamma_spend", p.gamma_spend),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(param(name, v));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let lambda = gamma(p.r, 1.0 / p.alpha, "purchase rate")?;
    let dropout = Beta::new(p.a, p.b).map_err(|_| param("a", p.a))?;
    let nu = gamma(p.q_spend, 1.0 / p.gamma_spend, "spend scale")?;
    let n = p.n_customers;
    let mut h = PurchaseHistories {
        x: Vec::with_capacity(n),
        t_x: Vec::with_capacity(n),
        age: Vec::with_capacity(n),
        monetary_mean: Vec::with_capacity(n),
        recency: Vec::with_capacity(n),
        orders: Vec::with_capacity(n),
        spend: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let age = f64::from(rng.random_range(0..=p.max_age_days));
        let rate = lambda.sample(&mut rng).max(1e-12);
        let p_drop: f64 = dropout.sample(&mut rng);
        let gap = Exp::new(rate).map_err(|_| param("purchase rate", rate))?;
        let (mut t, mut last, mut days) = (0.0f64, 0.0f64, 0u32);
        loop {
            t += gap.sample(&mut rng);
            if t > age {
                break;
            }
            let day = t.floor();
            // Purchases on the same day count once, as in the features.
            if day > last {
                days += 1;
                last = day;
            }
            if rng.random::<f64>() < p_drop {
                break;
            }
        }
        let scale = nu.sample(&mut rng);
        let per_purchase = gamma(p.p_spend, 1.0 / scale, "spend")?;
        let first = per_purchase.sample(&mut rng);
        let mut repeat_total = 0.0;
        for _ in 0..days {
            repeat_total += per_purchase.sample(&mut rng);
        }
        h.x.push(f64::from(days));
        h.t_x.push(last);
        h.age.push(age);
        h.monetary_mean.push(if days > 0 {
            repeat_total / f64::from(days)
        } else {
            f64::NAN
        });
        h.recency.push(age - last);
        h.orders.push(f64::from(days + 1));
        h.spend.push(first + repeat_total);
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_are_consistent_and_deterministic() {
        let p = HistoryParams {
            n_customers: 2_000,
            ..Default::default()
        };
        let h = purchase_histories(&p).expect("draws");
        let again = purchase_histories(&p).expect("draws");
        assert!(h.x == again.x && h.t_x == again.t_x && h.spend == again.spend);
        for i in 0..h.x.len() {
            assert!(h.t_x[i] <= h.age[i] && h.t_x[i] >= 0.0);
            assert_eq!(h.orders[i], h.x[i] + 1.0);
            assert_eq!(h.x[i] == 0.0, h.monetary_mean[i].is_nan());
            assert!(h.spend[i] > 0.0);
        }
        assert!(h.x.iter().any(|&x| x > 0.0) && h.x.contains(&0.0));
        assert!(purchase_histories(&HistoryParams { r: -1.0, ..p }).is_err());
    }
}
