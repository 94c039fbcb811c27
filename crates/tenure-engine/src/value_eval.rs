//! `tenure eval value`: fit a repeat-purchase model on the calibration period and check it against
//! what customers actually did in the holdout period, the way Fader, Hardie & Lee (2005) validate
//! BG/NBD on CDNOW (their figures 2–4): per-customer accuracy, the weekly cumulative tracking curve
//! and the conditional expectation of holdout purchases by calibration frequency.
//!
//! The report goes to `models/<id>/report.json` and `report.html` (SVG charts, no script), and the
//! model with its metrics into the `models` registry.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use tenure_models::{
    conditional_expectation_by_frequency, holdout_metrics, tracking_curve, BgNbdParams, BtydData,
    FitDiagnostics, FrequencyBucket, GammaGammaParams, HoldoutMetrics, ParetoNbdParams,
    PurchaseModel, TrackingCurve,
};
use tenure_store::{Horizon, ModelRecord, Store};

use crate::chart::{escape, line_chart, Series};
use crate::error::{EngineError, Result};
use crate::value::f64_col;

/// The repeat-purchase model to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    BgNbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
}

impl PurchaseModelKind {
    /// Registry kind and file-name stem.
    pub fn name(self) -> &'static str {
        match self {
            PurchaseModelKind::BgNbd => "bg_nbd",
            PurchaseModelKind::ParetoNbd => "pareto_nbd",
        }
    }
}

/// Options of a holdout evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct ValueEvalOptions {
    /// End of the calibration period (inclusive).
    pub as_of: NaiveDate,
    /// Length of the holdout period after `as_of`.
    pub horizon: Horizon,
    /// Which model to fit.
    pub model: PurchaseModelKind,
    /// Calibration frequencies at or above this share one row of the conditional-expectation table
    /// (the paper uses 7+).
    pub max_frequency: u32,
}

/// Cumulative repeat purchases at the end of the holdout, actual against predicted.
#[derive(Debug, Clone, Serialize)]
pub struct CumulativeCheck {
    /// Weeks from the first purchase in the data to the end of the holdout.
    pub week: f64,
    /// Actual cumulative repeat purchases (distinct days) up to then.
    pub actual: f64,
    /// Model's expected cumulative repeat purchases up to then.
    pub predicted: f64,
    /// predicted / actual − 1 (the paper: −4% at week 78).
    pub relative_error: Option<f64>,
}

/// Gamma-Gamma check: its conditional expected spend per purchase against the mean holdout spend of
/// customers who bought in both periods.
#[derive(Debug, Clone, Serialize)]
pub struct SpendCheck {
    /// Gamma-Gamma (p, q, γ) fitted on calibration repeat buyers.
    pub gamma_gamma: [f64; 3],
    /// Repeat buyers left out for a zero or negative mean spend.
    pub excluded_nonpositive_spend: u64,
    /// Customers compared (repeat buyers in calibration with a purchase in the holdout).
    pub customers: u64,
    /// Mean predicted spend per purchase.
    pub mean_predicted: f64,
    /// Mean actual holdout spend per purchase day.
    pub mean_actual: f64,
    /// Per-customer correlation of predicted and actual.
    pub correlation: Option<f64>,
}

/// Everything `tenure eval value` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ValueEvalReport {
    /// Registry id, also the folder under `models/`.
    pub model_id: String,
    /// Registry version of this kind.
    pub version: i64,
    /// What was evaluated.
    pub options: ValueEvalOptions,
    /// Last day of the holdout.
    pub holdout_end: NaiveDate,
    /// Holdout length in days.
    pub horizon_days: i64,
    /// Customers with a purchase on or before `as_of` (the calibration sample).
    pub customers: u64,
    /// Parameter names, in the order of `params` (time unit: days).
    pub param_names: Vec<String>,
    /// Fitted parameters.
    pub params: Vec<f64>,
    /// Fit diagnostics (gradient norm, Hessian, standard errors, warnings).
    pub diagnostics: FitDiagnostics,
    /// Per-customer accuracy of holdout repeat purchases (distinct days) and the aggregate error.
    pub holdout: HoldoutMetrics,
    /// Cumulative repeat purchases at the end of the holdout.
    pub cumulative: CumulativeCheck,
    /// Weekly cumulative repeat purchases, actual and predicted; `times` are weeks since the first
    /// purchase in the data.
    pub tracking: TrackingCurve,
    /// Week at which calibration ends on the tracking curve.
    pub calibration_end_week: f64,
    /// Mean holdout purchases by calibration frequency, actual and predicted.
    pub by_frequency: Vec<FrequencyBucket>,
    /// Spend model check, when there are repeat buyers with positive spend.
    pub spend: Option<SpendCheck>,
    /// Paths of the written report.
    pub report_json: PathBuf,
    /// HTML report with SVG charts.
    pub report_html: PathBuf,
}

