//! One customer and lists of customers, as the API and the dashboard show them: profile, features,
//! the latest value scores, recent orders, and in plain words why the customer sits in their RFM
//! group. Reads only; optional tables (risk, clusters) are read when they exist and left `null`
//! when they do not.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use tenure_store::arrow::array::{Array, Float64Array, StringArray};
use tenure_store::arrow::compute::cast;
use tenure_store::arrow::datatypes::DataType;
use tenure_store::arrow::record_batch::RecordBatch;
use tenure_store::{SqlParam, Store};

use crate::error::{EngineError, Result};
use crate::named_segments::{resolve_segment, SegmentFilter};

/// A JSON object: one row of a table.
pub type JsonRow = serde_json::Map<String, serde_json::Value>;

/// The value scoring run that the API and dashboard read ("the latest run").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRun {
    /// Run id in `customer_scores`.
    pub run_id: String,
    /// Its as-of day.
    pub as_of: NaiveDate,
    /// The models behind it.
    pub model_id: Option<String>,
    /// Customers scored.
    pub customers: i64,
}

/// The newest value scoring run, if any.
pub fn latest_score_run(store: &Store) -> Result<Option<ScoreRun>> {
    let rows = rows_json(&store.query_arrow(
        "SELECT run_id, CAST(as_of AS VARCHAR) AS as_of, model_id, customers FROM score_runs ORDER BY created_at DESC, run_id DESC LIMIT 1",
    )?)?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    let text = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let as_of = text("as_of")
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .ok_or_else(|| EngineError::Data("score run without an as-of day".into()))?;
    Ok(Some(ScoreRun {
        run_id: text("run_id").unwrap_or_default(),
        as_of,
        model_id: text("model_id"),
        customers: r.get("customers").and_then(|v| v.as_i64()).unwrap_or(0),
    }))
}

/// How personal data (email, phone, free-form attributes) leaves the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiMode {
    /// Partly hidden: `j***@example.com`, `***67`; attributes left out. The default.
    #[default]
    Masked,
    /// SHA-256 of the trimmed, lower-cased value (joinable, not readable); attributes left out.
    Hashed,
    /// As stored. Only for callers allowed to see personal data.
    Plain,
}

impl PiiMode {
    /// SQL select-list items for the `customers` columns of table alias `c`, PII treated per mode.
    pub(crate) fn customer_columns(self, c: &str) -> String {
        let (email, phone, attrs) = match self {
            PiiMode::Plain => (
                format!("{c}.email"),
                format!("{c}.phone"),
                format!("{c}.attributes"),
            ),
            PiiMode::Masked => (
                format!("regexp_replace({c}.email, '^(.)[^@]*', '\\1***')"),
                format!("CASE WHEN {c}.phone IS NULL THEN NULL ELSE '***' || right(regexp_replace({c}.phone, '[^0-9]', '', 'g'), 2) END"),
                "CAST(NULL AS VARCHAR)".into(),
            ),
            PiiMode::Hashed => (
                format!("sha256(lower(trim({c}.email)))"),
                format!("sha256(regexp_replace({c}.phone, '[^0-9]', '', 'g'))"),
                "CAST(NULL AS VARCHAR)".into(),
            ),
        };
        format!(
            "CAST({c}.created_at AS VARCHAR) AS created_at, {c}.country, {c}.region, {c}.city, {email} AS email, {phone} AS phone, {attrs} AS attributes"
        )
    }
}

/// Rows of Arrow batches as JSON objects (nulls kept, dates and timestamps as ISO text).
pub fn rows_json(batches: &[RecordBatch]) -> Result<Vec<JsonRow>> {
    use tenure_store::arrow::json::{writer::JsonArray, WriterBuilder};
    let mut buf = Vec::new();
    {
        let mut w = WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, JsonArray>(&mut buf);
        for b in batches {
            w.write(b)
                .map_err(|e| EngineError::Data(format!("rows to JSON: {e}")))?;
        }
        w.finish()
            .map_err(|e| EngineError::Data(format!("rows to JSON: {e}")))?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(|e| EngineError::Data(format!("rows to JSON: {e}")))
}

/// One RFM factor behind a customer's group, in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    /// `recency`, `frequency` or `monetary`.
    pub factor: &'static str,
    /// Quintile score 1–5 (5 = most recent / most orders / most spend).
    pub score: i64,
    /// The customer's raw value: days since the last order, orders, or spend to date.
    pub value: Option<f64>,
    /// Where that puts the customer among all customers of the run.
    pub position: &'static str,
    /// The sentence.
    pub text: String,
}

