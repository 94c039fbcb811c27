//! Live re-scoring: after new orders or events for a few customers, recompute those customers'
//! as-of features and scores with the models already fitted — no refit — and write their rows in
//! the run the API and dashboard read. The HTTP API's `POST /v1/orders` and `POST /v1/events` end
//! here.
//!
//! **What is recomputed, and how it matches the batch scorer.** `tenure score value` saves the
//! parameters it fitted next to the run ([`ValueFit`], `models/value/<run_id>.json`). A live
//! update reads the customer's features with the same feature SQL, as of the day the batch scorer
//! would use now (the later of the run's as-of day and the last order day), and applies the same
//! per-customer formulas with the saved parameters: P(alive), expected purchases in 30/90/365 days
//! and the next order date from BG/NBD (Fader, Hardie & Lee 2005), expected spend from
//! Gamma-Gamma (Fader & Hardie 2013), CLV over the run's horizon and discount rate. So the numbers
//! equal what the batch kernels give for that customer over the same data with the same
//! parameters. RFM scores are ranks against every customer with an order on that day, as in the
//! batch (one pass over the features). Churn and high-value probabilities come from the latest
//! saved risk models with the run's BG/NBD columns (as `tenure score risk` refits BG/NBD on the
//! scoring day); the behavioural cluster from the latest saved cluster model. CLV intervals
//! (bootstrap refits) are not recomputed live and are left empty on re-scored rows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Days, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use tenure_models::{BgNbdFitted, BtydData, ClvParams, GammaGammaFitted, RfmParams, RfmScore};
use tenure_store::arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
};
use tenure_store::arrow::record_batch::RecordBatch;
use tenure_store::{SqlParam, Store};

use crate::customers::{latest_score_run, rows_json, JsonRow};
use crate::error::{EngineError, Result};
use crate::risk::{buyer_columns, load_risk_model, score_customer, RiskTarget};
use crate::segment::{assign_customer, load_cluster_model};
use crate::value::{
    f64_col, forecast_purchases, str_col, ValueOptions, ValueOutputs, CUSTOMER_SCORES_COLUMNS,
};

/// Folder, under the project, of the saved value fits (one JSON file per scoring run).
pub const VALUE_FIT_DIR: &str = "models/value";

/// The value models a scoring run fitted, saved beside the run so that one customer can be
/// re-scored later without a refit. Time unit: days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueFit {
    /// The `score_runs` run.
    pub run_id: String,
    /// Its as-of day.
    pub as_of: NaiveDate,
    /// BG/NBD (r, α, a, b).
    pub bg_nbd: [f64; 4],
    /// Gamma-Gamma (p, q, γ); `None` when the spend model was not fitted.
    pub gamma_gamma: Option<[f64; 3]>,
    /// CLV horizon in months.
    pub clv_months: u32,
    /// Monthly discount rate of CLV.
    pub monthly_discount_rate: f64,
}

impl ValueFit {
    /// The fit of a run from its fitted models and options.
    pub fn new(
        run_id: &str,
        as_of: NaiveDate,
        bg: &BgNbdFitted,
        gg: Option<&GammaGammaFitted>,
        opts: &ValueOptions,
    ) -> Self {
        ValueFit {
            run_id: run_id.to_string(),
            as_of,
            bg_nbd: [bg.r(), bg.alpha(), bg.a(), bg.b()],
            gamma_gamma: gg.map(|g| [g.p(), g.q(), g.gamma()]),
            clv_months: opts.clv_months,
            monthly_discount_rate: opts.monthly_discount_rate,
        }
    }
}

fn fit_path(store: &Store, run_id: &str) -> PathBuf {
    let safe: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    store.dir().join(VALUE_FIT_DIR).join(format!("{safe}.json"))
}

/// Save a run's fit (written to a temporary name and renamed, so a reader never sees half a file).
pub fn save_value_fit(store: &Store, fit: &ValueFit) -> Result<PathBuf> {
    let path = fit_path(store, &fit.run_id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let json = serde_json::to_string_pretty(fit)
        .map_err(|e| EngineError::Data(format!("value fit as JSON: {e}")))?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, json).map_err(|e| EngineError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| EngineError::io(&path, e))?;
    Ok(path)
}

