//! Per-customer purchase summaries from raw transactions: lifetimes'
//! `summary_data_from_transaction_data` with `freq = "D"`, as a pure kernel over columns.
//!
//! The store computes the same statistics in SQL (`tenure_store` features); this kernel lets a file be
//! scored without a project (`tenure score value --orders FILE`) and lets a distributed engine run the
//! summary next to the data. Definitions (Fader, Hardie & Lee 2005, as in the store):
//!
//! - a *purchase day* is a day with at least one order that is not a return;
//! - `x` = purchase days − 1, `t_x` = last − first purchase day, `T` = as-of day − first purchase day,
//!   `recency` = as-of day − last purchase day (all in days);
//! - `monetary_mean` = mean over purchase days after the first of the day's summed amount (the
//!   Gamma-Gamma paper's z̄), NaN without a repeat day;
//! - `orders` counts non-return orders, `spend` sums every amount (returns are negative).
//!
//! Transactions after the as-of day are ignored; a customer whose only transactions are returns has
//! `orders` 0 and no purchase statistics (NaN).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Per-customer summary columns, indexed by customer code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransactionSummary {
    /// Repeat purchase days x (NaN for customers without a purchase).
    pub x: Vec<f64>,
    /// Days from the first to the last purchase day.
    pub t_x: Vec<f64>,
    /// Days from the first purchase day to the as-of day.
    pub age: Vec<f64>,
    /// Mean daily spend over repeat purchase days (NaN without one).
    pub monetary_mean: Vec<f64>,
    /// Days from the last purchase day to the as-of day.
    pub recency: Vec<f64>,
    /// Non-return orders.
    pub orders: Vec<f64>,
    /// Sum of all amounts (returns included, negative).
    pub spend: Vec<f64>,
}

/// Summarize transactions as of `as_of_day` (inclusive). `customer[i]` is a dense code in
/// `0..n_customers`, `day[i]` any integer day number (e.g. days since 1970-01-01).
///
/// Errors on misaligned columns, a code out of range, or a non-finite amount (naming the row).
pub fn summarize_transactions(
    customer: &[u32],
    day: &[i32],
    amount: &[f64],
    is_return: &[bool],
    n_customers: usize,
    as_of_day: i32,
) -> Result<TransactionSummary> {
    const WHAT: &str = "transactions";
    for len in [day.len(), amount.len(), is_return.len()] {
        if len != customer.len() {
            return Err(Error::LengthMismatch {
                what: WHAT,
                left: customer.len(),
                right: len,
            });
        }
    }
    for (row, (&c, &a)) in customer.iter().zip(amount).enumerate() {
        if c as usize >= n_customers {
            return Err(Error::InvalidInput {
                row,
                field: "customer",
                value: f64::from(c),
                reason: "customer code must be below the number of customers",
            });
        }
        if !a.is_finite() {
            return Err(Error::InvalidInput {
                row,
                field: "amount",
                value: a,
                reason: "amount must be finite",
            });
        }
    }
    let nan = f64::NAN;
    let mut s = TransactionSummary {
        x: vec![nan; n_customers],
        t_x: vec![nan; n_customers],
        age: vec![nan; n_customers],
        monetary_mean: vec![nan; n_customers],
        recency: vec![nan; n_customers],
        orders: vec![0.0; n_customers],
        spend: vec![0.0; n_customers],
    };
    // Purchases sorted by (customer, day); returns only count towards spend.
    let mut purchases: Vec<(u32, i32, f64)> = Vec::with_capacity(customer.len());
    for i in 0..customer.len() {
        if day[i] > as_of_day {
            continue;
        }
        let c = customer[i] as usize;
        s.spend[c] += amount[i];
        if !is_return[i] {
            s.orders[c] += 1.0;
            purchases.push((customer[i], day[i], amount[i]));
        }
    }
    purchases.sort_unstable_by_key(|&(c, d, _)| (c, d));
    let mut k = 0;
    while k < purchases.len() {
        let c = purchases[k].0;
        let first = purchases[k].1;
        let (mut days, mut last) = (0u32, first);
        let (mut repeat_total, mut repeat_days) = (0.0, 0u32);
        while k < purchases.len() && purchases[k].0 == c {
            let d = purchases[k].1;
            let mut day_amount = 0.0;
            while k < purchases.len() && purchases[k].0 == c && purchases[k].1 == d {
                day_amount += purchases[k].2;
                k += 1;
            }
            days += 1;
            last = d;
            if d > first {
                repeat_total += day_amount;
                repeat_days += 1;
            }
        }
        let c = c as usize;
        s.x[c] = f64::from(days - 1);
        s.t_x[c] = f64::from(last - first);
        s.age[c] = f64::from(as_of_day - first);
        s.recency[c] = f64::from(as_of_day - last);
        if repeat_days > 0 {
            s.monetary_mean[c] = repeat_total / f64::from(repeat_days);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_follows_lifetimes_daily_definitions() {
        // Customer 0: two orders on day 10 (one purchase day), one on 15, one on 20, a return on 21,
        // and one after the as-of day. Customer 1: a single purchase. Customer 2: only a return.
        // Customer 3: nothing.
        let customer = [0, 0, 0, 0, 0, 0, 1, 2];
        let day = [10, 10, 15, 20, 21, 40, 12, 11];
        let amount = [5.0, 7.0, 3.0, 9.0, -4.0, 100.0, 8.0, -2.0];
        let is_return = [false, false, false, false, true, false, false, true];
        let s = summarize_transactions(&customer, &day, &amount, &is_return, 4, 30).expect("valid");
        assert_eq!(
            (s.x[0], s.t_x[0], s.age[0], s.recency[0]),
            (2.0, 10.0, 20.0, 10.0)
        );
        assert_eq!(s.monetary_mean[0], 6.0);
        assert_eq!((s.orders[0], s.spend[0]), (4.0, 20.0));
        assert_eq!((s.x[1], s.t_x[1], s.age[1]), (0.0, 0.0, 18.0));
        assert!(s.monetary_mean[1].is_nan());
        assert!(s.x[2].is_nan() && s.orders[2] == 0.0 && s.spend[2] == -2.0);
        assert!(s.x[3].is_nan() && s.spend[3] == 0.0);
    }

    #[test]
    fn bad_rows_are_named() {
        assert!(summarize_transactions(&[0], &[1, 2], &[1.0], &[false], 1, 5).is_err());
        assert!(matches!(
            summarize_transactions(&[0, 3], &[1, 2], &[1.0, 1.0], &[false, false], 2, 5),
            Err(Error::InvalidInput { row: 1, .. })
        ));
        assert!(matches!(
            summarize_transactions(&[0], &[1], &[f64::NAN], &[false], 1, 5),
            Err(Error::InvalidInput { row: 0, .. })
        ));
    }
}