/// Why a customer is where they are: RFM cell and group, what the group means, and the factors
/// ordered by how far they are from the middle of the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    /// RFM group label, e.g. "At risk".
    pub group: String,
    /// RFM cell, recency-frequency-monetary scores, e.g. "245".
    pub cell: String,
    /// What the group means.
    pub meaning: &'static str,
    /// The factors, strongest first.
    pub drivers: Vec<Driver>,
    /// One paragraph for people.
    pub summary: String,
}

/// Everything known about one customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerProfile {
    /// The customer.
    pub customer_id: String,
    /// The scoring run read (the latest), if any.
    pub run: Option<ScoreRun>,
    /// Features as of the run's day (or the last order day when nothing is scored yet).
    pub features_as_of: Option<NaiveDate>,
    /// The `customers` row, PII treated per [`PiiMode`]; `null` without one.
    pub profile: Option<JsonRow>,
    /// As-of features (`customer_features`).
    pub features: Option<JsonRow>,
    /// Value scores of the run: RFM, P(alive), expected purchases, next order date, CLV.
    pub scores: Option<JsonRow>,
    /// Churn risk, when a risk model has scored (`customer_risk`); `null` otherwise.
    pub risk: Option<JsonRow>,
    /// Behavioural cluster, when clustering has run (`customer_clusters`); `null` otherwise.
    pub cluster: Option<JsonRow>,
    /// Review sentiment, when the language engine has analysed reviews; `null` until then.
    pub sentiment: Option<JsonRow>,
    /// The customer's narrative, when one has been written; `null` until then.
    pub narrative: Option<String>,
    /// The last 10 orders, newest first.
    pub recent_orders: Vec<JsonRow>,
    /// Why the customer is in their RFM group; `null` without scores.
    pub why: Option<Why>,
}

/// Everything known about `customer_id`, or `None` when the store has never heard of them.
pub fn customer_profile(
    store: &Store,
    customer_id: &str,
    pii: PiiMode,
) -> Result<Option<CustomerProfile>> {
    let id = || vec![SqlParam::Text(customer_id.to_string())];
    let one = |sql: &str, params: Vec<SqlParam>| -> Result<Option<JsonRow>> {
        Ok(rows_json(&store.query_arrow_params(sql, &params)?)?
            .into_iter()
            .next())
    };
    let run = latest_score_run(store)?;
    let profile = one(
        &format!(
            "SELECT c.customer_id, {} FROM customers c WHERE c.customer_id = ?",
            pii.customer_columns("c")
        ),
        id(),
    )?;
    let recent_orders = rows_json(&store.query_arrow_params(
        "SELECT order_id, CAST(ordered_at AS VARCHAR) AS ordered_at, amount, quantity, currency, status, channel, is_return FROM orders WHERE customer_id = ? ORDER BY ordered_at DESC, order_id DESC LIMIT 10",
        &id(),
    )?)?;
    let features_as_of = match &run {
        Some(r) => Some(r.as_of),
        None => store.last_order_date()?,
    };
    let features = match features_as_of {
        Some(d) => one(&store.customer_features_sql(d, customer_id)?, vec![])?,
        None => None,
    };
    let scores = match &run {
        Some(r) => one(
            "SELECT * EXCLUDE (run_id, as_of) FROM customer_scores WHERE run_id = ? AND customer_id = ?",
            vec![SqlParam::Text(r.run_id.clone()), SqlParam::Text(customer_id.into())],
        )?,
        None => None,
    };
    if profile.is_none() && features.is_none() && scores.is_none() && recent_orders.is_empty() {
        return Ok(None);
    }
    let risk = latest_row(store, "customer_risk", customer_id)?;
    let cluster = latest_row(store, "customer_clusters", customer_id)?;
    // Satisfaction from the most recently used sentiment model's analysis of this customer's
    // reviews (as `tenure analyze reviews` aggregates it); none until reviews are analysed.
    let sentiment = one(
        "WITH m AS (SELECT model FROM review_analysis ORDER BY analysed_at DESC LIMIT 1) \
         SELECT a.model, count(*) AS reviews, \
                avg(CASE WHEN a.label = 'positive' THEN a.probability ELSE 1 - a.probability END) AS satisfaction, \
                avg(CASE WHEN a.label = 'negative' THEN 1.0 ELSE 0.0 END) AS negative_share, \
                arg_max(a.label, r.created_at) AS last_label \
         FROM review_analysis a JOIN reviews r ON r.review_id = a.review_id \
         WHERE r.customer_id = ? AND a.model = (SELECT model FROM m) GROUP BY a.model",
        id(),
    )?;
    let narrative = store
        .latest_narrative(customer_id)?
        .map(|n| n.narrative.text);
    let why = scores
        .as_ref()
        .map(|s| explain(s, features.as_ref(), features_as_of));
    Ok(Some(CustomerProfile {
        customer_id: customer_id.to_string(),
        run,
        features_as_of,
        profile,
        features,
        scores,
        risk,
        cluster,
        sentiment,
        narrative,
        recent_orders,
        why,
    }))
}

