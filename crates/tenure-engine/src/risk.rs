//! Churn and high-value risk: `tenure train churn|highvalue`, `tenure eval churn`,
//! `tenure score risk` and `tenure bench risk`.
//!
//! **Labels** come from the store's `calibration_holdout`: *churn* = no order in
//! (origin, origin + window]; *high value* = among the customers who bought on or before the
//! origin, the top `high_value_share` of spend in that window (ties at the cut included, zero spend
//! never counts).
//!
//! **Rolling origin, never a random split.** The model is fitted on features as of an earlier
//! origin t₀ with labels from (t₀, as_of], and evaluated on features as of `as_of` with labels from
//! (as_of, as_of + horizon] — the rows it is judged on lie entirely after everything it was fitted
//! on. t₀ = as_of − horizon, unless that leaves less than half of the history before `as_of` for
//! the features: then t₀ is the midpoint between the first order and `as_of`, and the training
//! label window is (t₀, as_of], shorter than the horizon, with the same label definition (see
//! [`training_window`]).
//!
//! **Features** (one row per customer with an order on or before the origin): the store's as-of
//! behaviour columns ([`BASE_COLUMNS`], plus [`OPTIONAL_COLUMNS`] where the project has those
//! tables), and BG/NBD outputs (Fader, Hardie & Lee 2005) from a model fitted at that origin:
//! P(alive) (eq. 13), expected purchases in the label window (eq. 10), and the probability of
//! no purchase in the window, 1 − P(alive)·(1 − ((α+T)/(α+T+h))^(r+x)) (given alive, the purchase
//! rate's posterior is Gamma(r + x, α + T), and a gamma-mixed Poisson count is zero with that
//! probability). The model takes a [`FeatureTable`] with named columns; later stages append more
//! columns (text features) and the fitted model reads columns by name.
//!
//! **Leakage guard.** Before fitting or evaluating, [`as_of_guard`] recomputes the features of
//! every origin from the store with every input table cut at that origin (rows after it removed
//! before the feature SQL runs) and requires the used features to match exactly; a feature that
//! read a later row — say holdout-period orders shuffled into the calibration window — fails it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Days, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use tenure_models::metrics::{
    auc, binary_report_with, bootstrap_auc_difference, AucDifference, BinaryReport,
    BinaryReportParams,
};
use tenure_models::{
    BgNbdFitted, BgNbdParams, BtydData, FeatureTable, GbdtFitted, GbdtParams, LogisticFitted,
    LogisticParams, PurchaseModel,
};
use tenure_store::arrow::array::{
    ArrayRef, Date32Array, Float64Array, StringArray, TimestampMicrosecondArray,
};
use tenure_store::arrow::record_batch::RecordBatch;
use tenure_store::{Horizon, ModelRecord, Store};

use crate::error::{EngineError, Result};
use crate::value::{f64_col, str_col};

/// Store feature columns every risk model reads (see `Store::features_sql`).
pub const BASE_COLUMNS: &[&str] = &[
    "recency_days",
    "orders",
    "x",
    "t_x_days",
    "T_days",
    "spend_total",
    "avg_order_value",
    "monetary_mean",
    "returns",
];

/// Store feature columns read when the project has the tables behind them (events, reviews,
/// tickets).
pub const OPTIONAL_COLUMNS: &[&str] = &[
    "events_total",
    "days_since_last_event",
    "reviews",
    "rating_mean",
    "low_ratings",
    "tickets",
    "tickets_unresolved",
];

/// The BG/NBD columns appended to the store columns.
pub const BTYD_COLUMNS: &[&str] = &[
    "btyd_p_alive",
    "btyd_expected_purchases",
    "btyd_p_no_purchase",
];

/// What a risk model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskTarget {
    /// No order in the window.
    Churn,
    /// In the top share of spend in the window.
    HighValue,
}

impl RiskTarget {
    /// Registry kind and model-id stem.
    pub fn name(self) -> &'static str {
        match self {
            RiskTarget::Churn => "churn",
            RiskTarget::HighValue => "high_value",
        }
    }
}

/// Options of [`train_risk`].
#[derive(Debug, Clone, Serialize)]
pub struct RiskOptions {
    /// What to predict.
    pub target: RiskTarget,
    /// Evaluation origin: features on or before it, labels from the horizon after it.
    pub as_of: NaiveDate,
    /// Label window after the evaluation origin.
    pub horizon: Horizon,
    /// Share of customers labelled high value (top spenders in the window), in (0, 1).
    pub high_value_share: f64,
    /// The behaviour model.
    pub gbdt: GbdtParams,
    /// The linear baseline.
    pub logistic: LogisticParams,
}

impl RiskOptions {
    /// Defaults for a target: horizon 90 days, share 0.2, and boosted trees of depth 2 with
    /// learning rate 0.05 and 100 rounds — shallow, slow trees, because the model must carry over
    /// from an earlier origin to a later one where every customer is older (deeper trees memorise
    /// the training origin's ranges; measured on CDNOW in docs/RESULTS.md).
    pub fn new(target: RiskTarget, as_of: NaiveDate) -> Self {
        Self {
            target,
            as_of,
            horizon: Horizon::Days(90),
            high_value_share: 0.2,
            gbdt: GbdtParams {
                n_estimators: 100,
                learning_rate: 0.05,
                max_depth: 2,
                min_samples_leaf: 20,
                ..GbdtParams::default()
            },
            logistic: LogisticParams::default(),
        }
    }
}

/// Where the model was fitted: origin t₀ and its label window (t₀, label_end].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingWindow {
    /// Training origin t₀: features on or before it.
    pub origin: NaiveDate,
    /// Last day of the training labels (the evaluation origin).
    pub label_end: NaiveDate,
    /// Days in the training label window.
    pub label_days: i64,
    /// Whether t₀ was moved later than as_of − horizon.
    pub clipped: bool,
    /// Why t₀ is where it is, in words.
    pub rule: String,
}

