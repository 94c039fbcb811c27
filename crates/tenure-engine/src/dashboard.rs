//! The numbers behind the web dashboard, one function per page: overview, RFM grid, churn risk,
//! cohort retention, sentiment trend, model reports, customer search and drill-down. Each takes a
//! `&Store`, reads the latest value scoring run (the same run the API reads), and returns a serde
//! struct, so the pages and any JSON face show the same figures. Optional tables (`customer_risk`,
//! `reviews`, `review_analysis`) are read when they hold rows and reported absent otherwise.

use std::path::{Component, Path};

use chrono::{Days, NaiveDate};
use serde::Serialize;
use tenure_store::{ModelRecord, SqlParam, Store};

use crate::customers::{
    customer_profile, latest_score_run, list_customers, rows_json, CustomerProfile, CustomerQuery,
    CustomerSort, JsonRow, PiiMode, ScoreRun,
};
use crate::error::{EngineError, Result};
use crate::named_segments::{list_segments, SegmentSize};

/// One bar of a histogram: values in `[lower, upper)` (the last bar also holds `upper`, and when
/// `open` everything above it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Lower edge.
    pub lower: f64,
    /// Upper edge.
    pub upper: f64,
    /// Values in the bar.
    pub count: i64,
    /// The last bar also counts values above `upper` (a long tail clipped at a percentile).
    pub open: bool,
}

/// Customers by P(alive) band, the overview's "active vs at risk" split. The bands are those of
/// the customer explanation (`customer_profile`'s summary): ≥ 0.7 likely active, 0.3–0.7 drifting
/// away (at risk), < 0.3 probably stopped buying.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    /// P(alive) ≥ 0.7.
    pub active: i64,
    /// 0.3 ≤ P(alive) < 0.7.
    pub at_risk: i64,
    /// P(alive) < 0.3.
    pub lost: i64,
    /// No P(alive) (prospects without orders).
    pub unknown: i64,
}

/// P(alive) at or above which a customer counts as active.
pub const ACTIVE_P_ALIVE: f64 = 0.7;
/// P(alive) below which a customer counts as probably lost.
pub const LOST_P_ALIVE: f64 = 0.3;

/// The overview page: size, revenue, value and activity of the latest run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// The run shown; `null` before the first scoring run (then every figure is zero).
    pub run: Option<ScoreRun>,
    /// Customers scored in the run (the sum of the RFM group sizes of `GET /v1/segments`).
    pub customers: i64,
    /// Orders up to the run's day (returns and cancellations excluded), the sum of the customers'
    /// `orders` feature.
    pub orders: i64,
    /// Net revenue up to the run's day: the sum of the customers' `spend_total` feature (order
    /// amounts, returns netted, cancellations excluded).
    pub revenue: f64,
    /// Total CLV of the run.
    pub clv_total: f64,
    /// Expected purchases of all customers in the next 90 days.
    pub expected_purchases_90d: f64,
    /// Mean P(alive).
    pub mean_p_alive: Option<f64>,
    /// Active vs at risk.
    pub activity: Activity,
    /// CLV distribution: 20 equal bars from 0 to the 99th percentile, the tail in the last.
    pub clv_histogram: Vec<Bin>,
}

fn f(row: Option<&JsonRow>, key: &str) -> Option<f64> {
    row.and_then(|r| r.get(key)).and_then(|v| v.as_f64())
}