/// The customer's row of the newest run of an optional derived table, read defensively: `None`
/// when the table does not exist (yet) or holds nothing for the customer.
fn latest_row(store: &Store, table: &str, customer_id: &str) -> Result<Option<JsonRow>> {
    let cols = store.table_columns(table)?;
    if !cols.iter().any(|c| c == "customer_id") {
        return Ok(None);
    }
    let order = ["scored_at", "created_at", "as_of"]
        .into_iter()
        .find(|c| cols.iter().any(|x| x == c));
    let sql = match (cols.iter().any(|c| c == "run_id"), order) {
        (true, Some(t)) => format!(
            "SELECT * FROM {table} WHERE customer_id = ? AND run_id = (SELECT run_id FROM {table} ORDER BY {t} DESC, run_id DESC LIMIT 1) LIMIT 1"
        ),
        _ => format!("SELECT * FROM {table} WHERE customer_id = ? LIMIT 1"),
    };
    Ok(
        rows_json(&store.query_arrow_params(&sql, &[SqlParam::Text(customer_id.into())])?)?
            .into_iter()
            .next(),
    )
}

/// What each RFM group means (the grid of `tenure_models::rfm`).
pub fn group_meaning(label: &str) -> &'static str {
    match label {
        "Champions" => "bought very recently and buy often (recency 5, frequency 4–5)",
        "Loyal" => "bought recently and buy often (recency 3–4, frequency 4–5)",
        "Active" => "bought recently and have a few orders (recency 4–5, frequency 2–3)",
        "Needs attention" => "bought fairly recently and have a few orders (recency 3, frequency 2–3)",
        "Promising" => "bought recently, one order so far (recency 3–4, frequency 1)",
        "New" => "placed their first order very recently (recency 5, frequency 1)",
        "At risk" => "have a solid history but have not bought for a while (recency 1–2, frequency 3–4)",
        "Previously loyal" => "were among the most frequent buyers but have not bought for a while (recency 1–2, frequency 5)",
        "Almost lost" => "have not bought for a while and have few orders (recency 2, frequency 1–2)",
        "Dormant" => "have been inactive the longest and have few orders (recency 1, frequency 1–2)",
        "Prospects" => "have no orders yet",
        _ => "a group of customers with similar recency and frequency",
    }
}

fn position(score: i64) -> &'static str {
    match score {
        5 => "top 20%",
        4 => "top 40%",
        3 => "middle 20%",
        2 => "bottom 40%",
        _ => "bottom 20%",
    }
}

fn num(row: Option<&JsonRow>, key: &str) -> Option<f64> {
    row.and_then(|r| r.get(key)).and_then(|v| v.as_f64())
}

