//! Ingest of rows held in memory — the JSON objects an API client POSTs — through exactly the
//! path a file takes (`Store::ingest`): the same validation, the same accepted / duplicate /
//! conflicting / rejected accounting, the same rejects file and run record, one transaction.
//!
//! The rows are written as JSON Lines to a private temporary file next to the store and ingested
//! from there, so that no second validation path can drift from the first. Every row becomes one
//! line (a row that is not a JSON object becomes a line the reader refuses), so line `n` of the
//! run is row `n` of the request. Each line carries every column of the table that any row names
//! (null when the row lacks it) and the mapping is the identity: names are ours, and a `[mapping]`
//! block of `tenure.toml`, written for the shop's export files, does not apply.
//!
//! Also here: [`Store::replace_customer_rows`], which swaps a few customers' rows of one run of a
//! derived table (a live re-score) in one transaction.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::error::{io_err, DbContext, Result, StoreError};
use crate::ingest::{Format, IngestOptions, IngestReport, OnConflict};
use crate::store::{input_table, Store};

/// Most rows one call takes; more is refused (split the batch).
pub const MAX_ROWS: usize = 10_000;

/// One row that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowRejection {
    /// 1-based position of the row in the request.
    pub row: u64,
    /// The field that failed (the key columns, joined by `+`, for conflicts).
    pub field: String,
    /// What was wrong and what to do.
    pub reason: String,
}

/// What [`Store::ingest_rows`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RowsReport {
    /// The run, as `tenure ingest` reports it (`source` says where the rows came from).
    pub report: IngestReport,
    /// The rows refused (validation failures and kept-out conflicts), in row order.
    pub rejections: Vec<RowRejection>,
    /// Customers with a row stored by this run, sorted (empty for tables without a customer).
    pub customers: Vec<String>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A JSON value as the JSON Lines reader would read it from a file: text as is, others as JSON.
