//! Reading an orders file straight into transaction columns, without a project: the input side of
//! `tenure score value --orders FILE`.
//!
//! Every record goes through the same reader (`open_input`: delimiter and header sniffing, BOM, gzip,
//! JSON Lines, Parquet), the same column mapping and the same row validation ([`Batcher::check`]) as
//! `tenure ingest --table orders`, so a file is accepted or refused row for row exactly as ingest
//! would, and the accounting holds the same way: `read = accepted + duplicate + conflicting +
//! rejected`, refused rows written to a rejects file with line, field, reason and the raw line.
//! Keys are settled as ingest settles them within one file (an `order_id` column, or the content hash
//! plus occurrence number when there is none): a row identical to an earlier row with the same key is
//! a duplicate; a row with the same key and other content is conflicting — kept out and written to
//! the rejects file under `reject` (the first row wins), or replacing the earlier row under `replace`
//! (the last row wins).
//!
//! Nothing is stored: the accepted rows come back as columns (dense customer codes, UTC day numbers,
//! amounts, return flags) for the pure kernels of tenure-models.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::error::{DbContext, Result, StoreError};
use crate::ingest::batch::{Batcher, Checked, Pre};
use crate::ingest::{open_input, resolve_mapping, Format, IngestOptions, OnConflict, Rejects};
use crate::parse::TimeZone;
use crate::source::RawRecord;

/// Options of [`read_orders_file`].
#[derive(Debug, Clone)]
pub struct OrdersFileOptions {
    /// Format, delimiter, header, column mapping (ours → theirs), conflict policy and the future-date
    /// limit, as for `tenure ingest`; `table` is ignored (always `orders`).
    pub input: IngestOptions,
    /// Zone of timestamps without an offset.
    pub time_zone: TimeZone,
    /// A `strftime` pattern for day-first dates; ISO, `YYYYMMDD` and epoch seconds are sniffed.
    pub date_format: Option<String>,
    /// Where refused rows are written (created only when a row is refused).
    pub rejects: PathBuf,
}

/// Accepted orders as columns, one entry per order, aligned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderTransactions {
    /// Customer id of each dense code, in order of first appearance.
    pub customer_ids: Vec<String>,
    /// Dense customer code of each order (an index into `customer_ids`).
    pub customer: Vec<u32>,
    /// UTC calendar day of the order, as days since 1970-01-01 (the store's `CAST(ordered_at AS DATE)`).
    pub day: Vec<i32>,
    /// Amount (negative for refunds).
    pub amount: Vec<f64>,
    /// Whether the order is a return (negative amount or quantity, or a return status).
    pub is_return: Vec<bool>,
}

/// What reading an orders file did with each record.
#[derive(Debug, Clone, Serialize)]
pub struct OrdersFileReport {
    /// Input file.
    pub source: String,
    /// Format read.
    pub format: Format,
    /// Delimiter used, for delimited files.
    pub delimiter: Option<String>,
    /// Whether a header row was read.
    pub header: bool,
    /// Records read (blank lines are not records).
    pub read: u64,
    /// Rows kept.
    pub accepted: u64,
    /// Rows identical to an earlier row with the same key.
    pub duplicate: u64,
    /// Rows whose key appeared earlier with other content.
    pub conflicting: u64,
    /// Rows that failed validation.
    pub rejected: u64,
    /// Accepted rows left out of the transactions because their status says cancelled, void or
    /// failed (the store keeps such rows but its features skip them too).
    pub cancelled: u64,
    /// Blank lines skipped (not records).
    pub blank_lines: u64,
    /// The rejects file, when some row was refused.
    pub rejects_file: Option<PathBuf>,
    /// Column mapping used: (our column, the file's column).
    pub mapping: Vec<(String, String)>,
    /// Columns of the file that map to nothing.
    pub ignored_columns: Vec<String>,
}

impl OrdersFileReport {
    /// Whether every record is accounted for: `read = accepted + duplicate + conflicting + rejected`.
    pub fn balanced(&self) -> bool {
        self.read == self.accepted + self.duplicate + self.conflicting + self.rejected
    }
}

/// The first row of a key, and the content hashes of later rows under `replace` (classified against
/// the last row once the file has been read).
struct KeySeen {
    row: usize,
    hash: u64,
    earlier: Vec<u64>,
}