/// Explain a scores row in plain words, using the features row for raw values.
fn explain(scores: &JsonRow, features: Option<&JsonRow>, as_of: Option<NaiveDate>) -> Why {
    let text = |k: &str| {
        scores
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let group = text("rfm_group");
    let cell = text("rfm_cell");
    let meaning = group_meaning(&group);
    let score = |k: &str| scores.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
    let day = as_of.map(|d| format!(" before {d}")).unwrap_or_default();
    let mut drivers = Vec::new();
    for (factor, key, raw, what) in [
        (
            "recency",
            "recency_score",
            "recency_days",
            "by how recently they bought",
        ),
        (
            "frequency",
            "frequency_score",
            "orders",
            "by number of orders",
        ),
        ("monetary", "monetary_score", "spend_total", "by spend"),
    ] {
        let s = score(key);
        if s == 0 {
            continue;
        }
        let value = num(features, raw);
        let fact = match (factor, value) {
            ("recency", Some(v)) => format!("last order {v:.0} days{day}"),
            ("frequency", Some(v)) => format!("{v:.0} orders"),
            ("monetary", Some(v)) => format!("spent {v:.2} in total"),
            _ => format!("{factor} score {s}"),
        };
        drivers.push(Driver {
            factor,
            score: s,
            value,
            position: position(s),
            text: format!(
                "{fact}: {} of customers {what} ({factor} score {s} of 5)",
                position(s)
            ),
        });
    }
    // Strongest first: furthest from the middle quintile; ties keep R, F, M order.
    drivers.sort_by_key(|d| std::cmp::Reverse((d.score - 3).abs()));
    let mut summary = if group == "Prospects" || drivers.is_empty() {
        format!("{group}: {meaning}.")
    } else {
        format!(
            "{group} (RFM {cell}): customers who {meaning}. Strongest signal: {}.",
            drivers[0].text
        )
    };
    if let Some(p) = num(Some(scores), "p_alive") {
        let words = if p >= 0.7 {
            "likely still an active customer"
        } else if p >= 0.3 {
            "may be drifting away"
        } else {
            "has probably stopped buying"
        };
        summary.push_str(&format!(" P(alive) {p:.2}: {words}."));
    }
    if let Some(c) = num(Some(scores), "clv") {
        summary.push_str(&format!(" Expected value over the CLV horizon: {c:.2}."));
    }
    Why {
        group,
        cell,
        meaning,
        drivers,
        summary,
    }
}

/// Orders of a customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    /// Highest CLV first (customers without one last).
    #[default]
    Clv,
    /// Highest P(alive) first.
    PAlive,
    /// Most recent last order first.
    Recency,
}

impl CustomerSort {
    fn name(self) -> &'static str {
        match self {
            CustomerSort::Clv => "clv",
            CustomerSort::PAlive => "p_alive",
            CustomerSort::Recency => "recency",
        }
    }
}

/// Filters and paging of a customer list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerQuery {
    /// An RFM group (label or slug, e.g. `at_risk`) or a named segment.
    pub segment: Option<String>,
    /// Keep customers with P(alive) at least this.
    pub min_p_alive: Option<f64>,
    /// Keep customers with churn risk at least this (needs `customer_risk`).
    pub min_churn: Option<f64>,
    /// Order.
    pub sort: CustomerSort,
    /// Page size, 1 to [`MAX_PAGE`]; default [`DEFAULT_PAGE`].
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Largest page of a customer list.
pub const MAX_PAGE: usize = 1000;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: usize = 50;

/// One page of customers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerPage {
    /// The scoring run listed.
    pub run: ScoreRun,
    /// The order used.
    pub sort: CustomerSort,
    /// The customers: id, RFM group and cell, value tier, P(alive), expected purchases in 90 days,
    /// CLV, next order date, and `churn` / `last_order_at` where available.
    pub items: Vec<JsonRow>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 4096 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn encode_cursor(sort: CustomerSort, key: f64, id: &str) -> String {
    hex(format!("{}:{:016x}:{id}", sort.name(), key.to_bits()).as_bytes())
}

fn decode_cursor(sort: CustomerSort, cursor: &str) -> Result<(f64, String)> {
    let bad = || {
        EngineError::Invalid(
            "cursor is not valid: pass the next_cursor of the previous page unchanged".into(),
        )
    };
    let text = String::from_utf8(unhex(cursor).ok_or_else(bad)?).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    let (s, k, id) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    if s != sort.name() {
        return Err(EngineError::Invalid(format!(
            "cursor belongs to a list sorted by {s}, not {}: start again without cursor",
            sort.name()
        )));
    }
    let key = f64::from_bits(u64::from_str_radix(k, 16).map_err(|_| bad())?);
    if !key.is_finite() {
        return Err(bad());
    }
    Ok((key, id.to_string()))
}

