//! `tenure bench value`: the value models at scale on generated customers, timed phase by phase, so
//! speed claims are measured by the same code that scores a real shop.

use std::time::Instant;

use serde::Serialize;
use tenure_sim::{purchase_histories, HistoryParams};

use crate::error::Result;
use crate::value::{score_customers, CustomerColumns, ValueOptions};

/// What a value benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct ValueBenchReport {
    /// Customers generated and scored.
    pub customers: usize,
    /// Seconds to draw the customers' summaries (not part of fit + score).
    pub generate_s: f64,
    /// Seconds to fit BG/NBD and Gamma-Gamma and score every customer (RFM, P(alive), expected
    /// purchases at 30/90/365 days, next order, expected spend, CLV and its interval if asked).
    pub fit_and_score_s: f64,
    /// Distinct (x, t_x, T) rows the BG/NBD likelihood ran over.
    pub unique_rows: usize,
    /// BG/NBD (r, α, a, b) fitted, against the generating values.
    pub bg_nbd: [f64; 4],
    /// The generating BG/NBD values.
    pub bg_nbd_true: [f64; 4],
    /// Gamma-Gamma (p, q, γ) fitted.
    pub gamma_gamma: Option<[f64; 3]>,
    /// The generating Gamma-Gamma values.
    pub gamma_gamma_true: [f64; 3],
    /// Total CLV.
    pub clv_total: f64,
    /// Bootstrap resamples behind the CLV interval (0 = none).
    pub interval_resamples: usize,
    /// Seconds per phase of fit + score.
    pub phases: Vec<(&'static str, f64)>,
}

/// Generate `params.n_customers` customers and time fit + score with `opts`.
pub fn bench_value(params: &HistoryParams, opts: &ValueOptions) -> Result<ValueBenchReport> {
    let t = Instant::now();
    let h = purchase_histories(params)?;
    let generate_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let s = score_customers(
        &CustomerColumns {
            x: &h.x,
            t_x: &h.t_x,
            age: &h.age,
            monetary_mean: &h.monetary_mean,
            recency: &h.recency,
            orders: &h.orders,
            spend: &h.spend,
        },
        opts,
    )?;
    let fit_and_score_s = t.elapsed().as_secs_f64();
    Ok(ValueBenchReport {
        customers: h.x.len(),
        generate_s,
        fit_and_score_s,
        unique_rows: s.bg.diagnostics().n_unique_rows,
        bg_nbd: [s.bg.r(), s.bg.alpha(), s.bg.a(), s.bg.b()],
        bg_nbd_true: [params.r, params.alpha, params.a, params.b],
        gamma_gamma: s.gg.as_ref().map(|gg| [gg.p(), gg.q(), gg.gamma()]),
        gamma_gamma_true: [params.p_spend, params.q_spend, params.gamma_spend],
        clv_total: s.clv.iter().sum(),
        interval_resamples: s
            .interval
            .as_ref()
            .map_or(0, |b| b.n_succeeded + b.n_failed),
        phases: s.phases,
    })
}
