//! Every per-customer prediction of a purchase model in one pass: P(alive), expected purchases at
//! several horizons, CLV per unit of spend, and the expected time to the next purchase.
//!
//! Scoring a customer base asks the same model for E[Y(t) | x, t_x, T] at many horizons: the
//! reporting horizons (30, 90, 365 days), CLV's month ends (30, 60, …, 360) and the search for
//! the horizon where one purchase is expected. Evaluated one question at a time, that is some 20
//! evaluations of the hypergeometric expectation per distinct (x, t_x, T) row. Here all horizons
//! go to one [`PurchaseModel::conditional_expected_purchases_many`] call, which for BG/NBD shares
//! P(alive) and the series coefficients between them; the next-purchase root is then bracketed by
//! the two evaluated horizons around E = 1 instead of by (0, limit). The answers are those of the
//! one-at-a-time functions (property-tested to 1e-9).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::clv::ClvParams;
use crate::data::BtydData;
use crate::error::{Error, Result};
use crate::fit::check_time;
use crate::purchase::{root_in_bracket, PurchaseModel};

/// What to forecast for every customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastParams {
    /// Horizons t of the conditional expected purchases E[Y(t) | x, t_x, T], in model time units.
    pub horizons: Vec<f64>,
    /// CLV discounting; `None` skips the discounted purchases.
    pub clv: Option<ClvParams>,
    /// Longest wait for the next purchase (see
    /// [`PurchaseModel::expected_time_to_next_purchase`]); `None` skips it.
    pub next_purchase_within: Option<f64>,
    /// Absolute precision of the next-purchase time, in model time units. Callers that turn it
    /// into a calendar date need far less than the one-customer function's 1e-10 relative
    /// precision, and each digit costs an evaluation of the model; 0 asks for that precision.
    pub next_purchase_tolerance: f64,
}

/// Per-customer forecasts, aligned with the rows of the data they were made for.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// P(alive at T | x, t_x, T).
    pub p_alive: Vec<f64>,
    /// E[Y(t) | x, t_x, T], one vector per horizon of [`ForecastParams::horizons`], in that order.
    pub expected: Vec<Vec<f64>>,
    /// Expected discounted purchases over the CLV horizon (CLV per unit of spend; multiply by the
    /// expected spend per purchase), when [`ForecastParams::clv`] is set.
    pub discounted_purchases: Option<Vec<f64>>,
    /// Time from T until one purchase is expected, `None` beyond the limit, when
    /// [`ForecastParams::next_purchase_within`] is set.
    pub next_purchase: Option<Vec<Option<f64>>>,
}

/// Where each question's horizons sit in the shared, sorted horizon grid.
struct Grid {
    times: Vec<f64>,
    horizons: Vec<usize>,
    months: Vec<usize>,
    next: Option<usize>,
}

impl Grid {
    fn new(params: &ForecastParams) -> Self {
        let months = params
            .clv
            .as_ref()
            .map(ClvParams::month_ends)
            .unwrap_or_default();
        let mut times: Vec<f64> = params
            .horizons
            .iter()
            .chain(&months)
            .chain(&params.next_purchase_within)
            .copied()
            .collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        // Every time came from `times`, so the search cannot miss.
        let at = |t: f64| times.partition_point(|&g| g < t);
        Grid {
            horizons: params.horizons.iter().map(|&t| at(t)).collect(),
            months: months.iter().map(|&t| at(t)).collect(),
            next: params.next_purchase_within.map(at),
            times,
        }
    }
}

/// Grid sizes evaluated without a heap allocation per row.
const STACK_GRID: usize = 64;