/// The training origin of a rolling-origin split: t₀ = as_of − horizon, moved to the midpoint
/// between the first order and `as_of` when it would leave the features less than half of the
/// history (for CDNOW with a 39-week horizon as_of − horizon lies before the first order).
///
/// Errors when `as_of` is not after the first order day.
pub fn training_window(
    first_order: NaiveDate,
    as_of: NaiveDate,
    horizon_days: i64,
) -> Result<TrainingWindow> {
    let history = (as_of - first_order).num_days();
    if history < 2 {
        return Err(EngineError::Data(format!(
            "the first order is on {first_order}, too close to --as-of {as_of} to train at an earlier origin: pick a later --as-of"
        )));
    }
    let midpoint = first_order + Days::new((history / 2) as u64);
    let wanted = as_of
        .checked_sub_days(Days::new(horizon_days.max(1) as u64))
        .ok_or_else(|| EngineError::Data(format!("horizon before {as_of} is out of range")))?;
    let (origin, clipped, rule) = if wanted >= midpoint {
        (
            wanted,
            false,
            format!("as_of − horizon ({horizon_days} days)"),
        )
    } else {
        (
            midpoint,
            true,
            format!(
                "as_of − horizon ({wanted}) would leave less than half of the {history} days of history before as_of for the features, so the origin is the midpoint between the first order ({first_order}) and as_of; the training label window is shorter than the horizon, with the same label definition"
            ),
        )
    };
    Ok(TrainingWindow {
        origin,
        label_end: as_of,
        label_days: (as_of - origin).num_days(),
        clipped,
        rule,
    })
}

/// BG/NBD's probability of no purchase in the next `h` days:
/// 1 − P(alive)·(1 − ((α+T)/(α+T+h))^(r+x)) (Fader, Hardie & Lee 2005, with the posterior
/// Gamma(r + x, α + T) of the purchase rate of a customer who is alive).
pub fn p_no_purchase(bg: &BgNbdFitted, p_alive: f64, x: f64, age: f64, h: f64) -> f64 {
    let a = bg.alpha() + age;
    let zero_if_alive = (a / (a + h)).powf(bg.r() + x);
    (1.0 - p_alive * (1.0 - zero_if_alive)).clamp(0.0, 1.0)
}

/// The store columns of the buyers, as read from feature batches.
#[derive(Debug, Clone)]
pub struct BuyerColumns {
    /// Customer ids of the buyers.
    pub ids: Vec<String>,
    /// Row of each buyer in the batches.
    pub rows: Vec<usize>,
    /// Store column name → values per buyer.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// The store feature columns a risk model reads from these batches (base plus the optional ones
/// present), restricted to customers with an order.
pub fn buyer_columns(batches: &[RecordBatch]) -> Result<BuyerColumns> {
    let ids = str_col(batches, "customer_id")?;
    let orders = f64_col(batches, "orders")?;
    let x = f64_col(batches, "x")?;
    let rows: Vec<usize> = (0..ids.len())
        .filter(|&i| orders[i] > 0.0 && x[i].is_finite())
        .collect();
    let present = |name: &str| {
        batches
            .first()
            .is_some_and(|b| b.schema().index_of(name).is_ok())
    };
    let mut columns = Vec::new();
    for name in BASE_COLUMNS
        .iter()
        .chain(OPTIONAL_COLUMNS.iter().filter(|c| present(c)))
    {
        let all = f64_col(batches, name)?;
        columns.push((name.to_string(), rows.iter().map(|&i| all[i]).collect()));
    }
    Ok(BuyerColumns {
        ids: rows.iter().map(|&i| ids[i].clone()).collect(),
        rows,
        columns,
    })
}

pub(crate) fn col<'a>(c: &'a BuyerColumns, name: &str) -> Result<&'a [f64]> {
    c.columns
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
        .ok_or_else(|| EngineError::Data(format!("features lack column {name}")))
}

/// BG/NBD outputs per buyer: P(alive), expected purchases and P(no purchase) in `h` days.
pub struct BtydOutputs {
    /// The model (fitted at the origin, or given).
    pub bg: BgNbdFitted,
    /// P(alive).
    pub p_alive: Vec<f64>,
    /// E[purchases in h].
    pub expected: Vec<f64>,
    /// P(no purchase in h).
    pub p_no_purchase: Vec<f64>,
}

/// Fit BG/NBD on (x, t_x, T) in days unless `bg` is given, and compute its outputs over `h` days.
pub fn btyd_outputs(
    x: &[f64],
    t_x: &[f64],
    age: &[f64],
    h: f64,
    bg: Option<&BgNbdFitted>,
) -> Result<BtydOutputs> {
    let data = BtydData::from_slices(x, t_x, age)?;
    let bg = match bg {
        Some(b) => b.clone(),
        None => BgNbdParams::default().fit(&data)?,
    };
    let p_alive = bg.predict_probability_alive(&data);
    let expected = bg.predict_conditional_expected_purchases(&data, h)?;
    let p_no_purchase = (0..x.len())
        .map(|i| p_no_purchase(&bg, p_alive[i], x[i], age[i], h))
        .collect();
    Ok(BtydOutputs {
        bg,
        p_alive,
        expected,
        p_no_purchase,
    })
}

/// The behaviour feature table: the store columns followed by [`BTYD_COLUMNS`].
pub fn behaviour_table(c: &BuyerColumns, btyd: &BtydOutputs) -> Result<FeatureTable> {
    let mut t = FeatureTable::new(c.ids.len());
    for (name, values) in &c.columns {
        t.push(name.clone(), values.clone())?;
    }
    t.push(BTYD_COLUMNS[0], btyd.p_alive.clone())?;
    t.push(BTYD_COLUMNS[1], btyd.expected.clone())?;
    t.push(BTYD_COLUMNS[2], btyd.p_no_purchase.clone())?;
    Ok(t)
}

/// Features and labels of one origin.
pub(crate) struct Origin {
    pub(crate) cols: BuyerColumns,
    pub(crate) table: FeatureTable,
    pub(crate) btyd: BtydOutputs,
    pub(crate) labels: Vec<bool>,
}

fn labels(
    target: RiskTarget,
    batches: &[RecordBatch],
    rows: &[usize],
    share: f64,
) -> Result<Vec<bool>> {
    match target {
        RiskTarget::Churn => {
            let churned = f64_col(batches, "churned")?;
            Ok(rows.iter().map(|&i| churned[i] > 0.5).collect())
        }
        RiskTarget::HighValue => {
            let spend = f64_col(batches, "holdout_spend")?;
            let s: Vec<f64> = rows.iter().map(|&i| spend[i]).collect();
            Ok(high_value_labels(&s, share))
        }
    }
}