/// The saved fit of a run; `None` when the run has none (scored before fits were saved).
pub fn load_value_fit(store: &Store, run_id: &str) -> Result<Option<ValueFit>> {
    let path = fit_path(store, run_id);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io(&path, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        EngineError::Data(format!(
            "{} is not a value fit ({e}); run `tenure score value` again",
            path.display()
        ))
    })
}

/// One customer's inputs of value scoring (the feature columns `score_value` reads; days).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneCustomer {
    /// Repeat purchase days (x).
    pub x: f64,
    /// Days from the first to the last purchase day.
    pub t_x: f64,
    /// Days from the first purchase day to the as-of day (T).
    pub age: f64,
    /// Mean spend per repeat purchase day (NaN when none).
    pub monetary_mean: f64,
}

/// BG/NBD, Gamma-Gamma and CLV outputs of one buyer (NaN/None where the batch writes NULL).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BuyerValue {
    /// P(alive).
    pub p_alive: f64,
    /// Expected purchases in the next 30 days.
    pub e30: f64,
    /// … 90 days.
    pub e90: f64,
    /// … 365 days.
    pub e365: f64,
    /// Days until one more purchase is expected (None beyond two years).
    pub next_days: Option<f64>,
    /// Expected spend per purchase (NaN without a spend model).
    pub exp_spend: f64,
    /// CLV over the fit's horizon (NaN without a spend model).
    pub clv: f64,
}

/// Score one buyer with a saved fit: the per-customer steps of `score_customers` after its fits,
/// through the same model functions on a one-row table, so the result equals the batch's.
pub fn score_buyer(fit: &ValueFit, c: &OneCustomer) -> Result<BuyerValue> {
    let [r, alpha, a, b] = fit.bg_nbd;
    let bg = BgNbdFitted::from_parameters(r, alpha, a, b)?;
    let data = BtydData::new(vec![c.x], vec![c.t_x], vec![c.age])?;
    let first = |v: Vec<f64>| v.first().copied().unwrap_or(f64::NAN);
    let mon = if c.monetary_mean.is_finite() {
        c.monetary_mean
    } else {
        0.0
    };
    let gg = fit
        .gamma_gamma
        .map(|[p, q, gamma]| GammaGammaFitted::from_parameters(p, q, gamma))
        .transpose()?;
    let clv_params = ClvParams {
        horizon_months: fit.clv_months,
        monthly_discount_rate: fit.monthly_discount_rate,
        units_per_month: 30.0,
    };
    let all = ValueOutputs::default();
    let forecast = forecast_purchases(&bg, &data, &all, gg.is_some().then_some(&clv_params))?;
    let [e30, e90, e365] = forecast.expected.map(first);
    let p_alive = first(forecast.p_alive);
    let next_days = forecast.next.first().copied().flatten();
    let (exp_spend, clv) = match (gg, forecast.discounted) {
        (Some(gg), Some(d)) => {
            let s = first(gg.predict_conditional_expected_spend(data.x(), &[mon])?);
            let s = if s.is_finite() && s >= 0.0 { s } else { 0.0 };
            (s, first(d) * s)
        }
        _ => (f64::NAN, f64::NAN),
    };
    Ok(BuyerValue {
        p_alive,
        e30,
        e90,
        e365,
        next_days,
        exp_spend,
        clv,
    })
}

/// One field before and after a live update (JSON as the API shows rows; `null` = absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Before.
    pub before: serde_json::Value,
    /// After.
    pub after: serde_json::Value,
}

/// What a live update did to one customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerChange {
    /// The customer.
    pub customer_id: String,
    /// Whether their rows were recomputed and written.
    pub rescored: bool,
    /// Fields whose value changed, before and after (value scores, risk, cluster).
    pub changes: BTreeMap<String, Change>,
    /// Their `customer_scores` row after the update.
    pub scores: Option<JsonRow>,
    /// Churn and high-value probabilities after the update, when a risk model is saved.
    pub risk: Option<JsonRow>,
    /// Their behavioural cluster after the update, when a cluster model is saved.
    pub cluster: Option<JsonRow>,
    /// Why they were not re-scored, or what was left out.
    pub note: Option<String>,
}

