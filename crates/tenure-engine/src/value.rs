//! `tenure score value`: RFM, BG/NBD + Gamma-Gamma and CLV for every customer as of a date, written to
//! `customer_scores`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use tenure_models::{
    BgNbdFitted, BgNbdParams, BootstrapParams, BootstrapResult, BtydData, ClvParams,
    FitDiagnostics, ForecastParams, GammaGammaFitted, GammaGammaParams, Interval, RfmParams,
    RfmScore,
};
use tenure_store::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
};
use tenure_store::arrow::compute::cast;
use tenure_store::arrow::datatypes::DataType;
use tenure_store::arrow::record_batch::RecordBatch;
use tenure_store::Store;

use crate::error::{EngineError, Result};

/// Above this many buyers, CLV intervals are only computed when asked for explicitly.
pub const AUTO_INTERVAL_MAX_BUYERS: usize = 250_000;

/// Options of a value scoring run.
#[derive(Debug, Clone, Serialize)]
pub struct ValueOptions {
    /// Score as of this day; default: the last order day.
    pub as_of: Option<NaiveDate>,
    /// CLV horizon in months.
    pub clv_months: u32,
    /// Monthly discount rate of CLV.
    pub monthly_discount_rate: f64,
    /// Bootstrap resamples behind `clv_low`/`clv_high` (0 = no interval; `None` = 100 up to
    /// [`AUTO_INTERVAL_MAX_BUYERS`] buyers, none above, where each resample would cost a full
    /// refit and rescore). Each resample draws the customers with replacement and refits BG/NBD
    /// and Gamma-Gamma, so the interval reflects how well the data pin down the models (parameter
    /// uncertainty), not the spread of one customer's future.
    pub interval_resamples: Option<usize>,
    /// Coverage of the CLV interval (0.9 = 5th to 95th percentile).
    pub interval_confidence: f64,
    /// Which outputs to compute (all by default).
    pub outputs: ValueOutputs,
}

impl Default for ValueOptions {
    fn default() -> Self {
        ValueOptions {
            as_of: None,
            clv_months: 12,
            monthly_discount_rate: 0.01,
            interval_resamples: None,
            interval_confidence: 0.9,
            outputs: ValueOutputs::default(),
        }
    }
}

/// Which per-customer outputs [`score_customers`] computes. Everything by default (the project's
/// `customer_scores` needs every column); `tenure score value --orders FILE --columns …` turns
/// off what the chosen columns do not need, and that work is skipped: RFM's three rankings, the
/// next-order root search, the longer horizons of the expectation series, the spend model.
/// Outputs turned off come back empty (NaN, `None`, no RFM scores, no groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ValueOutputs {
    /// RFM scores, cell, group and value tier (and the per-group summary).
    pub rfm: bool,
    /// Expected purchases in 30, 90 and 365 days, each on its own.
    pub expected: [bool; 3],
    /// The next-order date.
    pub next_order: bool,
    /// Gamma-Gamma expected spend, CLV and its interval.
    pub clv: bool,
}

impl Default for ValueOutputs {
    fn default() -> Self {
        ValueOutputs {
            rfm: true,
            expected: [true; 3],
            next_order: true,
            clv: true,
        }
    }
}

/// Size and value of one RFM group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    /// Customers in the group.
    pub customers: u64,
    /// Their total spend to date.
    pub spend: f64,
    /// Their total CLV over the horizon.
    pub clv: f64,
}