impl ForecastParams {
    /// Forecasts every customer of `data` with `model`, once per distinct (x, t_x, T) row, split
    /// over the machine's cores.
    ///
    /// Errors on a horizon or limit that is not finite and ≥ 0, invalid CLV settings, or a model
    /// evaluation that fails (naming the problem).
    pub fn forecast(&self, model: &dyn PurchaseModel, data: &BtydData) -> Result<Forecast> {
        for &t in &self.horizons {
            check_time("t", t)?;
        }
        if let Some(limit) = self.next_purchase_within {
            check_time("next_purchase_within", limit)?;
        }
        if let Some(clv) = &self.clv {
            clv.validate()?;
        }
        let grid = Grid::new(self);
        let width = 3 + self.horizons.len();
        let failure: OnceLock<Error> = OnceLock::new();
        let mut columns = data.map_unique_wide(width, |x, t_x, age, out| {
            if let Err(e) = self.row(model, &grid, x, t_x, age, out) {
                let _ = failure.set(e);
                out.fill(f64::NAN);
            }
        });
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
        let next = columns.pop().unwrap_or_default();
        let discounted = columns.pop().unwrap_or_default();
        let mut columns = columns.into_iter();
        let p_alive = columns.next().unwrap_or_default();
        Ok(Forecast {
            p_alive,
            expected: columns.collect(),
            discounted_purchases: self.clv.is_some().then_some(discounted),
            next_purchase: self.next_purchase_within.map(|_| {
                next.into_iter()
                    .map(|t| (!t.is_nan()).then_some(t))
                    .collect()
            }),
        })
    }

    /// One row's outputs: P(alive), the horizons' expectations, discounted purchases (NaN when
    /// not asked), next purchase (NaN when none or not asked).
    fn row(
        &self,
        model: &dyn PurchaseModel,
        grid: &Grid,
        x: f64,
        t_x: f64,
        age: f64,
        out: &mut [f64],
    ) -> Result<()> {
        let n = grid.times.len();
        let mut stack = [0.0f64; STACK_GRID];
        let mut heap = Vec::new();
        let e: &mut [f64] = if n <= STACK_GRID {
            &mut stack[..n]
        } else {
            heap.resize(n, 0.0);
            &mut heap
        };
        model.conditional_expected_purchases_many(&grid.times, x, t_x, age, e)?;
        let width = out.len();
        out[0] = model.probability_alive(x, t_x, age)?;
        for (o, &i) in out[1..].iter_mut().zip(&grid.horizons) {
            *o = e[i];
        }
        out[width - 2] = match &self.clv {
            Some(clv) => clv.discount(grid.months.iter().map(|&i| e[i])),
            None => f64::NAN,
        };
        out[width - 1] = match grid.next {
            Some(last) => self.next_purchase(model, grid, e, last, x, t_x, age)?,
            None => f64::NAN,
        };
        Ok(())
    }