fn text(row: &JsonRow, key: &str) -> Option<String> {
    row.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

fn one_row(store: &Store, sql: &str, params: &[SqlParam]) -> Result<Option<JsonRow>> {
    Ok(rows_json(&store.query_arrow_params(sql, params)?)?
        .into_iter()
        .next())
}

/// Equal-width histogram of the non-null `v` of `values_sql` (a subquery with a column `v`) over
/// `[lo, hi]` in `n` bars; values outside are counted in the first or last bar.
fn histogram(
    store: &Store,
    values_sql: &str,
    params: &[SqlParam],
    lo: f64,
    hi: f64,
    n: usize,
) -> Result<Vec<Bin>> {
    let n = n.max(1);
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let w = (hi - lo) / n as f64;
    let rows = rows_json(&store.query_arrow_params(
        &format!(
            "SELECT CAST(least(greatest(floor((v - ({lo:e})) / ({w:e})), 0), {last}) AS BIGINT) AS b, \
             count(*) AS n, max(v) > ({hi:e}) AS over FROM ({values_sql}) WHERE v IS NOT NULL AND isfinite(v) GROUP BY b",
            last = n - 1
        ),
        params,
    )?)?;
    let mut bins: Vec<Bin> = (0..n)
        .map(|i| Bin {
            lower: lo + w * i as f64,
            upper: if i + 1 == n {
                hi
            } else {
                lo + w * (i + 1) as f64
            },
            count: 0,
            open: false,
        })
        .collect();
    for r in rows {
        let b = r.get("b").and_then(|v| v.as_i64()).unwrap_or(0);
        if let Some(bin) = usize::try_from(b).ok().and_then(|b| bins.get_mut(b)) {
            bin.count = r.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
            bin.open |= r.get("over").and_then(|v| v.as_bool()).unwrap_or(false);
        }
    }
    Ok(bins)
}

/// Bars of a round width (1, 2, 2.5 or 5 times a power of ten) covering `[lo, hi]` in about
/// `target` bars: returns the rounded edges and the number of bars.
fn nice_bins(lo: f64, hi: f64, target: usize) -> (f64, f64, usize) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0 && lo.is_finite()) {
        let lo = if lo.is_finite() { lo.floor() } else { 0.0 };
        return (lo, lo + 1.0, 1);
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let w = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|w| *w >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0 * mag);
    let start = (lo / w).floor() * w;
    let n = ((hi - start) / w).ceil().max(1.0) as usize;
    (start, start + w * n as f64, n)
}

/// The overview of the latest run.
pub fn overview(store: &Store) -> Result<Overview> {
    let Some(run) = latest_score_run(store)? else {
        return Ok(Overview {
            run: None,
            customers: 0,
            orders: 0,
            revenue: 0.0,
            clv_total: 0.0,
            expected_purchases_90d: 0.0,
            mean_p_alive: None,
            activity: Activity {
                active: 0,
                at_risk: 0,
                lost: 0,
                unknown: 0,
            },
            clv_histogram: Vec::new(),
        });
    };
    let id = [SqlParam::Text(run.run_id.clone())];
    let s = one_row(
        store,
        &format!(
            "SELECT count(*) AS customers, coalesce(sum(clv), 0) AS clv_total, \
             coalesce(sum(expected_purchases_90d), 0) AS e90, avg(p_alive) AS mean_p_alive, \
             count(*) FILTER (WHERE p_alive >= {ACTIVE_P_ALIVE}) AS active, \
             count(*) FILTER (WHERE p_alive >= {LOST_P_ALIVE} AND p_alive < {ACTIVE_P_ALIVE}) AS at_risk, \
             count(*) FILTER (WHERE p_alive < {LOST_P_ALIVE}) AS lost, \
             count(*) FILTER (WHERE p_alive IS NULL) AS unknown, \
             least(min(clv), 0) AS clv_lo, quantile_cont(clv, 0.99) AS clv_hi \
             FROM customer_scores WHERE run_id = ?"
        ),
        &id,
    )?;
    let s = s.as_ref();
    let features = store.features_sql(run.as_of)?;
    let o = one_row(
        store,
        &format!("SELECT coalesce(sum(orders), 0) AS orders, coalesce(sum(spend_total), 0) AS revenue FROM ({features})"),
        &[],
    )?;
    let int = |k: &str| f(s, k).unwrap_or(0.0) as i64;
    let (lo, hi, n) = nice_bins(
        f(s, "clv_lo").unwrap_or(0.0),
        f(s, "clv_hi").unwrap_or(1.0),
        20,
    );
    let clv_histogram = histogram(
        store,
        "SELECT clv AS v FROM customer_scores WHERE run_id = ?",
        &id,
        lo,
        hi,
        n,
    )?;
    Ok(Overview {
        customers: int("customers"),
        orders: f(o.as_ref(), "orders").unwrap_or(0.0) as i64,
        revenue: f(o.as_ref(), "revenue").unwrap_or(0.0),
        clv_total: f(s, "clv_total").unwrap_or(0.0),
        expected_purchases_90d: f(s, "e90").unwrap_or(0.0),
        mean_p_alive: f(s, "mean_p_alive"),
        activity: Activity {
            active: int("active"),
            at_risk: int("at_risk"),
            lost: int("lost"),
            unknown: int("unknown"),
        },
        clv_histogram,
        run: Some(run),
    })
}