/// The top `share` of customers by window spend: the k = ⌈share·n⌉ largest spends and any tied with
/// the k-th; zero or negative spend is never high value.
pub fn high_value_labels(spend: &[f64], share: f64) -> Vec<bool> {
    let mut sorted: Vec<f64> = spend.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = ((share * spend.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    let cut = sorted.get(k - 1).copied().unwrap_or(f64::INFINITY);
    spend.iter().map(|&v| v >= cut && v > 0.0).collect()
}

pub(crate) fn origin(
    store: &Store,
    target: RiskTarget,
    at: NaiveDate,
    window_days: i64,
    share: f64,
) -> Result<(Origin, AsOfGuard)> {
    let window = Horizon::Days(window_days as u32);
    let batches = store.calibration_holdout(at, window)?;
    let guard = as_of_guard(store, at, &batches)?;
    let cols = buyer_columns(&batches)?;
    if cols.ids.is_empty() {
        return Err(EngineError::Data(format!(
            "no customer bought on or before {at}: pick a later --as-of"
        )));
    }
    let btyd = btyd_outputs(
        col(&cols, "x")?,
        col(&cols, "t_x_days")?,
        col(&cols, "T_days")?,
        window_days as f64,
        None,
    )?;
    let table = behaviour_table(&cols, &btyd)?;
    let labels = labels(target, &batches, &cols.rows, share)?;
    Ok((
        Origin {
            cols,
            table,
            btyd,
            labels,
        },
        guard,
    ))
}

/// What the leakage guard checked at one origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsOfGuard {
    /// The origin.
    pub as_of: NaiveDate,
    /// Customers compared.
    pub customers: usize,
    /// Feature columns compared per customer.
    pub columns: usize,
}

/// `Store::features_sql(as_of)` run on input tables cut at `as_of`: every input table is shadowed by
/// a CTE of its rows on or before that day, so the result cannot see a later row whatever the
/// feature SQL does.
pub fn truncated_features_sql(store: &Store, as_of: NaiveDate) -> Result<String> {
    let cutoff = as_of
        .checked_add_days(Days::new(1))
        .ok_or_else(|| EngineError::Data(format!("as-of date {as_of} is out of range")))?;
    let cut = format!("TIMESTAMP '{cutoff} 00:00:00'");
    let sql = store.features_sql(as_of)?;
    let body = sql.strip_prefix("WITH ").ok_or_else(|| {
        EngineError::Data("the feature SQL does not start with WITH; update the as-of guard".into())
    })?;
    Ok(format!(
        "WITH orders AS (SELECT * FROM main.orders WHERE ordered_at < {cut}),
         customers AS (SELECT * FROM main.customers WHERE created_at IS NULL OR created_at < {cut}),
         events AS (SELECT * FROM main.events WHERE occurred_at < {cut}),
         reviews AS (SELECT * FROM main.reviews WHERE created_at < {cut}),
         tickets AS (SELECT * FROM main.tickets WHERE created_at < {cut}),
         {body}"
    ))
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// The feature-as-of guard: recompute the features as of `as_of` from input tables cut at that day
/// ([`truncated_features_sql`]) and require every store feature column in `used` to match for every
/// customer. Errors naming the first customer and column that differ — a feature that read a row
/// after `as_of`.
pub fn as_of_guard(store: &Store, as_of: NaiveDate, used: &[RecordBatch]) -> Result<AsOfGuard> {
    let clean = store.query_arrow(&truncated_features_sql(store, as_of)?)?;
    let (ids_used, ids_clean) = (
        str_col(used, "customer_id")?,
        str_col(&clean, "customer_id")?,
    );
    if ids_used != ids_clean {
        return Err(EngineError::Data(format!(
            "leakage guard: the features as of {as_of} hold {} customers, but only {} bought or signed up on or before that day; a feature read past its as-of date",
            ids_used.len(),
            ids_clean.len()
        )));
    }
    let schema = clean
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| EngineError::Data(format!("no customer exists on or before {as_of}")))?;
    let mut columns = 0;
    for field in schema.fields() {
        let name = field.name();
        if name == "customer_id" {
            continue;
        }
        let (Ok(a), Ok(b)) = (f64_col(used, name), f64_col(&clean, name)) else {
            continue; // timestamps: covered by the day counts derived from them
        };
        columns += 1;
        if let Some(i) = (0..a.len()).find(|&i| !same(a[i], b[i])) {
            return Err(EngineError::Data(format!(
                "leakage guard: feature {name} of customer {} as of {as_of} is {} in the data used but {} from rows on or before {as_of} only; a feature read past its as-of date (e.g. holdout-period rows in the calibration window)",
                ids_used[i], a[i], b[i]
            )));
        }
    }
    Ok(AsOfGuard {
        as_of,
        customers: ids_used.len(),
        columns,
    })
}

/// A ranking the model is compared with, scored on the same evaluation rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// Short name.
    pub name: String,
    /// What the score is and how it is oriented.
    pub description: String,
    /// AUC on the evaluation rows.
    pub auc: f64,
    /// Log loss when the score is a probability of the target.
    pub log_loss: Option<f64>,
}

/// A fitted risk model as saved to `models/<id>/model.json`: everything needed to score without
/// refitting, and the metrics it was registered with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RiskModel {
    /// Registry id.
    pub model_id: String,
    /// What it predicts.
    pub target: RiskTarget,
    /// Evaluation origin.
    pub as_of: NaiveDate,
    /// Horizon as written (`90d`, `39w`).
    pub horizon: String,
    /// Horizon in days (the window of the BG/NBD columns at scoring).
    pub horizon_days: i64,
    /// Share labelled high value.
    pub high_value_share: f64,
    /// Where it was fitted.
    pub training: TrainingWindow,
    /// The behaviour model.
    pub gbdt: GbdtFitted,
    /// The linear baseline.
    pub logistic: LogisticFitted,
    /// Decision threshold: the best-F1 threshold on the training origin.
    pub threshold: f64,
    /// BG/NBD (r, α, a, b) in days, fitted at `as_of`: used to re-score one customer without a
    /// refit.
    pub bg_nbd: [f64; 4],
    /// AUC on the evaluation origin.
    pub auc: f64,
    /// Log loss on the evaluation origin.
    pub log_loss: Option<f64>,
}