/// Whether the project has churn scores, and in which `customer_risk` column.
pub fn churn_column(store: &Store) -> Result<Option<String>> {
    let cols = store.table_columns("customer_risk")?;
    if !cols.iter().any(|c| c == "customer_id") {
        return Ok(None);
    }
    Ok(["p_churn", "churn_probability", "churn_risk", "churn"]
        .into_iter()
        .find(|c| cols.iter().any(|x| x == c))
        .map(str::to_string))
}

fn risk_join(store: &Store, col: &str) -> Result<String> {
    let cols = store.table_columns("customer_risk")?;
    let order = ["scored_at", "created_at", "as_of"]
        .into_iter()
        .find(|c| cols.iter().any(|x| x == c));
    let latest = match (cols.iter().any(|c| c == "run_id"), order) {
        (true, Some(t)) => format!(
            " WHERE run_id = (SELECT run_id FROM customer_risk ORDER BY {t} DESC, run_id DESC LIMIT 1)"
        ),
        _ => String::new(),
    };
    Ok(format!(
        "LEFT JOIN (SELECT customer_id, max(\"{col}\") AS churn FROM customer_risk{latest} GROUP BY customer_id) r ON r.customer_id = s.customer_id"
    ))
}

/// A filtered page of the latest run's customers, in keyset order (stable under inserts of other
/// runs; the cursor is opaque to callers).
pub fn list_customers(store: &Store, q: &CustomerQuery) -> Result<CustomerPage> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(EngineError::Invalid(format!(
            "limit {limit} is out of range: use 1 to {MAX_PAGE}"
        )));
    }
    for (name, v) in [("min_p_alive", q.min_p_alive), ("min_churn", q.min_churn)] {
        if let Some(v) = v {
            if !(0.0..=1.0).contains(&v) {
                return Err(EngineError::Invalid(format!(
                    "{name} {v} is out of range: use a probability from 0 to 1"
                )));
            }
        }
    }
    let churn = churn_column(store)?;
    if q.min_churn.is_some() && churn.is_none() {
        return Err(EngineError::Invalid(
            "min_churn needs churn scores, and this project has none yet (no customer_risk table with a churn column): score churn risk first, or filter with min_p_alive".into(),
        ));
    }
    let run = latest_score_run(store)?.ok_or_else(no_scores)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| decode_cursor(q.sort, c))
        .transpose()?;
    let mut params = vec![SqlParam::Text(run.run_id.clone())];
    let mut extra_cols = String::new();
    let mut joins = String::new();
    if let Some(col) = &churn {
        joins.push_str(&risk_join(store, col)?);
        joins.push(' ');
        extra_cols.push_str(", r.churn");
    }
    let key = match q.sort {
        CustomerSort::Clv => "coalesce(s.clv, -1.0)".to_string(),
        CustomerSort::PAlive => "coalesce(s.p_alive, -1.0)".to_string(),
        CustomerSort::Recency => {
            let cut = run
                .as_of
                .checked_add_days(Days::new(1))
                .ok_or_else(|| EngineError::Data("as-of day out of range".into()))?;
            joins.push_str(&format!(
                "LEFT JOIN (SELECT customer_id, max(ordered_at) AS last_order_at FROM orders WHERE ordered_at < TIMESTAMP '{cut} 00:00:00' AND NOT is_return GROUP BY customer_id) lo ON lo.customer_id = s.customer_id "
            ));
            extra_cols.push_str(", CAST(lo.last_order_at AS VARCHAR) AS last_order_at");
            "coalesce(CAST(epoch(lo.last_order_at) AS DOUBLE), -1e18)".to_string()
        }
    };
    let mut filters = vec!["TRUE".to_string()];
    match q
        .segment
        .as_deref()
        .map(|s| resolve_segment(store, s))
        .transpose()?
    {
        Some(SegmentFilter::Rfm(label)) => {
            filters.push("rfm_group = ?".into());
            params.push(SqlParam::Text(label.into()));
        }
        Some(SegmentFilter::Named(pred)) => filters.push(format!("({pred})")),
        None => {}
    }
    if let Some(p) = q.min_p_alive {
        filters.push("p_alive >= ?".into());
        params.push(SqlParam::Float(p));
    }
    if let Some(c) = q.min_churn {
        filters.push("churn >= ?".into());
        params.push(SqlParam::Float(c));
    }
    if let Some((k, id)) = &after {
        filters.push("(_key < ? OR (_key = ? AND customer_id > ?))".into());
        params.extend([
            SqlParam::Float(*k),
            SqlParam::Float(*k),
            SqlParam::Text(id.clone()),
        ]);
    }
    let sql = format!(
        "WITH s AS (SELECT s.*{extra_cols}, {key} AS _key FROM customer_scores s {joins}WHERE s.run_id = ?) \
         SELECT customer_id, rfm_group, rfm_cell, value_tier, p_alive, expected_purchases_90d, clv, \
         CAST(next_order_date AS VARCHAR) AS next_order_date{}{}, _key FROM s WHERE {} \
         ORDER BY _key DESC, customer_id LIMIT {}",
        if churn.is_some() { ", churn" } else { "" },
        if q.sort == CustomerSort::Recency {
            ", last_order_at"
        } else {
            ""
        },
        filters.join(" AND "),
        limit + 1
    );
    let batches = store.query_arrow_params(&sql, &params)?;
    let keys = f64_values(&batches, "_key")?;
    let ids = str_values(&batches, "customer_id")?;
    let mut items = rows_json(&batches)?;
    let mut next_cursor = None;
    if items.len() > limit {
        items.truncate(limit);
        next_cursor = Some(encode_cursor(q.sort, keys[limit - 1], &ids[limit - 1]));
    }
    for it in &mut items {
        it.remove("_key");
    }
    Ok(CustomerPage {
        run,
        sort: q.sort,
        items,
        next_cursor,
    })
}