/// Fit on (…, as_of], compare with (as_of, as_of + horizon], write the report and register the model.
/// `now` stamps the registry row and the model id.
pub fn evaluate_value(
    store: &Store,
    opts: &ValueEvalOptions,
    now: NaiveDateTime,
) -> Result<ValueEvalReport> {
    let holdout_end = opts.horizon.end(opts.as_of)?;
    let horizon_days = opts.horizon.days(opts.as_of)?;
    let last = crate::value::last_order_date(store)?;
    if last <= opts.as_of {
        return Err(EngineError::Data(format!(
            "no order after {} (the last is on {last}): the holdout would be empty; pick an earlier --as-of",
            opts.as_of
        )));
    }
    let batches = store.calibration_holdout(opts.as_of, opts.horizon)?;
    let orders = f64_col(&batches, "orders")?;
    let x_all = f64_col(&batches, "x")?;
    let t_x_all = f64_col(&batches, "t_x_days")?;
    let age_all = f64_col(&batches, "T_days")?;
    let mon_all = f64_col(&batches, "monetary_mean")?;
    let h_days = f64_col(&batches, "holdout_purchase_days")?;
    let h_spend = f64_col(&batches, "holdout_spend")?;
    let rows: Vec<usize> = (0..orders.len())
        .filter(|&i| orders[i] > 0.0 && x_all[i].is_finite())
        .collect();
    if rows.is_empty() {
        return Err(EngineError::Data(format!(
            "no customer bought on or before {}: pick a later --as-of",
            opts.as_of
        )));
    }
    let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let (x, t_x, age) = (pick(&x_all), pick(&t_x_all), pick(&age_all));
    let actual = pick(&h_days);
    let data = BtydData::new(x.clone(), t_x, age)?;

    let (model, param_names, params, diagnostics): (
        Box<dyn PurchaseModel>,
        Vec<String>,
        Vec<f64>,
        FitDiagnostics,
    ) = match opts.model {
        PurchaseModelKind::BgNbd => {
            let m = BgNbdParams::default().fit(&data)?;
            let p = vec![m.r(), m.alpha(), m.a(), m.b()];
            let d = m.diagnostics().clone();
            (Box::new(m), names(&["r", "alpha", "a", "b"]), p, d)
        }
        PurchaseModelKind::ParetoNbd => {
            let m = ParetoNbdParams::default().fit(&data)?;
            let p = vec![m.r(), m.alpha(), m.s(), m.beta()];
            let d = m.diagnostics().clone();
            (Box::new(m), names(&["r", "alpha", "s", "beta"]), p, d)
        }
    };
    let h = horizon_days as f64;
    let predicted: Vec<f64> = (0..data.len())
        .map(|i| model.conditional_expected_purchases(h, data.x()[i], data.t_x()[i], data.age()[i]))
        .collect::<std::result::Result<_, _>>()?;
    let holdout = holdout_metrics(&predicted, &actual)?;
    let by_frequency =
        conditional_expectation_by_frequency(&x, &predicted, &actual, opts.max_frequency)?;

    // Tracking curve in days since the first purchase day of the sample, sampled weekly.
    let days = store.tracking_days(opts.as_of, holdout_end)?;
    let origin = days.births.iter().copied().min().unwrap_or(0);
    let rel = |v: &[i64]| v.iter().map(|&d| (d - origin) as f64).collect::<Vec<f64>>();
    let births = rel(&days.births);
    let repeats = rel(&days.repeats);
    let end = ((holdout_end - epoch()).num_days() - origin) as f64;
    let mut times: Vec<f64> = (1..)
        .map(|k| 7.0 * k as f64)
        .take_while(|&t| t < end)
        .collect();
    times.push(end);
    let curve = tracking_curve(model.as_ref(), &births, &repeats, &times)?;
    let tracking = TrackingCurve {
        times: curve.times.iter().map(|t| t / 7.0).collect(),
        ..curve
    };
    let calibration_end_week = ((opts.as_of - epoch()).num_days() - origin) as f64 / 7.0;
    let (a_end, p_end) = (
        tracking.actual_cumulative.last().copied().unwrap_or(0.0),
        tracking.predicted_cumulative.last().copied().unwrap_or(0.0),
    );
    let cumulative = CumulativeCheck {
        week: end / 7.0,
        actual: a_end,
        predicted: p_end,
        relative_error: (a_end > 0.0).then(|| p_end / a_end - 1.0),
    };
    let spend = spend_check(&x, &pick(&mon_all), &actual, &pick(&h_spend))?;

    let kind = opts.model.name();
    let model_id = format!("{kind}-{}", now.format("%Y%m%dT%H%M%S%.3f"));
    let dir = store.dir().join("models").join(&model_id);
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
    let mut report = ValueEvalReport {
        model_id: model_id.clone(),
        version: 0,
        options: opts.clone(),
        holdout_end,
        horizon_days,
        customers: data.len() as u64,
        param_names,
        params,
        diagnostics,
        holdout,
        cumulative,
        tracking,
        calibration_end_week,
        by_frequency,
        spend,
        report_json: dir.join("report.json"),
        report_html: dir.join("report.html"),
    };
    let metrics = serde_json::json!({
        "holdout": report.holdout,
        "cumulative": report.cumulative,
        "log_likelihood": report.diagnostics.log_likelihood,
        "converged": report.diagnostics.converged,
    });
    let params_json: serde_json::Map<String, serde_json::Value> = report
        .param_names
        .iter()
        .zip(&report.params)
        .map(|(n, v)| (n.clone(), serde_json::json!(v)))
        .collect();
    report.version = store.register_model(&ModelRecord {
        model_id: model_id.clone(),
        kind: kind.into(),
        version: 0,
        trained_at: now,
        as_of: Some(opts.as_of),
        params: serde_json::Value::Object(params_json).to_string(),
        metrics: metrics.to_string(),
        artifact_path: Some(format!("models/{model_id}")),
    })?;
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| EngineError::Data(format!("report as JSON: {e}")))?;
    std::fs::write(&report.report_json, json)
        .map_err(|e| EngineError::io(&report.report_json, e))?;
    std::fs::write(&report.report_html, render_html(&report))
        .map_err(|e| EngineError::io(&report.report_html, e))?;
    Ok(report)
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date")
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn spend_check(
    x: &[f64],
    monetary: &[f64],
    holdout_days: &[f64],
    holdout_spend: &[f64],
) -> Result<Option<SpendCheck>> {
    let mon: Vec<f64> = monetary
        .iter()
        .map(|m| if m.is_finite() { *m } else { 0.0 })
        .collect();
    if !x.iter().zip(&mon).any(|(x, m)| *x > 0.0 && *m > 0.0) {
        return Ok(None);
    }
    let gg = match GammaGammaParams::default().fit(x, &mon) {
        Ok(gg) => gg,
        // Too few repeat buyers to identify the spend model: the purchase report still stands.
        Err(_) => return Ok(None),
    };
    let predicted = gg.predict_conditional_expected_spend(x, &mon)?;
    let (mut p, mut a) = (Vec::new(), Vec::new());
    for i in 0..x.len() {
        if x[i] > 0.0 && mon[i] > 0.0 && holdout_days[i] > 0.0 && predicted[i].is_finite() {
            p.push(predicted[i]);
            a.push(holdout_spend[i] / holdout_days[i]);
        }
    }
    if p.is_empty() {
        return Ok(None);
    }
    let m = holdout_metrics(&p, &a)?;
    Ok(Some(SpendCheck {
        gamma_gamma: [gg.p(), gg.q(), gg.gamma()],
        excluded_nonpositive_spend: gg.n_excluded_nonpositive_spend() as u64,
        customers: p.len() as u64,
        mean_predicted: m.total_predicted / p.len() as f64,
        mean_actual: m.total_actual / p.len() as f64,
        correlation: m.correlation,
    }))
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:+.1}%", 100.0 * v))
        .unwrap_or_else(|| "n/a".into())
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into())
}

