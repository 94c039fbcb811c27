//! Customer features as of a date, computed in SQL over rows with timestamps on or before that date.
//!
//! The BTYD statistics follow lifetimes' `summary_data_from_transaction_data` and the CDNOW paper
//! (Fader, Hardie & Lee 2005): purchases are counted by distinct **day**; `x` is the number of distinct
//! purchase days after the first, `t_x` the days from the first to the last purchase day, `T` the days
//! from the first purchase day to the as-of date; weeks are days / 7. `monetary_mean` is the mean
//! spend per repeat purchase day (a customer's first day excluded), as in the Gamma-Gamma paper's zbar.
//! Returns (negative amounts or a returned/refunded status) are not purchases; cancelled orders are
//! ignored. The as-of date is inclusive: everything before the next midnight (project time zone) counts.

use arrow::record_batch::RecordBatch;
use chrono::{Days, Months, NaiveDate};
use serde::Serialize;

use crate::error::{DbContext, Result, StoreError};
use crate::ingest::lit;
use crate::store::Store;

/// A forecast or label horizon, written `90d`, `39w`, `6m` or `1y` everywhere in the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Horizon {
    /// A number of days.
    Days(u32),
    /// A number of weeks.
    Weeks(u32),
    /// A number of calendar months.
    Months(u32),
    /// A number of calendar years.
    Years(u32),
}

impl Horizon {
    /// Parse `90d`, `39w`, `6m`, `1y`.
    pub fn parse(s: &str) -> Result<Horizon> {
        let s = s.trim();
        let bad = || {
            StoreError::Invalid(format!("horizon `{s}` is not valid: write a whole number and a unit, e.g. 90d, 39w, 6m or 1y"))
        };
        let unit = s.chars().last().ok_or_else(bad)?;
        let n: u32 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        if n == 0 || n > 100_000 {
            return Err(bad());
        }
        match unit.to_ascii_lowercase() {
            'd' => Ok(Horizon::Days(n)),
            'w' => Ok(Horizon::Weeks(n)),
            'm' => Ok(Horizon::Months(n)),
            'y' => Ok(Horizon::Years(n)),
            _ => Err(bad()),
        }
    }

    /// The last day covered by a horizon that starts the day after `as_of`.
    pub fn end(&self, as_of: NaiveDate) -> Result<NaiveDate> {
        let out = match *self {
            Horizon::Days(n) => as_of.checked_add_days(Days::new(u64::from(n))),
            Horizon::Weeks(n) => as_of.checked_add_days(Days::new(7 * u64::from(n))),
            Horizon::Months(n) => as_of.checked_add_months(Months::new(n)),
            Horizon::Years(n) => as_of.checked_add_months(Months::new(12 * n)),
        };
        out.ok_or_else(|| {
            StoreError::Invalid(format!("horizon {self} after {as_of} is out of range"))
        })
    }

    /// Length in days when starting the day after `as_of`.
    pub fn days(&self, as_of: NaiveDate) -> Result<i64> {
        Ok((self.end(as_of)? - as_of).num_days())
    }
}

impl std::fmt::Display for Horizon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Horizon::Days(n) => write!(f, "{n}d"),
            Horizon::Weeks(n) => write!(f, "{n}w"),
            Horizon::Months(n) => write!(f, "{n}m"),
            Horizon::Years(n) => write!(f, "{n}y"),
        }
    }
}

/// First and repeat purchase days for a tracking curve; see [`Store::tracking_days`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingDays {
    /// First purchase day of each customer who bought on or before the as-of date.
    pub births: Vec<i64>,
    /// Every later distinct purchase day of those customers, up to the end date.
    pub repeats: Vec<i64>,
}

/// Parse an as-of date (`YYYY-MM-DD` or `YYYYMMDD`).
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s.trim(), "%Y%m%d"))
        .map_err(|_| StoreError::Invalid(format!("date `{s}` is not valid: write YYYY-MM-DD")))
}

const NOT_CANCELLED: &str =
    "coalesce(lower(status), '') NOT IN ('cancelled', 'canceled', 'void', 'failed')";

