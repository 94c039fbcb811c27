//! `tenure score value --orders FILE --out SCORES`: value scores straight from an orders file, without
//! a project.
//!
//! The file is read and validated row for row as `tenure ingest` would (tenure-store's
//! [`read_orders_file`]: same mapping, sniffing, rejects file and accounting), summarised per customer
//! by the pure kernel [`summarize_transactions`] (the same daily definitions as the store's features
//! SQL), scored by the same [`score_customers`] core as `tenure score value`, and written as CSV with
//! the columns of `customer_scores`. This is the path for a one-off scoring of an export, and the one
//! the lifetimes comparison measures: nothing is stored, so no database file is created, no rows are
//! appended, and no SQL runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use tenure_models::{summarize_transactions, FitDiagnostics, Interval, ValueTier};
use tenure_store::{read_orders_file, OrdersFileOptions, OrdersFileReport};

use crate::error::{EngineError, Result};
use crate::value::{
    score_as_of, CustomerColumns, GroupSummary, ValueOptions, ValueOutputs, ValueScores,
};

/// What scoring an orders file did.
#[derive(Debug, Clone, Serialize)]
pub struct FileValueSummary {
    /// How every record of the input was accounted for.
    pub input: OrdersFileReport,
    /// The as-of day (default: the last order day in the file).
    pub as_of: NaiveDate,
    /// Customers scored (those with an order row on or before the as-of day).
    pub customers: u64,
    /// BG/NBD parameters (r, alpha, a, b), time unit days.
    pub bg_nbd: [f64; 4],
    /// BG/NBD fit diagnostics.
    pub bg_nbd_diagnostics: FitDiagnostics,
    /// Gamma-Gamma parameters (p, q, gamma); `None` when the spend model could not be fitted.
    pub gamma_gamma: Option<[f64; 3]>,
    /// Expected purchases of all customers in the next 90 days.
    pub expected_purchases_90d: f64,
    /// Total CLV over the horizon.
    pub clv_total: f64,
    /// Bootstrap interval of the total CLV, when intervals were computed.
    pub clv_total_interval: Option<Interval>,
    /// Size and value per RFM group.
    pub groups: std::collections::BTreeMap<String, GroupSummary>,
    /// Seconds per phase: read + validate, summarise, then the fit and score phases, then write.
    pub phases: Vec<(&'static str, f64)>,
    /// Problems that left some outputs empty.
    pub warnings: Vec<String>,
    /// The scores file written.
    pub out: PathBuf,
}

/// Score every customer of an orders file and write the scores to `out` (CSV; `.tsv` for tabs).
///
/// `columns` chooses the columns of the scores file by name (empty: all of them); outputs that no
/// chosen column needs are not computed (see [`ValueOutputs`]).
pub fn score_orders_file(
    path: &Path,
    input: &OrdersFileOptions,
    opts: &ValueOptions,
    out: &Path,
    columns: &[String],
) -> Result<FileValueSummary> {
    let columns = parse_columns(columns)?;
    let opts = &ValueOptions {
        outputs: outputs_for(&columns),
        ..opts.clone()
    };
    let delimiter = match out.extension().and_then(|e| e.to_str()) {
        Some("csv") => b',',
        Some("tsv") => b'\t',
        _ => {
            return Err(EngineError::Data(format!(
                "{}: scores are written as CSV; name the output file *.csv or *.tsv",
                out.display()
            )))
        }
    };
    let mut phases = Vec::new();
    let mark = Instant::now();
    let (tx, report) = read_orders_file(path, input)?;
    phases.push(("read and validate", mark.elapsed().as_secs_f64()));

    let mark = Instant::now();
    let epoch =
        NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| EngineError::Data("calendar".into()))?;
    let as_of_day = match opts.as_of {
        Some(d) => (d - epoch).num_days() as i32,
        None => *tx.day.iter().max().ok_or_else(|| {
            EngineError::Data(format!(
                "{}: no order was accepted ({} read, {} rejected): see the rejects file and the column mapping",
                path.display(),
                report.read,
                report.rejected
            ))
        })?,
    };
    let as_of = epoch
        .checked_add_days(Days::new(u64::try_from(as_of_day).unwrap_or(0)))
        .ok_or_else(|| EngineError::Data("as-of date out of range".into()))?;
    let n = tx.customer_ids.len();
    let s = summarize_transactions(
        &tx.customer,
        &tx.day,
        &tx.amount,
        &tx.is_return,
        n,
        as_of_day,
    )
    .map_err(|e| EngineError::Data(e.to_string()))?;
    // As in the store's features, a customer counts from their first order row on or before as-of.
    let mut present = vec![false; n];
    for (&c, &d) in tx.customer.iter().zip(&tx.day) {
        if d <= as_of_day {
            present[c as usize] = true;
        }
    }
    let keep: Vec<usize> = (0..n).filter(|&i| present[i]).collect();
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let (x, t_x, age, monetary_mean, recency, orders, spend) = (
        pick(&s.x),
        pick(&s.t_x),
        pick(&s.age),
        pick(&s.monetary_mean),
        pick(&s.recency),
        pick(&s.orders),
        pick(&s.spend),
    );
    phases.push(("summarise", mark.elapsed().as_secs_f64()));

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
    phases.extend(scores.phases.iter().copied());