/// The error when nothing is scored yet.
pub(crate) fn no_scores() -> EngineError {
    EngineError::Conflict("no scores yet: run `tenure score value` first".into())
}

fn f64_values(batches: &[RecordBatch], name: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .ok_or_else(|| EngineError::Data(format!("no column {name}")))?;
        let a = cast(col, &DataType::Float64).map_err(|e| EngineError::Data(e.to_string()))?;
        let a = a
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| EngineError::Data(format!("{name} is not numeric")))?;
        out.extend((0..a.len()).map(|i| a.value(i)));
    }
    Ok(out)
}

fn str_values(batches: &[RecordBatch], name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .ok_or_else(|| EngineError::Data(format!("no column {name}")))?;
        let a = cast(col, &DataType::Utf8).map_err(|e| EngineError::Data(e.to_string()))?;
        let a = a
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| EngineError::Data(format!("{name} is not text")))?;
        out.extend((0..a.len()).map(|i| a.value(i).to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let c = encode_cursor(CustomerSort::Clv, 12.5, "a:b");
        assert!(
            matches!(decode_cursor(CustomerSort::Clv, &c), Ok((k, id)) if k == 12.5 && id == "a:b")
        );
        assert!(decode_cursor(CustomerSort::PAlive, &c).is_err());
        for bad in ["", "zz", "abc", "00", &hex(b"clv:7ff0000000000000:x")] {
            assert!(decode_cursor(CustomerSort::Clv, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn drivers_are_ordered_by_strength() {
        let mut s = JsonRow::new();
        s.insert("rfm_group".into(), "At risk".into());
        s.insert("rfm_cell".into(), "143".into());
        s.insert("recency_score".into(), 1.into());
        s.insert("frequency_score".into(), 4.into());
        s.insert("monetary_score".into(), 3.into());
        s.insert("p_alive".into(), 0.2.into());
        let w = explain(&s, None, None);
        assert_eq!(w.drivers[0].factor, "recency");
        assert_eq!(w.drivers[2].factor, "monetary");
        assert!(w.summary.contains("probably stopped"), "{}", w.summary);
    }
}