/// What a value scoring run did.
#[derive(Debug, Clone, Serialize)]
pub struct ValueSummary {
    /// Run id in `score_runs` / `customer_scores`.
    pub run_id: String,
    /// The as-of day.
    pub as_of: NaiveDate,
    /// Customers scored (prospects included).
    pub customers: u64,
    /// BG/NBD parameters (r, alpha, a, b), time unit days.
    pub bg_nbd: [f64; 4],
    /// BG/NBD fit diagnostics.
    pub bg_nbd_diagnostics: FitDiagnostics,
    /// Gamma-Gamma parameters (p, q, gamma); `None` when the spend model could not be fitted.
    pub gamma_gamma: Option<[f64; 3]>,
    /// Repeat buyers left out of Gamma-Gamma for a zero or negative mean spend.
    pub gamma_gamma_excluded: u64,
    /// Expected purchases of all customers in the next 90 days.
    pub expected_purchases_90d: f64,
    /// Total CLV over the horizon.
    pub clv_total: f64,
    /// Bootstrap interval of the total CLV, when intervals were asked for.
    pub clv_total_interval: Option<Interval>,
    /// Bootstrap resamples whose refit succeeded / failed.
    pub interval_resamples: (usize, usize),
    /// Seconds per phase of fit + score.
    pub phases: Vec<(&'static str, f64)>,
    /// Problems that left some outputs empty.
    pub warnings: Vec<String>,
    /// Size and value per RFM group.
    pub groups: BTreeMap<String, GroupSummary>,
}

/// One features column cast to `to`, batch by batch.
fn column(batches: &[RecordBatch], name: &str, to: &DataType) -> Result<Vec<ArrayRef>> {
    batches
        .iter()
        .map(|b| {
            let idx = b
                .schema()
                .index_of(name)
                .map_err(|_| EngineError::Data(format!("features lack column {name}")))?;
            cast(b.column(idx), to).map_err(|e| EngineError::Data(format!("{name}: {e}")))
        })
        .collect()
}

pub(crate) fn f64_col(batches: &[RecordBatch], name: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for a in column(batches, name, &DataType::Float64)? {
        let a = a
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| EngineError::Data(format!("{name} is not numeric")))?;
        out.extend((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }));
    }
    Ok(out)
}

pub(crate) fn str_col(batches: &[RecordBatch], name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for a in column(batches, name, &DataType::Utf8)? {
        let a = a
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| EngineError::Data(format!("{name} is not text")))?;
        out.extend((0..a.len()).map(|i| a.value(i).to_string()));
    }
    Ok(out)
}

/// The columns of `customer_scores`, in table order: what `score_value` writes, and (without `run_id`)
/// what a named segment's predicate may read.
pub const CUSTOMER_SCORES_COLUMNS: [&str; 19] = [
    "run_id",
    "as_of",
    "customer_id",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_cell",
    "rfm_group",
    "value_tier",
    "p_alive",
    "expected_purchases_30d",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "next_order_date",
    "expected_avg_spend",
    "clv",
    "clv_low",
    "clv_high",
    "scored_at",
];

/// The latest order day in the store: the default as-of date of every scoring command. Errors, saying
/// what to do, when the store holds no orders.
pub fn last_order_date(store: &Store) -> Result<NaiveDate> {
    store.last_order_date()?.ok_or_else(|| {
        EngineError::Data(
            "the store has no orders: ingest some with `tenure ingest FILE --table orders`".into(),
        )
    })
}

/// Per-customer inputs of value scoring, one entry per customer, aligned. Time unit: days.
/// Customers without an order (`orders` 0 or `x` not finite) get an RFM score but no model output.
#[derive(Debug, Clone, Copy)]
pub struct CustomerColumns<'a> {
    /// Repeat purchase days (x).
    pub x: &'a [f64],
    /// Days from the first to the last purchase day (t_x).
    pub t_x: &'a [f64],
    /// Days from the first purchase day to the as-of date (T).
    pub age: &'a [f64],
    /// Mean spend per repeat purchase day (NaN when none).
    pub monetary_mean: &'a [f64],
    /// Days since the last purchase (RFM recency).
    pub recency: &'a [f64],
    /// Orders to date (RFM frequency).
    pub orders: &'a [f64],
    /// Spend to date (RFM monetary).
    pub spend: &'a [f64],
}