/// What [`rescore_customers`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveUpdate {
    /// The value run whose rows were updated (the latest).
    pub run_id: Option<String>,
    /// The as-of day of the recomputed features and scores.
    pub as_of: Option<NaiveDate>,
    /// The saved value fit used (its run id).
    pub value_fit: Option<String>,
    /// Risk models used.
    pub risk_models: Vec<String>,
    /// Cluster model used.
    pub cluster_model: Option<String>,
    /// One entry per customer asked for, in order.
    pub customers: Vec<CustomerChange>,
    /// What could not be done, in plain words.
    pub warnings: Vec<String>,
    /// Wall time of the re-score.
    pub seconds: f64,
}

fn day_num(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The `customer_scores` rows of re-scored customers.
fn scores_batch(
    run_id: &str,
    as_of: NaiveDate,
    rows: &[(String, RfmScore, Option<BuyerValue>)],
    now: NaiveDateTime,
) -> Result<RecordBatch> {
    let n = rows.len();
    let v = |f: fn(&BuyerValue) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            rows.iter()
                .map(|(_, _, b)| b.as_ref().and_then(|b| finite(f(b))))
                .collect::<Vec<_>>(),
        ))
    };
    let score = |f: fn(&RfmScore) -> u8| -> ArrayRef {
        Arc::new(Int32Array::from(
            rows.iter()
                .map(|(_, r, _)| i32::from(f(r)))
                .collect::<Vec<_>>(),
        ))
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id; n])),
        Arc::new(Date32Array::from(vec![day_num(as_of); n])),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|(id, _, _)| id.as_str())
                .collect::<Vec<_>>(),
        )),
        score(|r| r.recency),
        score(|r| r.frequency),
        score(|r| r.monetary),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|(_, r, _)| format!("{}{}{}", r.recency, r.frequency, r.monetary))
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|(_, r, _)| r.group.label())
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|(_, r, _)| format!("{:?}", r.tier).to_lowercase())
                .collect::<Vec<_>>(),
        )),
        v(|b| b.p_alive),
        v(|b| b.e30),
        v(|b| b.e90),
        v(|b| b.e365),
        Arc::new(Date32Array::from(
            rows.iter()
                .map(|(_, _, b)| {
                    b.as_ref()
                        .and_then(|b| b.next_days)
                        .and_then(|t| as_of.checked_add_days(Days::new(t.ceil() as u64)))
                        .map(day_num)
                })
                .collect::<Vec<_>>(),
        )),
        v(|b| b.exp_spend),
        v(|b| b.clv),
        Arc::new(Float64Array::from(vec![None::<f64>; n])),
        Arc::new(Float64Array::from(vec![None::<f64>; n])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            now.and_utc()
                .timestamp_micros();
            n
        ])),
    ];
    RecordBatch::try_from_iter(CUSTOMER_SCORES_COLUMNS.into_iter().zip(cols))
        .map_err(|e| EngineError::Data(e.to_string()))
}

fn id_params(ids: &[String]) -> (String, Vec<SqlParam>) {
    (
        vec!["?"; ids.len()].join(", "),
        ids.iter().map(|i| SqlParam::Text(i.clone())).collect(),
    )
}

/// The rows of `ids` in one run of a per-customer table, keyed by customer, without the run
/// columns and timestamps (which always change).
fn run_rows(
    store: &Store,
    table: &str,
    run_id: &str,
    ids: &[String],
) -> Result<BTreeMap<String, JsonRow>> {
    let (marks, mut params) = id_params(ids);
    params.insert(0, SqlParam::Text(run_id.to_string()));
    let rows = rows_json(&store.query_arrow_params(
        &format!("SELECT * FROM {table} WHERE run_id = ? AND customer_id IN ({marks})"),
        &params,
    )?)?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| {
            let id = r.get("customer_id")?.as_str()?.to_string();
            for k in ["run_id", "customer_id", "scored_at"] {
                r.remove(k);
            }
            Some((id, r))
        })
        .collect())
}