/// Everything `tenure train churn|highvalue` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RiskReport {
    /// Registry id, also the folder under `models/`.
    pub model_id: String,
    /// Registry version of this kind.
    pub version: i64,
    /// What it predicts.
    pub target: RiskTarget,
    /// Evaluation origin.
    pub as_of: NaiveDate,
    /// Horizon as written.
    pub horizon: String,
    /// Last day of the evaluation labels.
    pub holdout_end: NaiveDate,
    /// Where the model was fitted.
    pub training: TrainingWindow,
    /// Customers (buyers) at the training origin, and their positive share.
    pub train_rows: usize,
    /// Positive share at the training origin.
    pub train_prevalence: f64,
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// Gradient-boosting feature importance (total gain shares), largest first.
    pub importance: Vec<(String, f64)>,
    /// The behaviour model on the evaluation origin, thresholded at `model.at_threshold`.
    pub model: BinaryReport,
    /// Rankings it is compared with: BTYD P(alive), BTYD expected purchases, BTYD P(no purchase),
    /// logistic regression, and for high value the spend to date.
    pub baselines: Vec<Baseline>,
    /// Paired bootstrap of AUC(model) − AUC(best BTYD ranking), 1,000 resamples, seed 0.
    pub vs_best_btyd: AucDifference,
    /// Name of the best BTYD ranking.
    pub best_btyd: String,
    /// Leakage guard at both origins.
    pub guards: Vec<AsOfGuard>,
    /// BG/NBD (r, α, a, b) in days at the evaluation origin.
    pub bg_nbd: [f64; 4],
    /// Share of one-time buyers at the evaluation origin (BG/NBD gives them P(alive) = 1).
    pub one_time_buyers: f64,
    /// Files written.
    pub model_json: PathBuf,
    /// JSON report.
    pub report_json: PathBuf,
    /// HTML report.
    pub report_html: PathBuf,
}

fn first_order_date(store: &Store) -> Result<NaiveDate> {
    let b = store.query_arrow(
        "SELECT CAST(CAST(min(ordered_at) AS DATE) AS VARCHAR) AS d FROM orders WHERE NOT is_return",
    )?;
    let d = str_col(&b, "d")?;
    d.first()
        .and_then(|s| tenure_store::parse_date(s).ok())
        .ok_or_else(|| {
            EngineError::Data(
                "the store has no orders: ingest some with `tenure ingest FILE --table orders`"
                    .into(),
            )
        })
}

fn baseline(
    name: &str,
    description: &str,
    y: &[bool],
    score: &[f64],
    prob: bool,
) -> Result<Baseline> {
    Ok(Baseline {
        name: name.into(),
        description: description.into(),
        auc: auc(y, score)?,
        log_loss: if prob {
            Some(tenure_models::metrics::log_loss(y, score)?)
        } else {
            None
        },
    })
}

/// Fit a churn or high-value model at the rolling origin, evaluate it at `as_of`, write
/// `models/<id>/{model.json, report.json, report.html}` and register it. `now` stamps the id and the
/// registry row.
pub fn train_risk(store: &Store, opts: &RiskOptions, now: NaiveDateTime) -> Result<RiskReport> {
    if !(opts.high_value_share > 0.0 && opts.high_value_share < 1.0) {
        return Err(EngineError::Data(format!(
            "high-value share {} must lie strictly between 0 and 1",
            opts.high_value_share
        )));
    }
    let horizon_days = opts.horizon.days(opts.as_of)?;
    let holdout_end = opts.horizon.end(opts.as_of)?;
    let last = crate::value::last_order_date(store)?;
    if last <= opts.as_of {
        return Err(EngineError::Data(format!(
            "no order after {} (the last is on {last}): the evaluation labels would be empty; pick an earlier --as-of",
            opts.as_of
        )));
    }
    let window = training_window(first_order_date(store)?, opts.as_of, horizon_days)?;
    let share = opts.high_value_share;
    let (train, g_train) = origin(store, opts.target, window.origin, window.label_days, share)?;
    let (eval, g_eval) = origin(store, opts.target, opts.as_of, horizon_days, share)?;

    let gbdt = opts.gbdt.fit(&train.table, &train.labels)?;
    let logistic = opts.logistic.fit(&train.table, &train.labels)?;
    let train_prob = gbdt.predict_proba(&train.table)?;
    let threshold =
        tenure_models::metrics::best_f1_threshold(&train.labels, &train_prob)?.threshold;
    let prob = gbdt.predict_proba(&eval.table)?;
    let y = &eval.labels;
    let model = binary_report_with(
        y,
        &prob,
        &BinaryReportParams {
            threshold,
            ks: vec![10, 100, 1000, 10_000],
            n_calibration_bins: 10,
        },
    )?;
    let b = &eval.btyd;
    let (alive, expected, no_purchase): (Vec<f64>, Vec<f64>, Vec<f64>) = match opts.target {
        // Churn risk rises as P(alive) and expected purchases fall.
        RiskTarget::Churn => (
            b.p_alive.iter().map(|p| 1.0 - p).collect(),
            b.expected.iter().map(|e| -e).collect(),
            b.p_no_purchase.clone(),
        ),
        RiskTarget::HighValue => (
            b.p_alive.clone(),
            b.expected.clone(),
            b.p_no_purchase.iter().map(|p| 1.0 - p).collect(),
        ),
    };
    let is_churn = opts.target == RiskTarget::Churn;
    let mut baselines = vec![
        baseline(
            "btyd_p_alive",
            if is_churn {
                "BTYD ranking by 1 − P(alive) (BG/NBD at as_of). BG/NBD gives every one-time buyer P(alive) = 1, so they all rank as least likely to churn although most of them churn: P(alive) alone ranks churn badly."
            } else {
                "BTYD ranking by P(alive) (BG/NBD at as_of)."
            },
            y,
            &alive,
            false,
        )?,
        baseline(
            "btyd_expected_purchases",
            if is_churn {
                "BTYD ranking by −E[purchases in the horizon] (BG/NBD at as_of, eq. 10)."
            } else {
                "BTYD ranking by E[purchases in the horizon] (BG/NBD at as_of, eq. 10)."
            },
            y,
            &expected,
            false,
        )?,
        baseline(
            "btyd_p_no_purchase",
            "BG/NBD probability of no purchase in the horizon (for high value: its complement).",
            y,
            &no_purchase,
            is_churn,
        )?,
    ];
    let best = baselines
        .iter()
        .take(2)
        .max_by(|a, b| a.auc.total_cmp(&b.auc))
        .map(|b| b.name.clone())
        .unwrap_or_default();
    let best_scores = if best == "btyd_p_alive" {
        &alive
    } else {
        &expected
    };
    let vs_best_btyd = bootstrap_auc_difference(y, &prob, best_scores, 1000, 0)?;
    let lr_prob = logistic.predict_proba(&eval.table)?;
    baselines.push(baseline(
        "logistic_regression",
        "L2 logistic regression (C = 1) on the same standardized features, fitted at the same origin.",
        y,
        &lr_prob,
        true,
    )?);
    if !is_churn {
        baselines.push(baseline(
            "spend_to_date",
            "Ranking by spend on or before as_of.",
            y,
            col(&eval.cols, "spend_total")?,
            false,
        )?);
    }
    let mut importance = gbdt.feature_importance();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let x_eval = col(&eval.cols, "x")?;
    let one_time_buyers =
        x_eval.iter().filter(|&&x| x == 0.0).count() as f64 / x_eval.len().max(1) as f64;

    let kind = opts.target.name();
    let model_id = format!("{kind}-{}", now.format("%Y%m%dT%H%M%S%.3f"));
    let dir = store.dir().join("models").join(&model_id);
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
    let bg = &eval.btyd.bg;
    let saved = RiskModel {
        model_id: model_id.clone(),
        target: opts.target,
        as_of: opts.as_of,
        horizon: opts.horizon.to_string(),
        horizon_days,
        high_value_share: share,
        training: window.clone(),
        gbdt,
        logistic,
        threshold,
        bg_nbd: [bg.r(), bg.alpha(), bg.a(), bg.b()],
        auc: model.auc,
        log_loss: model.log_loss,
    };
    let mut report = RiskReport {
        model_id: model_id.clone(),
        version: 0,
        target: opts.target,
        as_of: opts.as_of,
        horizon: opts.horizon.to_string(),
        holdout_end,
        training: window,
        train_rows: train.labels.len(),
        train_prevalence: train.labels.iter().filter(|&&v| v).count() as f64
            / train.labels.len() as f64,
        features: eval.table.names().to_vec(),
        importance,
        model,
        baselines,
        vs_best_btyd,
        best_btyd: best,
        guards: vec![g_train, g_eval],
        bg_nbd: saved.bg_nbd,
        one_time_buyers,
        model_json: dir.join("model.json"),
        report_json: dir.join("report.json"),
        report_html: dir.join("report.html"),
    };
    let metrics = serde_json::json!({
        "auc": report.model.auc,
        "log_loss": report.model.log_loss,
        "f1": report.model.at_threshold.f1,
        "threshold": threshold,
        "baselines": report.baselines.iter().map(|b| (b.name.clone(), b.auc)).collect::<BTreeMap<_, _>>(),
        "training_origin": report.training.origin,
    });
    report.version = store.register_model(&ModelRecord {
        model_id: model_id.clone(),
        kind: kind.into(),
        version: 0,
        trained_at: now,
        as_of: Some(opts.as_of),
        params: serde_json::json!({"gbdt": opts.gbdt, "logistic": opts.logistic, "horizon": opts.horizon.to_string(), "high_value_share": share}).to_string(),
        metrics: metrics.to_string(),
        artifact_path: Some(format!("models/{model_id}")),
    })?;
    write_json(&report.model_json, &saved)?;
    write_json(&report.report_json, &report)?;
    std::fs::write(&report.report_html, render_risk_html(&report))
        .map_err(|e| EngineError::io(&report.report_html, e))?;
    Ok(report)
}