/// One cell of the recency × frequency grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmCell {
    /// Recency score 1–5.
    pub recency: i64,
    /// Frequency score 1–5.
    pub frequency: i64,
    /// The RFM group of the cell.
    pub group: String,
    /// Customers in it.
    pub customers: i64,
    /// Their total CLV.
    pub clv: f64,
}

/// The RFM page: the 11 groups as `GET /v1/segments` reports them, and the recency × frequency
/// grid they are cut from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmGrid {
    /// The run shown.
    pub run: Option<ScoreRun>,
    /// The 11 groups, strongest first (sizes, CLV, mean P(alive), expected purchases).
    pub groups: Vec<SegmentSize>,
    /// Occupied cells of the 5 × 5 grid.
    pub cells: Vec<RfmCell>,
}

/// The RFM groups and grid of the latest run.
pub fn rfm_grid(store: &Store) -> Result<RfmGrid> {
    let segs = list_segments(store)?;
    let cells = match &segs.run {
        Some(r) => rows_json(&store.query_arrow_params(
            "SELECT recency_score AS r, frequency_score AS f, min(rfm_group) AS g, count(*) AS n, coalesce(sum(clv), 0) AS clv \
             FROM customer_scores WHERE run_id = ? AND recency_score IS NOT NULL AND frequency_score IS NOT NULL \
             GROUP BY recency_score, frequency_score ORDER BY r, f",
            &[SqlParam::Text(r.run_id.clone())],
        )?)?
        .into_iter()
        .map(|row| RfmCell {
            recency: row.get("r").and_then(|v| v.as_i64()).unwrap_or(0),
            frequency: row.get("f").and_then(|v| v.as_i64()).unwrap_or(0),
            group: text(&row, "g").unwrap_or_default(),
            customers: row.get("n").and_then(|v| v.as_i64()).unwrap_or(0),
            clv: f(Some(&row), "clv").unwrap_or(0.0),
        })
        .collect(),
        None => Vec::new(),
    };
    Ok(RfmGrid {
        run: segs.run,
        groups: segs.rfm,
        cells,
    })
}

/// Where the risk figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskSource {
    /// A churn model's `churn_probability` (`tenure score risk`).
    ChurnModel,
    /// 1 − P(alive) of the BTYD value scores, when no churn model has scored.
    PAlive,
}

/// Mean risk of one RFM group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRisk {
    /// RFM group label.
    pub group: String,
    /// Customers with a risk figure.
    pub customers: i64,
    /// Their mean risk.
    pub mean_risk: Option<f64>,
}

/// The churn risk page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskDistribution {
    /// The value run the groups come from.
    pub run: Option<ScoreRun>,
    /// Churn model scores or 1 − P(alive).
    pub source: RiskSource,
    /// The churn model's id, for model scores.
    pub model_id: Option<String>,
    /// The as-of day of the risk figures.
    pub as_of: Option<NaiveDate>,
    /// Customers with a risk figure.
    pub customers: i64,
    /// Mean risk.
    pub mean_risk: Option<f64>,
    /// Customers with risk ≥ 0.5.
    pub high_risk: i64,
    /// 10 bars over [0, 1].
    pub histogram: Vec<Bin>,
    /// Mean risk by RFM group, strongest group first.
    pub by_group: Vec<GroupRisk>,
}