/// Read, validate and key every record of an orders file; return the accepted orders as columns and
/// the accounting. Parquet files are read by an in-memory DuckDB (no project file is created).
pub fn read_orders_file(
    path: &Path,
    opts: &OrdersFileOptions,
) -> Result<(OrderTransactions, OrdersFileReport)> {
    read_orders_with(path, opts, &|sql| {
        let conn = duckdb::Connection::open_in_memory().db("open an in-memory database")?;
        let mut stmt = conn.prepare(sql).db("read the Parquet file")?;
        let batches = stmt.query_arrow([]).db("read the Parquet file")?.collect();
        Ok(batches)
    })
}

/// [`read_orders_file`] with the Parquet reader given: `read_parquet` runs a `read_parquet(...)`
/// query (any DuckDB connection) and is only called for Parquet input.
fn read_orders_with(
    path: &Path,
    opts: &OrdersFileOptions,
    read_parquet: &dyn Fn(&str) -> Result<Vec<RecordBatch>>,
) -> Result<(OrderTransactions, OrdersFileReport)> {
    let spec = crate::store::input_table("orders")?;
    let input = &opts.input;
    let format = input.format.unwrap_or_else(|| Format::from_path(path));
    let mut opened = open_input(path, format, input, read_parquet)?;
    let src_idx = resolve_mapping(spec, &opened.columns, &input.map)?;
    let col = |name: &str| spec.columns.iter().position(|c| c.name == name);
    let has_key_column = spec
        .key
        .iter()
        .any(|k| col(k).is_some_and(|ci| src_idx[ci].is_some()));
    let (Some(customer_col), Some(time_col), Some(amount_col), Some(status_col)) = (
        col("customer_id"),
        col("ordered_at"),
        col("amount"),
        col("status"),
    ) else {
        return Err(StoreError::Invalid(
            "the orders table lacks a core column; please report this".into(),
        ));
    };
    let mapping = spec
        .columns
        .iter()
        .zip(&src_idx)
        .filter_map(|(c, i)| i.map(|i| (c.name.to_string(), opened.columns[i].clone())))
        .collect();
    let ignored_columns = opened
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| !src_idx.contains(&Some(*i)))
        .map(|(_, c)| c.clone())
        .collect();
    let not_after = input
        .not_after
        .unwrap_or_else(|| opts.time_zone.now() + chrono::Duration::days(1));
    let mut batcher = Batcher::new(
        spec,
        src_idx,
        opts.time_zone,
        opts.date_format.clone(),
        not_after,
        0,
    );
    if !has_key_column {
        batcher = batcher.without_key_synthesis();
    }
    let ncols = opened.columns.len();
    let is_delimited = format == Format::Csv;
    let delim = opened.delimiter.map(|d| d.describe());
    let mut rejects = Rejects::new(opts.rejects.clone());
    let mut report = OrdersFileReport {
        source: path.display().to_string(),
        format,
        delimiter: delim.clone(),
        header: opened.header,
        read: 0,
        accepted: 0,
        duplicate: 0,
        conflicting: 0,
        rejected: 0,
        cancelled: 0,
        blank_lines: 0,
        rejects_file: None,
        mapping,
        ignored_columns,
    };
    let mut tx = OrderTransactions::default();
    // Per accepted row: whether it is cancelled (kept out of the columns at the end).
    let mut cancelled: Vec<bool> = Vec::new();
    // Customer id → dense code, keyed by the id's xxh3 (the id text is compared on every hit, so a
    // hash collision cannot merge two customers; colliding ids fall back to `collided`).
    let mut codes: HashMap<u64, u32, Pre> = HashMap::default();
    let mut collided: HashMap<String, u32> = HashMap::new();
    // Without an order id every key is synthesised from the row's content hash and its occurrence
    // number, which is unique within a file: no row can repeat a key, so keys need no bookkeeping.
    let track_keys = has_key_column;
    let mut keys: HashMap<u64, KeySeen, Pre> = HashMap::default();
    let mut line_of: Vec<u64> = Vec::new();
    let mut rec = RawRecord::default();
    const DAY_MICROS: i64 = 86_400_000_000;
    while opened.next(&mut rec)? {
        report.read += 1;
        let checked: std::result::Result<Checked, (&str, String)> =
            if let Some(e) = rec.error.take() {
                Err(("", e))
            } else if is_delimited && rec.len() != ncols {
                Err((
                    "",
                    format!(
                        "expected {ncols} fields, found {} (delimiter {})",
                        rec.len(),
                        delim.as_deref().unwrap_or("?")
                    ),
                ))
            } else {
                batcher.check(&rec)
            };
        let checked = match checked {
            Ok(c) => c,
            Err((field, reason)) => {
                report.rejected += 1;
                rejects.write(&rec, field, &reason)?;
                batcher.clear_pending();
                continue;
            }
        };
        let (Some(id), Some(ts)) = (
            batcher.checked_text(&rec, customer_col),
            batcher.checked_timestamp(time_col),
        ) else {
            // Required columns were validated non-empty by `check`; this is a defect, not input.
            return Err(StoreError::Invalid(format!(
                "line {}: a validated order lacks its customer or time; please report this",
                rec.line
            )));
        };
        let amount = batcher.checked_float(amount_col).unwrap_or(0.0);
        let is_return = batcher.checked_is_return();
        let is_cancelled = batcher.checked_text(&rec, status_col).is_some_and(|s| {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "cancelled" | "canceled" | "void" | "failed"
            )
        });
        let day = ts.div_euclid(DAY_MICROS);
        let day = i32::try_from(day)
            .map_err(|_| StoreError::Invalid(format!("line {}: date out of range", rec.line)))?;
        let next_code = u32::try_from(tx.customer_ids.len())
            .map_err(|_| StoreError::Invalid("more than 4 billion customers in one file".into()))?;
        let code = match codes.entry(xxhash_rust::xxh3::xxh3_64(id.as_bytes())) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let c = *e.get();
                if tx.customer_ids[c as usize] == id {
                    c
                } else {
                    *collided.entry(id.to_string()).or_insert_with(|| {
                        tx.customer_ids.push(id.to_string());
                        next_code
                    })
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next_code);
                tx.customer_ids.push(id.to_string());
                next_code
            }
        };
        batcher.clear_pending();
        let seen = if track_keys {
            keys.get_mut(&checked.key)
        } else {
            None
        };
        match seen {
            None => {
                if track_keys {
                    keys.insert(
                        checked.key,
                        KeySeen {
                            row: tx.customer.len(),
                            hash: checked.hash,
                            earlier: Vec::new(),
                        },
                    );
                }
                tx.customer.push(code);
                tx.day.push(day);
                tx.amount.push(amount);
                tx.is_return.push(is_return);
                cancelled.push(is_cancelled);
                line_of.push(rec.line);
                report.accepted += 1;
            }
            Some(seen) => match input.on_conflict {
                OnConflict::Reject => {
                    if seen.hash == checked.hash {
                        report.duplicate += 1;
                    } else {
                        report.conflicting += 1;
                        let kept = line_of[seen.row];
                        rejects.write(
                            &rec,
                            "order_id",
                            &format!(
                                "conflict: the same order as line {kept} with other content (the first row is kept; --on-conflict replace keeps the last)"
                            ),
                        )?;
                    }
                }
                OnConflict::Replace => {
                    // The new row wins for now; the one it replaces is classified at the end.
                    seen.earlier.push(seen.hash);
                    seen.hash = checked.hash;
                    let r = seen.row;
                    tx.customer[r] = code;
                    tx.day[r] = day;
                    tx.amount[r] = amount;
                    tx.is_return[r] = is_return;
                    cancelled[r] = is_cancelled;
                    line_of[r] = rec.line;
                }
            },
        }
    }
    for seen in keys.values() {
        for &h in &seen.earlier {
            if h == seen.hash {
                report.duplicate += 1;
            } else {
                report.conflicting += 1;
            }
        }
    }
    report.blank_lines = opened.blank_lines();
    if rejects.finish()? {
        report.rejects_file = Some(opts.rejects.clone());
    }
    if cancelled.iter().any(|&c| c) {
        let keep: Vec<usize> = (0..cancelled.len()).filter(|&i| !cancelled[i]).collect();
        report.cancelled = (cancelled.len() - keep.len()) as u64;
        tx.customer = keep.iter().map(|&i| tx.customer[i]).collect();
        tx.day = keep.iter().map(|&i| tx.day[i]).collect();
        tx.amount = keep.iter().map(|&i| tx.amount[i]).collect();
        tx.is_return = keep.iter().map(|&i| tx.is_return[i]).collect();
    }
    Ok((tx, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path, map: &[(&str, &str)], on_conflict: OnConflict) -> OrdersFileOptions {
        OrdersFileOptions {
            input: IngestOptions {
                table: "orders".into(),
                map: map
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                on_conflict,
                ..IngestOptions::default()
            },
            time_zone: TimeZone::parse("UTC").expect("test setup"),
            date_format: None,
            rejects: dir.join("rejects.csv"),
        }
    }

    fn no_parquet(_: &str) -> Result<Vec<RecordBatch>> {
        Err(StoreError::Invalid("no parquet in this test".into()))
    }

    #[test]
    fn every_record_is_accounted_for() {
        let dir = tempfile::tempdir().expect("test setup");
        let f = dir.path().join("o.csv");
        std::fs::write(
            &f,
            "order_id,customer_id,order_date,amount,status\n\
             1,a,2024-01-01,10,paid\n\
             1,a,2024-01-01,10,paid\n\
             1,a,2024-01-01,11,paid\n\
             2,b,not a date,5,paid\n\
             3,b,2024-01-03,-4,paid\n\
             4,c,2024-01-04,7,cancelled\n\
             5,a,2024-01-05,8\n",
        )
        .expect("test setup");
        let (tx, r) = read_orders_with(&f, &opts(dir.path(), &[], OnConflict::Reject), &no_parquet)
            .expect("test setup");
        assert_eq!(
            (r.read, r.accepted, r.duplicate, r.conflicting, r.rejected),
            (7, 3, 1, 1, 2)
        );
        assert!(r.balanced());
        assert_eq!(r.cancelled, 1);
        assert_eq!(tx.customer_ids, vec!["a", "b", "c"]);
        assert_eq!(tx.customer, vec![0, 1]);
        assert_eq!(tx.amount, vec![10.0, -4.0]);
        assert_eq!(tx.is_return, vec![false, true]);
        assert_eq!(tx.day[0], 19723); // 2024-01-01
        let rejects =
            std::fs::read_to_string(r.rejects_file.expect("test setup")).expect("test setup");
        assert!(rejects.contains("conflict: the same order as line 2"));
        assert!(rejects.contains("not a date"));
        assert!(rejects.contains("expected 5 fields, found 4"));
    }

    #[test]
    fn replace_keeps_the_last_row_and_classifies_against_it() {
        let dir = tempfile::tempdir().expect("test setup");
        let f = dir.path().join("o.csv");
        std::fs::write(
            &f,
            "order_id,customer_id,order_date,amount\n1,a,2024-01-01,10\n1,a,2024-01-01,11\n1,a,2024-01-01,10\n",
        )
        .expect("test setup");
        let (tx, r) =
            read_orders_with(&f, &opts(dir.path(), &[], OnConflict::Replace), &no_parquet)
                .expect("test setup");
        assert_eq!(
            (r.read, r.accepted, r.duplicate, r.conflicting),
            (3, 1, 1, 1)
        );
        assert_eq!(tx.amount, vec![10.0]);
        assert!(r.rejects_file.is_none());
    }

    #[test]
    fn identical_rows_without_an_id_stay_two_purchases() {
        let dir = tempfile::tempdir().expect("test setup");
        let f = dir.path().join("cdnow.txt");
        std::fs::write(
            &f,
            "00001 19970101 1 11.77\n00001 19970101 1 11.77\n00002 19970112 2 20\n",
        )
        .expect("test setup");
        let map = [
            ("customer_id", "column1"),
            ("ordered_at", "column2"),
            ("amount", "column4"),
        ];
        let (tx, r) =
            read_orders_with(&f, &opts(dir.path(), &map, OnConflict::Reject), &no_parquet)
                .expect("test setup");
        assert_eq!((r.read, r.accepted, r.duplicate), (3, 3, 0));
        assert_eq!(tx.customer, vec![0, 0, 1]);
    }
}
