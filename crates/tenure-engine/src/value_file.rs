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
    score_customers, CustomerColumns, GroupSummary, ValueOptions, ValueScores,
    CUSTOMER_SCORES_COLUMNS,
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

    let scores = score_customers(
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
    )
    .map_err(|e| match e {
        EngineError::Data(m) if m.starts_with("no customer") => EngineError::Data(format!(
            "no customer has an order on or before {as_of}: pick a later --as-of"
        )),
        e => e,
    })?;
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
fn write_scores(
    out: &Path,
    delimiter: u8,
    as_of: NaiveDate,
    ids: &[&str],
    s: &ValueScores,
) -> Result<()> {
    let io = |e: std::io::Error| EngineError::Data(format!("write {}: {e}", out.display()));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_path(out)
        .map_err(|e| EngineError::Data(format!("write {}: {e}", out.display())))?;
    let csv_err = |e: csv::Error| EngineError::Data(format!("write {}: {e}", out.display()));
    let columns: Vec<&str> = CUSTOMER_SCORES_COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "run_id" && *c != "scored_at")
        .collect();
    w.write_record(&columns).map_err(csv_err)?;
    let as_of_text = as_of.to_string();
    let mut floats = ryu::Buffer::new();
    let mut ints = [0u8; 4];
    // Fields are written as bytes straight from stack buffers: no string per value.
    let mut field = |w: &mut csv::Writer<std::fs::File>, v: Option<f64>| -> Result<()> {
        match v.filter(|v| v.is_finite()) {
            Some(v) => w.write_field(floats.format_finite(v)),
            None => w.write_field(""),
        }
        .map_err(csv_err)
    };
    for (i, id) in ids.iter().enumerate() {
        let r = &s.rfm[i];
        let k = s.slot[i];
        w.write_field(&as_of_text).map_err(csv_err)?;
        w.write_field(id).map_err(csv_err)?;
        for d in [r.recency, r.frequency, r.monetary] {
            w.write_field([b'0' + d]).map_err(csv_err)?;
        }
        ints[..3].copy_from_slice(&[b'0' + r.recency, b'0' + r.frequency, b'0' + r.monetary]);
        w.write_field(&ints[..3]).map_err(csv_err)?;
        w.write_field(r.group.label()).map_err(csv_err)?;
        let tier = match r.tier {
            ValueTier::High => "high",
            ValueTier::Medium => "medium",
            ValueTier::Low => "low",
        };
        w.write_field(tier).map_err(csv_err)?;
        for v in [&s.p_alive, &s.e30, &s.e90, &s.e365] {
            field(&mut w, k.map(|k| v[k]))?;
        }
        let next = k
            .and_then(|k| s.next[k])
            .and_then(|t| as_of.checked_add_days(Days::new(t.ceil() as u64)));
        match next {
            Some(d) => w.write_field(d.to_string()),
            None => w.write_field(""),
        }
        .map_err(csv_err)?;
        field(&mut w, k.map(|k| s.exp_spend[k]))?;
        field(&mut w, k.map(|k| s.clv[k]))?;
        let b = k.zip(s.interval.as_ref()).map(|(k, b)| b.intervals[k]);
        field(&mut w, b.map(|b| b.lower))?;
        field(&mut w, b.map(|b| b.upper))?;
        w.write_record(None::<&[u8]>).map_err(csv_err)?;
    }
    w.flush().map_err(io)?;
    Ok(())
}