/// Churn risk of the latest run: the churn model's probabilities when `customer_risk` holds a run
/// (its newest, as the customer API reads it), else 1 − P(alive).
pub fn risk_distribution(store: &Store) -> Result<RiskDistribution> {
    let run = latest_score_run(store)?;
    let cols = store.table_columns("customer_risk")?;
    let has_model = ["run_id", "scored_at", "churn_probability", "customer_id"]
        .iter()
        .all(|c| cols.iter().any(|x| x == c));
    let latest = if has_model {
        one_row(
            store,
            "SELECT run_id, model_id, CAST(as_of AS VARCHAR) AS as_of FROM customer_risk ORDER BY scored_at DESC, run_id DESC LIMIT 1",
            &[],
        )?
    } else {
        None
    };
    let (source, model_id, as_of, values, params) = match (&latest, &run) {
        (Some(l), Some(r)) => (
            RiskSource::ChurnModel,
            text(l, "model_id"),
            text(l, "as_of").and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
            "SELECT k.churn_probability AS v, s.rfm_group AS g FROM customer_risk k \
             LEFT JOIN (SELECT customer_id, rfm_group FROM customer_scores WHERE run_id = ?) s ON s.customer_id = k.customer_id \
             WHERE k.run_id = ?",
            vec![
                SqlParam::Text(r.run_id.clone()),
                SqlParam::Text(text(l, "run_id").unwrap_or_default()),
            ],
        ),
        (_, Some(r)) => (
            RiskSource::PAlive,
            None,
            Some(r.as_of),
            "SELECT 1 - p_alive AS v, rfm_group AS g FROM customer_scores WHERE run_id = ?",
            vec![SqlParam::Text(r.run_id.clone())],
        ),
        (_, None) => {
            return Ok(RiskDistribution {
                run: None,
                source: RiskSource::PAlive,
                model_id: None,
                as_of: None,
                customers: 0,
                mean_risk: None,
                high_risk: 0,
                histogram: Vec::new(),
                by_group: Vec::new(),
            })
        }
    };
    let s = one_row(
        store,
        &format!("SELECT count(v) AS n, avg(v) AS mean, count(*) FILTER (WHERE v >= 0.5) AS high FROM ({values})"),
        &params,
    )?;
    let groups = rows_json(&store.query_arrow_params(
        &format!("SELECT g, count(v) AS n, avg(v) AS mean FROM ({values}) WHERE g IS NOT NULL GROUP BY g"),
        &params,
    )?)?;
    let by_group = crate::named_segments::RFM_GROUPS
        .iter()
        .filter_map(|label| {
            let row = groups
                .iter()
                .find(|r| r.get("g").and_then(|v| v.as_str()) == Some(label))?;
            let customers = row.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
            (customers > 0).then(|| GroupRisk {
                group: label.to_string(),
                customers,
                mean_risk: f(Some(row), "mean"),
            })
        })
        .collect();
    Ok(RiskDistribution {
        run,
        source,
        model_id,
        as_of,
        customers: f(s.as_ref(), "n").unwrap_or(0.0) as i64,
        mean_risk: f(s.as_ref(), "mean"),
        high_risk: f(s.as_ref(), "high").unwrap_or(0.0) as i64,
        histogram: histogram(store, values, &params, 0.0, 1.0, 10)?,
        by_group,
    })
}

/// One first-order-month cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortRow {
    /// First-order month, `YYYY-MM`.
    pub cohort: String,
    /// Customers whose first order fell in it.
    pub customers: i64,
    /// Share of them who ordered in month 0, 1, 2, … after it; `null` for months after the as-of
    /// day's month.
    pub retention: Vec<Option<f64>>,
}

/// The cohort retention page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohorts {
    /// Orders up to this day are counted.
    pub as_of: Option<NaiveDate>,
    /// Cohorts, oldest first (at most the newest [`MAX_COHORTS`]).
    pub rows: Vec<CohortRow>,
    /// Months after the first order shown (0 … `months - 1`).
    pub months: usize,
}

