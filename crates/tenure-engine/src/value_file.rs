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
    score_as_of, CustomerColumns, GroupSummary, ValueOptions, ValueScores, CUSTOMER_SCORES_COLUMNS,
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
pub fn score_orders_file(
    path: &Path,
    input: &OrdersFileOptions,
    opts: &ValueOptions,
    out: &Path,
) -> Result<FileValueSummary> {
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
    write_scores(out, delimiter, as_of, &ids, &scores)?;
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

/// Write one row per customer with the columns of `customer_scores` (without the run id and the
/// scoring time, which belong to a project). Non-finite model outputs are written empty, never NaN.
///
/// Rows are assembled as bytes in one buffer (floats by ryu, dates and scores by hand): only the
/// customer id can need CSV quoting, and a general CSV writer spent most of this step checking
/// fields that never do.
fn write_scores(
    out: &Path,
    delimiter: u8,
    as_of: NaiveDate,
    ids: &[&str],
    s: &ValueScores,
) -> Result<()> {
    use std::io::Write as _;
    let io = |e: std::io::Error| EngineError::Data(format!("write {}: {e}", out.display()));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(out).map_err(io)?);
    let d = delimiter;
    let columns: Vec<&str> = CUSTOMER_SCORES_COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "run_id" && *c != "scored_at")
        .collect();
    let mut row: Vec<u8> = columns.join(&char::from(d).to_string()).into_bytes();
    row.push(b'\n');
    w.write_all(&row).map_err(io)?;
    let mut as_of_text = Vec::new();
    push_date(&mut as_of_text, as_of);
    let mut floats = ryu::Buffer::new();
    let mut float = |row: &mut Vec<u8>, v: Option<f64>| {
        row.push(d);
        if let Some(v) = v.filter(|v| v.is_finite()) {
            row.extend_from_slice(floats.format_finite(v).as_bytes());
        }
    };
    for (i, id) in ids.iter().enumerate() {
        row.clear();
        let r = &s.rfm[i];
        let k = s.slot[i];
        row.extend_from_slice(&as_of_text);
        row.push(d);
        push_field(&mut row, id, d);
        for v in [r.recency, r.frequency, r.monetary] {
            row.extend_from_slice(&[d, b'0' + v]);
        }
        row.extend_from_slice(&[
            d,
            b'0' + r.recency,
            b'0' + r.frequency,
            b'0' + r.monetary,
            d,
        ]);
        row.extend_from_slice(r.group.label().as_bytes());
        row.push(d);
        row.extend_from_slice(match r.tier {
            ValueTier::High => b"high".as_slice(),
            ValueTier::Medium => b"medium",
            ValueTier::Low => b"low",
        });
        for v in [&s.p_alive, &s.e30, &s.e90, &s.e365] {
            float(&mut row, k.map(|k| v[k]));
        }
        row.push(d);
        if let Some(next) = k
            .and_then(|k| s.next[k])
            .and_then(|t| as_of.checked_add_days(Days::new(t.ceil() as u64)))
        {
            push_date(&mut row, next);
        }
        float(&mut row, k.map(|k| s.exp_spend[k]));
        float(&mut row, k.map(|k| s.clv[k]));
        let b = k.zip(s.interval.as_ref()).map(|(k, b)| b.intervals[k]);
        float(&mut row, b.map(|b| b.lower));
        float(&mut row, b.map(|b| b.upper));
        row.push(b'\n');
        w.write_all(&row).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(())
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
}