fn line_of(table_columns: &[&str], row: &serde_json::Value) -> String {
    let Some(obj) = row.as_object() else {
        // Not an object: the reader refuses the line with "not a JSON object".
        return row.to_string();
    };
    let mut out = serde_json::Map::new();
    for c in table_columns {
        out.insert(
            (*c).to_string(),
            obj.get(*c).cloned().unwrap_or(serde_json::Value::Null),
        );
    }
    for (k, v) in obj {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    serde_json::Value::Object(out).to_string()
}

impl Store {
    /// Ingest `rows` (JSON values, normally objects with the table's column names) into `table`
    /// in one transaction, exactly as `tenure ingest` would ingest them from a JSON Lines file.
    /// `source` is recorded as the run's source (e.g. `api:POST /v1/orders`). Returns after the
    /// commit: everything counted as accepted is durable.
    ///
    /// Errors (nothing stored) on an unknown table, no rows, more than [`MAX_ROWS`] rows, or a
    /// store failure; invalid rows are not errors but rejections.
    pub fn ingest_rows(
        &self,
        table: &str,
        rows: &[serde_json::Value],
        source: &str,
        on_conflict: OnConflict,
    ) -> Result<RowsReport> {
        let spec = input_table(table)?;
        if rows.is_empty() {
            return Err(StoreError::Invalid(
                "no rows: send one JSON object or an array of objects".into(),
            ));
        }
        if rows.len() > MAX_ROWS {
            return Err(StoreError::Invalid(format!(
                "{} rows in one request; send at most {MAX_ROWS} at a time",
                rows.len()
            )));
        }
        // The table's required columns (a row without one is rejected for it, row by row), those
        // some row names (an absent optional key column means "key by content", as in a file
        // without it), and those the project's mapping block names, which would otherwise be
        // looked for under the export's names.
        let configured = self.config.mapping.get(spec.name);
        let names: Vec<&str> = spec
            .columns
            .iter()
            .filter(|c| {
                c.required
                    || rows
                        .iter()
                        .any(|r| r.as_object().is_some_and(|o| o.contains_key(c.name)))
                    || configured.is_some_and(|m| m.contains_key(c.name))
            })
            .map(|c| c.name)
            .collect();
        let mut text = String::new();
        for r in rows {
            text.push_str(&line_of(&names, r));
            text.push('\n');
        }
        let dir = self.dir.join("rejects");
        std::fs::create_dir_all(&dir).map_err(io_err("create folder", &dir))?;
        let tmp: PathBuf = dir.join(format!(
            ".rows-{}-{}-{}.jsonl",
            std::process::id(),
            chrono::Utc::now().timestamp_micros(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&tmp, text).map_err(io_err("write", &tmp))?;
        let opts = IngestOptions {
            table: spec.name.to_string(),
            format: Some(Format::Jsonl),
            header: None,
            delimiter: None,
            map: names
                .iter()
                .map(|n| (n.to_string(), n.to_string()))
                .collect(),
            on_conflict,
            not_after: None,
        };
        let outcome = self.ingest(&tmp, &opts, &mut |_| {});
        let _ = std::fs::remove_file(&tmp);
        let mut report = outcome?;
        report.source = source.to_string();
        report
            .ignored_columns
            .retain(|c| !names.contains(&c.as_str()));
        report
            .warnings
            .retain(|w| !w.starts_with("columns not used: "));
        if !report.ignored_columns.is_empty() {
            report.warnings.push(format!(
                "fields not used (not columns of {}): {}",
                spec.name,
                report.ignored_columns.join(", ")
            ));
        }
        // The run row was written with the temporary file's name; say where the rows came from.
        self.conn
            .execute(
                "UPDATE ingest_runs SET source = ? WHERE run_id = ?",
                duckdb::params![source, report.run_id],
            )
            .db("record the run's source")?;
        let rejections = match &report.rejects_file {
            Some(path) => read_rejections(path)?,
            None => Vec::new(),
        };
        let customers = if spec.columns.iter().any(|c| c.name == "customer_id") {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT DISTINCT customer_id FROM {} WHERE _run_id = ? ORDER BY customer_id",
                    spec.name
                ))
                .db("list the customers of the run")?;
            let ids = stmt
                .query_map([report.run_id], |r| r.get::<_, String>(0))
                .db("list the customers of the run")?;
            ids.collect::<std::result::Result<Vec<_>, _>>()
                .db("list the customers of the run")?
        } else {
            Vec::new()
        };
        Ok(RowsReport {
            report,
            rejections,
            customers,
        })
    }

    /// Replace the rows of `customers` in run `run_id` of a per-customer derived table
    /// (`customer_scores`, `customer_risk`, `customer_clusters`) with `batch`, in one
    /// transaction: the live re-score of a few customers inside the run the API reads.
    /// `batch` must have the table's columns in table order. For `customer_scores`, the run's
    /// customer count in `score_runs` is brought up to date too.
    pub fn replace_customer_rows(
        &self,
        table: &str,
        run_id: &str,
        customers: &[String],
        batch: RecordBatch,
    ) -> Result<()> {
        if !matches!(
            table,
            "customer_scores" | "customer_risk" | "customer_clusters"
        ) {
            return Err(StoreError::UnknownTable(table.into()));
        }
        if customers.is_empty() {
            return Ok(());
        }
        let what = format!("replace live rows of {table}");
        self.transaction(|| -> Result<()> {
            let marks = vec!["?"; customers.len()].join(", ");
            let mut params: Vec<&dyn duckdb::ToSql> = vec![&run_id];
            params.extend(customers.iter().map(|c| c as &dyn duckdb::ToSql));
            self.conn
                .execute(
                    &format!("DELETE FROM {table} WHERE run_id = ? AND customer_id IN ({marks})"),
                    params.as_slice(),
                )
                .db(&what)?;
            let mut app = self.conn.appender(table).db(&what)?;
            app.append_record_batch(batch).db(&what)?;
            app.flush().db(&what)?;
            drop(app);
            if table == "customer_scores" {
                self.conn
                    .execute(
                        "UPDATE score_runs SET customers = (SELECT count(*) FROM customer_scores WHERE run_id = ?) WHERE run_id = ?",
                        [run_id, run_id],
                    )
                    .db(&what)?;
            }
            Ok(())
        })
    }
}

/// The rows of a rejects file (line, field, reason, raw), as rejections.
fn read_rejections(path: &std::path::Path) -> Result<Vec<RowRejection>> {
    let mut r = csv::Reader::from_path(path).map_err(|e| StoreError::Io {
        op: "read",
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| StoreError::Io {
            op: "read",
            path: path.into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        out.push(RowRejection {
            row: rec.get(0).and_then(|l| l.parse().ok()).unwrap_or(0),
            field: rec.get(1).unwrap_or_default().to_string(),
            reason: rec.get(2).unwrap_or_default().to_string(),
        });
    }
    out.sort_by_key(|r| r.row);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::init(&dir.path().join("p")).expect("init");
        (dir, store)
    }

    #[test]
    fn rows_are_accounted_for_like_a_file_and_repeats_are_duplicates() {
        let (_d, store) = orders_store();
        let rows = serde_json::json!([
            {"order_id": "a1", "customer_id": "c1", "ordered_at": "2024-01-02 10:00:00", "amount": 12.5},
            {"order_id": "a2", "customer_id": "c2", "ordered_at": "2024-01-03", "amount": "7"},
            {"order_id": "a3", "customer_id": "c2", "ordered_at": "not a date", "amount": 3},
            {"order_id": "a4", "customer_id": "c3", "ordered_at": "2024-01-03", "amount": 1, "colour": "red"},
            42
        ]);
        let rows = rows.as_array().expect("array").clone();
        let r = store
            .ingest_rows("orders", &rows, "api:test", OnConflict::Reject)
            .expect("ingest");
        assert!(r.report.balanced());
        assert_eq!(
            (r.report.read, r.report.accepted, r.report.rejected),
            (5, 3, 2)
        );
        assert_eq!(r.customers, vec!["c1", "c2", "c3"]);
        assert_eq!(
            r.rejections.iter().map(|x| x.row).collect::<Vec<_>>(),
            vec![3, 5]
        );
        assert_eq!(r.rejections[0].field, "ordered_at");
        assert!(r.report.warnings.iter().any(|w| w.contains("colour")));
        assert_eq!(store.count("orders").expect("count"), 3);
        // The same request again changes nothing: every valid row is a duplicate.
        let again = store
            .ingest_rows("orders", &rows, "api:test", OnConflict::Reject)
            .expect("ingest again");
        assert_eq!((again.report.accepted, again.report.duplicate), (0, 3));
        assert!(again.customers.is_empty());
        assert_eq!(store.count("orders").expect("count"), 3);
        // A changed amount under a stored order id is a conflict, kept out.
        let changed = vec![
            serde_json::json!({"order_id": "a1", "customer_id": "c1", "ordered_at": "2024-01-02 10:00:00", "amount": 99}),
        ];
        let c = store
            .ingest_rows("orders", &changed, "api:test", OnConflict::Reject)
            .expect("conflict");
        assert_eq!(c.report.conflicting, 1);
        assert!(c.rejections[0].reason.starts_with("conflict:"));
        let sources: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM ingest_runs WHERE source = 'api:test'",
                [],
                |r| r.get(0),
            )
            .expect("runs");
        assert_eq!(sources, 3);
        // No temporary file is left behind.
        let left = std::fs::read_dir(store.dir().join("rejects"))
            .expect("rejects dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
            .count();
        assert_eq!(left, 0);
    }

    #[test]
    fn rows_without_a_required_field_or_the_optional_key_are_judged_row_by_row() {
        let (_d, store) = orders_store();
        let rows = vec![
            serde_json::json!({"customer_id": "c1", "amount": 3}),
            serde_json::json!({"customer_id": "c1", "event_type": "view", "occurred_at": "2024-01-02"}),
            serde_json::json!({"customer_id": "c1", "event_type": "view", "occurred_at": "2024-01-02"}),
        ];
        let r = store
            .ingest_rows("events", &rows, "t", OnConflict::Reject)
            .expect("ingest");
        // No event_id: keyed by content, so the two identical events stay two.
        assert_eq!((r.report.accepted, r.report.rejected), (2, 1));
        assert_eq!(r.rejections[0].row, 1);
        assert!(r.report.balanced());
    }

    #[test]
    fn empty_unknown_and_oversized_requests_are_refused() {
        let (_d, store) = orders_store();
        let one = vec![serde_json::json!({"customer_id": "c"})];
        assert!(matches!(
            store.ingest_rows("orders", &[], "t", OnConflict::Reject),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.ingest_rows("nope", &one, "t", OnConflict::Reject),
            Err(StoreError::UnknownTable(_))
        ));
        let many = vec![serde_json::json!({}); MAX_ROWS + 1];
        assert!(matches!(
            store.ingest_rows("orders", &many, "t", OnConflict::Reject),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.count("orders").expect("count"), 0);
    }
}