    /// The horizon where E[Y(t)] reaches one, bracketed by the first evaluated horizon (up to the
    /// limit, grid index `last`) at which it has; NaN when it has not by the limit.
    #[expect(
        clippy::too_many_arguments,
        reason = "the model, its grid and values, and the customer's three numbers"
    )]
    fn next_purchase(
        &self,
        model: &dyn PurchaseModel,
        grid: &Grid,
        e: &[f64],
        last: usize,
        x: f64,
        t_x: f64,
        age: f64,
    ) -> Result<f64> {
        if e[last] < 1.0 {
            return Ok(f64::NAN);
        }
        let j = e[..=last].partition_point(|&v| v < 1.0);
        let (lo, f_lo) = match j.checked_sub(1) {
            Some(i) => (grid.times[i], e[i] - 1.0),
            None => (0.0, -1.0),
        };
        let curve = model.conditional_expected_purchases_curve(x, t_x, age, grid.times[j])?;
        root_in_bracket(
            |t| Ok(curve(t)? - 1.0),
            lo,
            f_lo,
            grid.times[j],
            e[j] - 1.0,
            self.next_purchase_tolerance,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BgNbdFitted, ParetoNbdFitted};
    use proptest::prelude::*;

    fn params() -> ForecastParams {
        ForecastParams {
            horizons: vec![30.0, 90.0, 365.0],
            clv: Some(ClvParams::default()),
            next_purchase_within: Some(730.0),
            next_purchase_tolerance: 1e-6,
        }
    }

    /// The one-pass answers against the one-question-at-a-time functions.
    fn assert_matches_one_at_a_time(model: &dyn PurchaseModel, data: &BtydData) {
        let f = params().forecast(model, data).expect("forecast");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-3);
        let clv = ClvParams::default()
            .discounted_expected_purchases(model, data)
            .expect("clv");
        for (i, clv_i) in clv.iter().enumerate() {
            let (x, t_x, age) = (data.x()[i], data.t_x()[i], data.age()[i]);
            let p = model.probability_alive(x, t_x, age).expect("p");
            assert!(close(f.p_alive[i], p), "p_alive row {i}");
            for (k, &t) in params().horizons.iter().enumerate() {
                let one = model
                    .conditional_expected_purchases(t, x, t_x, age)
                    .expect("e");
                assert!(
                    close(f.expected[k][i], one),
                    "E[{t}] row {i}: {} vs {one}",
                    f.expected[k][i]
                );
            }
            let d = f.discounted_purchases.as_ref().expect("asked")[i];
            assert!(close(d, *clv_i), "discounted row {i}: {d} vs {clv_i}");
            let next = f.next_purchase.as_ref().expect("asked")[i];
            let one = model
                .expected_time_to_next_purchase(x, t_x, age, 730.0)
                .expect("next");
            match (next, one) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 2e-6, "next row {i}: {a} vs {b}"),
                (None, None) => {}
                other => panic!("next row {i}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn one_pass_equals_one_question_at_a_time(
            rows in proptest::collection::vec((0u32..60, 0.0f64..1.0, 1.0f64..600.0), 1..120),
            a in 0.05f64..3.0,
        ) {
            let x: Vec<f64> = rows.iter().map(|r| f64::from(r.0)).collect();
            let t_x: Vec<f64> = rows.iter().map(|r| if r.0 == 0 { 0.0 } else { r.1 * r.2 }).collect();
            let age: Vec<f64> = rows.iter().map(|r| r.2).collect();
            let data = BtydData::new(x, t_x, age).expect("valid");
            let bg = BgNbdFitted::from_parameters(0.27, 41.9, a, 2.1).expect("valid");
            assert_matches_one_at_a_time(&bg, &data);
            let pnbd = ParetoNbdFitted::from_parameters(0.55, 10.6, a, 11.7).expect("valid");
            assert_matches_one_at_a_time(&pnbd, &data);
        }
    }

    #[test]
    fn many_customers_take_the_compressed_parallel_path() {
        // 20,000 customers over few distinct rows: the compressed table and both threads.
        let n = 20_000;
        let x: Vec<f64> = (0..n).map(|i| f64::from(i % 40)).collect();
        let age: Vec<f64> = (0..n).map(|i| 100.0 + f64::from(i % 97) * 5.0).collect();
        let t_x: Vec<f64> = (0..n as usize)
            .map(|i| if x[i] == 0.0 { 0.0 } else { age[i] * 0.7 })
            .collect();
        let data = BtydData::new(x, t_x, age).expect("valid");
        let bg = BgNbdFitted::from_parameters(0.27, 41.9, 0.48, 2.1).expect("valid");
        assert_matches_one_at_a_time(&bg, &data);
    }

    #[test]
    fn invalid_settings_are_errors() {
        let data = BtydData::new(vec![1.0], vec![2.0], vec![3.0]).expect("valid");
        let bg = BgNbdFitted::from_parameters(0.27, 41.9, 0.48, 2.1).expect("valid");
        let mut p = params();
        p.horizons.push(f64::NAN);
        assert!(p.forecast(&bg, &data).is_err());
        let mut p = params();
        p.next_purchase_within = Some(-1.0);
        assert!(p.forecast(&bg, &data).is_err());
        let none = ForecastParams {
            horizons: vec![],
            clv: None,
            next_purchase_within: None,
            next_purchase_tolerance: 0.0,
        };
        let f = none.forecast(&bg, &data).expect("nothing asked");
        assert!(
            f.expected.is_empty() && f.discounted_purchases.is_none() && f.next_purchase.is_none()
        );
        assert_eq!(f.p_alive.len(), 1);
    }
}