pub(crate) fn write_json<T: Serialize>(path: &std::path::Path, v: &T) -> Result<()> {
    let json = serde_json::to_string_pretty(v)
        .map_err(|e| EngineError::Data(format!("{} as JSON: {e}", path.display())))?;
    std::fs::write(path, json).map_err(|e| EngineError::io(path, e))
}

fn esc(s: &str) -> String {
    crate::chart::escape(s)
}

/// The HTML report: the model's metrics page ([`BinaryReport::to_html`]) followed by the split,
/// the baselines, the AUC difference to the best BTYD ranking and the feature importance.
pub fn render_risk_html(r: &RiskReport) -> String {
    let title = format!(
        "{} model {} — evaluated as of {} over {}",
        r.target.name(),
        r.model_id,
        r.as_of,
        r.horizon
    );
    let page = r.model.to_html(&title);
    let mut s = String::new();
    let _ = write!(
        s,
        "<h2>Time split</h2><p>Fitted on features as of {} with labels from ({}, {}] ({} days, {} customers, positive share {:.3}); evaluated on features as of {} with labels from ({}, {}]. Rule: {}. Leakage guard: features recomputed from tables cut at each origin match ({}).</p>",
        r.training.origin,
        r.training.origin,
        r.training.label_end,
        r.training.label_days,
        r.train_rows,
        r.train_prevalence,
        r.as_of,
        r.as_of,
        r.holdout_end,
        esc(&r.training.rule),
        r.guards
            .iter()
            .map(|g| format!("{}: {} customers × {} columns", g.as_of, g.customers, g.columns))
            .collect::<Vec<_>>()
            .join("; ")
    );
    s.push_str("<h2>Against baselines</h2><table><tr><th>ranking</th><th>AUC</th><th>log loss</th><th>what</th></tr>");
    let _ = write!(
        s,
        "<tr><td><b>gradient-boosted trees (this model)</b></td><td>{:.4}</td><td>{}</td><td>behaviour features + BG/NBD outputs</td></tr>",
        r.model.auc,
        r.model.log_loss.map_or("–".into(), |v| format!("{v:.4}"))
    );
    for b in &r.baselines {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
            esc(&b.name),
            b.auc,
            b.log_loss.map_or("–".into(), |v| format!("{v:.4}")),
            esc(&b.description)
        );
    }
    let d = &r.vs_best_btyd.difference;
    let _ = write!(
        s,
        "</table><p>AUC(model) − AUC({}) = {:.4} (95% paired bootstrap interval {:.4} to {:.4}; model better in {:.1}% of resamples). {:.1}% of the customers are one-time buyers, whom BG/NBD gives P(alive) = 1.</p>",
        esc(&r.best_btyd),
        d.estimate,
        d.lower,
        d.upper,
        100.0 * r.vs_best_btyd.share_a_better,
        100.0 * r.one_time_buyers
    );
    s.push_str("<h2>Feature importance (total split gain)</h2><table><tr><th>feature</th><th>share</th></tr>");
    for (n, v) in &r.importance {
        let _ = write!(s, "<tr><td>{}</td><td>{v:.4}</td></tr>", esc(n));
    }
    s.push_str("</table>\n</body></html>\n");
    match page.rfind("</body></html>") {
        Some(at) => format!("{}{}", &page[..at], s),
        None => page + &s,
    }
}