fn latest_run_of(store: &Store, table: &str, order: &str) -> Result<Option<String>> {
    if store.count(table)? == 0 {
        return Ok(None);
    }
    let b = store.query_arrow(&format!(
        "SELECT run_id FROM {table} ORDER BY {order} DESC, run_id DESC LIMIT 1"
    ))?;
    Ok(str_col(&b, "run_id")?.into_iter().next())
}

fn diff(
    prefix: &str,
    before: Option<&JsonRow>,
    after: Option<&JsonRow>,
    out: &mut BTreeMap<String, Change>,
) {
    let empty = JsonRow::new();
    let (b, a) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for k in keys {
        if k == "as_of" {
            continue;
        }
        let bv = b.get(k).cloned().unwrap_or(serde_json::Value::Null);
        let av = a.get(k).cloned().unwrap_or(serde_json::Value::Null);
        if bv != av {
            out.insert(
                format!("{prefix}{k}"),
                Change {
                    before: bv,
                    after: av,
                },
            );
        }
    }
}

/// Re-score `ids` (customers with new orders or events) live, as described in the module docs,
/// and write their rows into the latest value run (and the latest risk and cluster runs, when
/// those exist). `now` stamps the rows. Needs a value run with a saved fit; without one nothing
/// is written and the report says what to run. Never refits a model.
pub fn rescore_customers(store: &Store, ids: &[String], now: NaiveDateTime) -> Result<LiveUpdate> {
    let started = std::time::Instant::now();
    let mut ids: Vec<String> = ids.to_vec();
    ids.sort();
    ids.dedup();
    let mut out = LiveUpdate {
        run_id: None,
        as_of: None,
        value_fit: None,
        risk_models: Vec::new(),
        cluster_model: None,
        customers: Vec::new(),
        warnings: Vec::new(),
        seconds: 0.0,
    };
    let not_scored = |note: &str| -> Vec<CustomerChange> {
        ids.iter()
            .map(|id| CustomerChange {
                customer_id: id.clone(),
                rescored: false,
                changes: BTreeMap::new(),
                scores: None,
                risk: None,
                cluster: None,
                note: Some(note.to_string()),
            })
            .collect()
    };
    if ids.is_empty() {
        return Ok(out);
    }
    let Some(run) = latest_score_run(store)? else {
        let note =
            "no value scores yet: run `tenure score value` to score customers; the rows are stored";
        out.warnings.push(note.into());
        out.customers = not_scored(note);
        return Ok(out);
    };
    out.run_id = Some(run.run_id.clone());
    let Some(fit) = load_value_fit(store, &run.run_id)? else {
        let note = format!(
            "the latest value run {} has no saved fit (it predates live scoring): run `tenure score value` once more; the rows are stored",
            run.run_id
        );
        out.warnings.push(note.clone());
        out.customers = not_scored(&note);
        return Ok(out);
    };
    out.value_fit = Some(fit.run_id.clone());
    let as_of = match store.last_order_date()? {
        Some(d) if d > run.as_of => d,
        _ => run.as_of,
    };
    out.as_of = Some(as_of);

    // One pass over the features: the customers' rows, and everyone's RFM inputs for the ranks.
    let features = store.customer_features(as_of)?;
    let all_ids = str_col(&features, "customer_id")?;
    let orders = f64_col(&features, "orders")?;
    let recency = f64_col(&features, "recency_days")?;
    let spend = f64_col(&features, "spend_total")?;
    let x = f64_col(&features, "x")?;
    let t_x = f64_col(&features, "t_x_days")?;
    let age = f64_col(&features, "T_days")?;
    let monetary = f64_col(&features, "monetary_mean")?;
    let rfm = RfmParams::default().score(&recency, &orders, &spend)?;
    let index: BTreeMap<&str, usize> = all_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();

    let mut rows = Vec::new();
    let mut notes: BTreeMap<String, String> = BTreeMap::new();
    for id in &ids {
        let Some(&i) = index.get(id.as_str()) else {
            notes.insert(
                id.clone(),
                format!("not a customer on {as_of}: no order and no customers row on or before that day"),
            );
            continue;
        };
        let value = if orders[i] > 0.0 && x[i].is_finite() {
            Some(score_buyer(
                &fit,
                &OneCustomer {
                    x: x[i],
                    t_x: t_x[i],
                    age: age[i],
                    monetary_mean: monetary[i],
                },
            )?)
        } else {
            None
        };
        rows.push((id.clone(), rfm[i], value));
    }
    let scored: Vec<String> = rows.iter().map(|(id, _, _)| id.clone()).collect();
    let before = run_rows(store, "customer_scores", &run.run_id, &scored)?;
    store.replace_customer_rows(
        "customer_scores",
        &run.run_id,
        &scored,
        scores_batch(&run.run_id, as_of, &rows, now)?,
    )?;
    let after = run_rows(store, "customer_scores", &run.run_id, &scored)?;
    let mut changes: BTreeMap<String, BTreeMap<String, Change>> = BTreeMap::new();
    for id in &scored {
        diff(
            "",
            before.get(id),
            after.get(id),
            changes.entry(id.clone()).or_default(),
        );
    }

    // Risk: the latest saved churn (and high-value) models, with the run's BG/NBD columns.
    let mut risk_after: BTreeMap<String, JsonRow> = BTreeMap::new();
    match live_risk(store, &fit, &features, &scored, as_of, now) {
        Ok(Some((models, b, a))) => {
            out.risk_models = models;
            for id in &scored {
                let e = changes.entry(id.clone()).or_default();
                diff("risk.", b.get(id), a.get(id), e);
            }
            risk_after = a;
        }
        Ok(None) => {}
        Err(e) => out.warnings.push(format!("risk not re-scored: {e}")),
    }

    // Cluster: the latest saved cluster model, when there is one.
    let mut cluster_after: BTreeMap<String, JsonRow> = BTreeMap::new();
    match live_clusters(store, &scored, as_of) {
        Ok(Some((model, b, a))) => {
            out.cluster_model = Some(model);
            for id in &scored {
                let e = changes.entry(id.clone()).or_default();
                diff("cluster.", b.get(id), a.get(id), e);
            }
            cluster_after = a;
        }
        Ok(None) => {}
        Err(e) => out.warnings.push(format!("cluster not re-assigned: {e}")),
    }

    for id in &ids {
        let rescored = after.contains_key(id);
        out.customers.push(CustomerChange {
            customer_id: id.clone(),
            rescored,
            changes: changes.remove(id).unwrap_or_default(),
            scores: after.get(id).cloned(),
            risk: risk_after.get(id).cloned(),
            cluster: cluster_after.get(id).cloned(),
            note: notes.remove(id),
        });
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

type Rows = BTreeMap<String, JsonRow>;

/// Churn and high-value probabilities of `ids` from the saved models, written into the latest
/// `customer_risk` run; `None` without a churn model or a risk run.
fn live_risk(
    store: &Store,
    fit: &ValueFit,
    features: &[RecordBatch],
    ids: &[String],
    as_of: NaiveDate,
    now: NaiveDateTime,
) -> Result<Option<(Vec<String>, Rows, Rows)>> {
    let Some((_, mut churn)) = load_risk_model(store, RiskTarget::Churn)? else {
        return Ok(None);
    };
    let Some(run_id) = latest_run_of(store, "customer_risk", "scored_at")? else {
        return Ok(None);
    };
    let mut high = load_risk_model(store, RiskTarget::HighValue)?.map(|(_, m)| m);
    // As `tenure score risk`: BG/NBD columns from the model fitted on the scoring day's data.
    churn.bg_nbd = fit.bg_nbd;
    if let Some(h) = high.as_mut() {
        h.bg_nbd = fit.bg_nbd;
    }
    let cols = buyer_columns(features)?;
    let pos: BTreeMap<&str, usize> = cols
        .ids
        .iter()
        .enumerate()
        .map(|(k, id)| (id.as_str(), k))
        .collect();
    let mut churn_p = Vec::with_capacity(ids.len());
    let mut high_p = Vec::with_capacity(ids.len());
    for id in ids {
        match pos.get(id.as_str()) {
            Some(&k) => {
                let row: BTreeMap<String, f64> = cols
                    .columns
                    .iter()
                    .map(|(n, v)| (n.clone(), v[k]))
                    .collect();
                churn_p.push(Some(score_customer(&churn, &row)?));
                high_p.push(match &high {
                    Some(h) => Some(score_customer(h, &row)?),
                    None => None,
                });
            }
            None => {
                churn_p.push(None);
                high_p.push(None);
            }
        }
    }
    let model_id = match &high {
        Some(h) => format!("{}+{}", churn.model_id, h.model_id),
        None => churn.model_id.clone(),
    };
    let batch = crate::risk::risk_batch(
        &run_id,
        day_num(as_of),
        ids,
        churn_p,
        high_p,
        &model_id,
        now,
    )?;
    let before = run_rows(store, "customer_risk", &run_id, ids)?;
    store.replace_customer_rows("customer_risk", &run_id, ids, batch)?;
    let after = run_rows(store, "customer_risk", &run_id, ids)?;
    let mut models = vec![churn.model_id.clone()];
    models.extend(high.map(|h| h.model_id));
    Ok(Some((models, before, after)))
}

/// Clusters of `ids` from the latest saved cluster model, written into the latest
/// `customer_clusters` run; `None` without a model or a run.
fn live_clusters(
    store: &Store,
    ids: &[String],
    as_of: NaiveDate,
) -> Result<Option<(String, Rows, Rows)>> {
    let has_model = store
        .models()?
        .iter()
        .any(|m| m.kind == crate::segment::CLUSTER_MODEL_KIND);
    if !has_model {
        return Ok(None);
    }
    let Some(run_id) = latest_run_of(store, "customer_clusters", "as_of")? else {
        return Ok(None);
    };
    let model = load_cluster_model(store, None)?;
    let mut kept = Vec::new();
    let (mut cluster, mut name, mut distance) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        let a = assign_customer(store, &model, id, Some(as_of))?;
        kept.push(id.clone());
        cluster.push(a.cluster as i32);
        name.push(a.name);
        distance.push(a.distance);
    }
    let n = kept.len();
    let batch = RecordBatch::try_from_iter([
        (
            "run_id",
            Arc::new(StringArray::from(vec![run_id.as_str(); n])) as ArrayRef,
        ),
        (
            "as_of",
            Arc::new(Date32Array::from(vec![day_num(as_of); n])) as ArrayRef,
        ),
        (
            "customer_id",
            Arc::new(StringArray::from(
                kept.iter().map(String::as_str).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("cluster", Arc::new(Int32Array::from(cluster)) as ArrayRef),
        (
            "cluster_name",
            Arc::new(StringArray::from(name)) as ArrayRef,
        ),
        (
            "distance",
            Arc::new(Float64Array::from(distance)) as ArrayRef,
        ),
    ])
    .map_err(|e| EngineError::Data(e.to_string()))?;
    let before = run_rows(store, "customer_clusters", &run_id, &kept)?;
    store.replace_customer_rows("customer_clusters", &run_id, &kept, batch)?;
    let after = run_rows(store, "customer_clusters", &run_id, &kept)?;
    Ok(Some((model.model_id, before, after)))
}

/// A model the API can retrain on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrainModel {
    /// BG/NBD + Gamma-Gamma + RFM over every customer (`tenure score value`); also saves the fit
    /// live updates use.
    Value,
    /// The churn model (`tenure train churn`, default horizon 90 days, origin last order day −
    /// horizon), then `tenure score risk`.
    Churn,
    /// The high-value model, then `tenure score risk`.
    HighValue,
    /// k-means segments (`tenure segment cluster`).
    Clusters,
}

impl RetrainModel {
    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            RetrainModel::Value => "value",
            RetrainModel::Churn => "churn",
            RetrainModel::HighValue => "high_value",
            RetrainModel::Clusters => "clusters",
        }
    }
}

fn summary<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| EngineError::Data(format!("summary as JSON: {e}")))
}