fn sql_ident(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(40);
    out
}

impl Store {
    /// The SQL of `customer_features(as_of)`. Optional tables add their columns only when they hold rows.
    pub fn features_sql(&self, as_of: NaiveDate) -> Result<String> {
        self.features_sql_filtered(as_of, None)
    }

    /// The SQL of one customer's row of `customer_features(as_of)` (no row when the customer is not
    /// known on `as_of`): the same columns, with the customer filter inside every aggregate, so a
    /// profile lookup reads that customer's rows only instead of aggregating everyone's.
    pub fn customer_features_sql(&self, as_of: NaiveDate, customer_id: &str) -> Result<String> {
        self.features_sql_filtered(as_of, Some(customer_id))
    }

    fn features_sql_filtered(&self, as_of: NaiveDate, only: Option<&str>) -> Result<String> {
        let only = only
            .map(|id| format!(" AND customer_id = {}", lit(id)))
            .unwrap_or_default();
        let cutoff = as_of
            .checked_add_days(Days::new(1))
            .ok_or_else(|| StoreError::Invalid(format!("as-of date {as_of} is out of range")))?;
        let cut = format!("TIMESTAMP '{cutoff} 00:00:00'");
        let day = format!("DATE '{as_of}'");
        let mut ctes = vec![
            format!("o AS (SELECT customer_id, ordered_at, amount, is_return, CAST(ordered_at AS DATE) AS day FROM orders WHERE ordered_at < {cut} AND {NOT_CANCELLED}{only})"),
            "d AS (SELECT customer_id, day, sum(amount) AS day_amount FROM o WHERE NOT is_return GROUP BY customer_id, day)".into(),
            "b AS (SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*) AS purchase_days FROM d GROUP BY customer_id)".into(),
            "m AS (SELECT d.customer_id, avg(d.day_amount) AS monetary_mean FROM d JOIN b ON d.customer_id = b.customer_id WHERE d.day > b.first_day GROUP BY d.customer_id)".into(),
            "a AS (SELECT customer_id,
                min(ordered_at) FILTER (WHERE NOT is_return) AS first_order_at,
                max(ordered_at) FILTER (WHERE NOT is_return) AS last_order_at,
                count(*) FILTER (WHERE NOT is_return) AS orders,
                coalesce(sum(amount) FILTER (WHERE NOT is_return), 0) AS spend_gross,
                count(*) FILTER (WHERE is_return) AS returns,
                coalesce(-sum(amount) FILTER (WHERE is_return AND amount < 0), 0) AS returned_amount,
                coalesce(sum(amount), 0) AS spend_total
              FROM o GROUP BY customer_id)".into(),
            format!("base AS (SELECT customer_id FROM a UNION SELECT customer_id FROM customers WHERE (created_at IS NULL OR created_at < {cut}){only})"),
        ];
        let mut cols = vec![
            "base.customer_id".to_string(),
            "a.first_order_at".into(),
            "a.last_order_at".into(),
            "coalesce(a.orders, 0) AS orders".into(),
            "b.purchase_days".into(),
            "b.purchase_days - 1 AS x".into(),
            "date_diff('day', b.first_day, b.last_day) AS t_x_days".into(),
            format!("date_diff('day', b.first_day, {day}) AS T_days"),
            "date_diff('day', b.first_day, b.last_day) / 7.0 AS t_x_weeks".into(),
            format!("date_diff('day', b.first_day, {day}) / 7.0 AS T_weeks"),
            "m.monetary_mean".into(),
            "coalesce(a.spend_total, 0) AS spend_total".into(),
            "coalesce(a.spend_gross, 0) AS spend_gross".into(),
            "a.spend_gross / nullif(a.orders, 0) AS avg_order_value".into(),
            format!("date_diff('day', b.last_day, {day}) AS recency_days"),
            format!("date_diff('day', b.first_day, {day}) AS tenure_days"),
            "coalesce(a.returns, 0) AS returns".into(),
            "coalesce(a.returned_amount, 0) AS returned_amount".into(),
        ];
        let mut joins = vec![
            "LEFT JOIN a ON a.customer_id = base.customer_id".to_string(),
            "LEFT JOIN b ON b.customer_id = base.customer_id".into(),
            "LEFT JOIN m ON m.customer_id = base.customer_id".into(),
        ];
        if self.count("events")? > 0 {
            let mut types = Vec::new();
            let mut stmt = self
                .conn
                .prepare("SELECT event_type FROM events GROUP BY event_type ORDER BY count(*) DESC, event_type LIMIT 12")
                .db("list event types")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .db("list event types")?;
            for r in rows {
                types.push(r.db("list event types")?);
            }
            let mut ev = vec![
                "customer_id".to_string(),
                "count(*) AS events_total".into(),
                "max(occurred_at) AS last_event_at".into(),
            ];
            for t in &types {
                ev.push(format!(
                    "count(*) FILTER (WHERE event_type = {}) AS \"events_{}\"",
                    lit(t),
                    sql_ident(t)
                ));
                cols.push(format!(
                    "coalesce(ev.\"events_{0}\", 0) AS \"events_{0}\"",
                    sql_ident(t)
                ));
            }
            ctes.push(format!(
                "ev AS (SELECT {} FROM events WHERE occurred_at < {cut}{only} GROUP BY customer_id)",
                ev.join(", ")
            ));
            cols.push("coalesce(ev.events_total, 0) AS events_total".into());
            cols.push(format!(
                "date_diff('day', CAST(ev.last_event_at AS DATE), {day}) AS days_since_last_event"
            ));
            joins.push("LEFT JOIN ev ON ev.customer_id = base.customer_id".into());
        }
        if self.count("reviews")? > 0 {
            ctes.push(format!("rv AS (SELECT customer_id, count(*) AS reviews, avg(rating) AS rating_mean, count(*) FILTER (WHERE rating <= 2) AS low_ratings FROM reviews WHERE created_at < {cut}{only} GROUP BY customer_id)"));
            cols.extend([
                "coalesce(rv.reviews, 0) AS reviews".into(),
                "rv.rating_mean".into(),
                "coalesce(rv.low_ratings, 0) AS low_ratings".to_string(),
            ]);
            joins.push("LEFT JOIN rv ON rv.customer_id = base.customer_id".into());
        }
        if self.count("tickets")? > 0 {
            ctes.push(format!("tk AS (SELECT customer_id, count(*) AS tickets, count(*) FILTER (WHERE NOT coalesce(resolved, false)) AS tickets_unresolved FROM tickets WHERE created_at < {cut}{only} GROUP BY customer_id)"));
            cols.extend([
                "coalesce(tk.tickets, 0) AS tickets".to_string(),
                "coalesce(tk.tickets_unresolved, 0) AS tickets_unresolved".into(),
            ]);
            joins.push("LEFT JOIN tk ON tk.customer_id = base.customer_id".into());
        }
        Ok(format!(
            "WITH {} SELECT {} FROM base {} ORDER BY base.customer_id",
            ctes.join(",\n"),
            cols.join(",\n  "),
            joins.join("\n")
        ))
    }

    /// Features of every customer known on `as_of`, one row each, as Arrow batches.
    pub fn customer_features(&self, as_of: NaiveDate) -> Result<Vec<RecordBatch>> {
        self.query_arrow(&self.features_sql(as_of)?)
    }

    /// The SQL of `calibration_holdout(as_of, horizon)`: features on or before `as_of` plus labels from
    /// (as_of, as_of + horizon]: `holdout_orders`, `holdout_purchase_days` (repeat purchases in BTYD
    /// terms), `holdout_spend`, `churned` (no order in the horizon) and `horizon_days`.
    pub fn calibration_holdout_sql(&self, as_of: NaiveDate, horizon: Horizon) -> Result<String> {
        let features = self.features_sql(as_of)?;
        let end = horizon.end(as_of)?;
        let start = as_of + Days::new(1);
        let stop = end + Days::new(1);
        let days = horizon.days(as_of)?;
        Ok(format!(
            "WITH f AS ({features}),
             h AS (SELECT customer_id,
                     count(*) FILTER (WHERE NOT is_return) AS holdout_orders,
                     count(DISTINCT CAST(ordered_at AS DATE)) FILTER (WHERE NOT is_return) AS holdout_purchase_days,
                     coalesce(sum(amount), 0) AS holdout_spend
                   FROM orders
                   WHERE ordered_at >= TIMESTAMP '{start} 00:00:00' AND ordered_at < TIMESTAMP '{stop} 00:00:00' AND {NOT_CANCELLED}
                   GROUP BY customer_id)
             SELECT f.*, coalesce(h.holdout_orders, 0) AS holdout_orders,
                    coalesce(h.holdout_purchase_days, 0) AS holdout_purchase_days,
                    coalesce(h.holdout_spend, 0) AS holdout_spend,
                    coalesce(h.holdout_orders, 0) = 0 AS churned,
                    {days} AS horizon_days
             FROM f LEFT JOIN h ON h.customer_id = f.customer_id
             ORDER BY f.customer_id"
        ))
    }

    /// Calibration features and holdout labels, as Arrow batches.
    pub fn calibration_holdout(
        &self,
        as_of: NaiveDate,
        horizon: Horizon,
    ) -> Result<Vec<RecordBatch>> {
        self.query_arrow(&self.calibration_holdout_sql(as_of, horizon)?)
    }

    /// Purchase days behind a holdout tracking curve, as days since 1970-01-01: the first purchase
    /// day of every customer who bought on or before `as_of`, and each of their later distinct
    /// purchase days up to `end` (inclusive). Days are counted as in the features (returns and
    /// cancelled orders are not purchases), so the curve agrees with `x` in the calibration period.
    pub fn tracking_days(&self, as_of: NaiveDate, end: NaiveDate) -> Result<TrackingDays> {
        let stop = end
            .checked_add_days(Days::new(1))
            .ok_or_else(|| StoreError::Invalid(format!("end date {end} is out of range")))?;
        let base = format!(
            "WITH d AS (SELECT DISTINCT customer_id, CAST(ordered_at AS DATE) AS day FROM orders
                WHERE ordered_at < TIMESTAMP '{stop} 00:00:00' AND NOT is_return AND {NOT_CANCELLED}),
             f AS (SELECT customer_id, min(day) AS first_day FROM d GROUP BY customer_id
                HAVING min(day) <= DATE '{as_of}')"
        );
        let days = |sql: String, what: &str| -> Result<Vec<i64>> {
            let mut stmt = self.conn.prepare(&sql).db(what)?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).db(what)?;
            rows.map(|r| r.db(what)).collect()
        };
        Ok(TrackingDays {
            births: days(
                format!("{base} SELECT date_diff('day', DATE '1970-01-01', first_day) FROM f"),
                "read first purchase days",
            )?,
            repeats: days(
                format!(
                    "{base} SELECT date_diff('day', DATE '1970-01-01', d.day) FROM d JOIN f ON d.customer_id = f.customer_id WHERE d.day > f.first_day"
                ),
                "read repeat purchase days",
            )?,
        })
    }

    /// The latest order day stored: the default as-of date for scoring "now".
    pub fn last_order_date(&self) -> Result<Option<NaiveDate>> {
        let s: Option<String> = self
            .conn
            .query_row(
                "SELECT CAST(CAST(max(ordered_at) AS DATE) AS VARCHAR) FROM orders",
                [],
                |r| r.get(0),
            )
            .db("read the last order date")?;
        Ok(s.and_then(|s| parse_date(&s).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons() -> Result<()> {
        let d = parse_date("1997-09-30")?;
        assert_eq!(Horizon::parse("39w")?.end(d)?, parse_date("1998-06-30")?);
        assert_eq!(Horizon::parse("90d")?.days(d)?, 90);
        assert_eq!(Horizon::parse("6m")?.end(d)?, parse_date("1998-03-30")?);
        assert_eq!(Horizon::parse("1y")?.to_string(), "1y");
        for bad in ["", "d", "0d", "12", "3x", "-1d", "9999999999d"] {
            assert!(Horizon::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }
}