/// The latest registered model of a target, with its registry row, read from `model.json`.
pub fn load_risk_model(
    store: &Store,
    target: RiskTarget,
) -> Result<Option<(ModelRecord, RiskModel)>> {
    let Some(rec) = store
        .models()?
        .into_iter()
        .find(|m| m.kind == target.name())
    else {
        return Ok(None);
    };
    let rel = rec
        .artifact_path
        .clone()
        .unwrap_or_else(|| format!("models/{}", rec.model_id));
    let path = store.dir().join(rel).join("model.json");
    let text = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
    let model: RiskModel = serde_json::from_str(&text).map_err(|e| {
        EngineError::Data(format!(
            "{} is not a risk model ({e}); retrain with `tenure train {}`",
            path.display(),
            target.name()
        ))
    })?;
    Ok(Some((rec, model)))
}

/// What `tenure eval churn` found when re-evaluating a registered model on today's store.
#[derive(Debug, Clone, Serialize)]
pub struct RiskEval {
    /// The model.
    pub model_id: String,
    /// Its evaluation origin and horizon.
    pub as_of: NaiveDate,
    /// Horizon as written.
    pub horizon: String,
    /// AUC registered at training.
    pub registered_auc: f64,
    /// The full evaluation now (same origin, current store).
    pub report: BinaryReport,
    /// Leakage guard at the origin.
    pub guard: AsOfGuard,
    /// The model's report page.
    pub report_html: PathBuf,
}

/// Re-evaluate the latest registered model of `target` at its own origin and horizon on the
/// current store, without refitting (BG/NBD features refitted at the origin, as in training).
pub fn evaluate_risk(store: &Store, target: RiskTarget) -> Result<RiskEval> {
    let (rec, model) = load_risk_model(store, target)?.ok_or_else(|| {
        EngineError::Data(format!(
            "no {} model registered: run `tenure train {}` first",
            target.name(),
            if target == RiskTarget::Churn {
                "churn"
            } else {
                "highvalue"
            }
        ))
    })?;
    let (eval, guard) = origin(
        store,
        target,
        model.as_of,
        model.horizon_days,
        model.high_value_share,
    )?;
    let prob = model.gbdt.predict_proba(&eval.table)?;
    let report = binary_report_with(
        &eval.labels,
        &prob,
        &BinaryReportParams {
            threshold: model.threshold,
            ks: vec![10, 100, 1000, 10_000],
            n_calibration_bins: 10,
        },
    )?;
    let dir = store.dir().join(
        rec.artifact_path
            .unwrap_or_else(|| format!("models/{}", rec.model_id)),
    );
    Ok(RiskEval {
        model_id: model.model_id,
        as_of: model.as_of,
        horizon: model.horizon,
        registered_auc: model.auc,
        report,
        guard,
        report_html: dir.join("report.html"),
    })
}

/// Score one customer with a fitted model, no refit and no store: `features` maps store feature
/// names ([`BASE_COLUMNS`], and the [`OPTIONAL_COLUMNS`] the model was trained with) to the
/// customer's values as of the scoring day; the BG/NBD columns come from the model's stored BG/NBD
/// over its horizon. Returns P(target). The live re-score behind the HTTP API.
///
/// Errors when a column the model needs is absent or the customer's (x, t_x, T) are invalid.
pub fn score_customer(model: &RiskModel, features: &BTreeMap<String, f64>) -> Result<f64> {
    let [r, alpha, a, b] = model.bg_nbd;
    let bg = BgNbdFitted::from_parameters(r, alpha, a, b)?;
    let get = |n: &str| {
        features
            .get(n)
            .copied()
            .ok_or_else(|| EngineError::Data(format!("the customer's features lack {n}")))
    };
    let (x, t_x, age) = (get("x")?, get("t_x_days")?, get("T_days")?);
    let h = model.horizon_days as f64;
    let p_alive = bg.probability_alive(x, t_x, age)?;
    let expected = bg.conditional_expected_purchases(h, x, t_x, age)?;
    let none = p_no_purchase(&bg, p_alive, x, age, h);
    let row: Vec<f64> = model
        .gbdt
        .feature_names()
        .iter()
        .map(|n| match n.as_str() {
            "btyd_p_alive" => Ok(p_alive),
            "btyd_expected_purchases" => Ok(expected),
            "btyd_p_no_purchase" => Ok(none),
            other => get(other),
        })
        .collect::<Result<_>>()?;
    Ok(model.gbdt.predict_row(&row)?)
}

/// What `tenure score risk` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct RiskScoreSummary {
    /// Run id in `customer_risk`.
    pub run_id: String,
    /// Scoring day.
    pub as_of: NaiveDate,
    /// Customers written (all known customers; those without an order get no probabilities).
    pub customers: usize,
    /// Customers with a probability.
    pub scored: usize,
    /// The churn model used.
    pub churn_model: String,
    /// The high-value model used, if one is registered.
    pub high_value_model: Option<String>,
    /// Mean churn probability of the scored customers.
    pub mean_churn: f64,
    /// Customers at or above the churn model's decision threshold.
    pub flagged_churn: usize,
    /// Mean high-value probability.
    pub mean_high_value: Option<f64>,
    /// BG/NBD (r, α, a, b) refitted at the scoring day for the BTYD columns.
    pub bg_nbd: [f64; 4],
}

fn predict_at(model: &RiskModel, cols: &BuyerColumns, bg: &BgNbdFitted) -> Result<Vec<f64>> {
    let btyd = btyd_outputs(
        col(cols, "x")?,
        col(cols, "t_x_days")?,
        col(cols, "T_days")?,
        model.horizon_days as f64,
        Some(bg),
    )?;
    let table = behaviour_table(cols, &btyd)?;
    Ok(model.gbdt.predict_proba(&table)?)
}