/// Fit `model` again on the whole store with the CLI's defaults and score with it, as the
/// matching commands would; returns their summary as JSON. `now` stamps runs and models.
pub fn retrain(
    store: &Store,
    model: RetrainModel,
    now: NaiveDateTime,
) -> Result<serde_json::Value> {
    match model {
        RetrainModel::Value => {
            summary(&crate::value::score_value(store, &ValueOptions::default())?)
        }
        RetrainModel::Churn | RetrainModel::HighValue => {
            let target = if model == RetrainModel::Churn {
                RiskTarget::Churn
            } else {
                RiskTarget::HighValue
            };
            let last = crate::value::last_order_date(store)?;
            let horizon = tenure_store::Horizon::Days(90);
            let as_of = last - Days::new(horizon.days(last)? as u64);
            let trained =
                crate::risk::train_risk(store, &crate::risk::RiskOptions::new(target, as_of), now)?;
            let scored = if load_risk_model(store, RiskTarget::Churn)?.is_some() {
                Some(crate::risk::score_risk(store, None, now)?)
            } else {
                None
            };
            Ok(serde_json::json!({
                "model_id": trained.model_id,
                "trained": summary(&trained)?,
                "scored": scored.map(|s| summary(&s)).transpose()?,
            }))
        }
        RetrainModel::Clusters => summary(&crate::segment::segment_clusters(
            store,
            &crate::segment::ClusterOptions::default(),
            now,
        )?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_buyer_scores_equal_the_batch_kernels() {
        // Three customers; the middle one scored alone must match its batch row exactly.
        let fit = ValueFit {
            run_id: "r".into(),
            as_of: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
            bg_nbd: [0.24, 30.9, 0.79, 2.43],
            gamma_gamma: Some([6.25, 3.74, 15.44]),
            clv_months: 12,
            monthly_discount_rate: 0.01,
        };
        let (x, t_x, age, m) = (
            vec![0.0, 3.0, 7.0],
            vec![0.0, 120.0, 200.0],
            vec![50.0, 300.0, 210.0],
            vec![f64::NAN, 25.0, 40.0],
        );
        let bg = BgNbdFitted::from_parameters(0.24, 30.9, 0.79, 2.43).expect("bg");
        let data = BtydData::new(x.clone(), t_x.clone(), age.clone()).expect("data");
        let p = bg.predict_probability_alive(&data);
        let e90 = bg
            .predict_conditional_expected_purchases(&data, 90.0)
            .expect("e90");
        let one = score_buyer(
            &fit,
            &OneCustomer {
                x: x[1],
                t_x: t_x[1],
                age: age[1],
                monetary_mean: m[1],
            },
        )
        .expect("score");
        assert!((one.p_alive - p[1]).abs() < 1e-12);
        assert!((one.e90 - e90[1]).abs() < 1e-12);
        assert!(one.clv.is_finite() && one.clv > 0.0);
        // A first-time buyer's spend is the population mean pγ/(q−1).
        let first = score_buyer(
            &fit,
            &OneCustomer {
                x: 0.0,
                t_x: 0.0,
                age: 10.0,
                monetary_mean: f64::NAN,
            },
        )
        .expect("score");
        assert!((first.exp_spend - 6.25 * 15.44 / 2.74).abs() < 1e-9);
        // Without a spend model CLV is absent, not zero.
        let no_spend = score_buyer(
            &ValueFit {
                gamma_gamma: None,
                ..fit.clone()
            },
            &OneCustomer {
                x: 1.0,
                t_x: 5.0,
                age: 9.0,
                monetary_mean: 3.0,
            },
        )
        .expect("score");
        assert!(no_spend.clv.is_nan() && no_spend.exp_spend.is_nan());
        // Invalid inputs are errors, not panics.
        assert!(score_buyer(
            &fit,
            &OneCustomer {
                x: 2.0,
                t_x: 10.0,
                age: 5.0,
                monetary_mean: 1.0,
            }
        )
        .is_err());
    }
}