    let mark = Instant::now();
    let ids: Vec<&str> = keep.iter().map(|&i| tx.customer_ids[i].as_str()).collect();
    write_scores(out, delimiter, as_of, &ids, &scores, &columns)?;
    phases.push(("write", mark.elapsed().as_secs_f64()));

    let bg = &scores.bg;
    Ok(FileValueSummary {
        input: report,
        as_of,
        customers: ids.len() as u64,
        bg_nbd: [bg.r(), bg.alpha(), bg.a(), bg.b()],
        bg_nbd_diagnostics: bg.diagnostics().clone(),
        gamma_gamma: scores.gg.as_ref().map(|gg| [gg.p(), gg.q(), gg.gamma()]),
        expected_purchases_90d: scores.e90.iter().filter(|v| v.is_finite()).sum(),
        clv_total: scores.clv.iter().filter(|v| v.is_finite()).sum(),
        clv_total_interval: scores.interval.as_ref().map(|b| b.total),
        groups: scores.groups.clone(),
        phases,
        warnings: scores.warnings.clone(),
        out: out.to_path_buf(),
    })
}

/// A column of the scores file: the columns of `customer_scores` without the run id and the
/// scoring time, which belong to a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    AsOf,
    CustomerId,
    RecencyScore,
    FrequencyScore,
    MonetaryScore,
    RfmCell,
    RfmGroup,
    ValueTier,
    PAlive,
    Expected(usize),
    NextOrderDate,
    ExpectedAvgSpend,
    Clv,
    ClvLow,
    ClvHigh,
}

/// Every column in file order, with its name.
const COLUMNS: [(&str, Column); 17] = [
    ("as_of", Column::AsOf),
    ("customer_id", Column::CustomerId),
    ("recency_score", Column::RecencyScore),
    ("frequency_score", Column::FrequencyScore),
    ("monetary_score", Column::MonetaryScore),
    ("rfm_cell", Column::RfmCell),
    ("rfm_group", Column::RfmGroup),
    ("value_tier", Column::ValueTier),
    ("p_alive", Column::PAlive),
    ("expected_purchases_30d", Column::Expected(0)),
    ("expected_purchases_90d", Column::Expected(1)),
    ("expected_purchases_365d", Column::Expected(2)),
    ("next_order_date", Column::NextOrderDate),
    ("expected_avg_spend", Column::ExpectedAvgSpend),
    ("clv", Column::Clv),
    ("clv_low", Column::ClvLow),
    ("clv_high", Column::ClvHigh),
];

/// The columns to write, from `--columns` names (empty: all, in file order). `customer_id` comes
/// first when not named, since a row without it cannot be used. Errors name the unknown column
/// and list the valid ones.
fn parse_columns(names: &[String]) -> Result<Vec<(&'static str, Column)>> {
    if names.is_empty() {
        return Ok(COLUMNS.to_vec());
    }
    let mut chosen = Vec::with_capacity(names.len() + 1);
    for name in names {
        let name = name.trim();
        let Some(&c) = COLUMNS.iter().find(|(n, _)| *n == name) else {
            let valid: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
            return Err(EngineError::Data(format!(
                "--columns: unknown column `{name}`; the scores columns are {}",
                valid.join(", ")
            )));
        };
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    }
    if !chosen.iter().any(|(_, c)| *c == Column::CustomerId) {
        chosen.insert(0, ("customer_id", Column::CustomerId));
    }
    Ok(chosen)
}