/// Most cohorts (months) on the retention page.
pub const MAX_COHORTS: usize = 24;

/// Retention by first-order month: for each cohort, the share of its customers with an order (not
/// a return, not cancelled) in each later calendar month, up to the latest run's day (or the last
/// order day before any scoring).
pub fn cohorts(store: &Store) -> Result<Cohorts> {
    let as_of = match latest_score_run(store)? {
        Some(r) => Some(r.as_of),
        None => store.last_order_date()?,
    };
    let Some(as_of) = as_of else {
        return Ok(Cohorts {
            as_of: None,
            rows: Vec::new(),
            months: 0,
        });
    };
    let cut = as_of
        .checked_add_days(Days::new(1))
        .ok_or_else(|| EngineError::Data("as-of day out of range".into()))?;
    let rows = rows_json(&store.query_arrow(&format!(
        "WITH o AS (SELECT DISTINCT customer_id, CAST(date_trunc('month', ordered_at) AS DATE) AS m FROM orders \
           WHERE ordered_at < TIMESTAMP '{cut} 00:00:00' AND NOT is_return \
           AND coalesce(lower(status), '') NOT IN ('cancelled', 'canceled', 'void', 'failed')), \
         f AS (SELECT customer_id, min(m) AS c FROM o GROUP BY customer_id), \
         keep AS (SELECT DISTINCT c FROM f ORDER BY c DESC LIMIT {MAX_COHORTS}) \
         SELECT strftime(f.c, '%Y-%m') AS cohort, CAST(date_diff('month', f.c, o.m) AS BIGINT) AS k, count(*) AS n \
         FROM o JOIN f ON f.customer_id = o.customer_id WHERE f.c IN (SELECT c FROM keep) \
         GROUP BY cohort, k ORDER BY cohort, k"
    ))?)?;
    let last_month = as_of.format("%Y-%m").to_string();
    let month_index = |ym: &str| -> Option<i64> {
        let (y, m) = ym.split_once('-')?;
        Some(y.parse::<i64>().ok()? * 12 + m.parse::<i64>().ok()? - 1)
    };
    let end = month_index(&last_month).unwrap_or(0);
    let mut out: Vec<CohortRow> = Vec::new();
    let mut months = 0usize;
    for r in rows {
        let (Some(cohort), Some(k), Some(n)) = (
            text(&r, "cohort"),
            r.get("k").and_then(|v| v.as_i64()),
            r.get("n").and_then(|v| v.as_i64()),
        ) else {
            continue;
        };
        if out.last().map(|c| &c.cohort) != Some(&cohort) {
            let span = end - month_index(&cohort).unwrap_or(end) + 1;
            let span = usize::try_from(span.max(1)).unwrap_or(1);
            months = months.max(span);
            out.push(CohortRow {
                cohort,
                customers: 0,
                retention: vec![Some(0.0); span],
            });
        }
        let Some(row) = out.last_mut() else { continue };
        if k == 0 {
            row.customers = n;
        }
        if let Some(slot) = usize::try_from(k)
            .ok()
            .and_then(|k| row.retention.get_mut(k))
        {
            *slot = Some(n as f64);
        }
    }
    for row in &mut out {
        let size = row.customers.max(1) as f64;
        for v in row.retention.iter_mut().flatten() {
            *v /= size;
        }
        row.retention.resize(months, None);
    }
    Ok(Cohorts {
        as_of: Some(as_of),
        rows: out,
        months,
    })
}

/// Reviews of one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Reviews written in it.
    pub reviews: i64,
    /// Mean star rating of those with one.
    pub mean_rating: Option<f64>,
    /// Mean P(positive) from the language model, when it has analysed them.
    pub mean_positive: Option<f64>,
}

/// The sentiment trend page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentTrend {
    /// Reviews in the project (0: the page says there are none).
    pub reviews: i64,
    /// Reviews analysed by the language model.
    pub analysed: i64,
    /// The `review_analysis.model` used (the newest), if any.
    pub model: Option<String>,
    /// Months, oldest first.
    pub months: Vec<SentimentMonth>,
}