/// The outputs of [`score_customers`]: fitted models and per-customer scores. Model outputs are
/// indexed by buyer (`slot[i]` maps customer `i` to its buyer index, `None` for prospects).
#[derive(Debug, Clone)]
pub struct ValueScores {
    /// Fitted BG/NBD (days).
    pub bg: BgNbdFitted,
    /// Fitted Gamma-Gamma.
    pub gg: Option<GammaGammaFitted>,
    /// Customer index → buyer index.
    pub slot: Vec<Option<usize>>,
    /// RFM score of every customer.
    pub rfm: Vec<RfmScore>,
    /// P(alive) per buyer.
    pub p_alive: Vec<f64>,
    /// Expected purchases in the next 30 days per buyer.
    pub e30: Vec<f64>,
    /// … 90 days.
    pub e90: Vec<f64>,
    /// … 365 days.
    pub e365: Vec<f64>,
    /// Days until one more purchase is expected (None beyond two years), per buyer.
    pub next: Vec<Option<f64>>,
    /// Expected spend per purchase (Gamma-Gamma) per buyer.
    pub exp_spend: Vec<f64>,
    /// CLV per buyer.
    pub clv: Vec<f64>,
    /// Bootstrap intervals of CLV per buyer, when asked for.
    pub interval: Option<BootstrapResult>,
    /// Size and value per RFM group.
    pub groups: BTreeMap<String, GroupSummary>,
    /// Seconds spent per phase, in order (for benchmarks).
    pub phases: Vec<(&'static str, f64)>,
    /// Problems that left some outputs empty, in plain words.
    pub warnings: Vec<String>,
}

/// Fit BG/NBD and Gamma-Gamma on the buyers and score every customer: the pure core of
/// [`score_value`], also run by `tenure bench value` on generated customers.
///
/// P(alive) and expected purchases come from BG/NBD, expected spend from Gamma-Gamma (its
/// population mean for customers without a repeat purchase), CLV follows lifetimes'
/// `customer_lifetime_value` with 30-day months, and the next order is the time by which one more
/// purchase is expected.
pub fn score_customers(c: &CustomerColumns<'_>, opts: &ValueOptions) -> Result<ValueScores> {
    let n = c.x.len();
    for (name, len) in [
        ("t_x", c.t_x.len()),
        ("age", c.age.len()),
        ("monetary_mean", c.monetary_mean.len()),
        ("recency", c.recency.len()),
        ("orders", c.orders.len()),
        ("spend", c.spend.len()),
    ] {
        if len != n {
            return Err(EngineError::Data(format!(
                "{name} has {len} values for {n} customers"
            )));
        }
    }
    let buyers: Vec<usize> = (0..n)
        .filter(|&i| c.orders[i] > 0.0 && c.x[i].is_finite())
        .collect();
    if buyers.is_empty() {
        return Err(EngineError::Data(
            "no customer has an order to score".into(),
        ));
    }
    let mut phases = Vec::new();
    let mut clock = std::time::Instant::now();
    // RFM runs beside the BG/NBD fit, except on very large bases, where it runs first so that its
    // sort buffers are freed before the model inputs and outputs are allocated (peak memory).
    let want = opts.outputs;
    let overlap_rfm = n <= OVERLAP_RFM_MAX_CUSTOMERS;
    let rfm_first = if overlap_rfm || !want.rfm {
        None
    } else {
        let rfm = RfmParams::default().score(c.recency, c.orders, c.spend)?;
        phases.push(("rfm", clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
        Some(rfm)
    };
    let pick = |v: &[f64]| buyers.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let data = BtydData::new(pick(c.x), pick(c.t_x), pick(c.age))?;
    let mon: Vec<f64> = buyers
        .iter()
        .map(|&i| {
            let m = c.monetary_mean[i];
            if m.is_finite() {
                m
            } else {
                0.0
            }
        })
        .collect();
    // The fits are independent: Gamma-Gamma (and RFM) run on a second thread beside BG/NBD.
    let (bg, side) = std::thread::scope(|scope| {
        let side = scope.spawn(|| {
            let mut side_phases = Vec::new();
            let clock = std::time::Instant::now();
            let rfm = (overlap_rfm && want.rfm)
                .then(|| RfmParams::default().score(c.recency, c.orders, c.spend));
            if rfm.is_some() {
                side_phases.push(("rfm", clock.elapsed().as_secs_f64()));
            }
            let clock = std::time::Instant::now();
            let gg = want
                .clv
                .then(|| GammaGammaParams::default().fit(data.x(), &mon));
            if gg.is_some() {
                side_phases.push(("fit gamma-gamma", clock.elapsed().as_secs_f64()));
            }
            (rfm, gg, side_phases)
        });
        let bg = BgNbdParams::default().fit(&data);
        (bg, side.join())
    });
    phases.push(("fit bg/nbd", clock.elapsed().as_secs_f64()));
    let (rfm_side, gg, side_phases) = side.map_err(|_| {
        EngineError::Data("the RFM / spend-model thread panicked; please report this".into())
    })?;
    phases.extend(side_phases);
    let rfm = match (rfm_first, rfm_side) {
        (Some(rfm), _) => rfm,
        (None, Some(rfm)) => rfm?,
        (None, None) if want.rfm => RfmParams::default().score(c.recency, c.orders, c.spend)?,
        (None, None) => Vec::new(),
    };
    let bg: BgNbdFitted = bg?;
    clock = std::time::Instant::now();
    let freq = data.x();
    let mut warnings = Vec::new();
    // Spend is optional: without positive repeat spends the purchase scores still stand.
    let gg = match gg {
        None => None,
        Some(Ok(gg)) => Some(gg),
        Some(Err(e)) => {
            warnings.push(format!(
                "spend model not fitted ({e}); expected spend and CLV are left empty"
            ));
            None
        }
    };
    let clv_params = ClvParams {
        horizon_months: opts.clv_months,
        monthly_discount_rate: opts.monthly_discount_rate,
        units_per_month: 30.0,
    };
    let forecast = forecast_purchases(&bg, &data, &want, gg.is_some().then_some(&clv_params))?;
    let [e30, e90, e365] = forecast.expected;
    let (p_alive, next) = (forecast.p_alive, forecast.next);
    phases.push((
        "p_alive, expected purchases 30/90/365d, next order, discounted purchases",
        clock.elapsed().as_secs_f64(),
    ));
    clock = std::time::Instant::now();
    let exp_spend: Vec<f64> = match &gg {
        Some(gg) => gg
            .predict_conditional_expected_spend(freq, &mon)?
            .into_iter()
            .map(|s| if s.is_finite() && s >= 0.0 { s } else { 0.0 })
            .collect(),
        None => vec![f64::NAN; data.len()],
    };
    let clv: Vec<f64> = match forecast.discounted {
        // In place: at 10M customers a second column would be 80 MB more at the peak.
        Some(mut d) if gg.is_some() => {
            for (d, s) in d.iter_mut().zip(&exp_spend) {
                *d *= s;
            }
            d
        }
        _ => vec![f64::NAN; data.len()],
    };
    phases.push(("spend + clv", clock.elapsed().as_secs_f64()));
    clock = std::time::Instant::now();
    let resamples =
        opts.interval_resamples
            .unwrap_or(if buyers.len() <= AUTO_INTERVAL_MAX_BUYERS {
                100
            } else {
                0
            });
    let interval = if resamples > 0 && gg.is_some() {
        match clv_params.bootstrap(
            &BgNbdParams::default(),
            &GammaGammaParams::default(),
            &data,
            &mon,
            &data,
            &mon,
            &BootstrapParams {
                n_resamples: resamples,
                confidence: opts.interval_confidence,
                seed: 0,
            },
        ) {
            Ok(b) => Some(b),
            Err(e) => {
                warnings.push(format!("CLV interval not computed: {e}"));
                None
            }
        }
    } else {
        None
    };
    phases.push(("clv interval", clock.elapsed().as_secs_f64()));
    clock = std::time::Instant::now();
    let mut slot = vec![None; n];
    for (k, &i) in buyers.iter().enumerate() {
        slot[i] = Some(k);
    }
    // Eleven groups: a short list keyed by the static label, no allocation per customer.
    let mut by_label: Vec<(&'static str, GroupSummary)> = Vec::new();
    // Without RFM (not asked for) there are no groups.
    for (i, score) in rfm.iter().enumerate() {
        let label = score.group.label();
        let pos = match by_label.iter().position(|(l, _)| *l == label) {
            Some(p) => p,
            None => {
                by_label.push((
                    label,
                    GroupSummary {
                        customers: 0,
                        spend: 0.0,
                        clv: 0.0,
                    },
                ));
                by_label.len() - 1
            }
        };
        let g = &mut by_label[pos].1;
        g.customers += 1;
        g.spend += if c.spend[i].is_finite() {
            c.spend[i]
        } else {
            0.0
        };
        g.clv += slot[i].map(|k| clv[k]).unwrap_or(0.0);
    }
    let groups: BTreeMap<String, GroupSummary> = by_label
        .into_iter()
        .map(|(l, g)| (l.to_string(), g))
        .collect();
    phases.push(("groups", clock.elapsed().as_secs_f64()));
    Ok(ValueScores {
        phases,
        warnings,
        bg,
        gg,
        slot,
        rfm,
        p_alive,
        e30,
        e90,
        e365,
        next,
        exp_spend,
        clv,
        interval,
        groups,
    })
}

/// Customers above which RFM is scored before the fits instead of beside them (memory: at 10M
/// customers its sort buffers and the fits' tables together would pass 2 GB).
const OVERLAP_RFM_MAX_CUSTOMERS: usize = 1_000_000;

/// Horizons, in days, of the expected purchases every score carries.
pub(crate) const SCORE_HORIZONS_DAYS: [f64; 3] = [30.0, 90.0, 365.0];

/// Days within which a next order must be expected to get a date (two years).
pub(crate) const NEXT_ORDER_WITHIN_DAYS: f64 = 730.0;

/// Precision of the next-order time: it is shown as a date, so a millionth of a day is ample.
const NEXT_ORDER_TOLERANCE_DAYS: f64 = 1e-6;

/// A customer base's purchase forecasts, columns aligned with the data's rows; outputs not asked
/// for are NaN / `None`.
pub(crate) struct PurchaseForecast {
    pub p_alive: Vec<f64>,
    /// Expected purchases at [`SCORE_HORIZONS_DAYS`].
    pub expected: [Vec<f64>; 3],
    pub next: Vec<Option<f64>>,
    /// Discounted purchases over the CLV horizon (CLV per unit of spend), when asked.
    pub discounted: Option<Vec<f64>>,
}

/// P(alive), expected purchases at the asked [`SCORE_HORIZONS_DAYS`], the next-order wait and
/// (with `clv`) the discounted purchases of every customer, in one pass of the model: the batch
/// scorer and the live re-scorer both call this, so their answers are the same.
pub(crate) fn forecast_purchases(
    bg: &BgNbdFitted,
    data: &BtydData,
    want: &ValueOutputs,
    clv: Option<&ClvParams>,
) -> Result<PurchaseForecast> {
    let forecast = ForecastParams {
        horizons: SCORE_HORIZONS_DAYS
            .iter()
            .zip(want.expected)
            .filter(|(_, w)| *w)
            .map(|(t, _)| *t)
            .collect(),
        clv: clv.cloned(),
        next_purchase_within: want.next_order.then_some(NEXT_ORDER_WITHIN_DAYS),
        next_purchase_tolerance: NEXT_ORDER_TOLERANCE_DAYS,
    }
    .forecast(bg, data)?;
    let mut asked = forecast.expected.into_iter();
    Ok(PurchaseForecast {
        p_alive: forecast.p_alive,
        expected: want.expected.map(|w| match w {
            true => asked.next().unwrap_or_default(),
            false => vec![f64::NAN; data.len()],
        }),
        next: forecast
            .next_purchase
            .unwrap_or_else(|| vec![None; data.len()]),
        discounted: forecast.discounted_purchases,
    })
}

/// [`score_customers`] on the customers known on `as_of`, its "nobody to score" error said in terms
/// of the as-of date the user chose.
pub(crate) fn score_as_of(
    c: &CustomerColumns<'_>,
    opts: &ValueOptions,
    as_of: NaiveDate,
) -> Result<ValueScores> {
    score_customers(c, opts).map_err(|e| match e {
        EngineError::Data(m) if m.starts_with("no customer") => EngineError::Data(format!(
            "no customer has an order on or before {as_of}: pick a later --as-of"
        )),
        e => e,
    })
}

/// Score every customer's value as of a day and append the scores to `customer_scores`.
///
/// BG/NBD and Gamma-Gamma are fitted on the as-of features in days (x = repeat purchase days, t_x and
/// T in days); P(alive) and expected purchases come from BG/NBD, expected spend from Gamma-Gamma
/// (the population mean for customers without a repeat purchase), CLV follows lifetimes'
/// `customer_lifetime_value` with 30-day months, and the next order date is the day by which one more
/// purchase is expected (none when that is over two years away).
pub fn score_value(store: &Store, opts: &ValueOptions) -> Result<ValueSummary> {
    let as_of = match opts.as_of {
        Some(d) => d,
        None => last_order_date(store)?,
    };
    let f = store.customer_features(as_of)?;
    let ids = str_col(&f, "customer_id")?;
    let orders = f64_col(&f, "orders")?;
    let x = f64_col(&f, "x")?;
    let t_x = f64_col(&f, "t_x_days")?;
    let age = f64_col(&f, "T_days")?;
    let monetary_mean = f64_col(&f, "monetary_mean")?;
    let recency = f64_col(&f, "recency_days")?;
    let spend = f64_col(&f, "spend_total")?;
    let scores = score_as_of(
        &CustomerColumns {
            x: &x,
            t_x: &t_x,
            age: &age,
            monetary_mean: &monetary_mean,
            recency: &recency,
            orders: &orders,
            spend: &spend,
        },
        opts,
        as_of,
    )?;
    let ValueScores {
        ref bg,
        ref gg,
        ref slot,
        ref rfm,
        ref p_alive,
        ref e30,
        ref e90,
        ref e365,
        ref next,
        ref exp_spend,
        ref clv,
        ref interval,
        ref groups,
        ref phases,
        ref warnings,
    } = scores;
    let n = ids.len();
    let run_id = format!(
        "value-{as_of}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")
    );
    let epoch =
        NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| EngineError::Data("calendar".into()))?;
    let day_num = |d: NaiveDate| (d - epoch).num_days() as i32;
    // Non-finite model outputs are written as NULL, never as NaN.
    let opt = |v: &[f64], i: usize| slot[i].map(|k| v[k]).filter(|v| v.is_finite());
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id.as_str(); n])),
        Arc::new(Date32Array::from(vec![day_num(as_of); n])),
        Arc::new(StringArray::from(
            ids.iter().map(String::as_str).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            rfm.iter().map(|r| i32::from(r.recency)).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            rfm.iter()
                .map(|r| i32::from(r.frequency))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            rfm.iter()
                .map(|r| i32::from(r.monetary))
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rfm.iter()
                .map(|r| format!("{}{}{}", r.recency, r.frequency, r.monetary))
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rfm.iter().map(|r| r.group.label()).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rfm.iter()
                .map(|r| format!("{:?}", r.tier).to_lowercase())
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n).map(|i| opt(p_alive, i)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n).map(|i| opt(e30, i)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n).map(|i| opt(e90, i)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n).map(|i| opt(e365, i)).collect::<Vec<_>>(),
        )),
        Arc::new(Date32Array::from(
            (0..n)
                .map(|i| {
                    slot[i]
                        .and_then(|k| next[k])
                        .and_then(|t| as_of.checked_add_days(Days::new(t.ceil() as u64)))
                        .map(day_num)
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n).map(|i| opt(exp_spend, i)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n).map(|i| opt(clv, i)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n)
                .map(|i| {
                    let k = slot[i]?;
                    interval.as_ref().map(|b| b.intervals[k].lower)
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            (0..n)
                .map(|i| {
                    let k = slot[i]?;
                    interval.as_ref().map(|b| b.intervals[k].upper)
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(TimestampMicrosecondArray::from(vec![
            chrono::Utc::now()
                .naive_utc()
                .and_utc()
                .timestamp_micros();
            n
        ])),
    ];
    let batch = RecordBatch::try_from_iter(CUSTOMER_SCORES_COLUMNS.into_iter().zip(cols))
        .map_err(|e| EngineError::Data(e.to_string()))?;
    // The fitted parameters, so that the API can re-score one customer later without a refit.
    crate::live::save_value_fit(
        store,
        &crate::live::ValueFit::new(&run_id, as_of, bg, gg.as_ref(), opts),
    )?;
    store.append_derived("customer_scores", &[batch])?;
    let run = RecordBatch::try_from_iter([
        (
            "run_id",
            Arc::new(StringArray::from(vec![run_id.as_str()])) as ArrayRef,
        ),
        (
            "as_of",
            Arc::new(Date32Array::from(vec![day_num(as_of)])) as ArrayRef,
        ),
        (
            "model_id",
            Arc::new(StringArray::from(vec!["bg_nbd+gamma_gamma"])) as ArrayRef,
        ),
        (
            "customers",
            Arc::new(tenure_store::arrow::array::Int64Array::from(vec![n as i64])) as ArrayRef,
        ),
        (
            "created_at",
            Arc::new(TimestampMicrosecondArray::from(vec![chrono::Utc::now()
                .naive_utc()
                .and_utc()
                .timestamp_micros()])) as ArrayRef,
        ),
    ])
    .map_err(|e| EngineError::Data(e.to_string()))?;
    store.append_derived("score_runs", &[run])?;
    Ok(ValueSummary {
        run_id,
        as_of,
        customers: n as u64,
        bg_nbd: [bg.r(), bg.alpha(), bg.a(), bg.b()],
        bg_nbd_diagnostics: bg.diagnostics().clone(),
        gamma_gamma: gg.as_ref().map(|gg| [gg.p(), gg.q(), gg.gamma()]),
        gamma_gamma_excluded: gg
            .as_ref()
            .map_or(0, |gg| gg.n_excluded_nonpositive_spend() as u64),
        expected_purchases_90d: e90.iter().filter(|v| v.is_finite()).sum(),
        clv_total: clv.iter().filter(|v| v.is_finite()).sum(),
        warnings: warnings.clone(),
        clv_total_interval: interval.as_ref().map(|b| b.total),
        interval_resamples: interval
            .as_ref()
            .map(|b| (b.n_succeeded, b.n_failed))
            .unwrap_or((0, 0)),
        phases: phases.clone(),
        groups: groups.clone(),
    })
}

/// The SQL behind `tenure segment rfm`: size, CLV, mean P(alive) and expected purchases of each RFM group in the
/// latest value scoring run.
pub const RFM_SEGMENTS_SQL: &str = "SELECT rfm_group, count(*) AS customers, round(sum(clv), 2) AS clv, \
     round(avg(p_alive), 3) AS mean_p_alive, round(sum(expected_purchases_90d), 1) AS expected_purchases_90d \
     FROM customer_scores WHERE run_id = (SELECT run_id FROM score_runs ORDER BY created_at DESC LIMIT 1) \
     GROUP BY rfm_group ORDER BY customers DESC";

/// Size and value of each RFM group in the latest value scoring run, as Arrow batches.
pub fn rfm_segments(store: &Store) -> Result<Vec<RecordBatch>> {
    if store.count("score_runs")? == 0 {
        return Err(EngineError::Data(
            "no scores yet: run `tenure score value` first".into(),
        ));
    }
    Ok(store.query_arrow(RFM_SEGMENTS_SQL)?)
}