/// The outputs the chosen columns need.
fn outputs_for(columns: &[(&str, Column)]) -> ValueOutputs {
    let has = |f: &dyn Fn(Column) -> bool| columns.iter().any(|(_, c)| f(*c));
    ValueOutputs {
        rfm: has(&|c| {
            matches!(
                c,
                Column::RecencyScore
                    | Column::FrequencyScore
                    | Column::MonetaryScore
                    | Column::RfmCell
                    | Column::RfmGroup
                    | Column::ValueTier
            )
        }),
        expected: [0, 1, 2].map(|k| has(&|c| c == Column::Expected(k))),
        next_order: has(&|c| c == Column::NextOrderDate),
        clv: has(&|c| {
            matches!(
                c,
                Column::ExpectedAvgSpend | Column::Clv | Column::ClvLow | Column::ClvHigh
            )
        }),
    }
}

/// Write one row per customer with the chosen columns. Non-finite model outputs are written
/// empty, never NaN.
///
/// Rows are assembled as bytes (floats by zmij, shortest round-trip; dates and scores by hand):
/// only the customer id can need CSV quoting, and a general CSV writer spent most of this step
/// checking fields that never do.
fn write_scores(
    out: &Path,
    delimiter: u8,
    as_of: NaiveDate,
    ids: &[&str],
    s: &ValueScores,
    columns: &[(&str, Column)],
) -> Result<()> {
    use std::io::Write as _;
    let io = |e: std::io::Error| EngineError::Data(format!("write {}: {e}", out.display()));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut w = std::fs::File::create(out).map_err(io)?;
    let d = delimiter;
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let mut header: Vec<u8> = names.join(&char::from(d).to_string()).into_bytes();
    header.push(b'\n');
    w.write_all(&header).map_err(io)?;
    let cols: Vec<Column> = columns.iter().map(|(_, c)| *c).collect();
    let rows = Rows {
        d,
        as_of,
        ids,
        s,
        columns: &cols,
    };
    // Formatting the floats is most of this step: each block of rows is formatted in two halves,
    // one per core, then written in order (memory stays at one block however many rows).
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        let end = (start + 2 * WRITE_BLOCK_ROWS).min(ids.len());
        let mid = start + (end - start) / 2;
        std::thread::scope(|scope| {
            let other = scope.spawn(|| rows.format(&mut second, mid..end));
            rows.format(&mut first, start..mid);
            // Formatting has no failure of its own; a panic there is a defect that must surface.
            if let Err(panic) = other.join() {
                std::panic::resume_unwind(panic);
            }
        });
        w.write_all(&first).map_err(io)?;
        w.write_all(&second).map_err(io)?;
        start = end;
    }
    w.flush().map_err(io)?;
    Ok(())
}

/// Rows per half-block of [`write_scores`].
const WRITE_BLOCK_ROWS: usize = 4_096;

/// What [`write_scores`] formats rows from.
struct Rows<'a> {
    d: u8,
    as_of: NaiveDate,
    ids: &'a [&'a str],
    s: &'a ValueScores,
    columns: &'a [Column],
}