/// Review volume, star rating and model sentiment by month.
pub fn sentiment_trend(store: &Store) -> Result<SentimentTrend> {
    let reviews = store.count("reviews").unwrap_or(0);
    if reviews == 0 {
        return Ok(SentimentTrend {
            reviews: 0,
            analysed: 0,
            model: None,
            months: Vec::new(),
        });
    }
    let model = one_row(
        store,
        "SELECT model FROM review_analysis ORDER BY analysed_at DESC, model LIMIT 1",
        &[],
    )?
    .and_then(|r| text(&r, "model"));
    let rows = rows_json(&store.query_arrow_params(
        "SELECT strftime(date_trunc('month', r.created_at), '%Y-%m') AS month, count(*) AS n, \
         avg(r.rating) AS rating, avg(CASE WHEN a.label = 'positive' THEN a.probability ELSE 1 - a.probability END) AS pos, \
         count(a.review_id) AS analysed \
         FROM reviews r LEFT JOIN (SELECT * FROM review_analysis WHERE model = ?) a ON a.review_id = r.review_id \
         WHERE r.created_at IS NOT NULL GROUP BY month ORDER BY month",
        &[SqlParam::Text(model.clone().unwrap_or_default())],
    )?)?;
    let analysed = rows
        .iter()
        .map(|r| r.get("analysed").and_then(|v| v.as_i64()).unwrap_or(0))
        .sum();
    Ok(SentimentTrend {
        reviews,
        analysed,
        model: if analysed > 0 { model } else { None },
        months: rows
            .iter()
            .map(|r| SentimentMonth {
                month: text(r, "month").unwrap_or_default(),
                reviews: r.get("n").and_then(|v| v.as_i64()).unwrap_or(0),
                mean_rating: f(Some(r), "rating"),
                mean_positive: f(Some(r), "pos"),
            })
            .collect(),
    })
}

/// The ROC curve, calibration and headline metrics of a classifier's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierCurves {
    /// Area under the ROC curve.
    pub auc: Option<f64>,
    /// Log loss.
    pub log_loss: Option<f64>,
    /// Brier score.
    pub brier: Option<f64>,
    /// ROC points (false positive rate, true positive rate).
    pub roc: Vec<(f64, f64)>,
    /// Calibration bins (mean predicted, observed rate, rows).
    pub calibration: Vec<(f64, f64, i64)>,
}

/// The BTYD holdout tracking curve of a value evaluation report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackingCurve {
    /// Weeks since the first purchase in the data.
    pub weeks: Vec<f64>,
    /// Actual cumulative repeat purchases.
    pub actual: Vec<f64>,
    /// Predicted cumulative repeat purchases.
    pub predicted: Vec<f64>,
    /// Week at which calibration ends.
    pub calibration_end_week: Option<f64>,
    /// Per-customer correlation of holdout purchases.
    pub correlation: Option<f64>,
    /// Aggregate relative error of holdout purchases.
    pub relative_error: Option<f64>,
}

/// A registered model and the curves of its report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    /// The registry row (params and metrics as stored, JSON text).
    pub model: ModelRecord,
    /// Whether `models/<id>/report.html` exists (the dashboard links to it).
    pub has_html: bool,
    /// ROC and calibration, for classifiers.
    pub classifier: Option<ClassifierCurves>,
    /// The holdout tracking curve, for value (BTYD) evaluations.
    pub tracking: Option<TrackingCurve>,
}

/// The registry, newest first.
pub fn models(store: &Store) -> Result<Vec<ModelRecord>> {
    Ok(store.models()?)
}

/// The report folder of a registered model inside the project, refusing paths that leave it.
pub fn model_dir(store: &Store, model: &ModelRecord) -> Option<std::path::PathBuf> {
    let rel = Path::new(model.artifact_path.as_deref()?);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| store.dir().join(rel))
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default()
}