/// Score every customer as of a day (default: the last order day) with the latest churn model and,
/// if registered, the latest high-value model, and append the rows to `customer_risk`. BG/NBD is
/// refitted on the features of that day (as at every training origin).
pub fn score_risk(
    store: &Store,
    as_of: Option<NaiveDate>,
    now: NaiveDateTime,
) -> Result<RiskScoreSummary> {
    let (_, churn) = load_risk_model(store, RiskTarget::Churn)?.ok_or_else(|| {
        EngineError::Data("no churn model registered: run `tenure train churn` first".into())
    })?;
    let high = load_risk_model(store, RiskTarget::HighValue)?.map(|(_, m)| m);
    let as_of = match as_of {
        Some(d) => d,
        None => store
            .last_order_date()?
            .ok_or_else(|| EngineError::Data("the store has no orders to score".into()))?,
    };
    let batches = store.customer_features(as_of)?;
    as_of_guard(store, as_of, &batches)?;
    let all_ids = str_col(&batches, "customer_id")?;
    let cols = buyer_columns(&batches)?;
    if cols.ids.is_empty() {
        return Err(EngineError::Data(format!(
            "no customer bought on or before {as_of}: pick a later --as-of"
        )));
    }
    let data = BtydData::from_slices(
        col(&cols, "x")?,
        col(&cols, "t_x_days")?,
        col(&cols, "T_days")?,
    )?;
    let bg = BgNbdParams::default().fit(&data)?;
    let churn_p = predict_at(&churn, &cols, &bg)?;
    let high_p = high
        .as_ref()
        .map(|m| predict_at(m, &cols, &bg))
        .transpose()?;
    let n = all_ids.len();
    let mut churn_col = vec![None; n];
    let mut high_col = vec![None; n];
    for (k, &i) in cols.rows.iter().enumerate() {
        churn_col[i] = Some(churn_p[k]);
        high_col[i] = high_p.as_ref().map(|h| h[k]);
    }
    let run_id = format!("risk-{as_of}-{}", now.format("%Y%m%dT%H%M%S%.3f"));
    let model_id = match &high {
        Some(h) => format!("{}+{}", churn.model_id, h.model_id),
        None => churn.model_id.clone(),
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date");
    let day = (as_of - epoch).num_days() as i32;
    let batch = risk_batch(&run_id, day, &all_ids, churn_col, high_col, &model_id, now)?;
    store.append_derived("customer_risk", &[batch])?;
    let scored = churn_p.len();
    Ok(RiskScoreSummary {
        run_id,
        as_of,
        customers: n,
        scored,
        churn_model: churn.model_id.clone(),
        high_value_model: high.as_ref().map(|h| h.model_id.clone()),
        mean_churn: churn_p.iter().sum::<f64>() / scored as f64,
        flagged_churn: churn_p.iter().filter(|&&p| p >= churn.threshold).count(),
        mean_high_value: high_p.map(|h| h.iter().sum::<f64>() / scored as f64),
        bg_nbd: [bg.r(), bg.alpha(), bg.a(), bg.b()],
    })
}

/// SplitMix64 (Steele, Lea & Flood 2014): the bench's seeded draws of rows and labels, which need
/// no statistical finesse and no generator dependency in the engine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// What `tenure bench risk` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RiskBenchReport {
    /// Customers generated and scored.
    pub customers: usize,
    /// Rows the model was fitted on (a random subset).
    pub train_rows: usize,
    /// Seconds to draw the summaries.
    pub generate_s: f64,
    /// Seconds to fit BG/NBD on every customer.
    pub fit_btyd_s: f64,
    /// Seconds to fit the boosted trees on the training rows.
    pub fit_gbdt_s: f64,
    /// Seconds to score every customer with the fitted models: BG/NBD columns + trees.
    pub score_s: f64,
    /// Of which: the trees alone.
    pub predict_s: f64,
    /// Single-customer re-scores timed ([`score_customer`]).
    pub rescore_calls: usize,
    /// Mean milliseconds per single-customer re-score.
    pub rescore_mean_ms: f64,
    /// Slowest single-customer re-score, milliseconds.
    pub rescore_max_ms: f64,
    /// Mean churn probability.
    pub mean_probability: f64,
}