impl Rows<'_> {
    /// The CSV rows of customers `range` into `buf` (cleared first).
    fn format(&self, buf: &mut Vec<u8>, range: std::ops::Range<usize>) {
        let (d, s) = (self.d, self.s);
        buf.clear();
        let mut as_of_text = Vec::new();
        push_date(&mut as_of_text, self.as_of);
        let mut floats = zmij::Buffer::new();
        let mut float = |row: &mut Vec<u8>, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                row.extend_from_slice(floats.format_finite(v).as_bytes());
            }
        };
        let row = buf;
        for i in range {
            let r = s.rfm.get(i);
            let k = s.slot[i];
            let b = k.zip(s.interval.as_ref()).map(|(k, b)| b.intervals[k]);
            for (n, col) in self.columns.iter().enumerate() {
                if n > 0 {
                    row.push(d);
                }
                match col {
                    Column::AsOf => row.extend_from_slice(&as_of_text),
                    Column::CustomerId => push_field(row, self.ids[i], d),
                    Column::RecencyScore => push_digit(row, r.map(|r| r.recency)),
                    Column::FrequencyScore => push_digit(row, r.map(|r| r.frequency)),
                    Column::MonetaryScore => push_digit(row, r.map(|r| r.monetary)),
                    Column::RfmCell => {
                        if let Some(r) = r {
                            row.extend_from_slice(&[
                                b'0' + r.recency,
                                b'0' + r.frequency,
                                b'0' + r.monetary,
                            ]);
                        }
                    }
                    Column::RfmGroup => {
                        if let Some(r) = r {
                            row.extend_from_slice(r.group.label().as_bytes());
                        }
                    }
                    Column::ValueTier => row.extend_from_slice(match r.map(|r| r.tier) {
                        Some(ValueTier::High) => b"high".as_slice(),
                        Some(ValueTier::Medium) => b"medium",
                        Some(ValueTier::Low) => b"low",
                        None => b"",
                    }),
                    Column::PAlive => float(row, k.map(|k| s.p_alive[k])),
                    Column::Expected(h) => {
                        let v = [&s.e30, &s.e90, &s.e365][*h];
                        float(row, k.map(|k| v[k]));
                    }
                    Column::NextOrderDate => {
                        if let Some(next) = k
                            .and_then(|k| s.next[k])
                            .and_then(|t| self.as_of.checked_add_days(Days::new(t.ceil() as u64)))
                        {
                            push_date(row, next);
                        }
                    }
                    Column::ExpectedAvgSpend => float(row, k.map(|k| s.exp_spend[k])),
                    Column::Clv => float(row, k.map(|k| s.clv[k])),
                    Column::ClvLow => float(row, b.map(|b| b.lower)),
                    Column::ClvHigh => float(row, b.map(|b| b.upper)),
                }
            }
            row.push(b'\n');
        }
    }
}

/// A one-digit score, or nothing.
fn push_digit(row: &mut Vec<u8>, v: Option<u8>) {
    if let Some(v) = v {
        row.push(b'0' + v);
    }
}

/// A day as `YYYY-MM-DD`.
fn push_date(row: &mut Vec<u8>, day: NaiveDate) {
    use chrono::Datelike as _;
    let (y, m, dd) = (day.year(), day.month(), day.day());
    if (0..=9999).contains(&y) {
        let y = y as u32;
        row.extend_from_slice(&[
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (dd / 10) as u8,
            b'0' + (dd % 10) as u8,
        ]);
    } else {
        row.extend_from_slice(day.to_string().as_bytes());
    }
}

/// A text field, quoted as RFC 4180 asks when it holds the delimiter, a quote or a line break.
fn push_field(row: &mut Vec<u8>, text: &str, delimiter: u8) {
    let b = text.as_bytes();
    if b.iter()
        .any(|&c| c == delimiter || c == b'"' || c == b'\n' || c == b'\r')
    {
        row.push(b'"');
        for &c in b {
            if c == b'"' {
                row.push(b'"');
            }
            row.push(c);
        }
        row.push(b'"');
    } else {
        row.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_dates_are_written_as_csv_reads_them() {
        let mut row = Vec::new();
        push_field(&mut row, "a,\"b\"", b',');
        row.push(b',');
        push_field(&mut row, "plain", b',');
        row.push(b',');
        push_date(&mut row, NaiveDate::from_ymd_opt(1997, 3, 9).expect("date"));
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(row.as_slice());
        let rec = r.records().next().expect("a row").expect("valid csv");
        assert_eq!(&rec[0], "a,\"b\"");
        assert_eq!(&rec[1], "plain");
        assert_eq!(&rec[2], "1997-03-09");
    }

    #[test]
    fn file_columns_are_the_score_table_columns() {
        let table: Vec<&str> = crate::value::CUSTOMER_SCORES_COLUMNS
            .iter()
            .copied()
            .filter(|c| *c != "run_id" && *c != "scored_at")
            .collect();
        let file: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
        assert_eq!(file, table);
    }

    #[test]
    fn chosen_columns_decide_the_work() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cols =
            parse_columns(&names(&["p_alive", "expected_purchases_90d", "clv"])).expect("valid");
        assert_eq!(cols[0].0, "customer_id");
        assert_eq!(
            outputs_for(&cols),
            ValueOutputs {
                rfm: false,
                expected: [false, true, false],
                next_order: false,
                clv: true,
            }
        );
        assert_eq!(
            outputs_for(&parse_columns(&[]).expect("all")),
            ValueOutputs::default()
        );
        let err = parse_columns(&names(&["p_alive", "pallive"])).expect_err("unknown");
        assert!(err.to_string().contains("pallive") && err.to_string().contains("next_order_date"));
    }
}