fn classifier_curves(report: &serde_json::Value) -> Option<ClassifierCurves> {
    let b = [&report["model"], &report["test_binary"], report]
        .into_iter()
        .find(|b| b["roc"].is_array())?;
    let roc = b["roc"]
        .as_array()?
        .iter()
        .filter_map(|p| Some((p["fpr"].as_f64()?, p["tpr"].as_f64()?)))
        .collect();
    let calibration = b["calibration"]
        .as_array()
        .map(|bins| {
            bins.iter()
                .filter_map(|c| {
                    Some((
                        c["mean_predicted"].as_f64()?,
                        c["observed_rate"].as_f64()?,
                        c["count"].as_i64().unwrap_or(0),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ClassifierCurves {
        auc: b["auc"].as_f64(),
        log_loss: b["log_loss"].as_f64(),
        brier: b["brier"].as_f64(),
        roc,
        calibration,
    })
}

fn tracking_curve(report: &serde_json::Value) -> Option<TrackingCurve> {
    let t = &report["tracking"];
    let weeks = floats(&t["times"]);
    if weeks.is_empty() {
        return None;
    }
    Some(TrackingCurve {
        weeks,
        actual: floats(&t["actual_cumulative"]),
        predicted: floats(&t["predicted_cumulative"]),
        calibration_end_week: report["calibration_end_week"].as_f64(),
        correlation: report["holdout"]["correlation"].as_f64(),
        relative_error: report["holdout"]["relative_error"].as_f64(),
    })
}

/// One registered model with the curves read from its `report.json`; `None` for an unknown id.
/// A missing or unreadable report leaves the curves empty rather than failing the page.
pub fn model_report(store: &Store, model_id: &str) -> Result<Option<ModelReport>> {
    let Some(model) = store.models()?.into_iter().find(|m| m.model_id == model_id) else {
        return Ok(None);
    };
    let dir = model_dir(store, &model);
    let report: Option<serde_json::Value> = dir
        .as_ref()
        .and_then(|d| std::fs::read(d.join("report.json")).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let has_html = dir.is_some_and(|d| d.join("report.html").is_file());
    Ok(Some(ModelReport {
        classifier: report.as_ref().and_then(classifier_curves),
        tracking: report.as_ref().and_then(tracking_curve),
        model,
        has_html,
    }))
}

/// Customers found by a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerSearch {
    /// The run searched.
    pub run: Option<ScoreRun>,
    /// What was searched for (trimmed); empty lists the highest CLV.
    pub query: String,
    /// Matches: id, RFM group, value tier, P(alive), expected purchases in 90 days, CLV.
    pub items: Vec<JsonRow>,
}

/// Most results of a search.
pub const SEARCH_LIMIT: usize = 50;

/// Customers of the latest run whose id contains `query` (case-insensitive; an exact match
/// first, then by CLV); with an empty query, the highest-CLV customers.
pub fn search_customers(store: &Store, query: &str) -> Result<CustomerSearch> {
    let query = query.trim();
    if query.chars().count() > 200 {
        return Err(EngineError::Invalid(
            "search text is longer than 200 characters: search by customer id".into(),
        ));
    }
    let Some(run) = latest_score_run(store)? else {
        return Ok(CustomerSearch {
            run: None,
            query: query.to_string(),
            items: Vec::new(),
        });
    };
    let items = if query.is_empty() {
        list_customers(
            store,
            &CustomerQuery {
                sort: CustomerSort::Clv,
                limit: Some(SEARCH_LIMIT),
                ..Default::default()
            },
        )?
        .items
    } else {
        rows_json(&store.query_arrow_params(
            &format!(
                "SELECT customer_id, rfm_group, rfm_cell, value_tier, p_alive, expected_purchases_90d, clv, \
                 CAST(next_order_date AS VARCHAR) AS next_order_date FROM customer_scores \
                 WHERE run_id = ? AND contains(lower(customer_id), lower(?)) \
                 ORDER BY customer_id = ? DESC, coalesce(clv, -1) DESC, customer_id LIMIT {SEARCH_LIMIT}"
            ),
            &[
                SqlParam::Text(run.run_id.clone()),
                SqlParam::Text(query.to_string()),
                SqlParam::Text(query.to_string()),
            ],
        )?)?
    };
    Ok(CustomerSearch {
        run: Some(run),
        query: query.to_string(),
        items,
    })
}

/// Orders and spend of one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthAmount {
    /// `YYYY-MM`.
    pub month: String,
    /// Orders (returns excluded).
    pub orders: i64,
    /// Net amount (returns netted).
    pub amount: f64,
}

/// The drill-down page: the API's profile plus the customer's spend by month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerDetail {
    /// Exactly what `GET /v1/customers/{id}` returns, PII masked.
    pub profile: CustomerProfile,
    /// Every month with an order, oldest first.
    pub monthly: Vec<MonthAmount>,
}

/// One customer for the drill-down page (PII masked), or `None` when the store has never heard of
/// them.
pub fn customer_detail(store: &Store, customer_id: &str) -> Result<Option<CustomerDetail>> {
    let Some(profile) = customer_profile(store, customer_id, PiiMode::Masked)? else {
        return Ok(None);
    };
    let monthly = rows_json(&store.query_arrow_params(
        "SELECT strftime(date_trunc('month', ordered_at), '%Y-%m') AS month, count(*) FILTER (WHERE NOT is_return) AS orders, \
         coalesce(sum(amount), 0) AS amount FROM orders WHERE customer_id = ? \
         AND coalesce(lower(status), '') NOT IN ('cancelled', 'canceled', 'void', 'failed') GROUP BY month ORDER BY month",
        &[SqlParam::Text(customer_id.to_string())],
    )?)?
    .iter()
    .map(|r| MonthAmount {
        month: text(r, "month").unwrap_or_default(),
        orders: r.get("orders").and_then(|v| v.as_i64()).unwrap_or(0),
        amount: f(Some(r), "amount").unwrap_or(0.0),
    })
    .collect();
    Ok(Some(CustomerDetail { profile, monthly }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_have_round_edges() {
        assert_eq!(nice_bins(0.0, 413.0, 20), (0.0, 425.0, 17));
        assert_eq!(nice_bins(0.0, 1.0, 10), (0.0, 1.0, 10));
        assert_eq!(nice_bins(-3.0, 97.0, 20), (-5.0, 100.0, 21));
        assert_eq!(nice_bins(5.0, 5.0, 20), (5.0, 6.0, 1));
        assert_eq!(nice_bins(f64::NAN, 1.0, 20), (0.0, 1.0, 1));
    }

    #[test]
    fn report_curves_are_read_from_both_report_shapes() {
        let risk = serde_json::json!({"model": {"auc": 0.8, "roc": [{"fpr": 0.0, "tpr": 0.0, "threshold": null}, {"fpr": 1.0, "tpr": 1.0, "threshold": 0.1}],
            "calibration": [{"lower": 0.0, "upper": 0.1, "count": 3, "mean_predicted": 0.05, "observed_rate": 0.0},
                            {"lower": 0.1, "upper": 0.2, "count": 0, "mean_predicted": null, "observed_rate": null}]}});
        let c = classifier_curves(&risk).expect("risk report has a ROC");
        assert_eq!(c.auc, Some(0.8));
        assert_eq!(c.roc, vec![(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(c.calibration, vec![(0.05, 0.0, 3)]);
        assert!(tracking_curve(&risk).is_none());
        let value = serde_json::json!({"tracking": {"times": [1.0, 2.0], "actual_cumulative": [0.0, 3.0], "predicted_cumulative": [0.5, 2.5]},
            "calibration_end_week": 1.5, "holdout": {"correlation": 0.6, "relative_error": -0.04}});
        let t = tracking_curve(&value).expect("value report has a tracking curve");
        assert_eq!(t.weeks, vec![1.0, 2.0]);
        assert_eq!(t.calibration_end_week, Some(1.5));
        assert!(classifier_curves(&value).is_none());
    }
}