/// The report as one self-contained HTML page.
pub fn render_html(r: &ValueEvalReport) -> String {
    let title = format!(
        "{} holdout validation — calibration to {}, holdout to {}",
        r.options.model.name(),
        r.options.as_of,
        r.holdout_end
    );
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:780px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         th{{background:#f4f4f4}}.warn{{color:#a00}}</style></head><body><h1>{t}</h1>",
        t = escape(&title)
    );
    let _ = write!(
        h,
        "<p>Model <code>{}</code> (version {}), fitted on {} customers who bought on or before {}; \
         time unit: days. Holdout: {} days.</p>",
        escape(&r.model_id),
        r.version,
        r.customers,
        r.options.as_of,
        r.horizon_days
    );
    h.push_str(
        "<h2>Parameters</h2><table><tr><th>parameter</th><th>estimate</th><th>std. error</th></tr>",
    );
    for (i, (n, v)) in r.param_names.iter().zip(&r.params).enumerate() {
        let se = r
            .diagnostics
            .standard_errors
            .as_ref()
            .and_then(|s| s.get(i))
            .map(|s| format!("{s:.4}"))
            .unwrap_or_else(|| "n/a".into());
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{v:.4}</td><td>{se}</td></tr>",
            escape(n)
        );
    }
    let d = &r.diagnostics;
    let _ = write!(
        h,
        "</table><p>log-likelihood {:.2}; gradient norm {:.2e}; converged {}; Hessian positive definite {}.</p>",
        d.log_likelihood, d.gradient_norm, d.converged, d.hessian_positive_definite
    );
    for w in &d.warnings {
        let _ = write!(h, "<p class=\"warn\">warning: {}</p>", escape(w));
    }
    let m = &r.holdout;
    let _ = write!(
        h,
        "<h2>Holdout accuracy</h2><table>\
         <tr><th>customers</th><th>actual repeat purchases</th><th>predicted</th><th>aggregate error</th>\
         <th>per-customer correlation</th><th>MAE</th><th>RMSE</th></tr>\
         <tr><td>{}</td><td>{:.0}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr></table>",
        m.n_customers,
        m.total_actual,
        m.total_predicted,
        pct(m.relative_error),
        num(m.correlation),
        m.mae,
        m.rmse
    );
    let c = &r.cumulative;
    let _ = write!(
        h,
        "<p>Cumulative repeat purchases at week {:.1}: actual {:.0}, predicted {:.1} ({}).</p>",
        c.week,
        c.actual,
        c.predicted,
        pct(c.relative_error)
    );
    let t = &r.tracking;
    let svg = line_chart(
        "Cumulative repeat purchases",
        "week",
        "repeat purchases",
        &[
            Series {
                label: "actual",
                points: t
                    .times
                    .iter()
                    .copied()
                    .zip(t.actual_cumulative.iter().copied())
                    .collect(),
                colour: "#1f4e9c",
                dashed: false,
            },
            Series {
                label: r.options.model.name(),
                points: t
                    .times
                    .iter()
                    .copied()
                    .zip(t.predicted_cumulative.iter().copied())
                    .collect(),
                colour: "#c0392b",
                dashed: true,
            },
        ],
        Some((r.calibration_end_week, "end of calibration")),
    );
    let _ = write!(h, "<h2>Tracking curve</h2>{svg}");
    let freq_svg = line_chart(
        "Conditional expectation of holdout purchases",
        "repeat purchases in calibration",
        "mean holdout purchases",
        &[
            Series {
                label: "actual",
                points: r
                    .by_frequency
                    .iter()
                    .map(|b| (f64::from(b.frequency), b.mean_actual))
                    .collect(),
                colour: "#1f4e9c",
                dashed: false,
            },
            Series {
                label: r.options.model.name(),
                points: r
                    .by_frequency
                    .iter()
                    .map(|b| (f64::from(b.frequency), b.mean_predicted))
                    .collect(),
                colour: "#c0392b",
                dashed: true,
            },
        ],
        None,
    );
    let _ = write!(h, "<h2>By calibration frequency</h2>{freq_svg}<table><tr><th>x</th><th>customers</th><th>actual</th><th>predicted</th></tr>");
    for b in &r.by_frequency {
        let _ = write!(
            h,
            "<tr><td>{}{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            b.frequency,
            if b.open_ended { "+" } else { "" },
            b.n_customers,
            b.mean_actual,
            b.mean_predicted
        );
    }
    h.push_str("</table>");
    if let Some(s) = &r.spend {
        let _ = write!(
            h,
            "<h2>Spend (Gamma-Gamma)</h2><p>p {:.3}, q {:.3}, γ {:.3}; {} repeat buyers left out for non-positive spend. \
             On {} customers who bought in both periods: mean predicted spend per purchase {:.2}, actual {:.2}, correlation {}.</p>",
            s.gamma_gamma[0], s.gamma_gamma[1], s.gamma_gamma[2], s.excluded_nonpositive_spend,
            s.customers, s.mean_predicted, s.mean_actual, num(s.correlation)
        );
    }
    h.push_str("<p>Data: <code>report.json</code> beside this page.</p></body></html>");
    h
}