/// Generate customers, fit BG/NBD on all and boosted trees on up to 100,000 of them (labels drawn
/// from BG/NBD's P(no purchase in 90 days), seeded — the point is the timing, not the accuracy),
/// then time scoring everyone and re-scoring single customers.
pub fn bench_risk(params: &tenure_sim::HistoryParams) -> Result<RiskBenchReport> {
    let t = Instant::now();
    let h = tenure_sim::purchase_histories(params)?;
    let generate_s = t.elapsed().as_secs_f64();
    let n = h.x.len();
    let aov: Vec<f64> = (0..n)
        .map(|i| {
            if h.orders[i] > 0.0 {
                h.spend[i] / h.orders[i]
            } else {
                f64::NAN
            }
        })
        .collect();
    let cols = BuyerColumns {
        ids: (0..n).map(|i| i.to_string()).collect(),
        rows: (0..n).collect(),
        columns: vec![
            ("recency_days".into(), h.recency.clone()),
            ("orders".into(), h.orders.clone()),
            ("x".into(), h.x.clone()),
            ("t_x_days".into(), h.t_x.clone()),
            ("T_days".into(), h.age.clone()),
            ("spend_total".into(), h.spend.clone()),
            ("avg_order_value".into(), aov),
            ("monetary_mean".into(), h.monetary_mean.clone()),
            ("returns".into(), vec![0.0; n]),
        ],
    };
    let t = Instant::now();
    let data = BtydData::from_slices(&h.x, &h.t_x, &h.age)?;
    let bg = BgNbdParams::default().fit(&data)?;
    let fit_btyd_s = t.elapsed().as_secs_f64();
    let horizon = 90.0;
    let mut rng = SplitMix64(params.seed);
    let train_rows = n.min(100_000);
    let picked: Vec<usize> = (0..train_rows).map(|_| rng.below(n)).collect();
    let sub = BuyerColumns {
        ids: picked.iter().map(|&i| cols.ids[i].clone()).collect(),
        rows: (0..train_rows).collect(),
        columns: cols
            .columns
            .iter()
            .map(|(name, v)| (name.clone(), picked.iter().map(|&i| v[i]).collect()))
            .collect(),
    };
    let sub_btyd = btyd_outputs(
        col(&sub, "x")?,
        col(&sub, "t_x_days")?,
        col(&sub, "T_days")?,
        horizon,
        Some(&bg),
    )?;
    let y: Vec<bool> = sub_btyd
        .p_no_purchase
        .iter()
        .map(|&p| rng.unit() < p)
        .collect();
    let table = behaviour_table(&sub, &sub_btyd)?;
    let t = Instant::now();
    let opts = RiskOptions::new(RiskTarget::Churn, NaiveDate::MIN);
    let gbdt = opts.gbdt.fit(&table, &y)?;
    let fit_gbdt_s = t.elapsed().as_secs_f64();
    let logistic = LogisticParams::default().fit(&table, &y)?;
    let model = RiskModel {
        model_id: "bench".into(),
        target: RiskTarget::Churn,
        as_of: NaiveDate::MIN,
        horizon: "90d".into(),
        horizon_days: 90,
        high_value_share: 0.2,
        training: TrainingWindow {
            origin: NaiveDate::MIN,
            label_end: NaiveDate::MIN,
            label_days: 90,
            clipped: false,
            rule: "generated".into(),
        },
        gbdt,
        logistic,
        threshold: 0.5,
        bg_nbd: [bg.r(), bg.alpha(), bg.a(), bg.b()],
        auc: f64::NAN,
        log_loss: None,
    };
    let t = Instant::now();
    let btyd = btyd_outputs(&h.x, &h.t_x, &h.age, horizon, Some(&bg))?;
    let full = behaviour_table(&cols, &btyd)?;
    let t_pred = Instant::now();
    let prob = model.gbdt.predict_proba(&full)?;
    let predict_s = t_pred.elapsed().as_secs_f64();
    let score_s = t.elapsed().as_secs_f64();
    let calls = 1000.min(n);
    let (mut total, mut max) = (0.0f64, 0.0f64);
    for _ in 0..calls {
        let i = rng.below(n);
        let features: BTreeMap<String, f64> = cols
            .columns
            .iter()
            .map(|(name, v)| (name.clone(), v[i]))
            .collect();
        let t = Instant::now();
        let p = score_customer(&model, &features)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if (p - prob[i]).abs() > 1e-9 {
            return Err(EngineError::Data(format!(
                "single re-score of customer {i} gives {p}, batch scoring {}",
                prob[i]
            )));
        }
        total += ms;
        max = max.max(ms);
    }
    Ok(RiskBenchReport {
        customers: n,
        train_rows,
        generate_s,
        fit_btyd_s,
        fit_gbdt_s,
        score_s,
        predict_s,
        rescore_calls: calls,
        rescore_mean_ms: total / calls.max(1) as f64,
        rescore_max_ms: max,
        mean_probability: prob.iter().sum::<f64>() / n.max(1) as f64,
    })
}

/// Rows of `customer_risk` for `ids` (one run, one model), as the batch scorer and live re-scoring
/// both write them. `day` is the as-of date in days since 1970-01-01.
pub(crate) fn risk_batch(
    run_id: &str,
    day: i32,
    ids: &[String],
    churn: Vec<Option<f64>>,
    high_value: Vec<Option<f64>>,
    model_id: &str,
    now: NaiveDateTime,
) -> Result<RecordBatch> {
    let n = ids.len();
    RecordBatch::try_from_iter([
        (
            "run_id",
            Arc::new(StringArray::from(vec![run_id; n])) as ArrayRef,
        ),
        (
            "as_of",
            Arc::new(Date32Array::from(vec![day; n])) as ArrayRef,
        ),
        (
            "customer_id",
            Arc::new(StringArray::from(
                ids.iter().map(String::as_str).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "churn_probability",
            Arc::new(Float64Array::from(churn)) as ArrayRef,
        ),
        (
            "high_value_probability",
            Arc::new(Float64Array::from(high_value)) as ArrayRef,
        ),
        (
            "model_id",
            Arc::new(StringArray::from(vec![model_id; n])) as ArrayRef,
        ),
        (
            "scored_at",
            Arc::new(TimestampMicrosecondArray::from(vec![
                now.and_utc()
                    .timestamp_micros();
                n
            ])) as ArrayRef,
        ),
    ])
    .map_err(|e| EngineError::Data(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        tenure_store::parse_date(s).expect("date")
    }

    #[test]
    fn the_training_origin_is_as_of_minus_horizon_or_the_midpoint() -> Result<()> {
        let w = training_window(d("1997-01-01"), d("1997-09-30"), 273)?;
        assert!(w.clipped);
        assert_eq!(w.origin, d("1997-05-17"));
        assert_eq!(w.label_days, 136);
        let w = training_window(d("2020-01-01"), d("2023-01-01"), 90)?;
        assert!(!w.clipped);
        assert_eq!(w.origin, d("2022-10-03"));
        assert_eq!(w.label_days, 90);
        assert!(training_window(d("2020-01-01"), d("2020-01-02"), 90).is_err());
        Ok(())
    }

    #[test]
    fn high_value_is_the_top_share_with_ties_and_never_zero_spend() {
        let spend = [0.0, 10.0, 50.0, 50.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(
            high_value_labels(&spend, 0.2),
            vec![false, false, true, true, false, false, false, false, false, false]
        );
        assert_eq!(high_value_labels(&[0.0, 0.0], 0.5), vec![false, false]);
        // Ties at the cut are all in.
        assert_eq!(
            high_value_labels(&[3.0, 3.0, 3.0, 1.0], 0.25),
            vec![true, true, true, false]
        );
    }

    /// P(no purchase) is 1 for a customer surely dead, falls with the horizon, and for a one-time
    /// buyer (P(alive) = 1) equals the gamma-Poisson zero ((α+T)/(α+T+h))^r.
    #[test]
    fn p_no_purchase_limits() -> Result<()> {
        let bg = BgNbdFitted::from_parameters(0.24, 30.0, 0.8, 2.4)?;
        assert!((p_no_purchase(&bg, 0.0, 3.0, 100.0, 90.0) - 1.0).abs() < 1e-12);
        let one = p_no_purchase(&bg, 1.0, 0.0, 100.0, 90.0);
        assert!((one - (130.0f64 / 220.0).powf(0.24)).abs() < 1e-12);
        assert!(
            p_no_purchase(&bg, 0.7, 2.0, 100.0, 180.0) < p_no_purchase(&bg, 0.7, 2.0, 100.0, 90.0)
        );
        Ok(())
    }
}
