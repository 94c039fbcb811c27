//! `tenure demo`: the whole pipeline on bundled and generated data, end to end.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tenure_sim::{SimParams, SimSummary};
use tenure_store::{parse_date, Horizon, IngestOptions, IngestReport, Status, Store};

use crate::chart::escape;
use crate::error::{EngineError, Result};
use crate::value::{score_value, ValueOptions, ValueSummary};
use crate::value_eval::{evaluate_value, PurchaseModelKind, ValueEvalOptions, ValueEvalReport};

/// The CDNOW 1/10 sample (Fader, Hardie & Lee 2005; MIT, from PyPI `lifetimes` 0.11.3), compiled into
/// the binary so the demo needs no download and no data folder.
pub const CDNOW_SAMPLE: &[u8] = include_bytes!("../../../tests/fixtures/cdnow/CDNOW_sample.txt");

/// How CDNOW's headerless, whitespace-separated columns map to ours.
pub const CDNOW_MAPPING: &[(&str, &str)] = &[
    ("customer_id", "column2"),
    ("ordered_at", "column3"),
    ("quantity", "column4"),
    ("amount", "column5"),
];

/// Options of `tenure demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder that receives the demo projects.
    pub dir: PathBuf,
    /// Customers in the generated shop.
    pub shop_customers: u64,
    /// Seed of the generated shop.
    pub seed: u64,
}

/// One demo project: what was ingested and what the store now holds.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectReport {
    /// Project folder.
    pub dir: PathBuf,
    /// One report per ingested file.
    pub ingests: Vec<IngestReport>,
    /// Status after ingest.
    pub status: Status,
    /// The features file written.
    pub features_file: PathBuf,
    /// Customers in it.
    pub feature_rows: u64,
    /// Value scores of every customer as of the last order day (none without orders).
    pub value: Option<ValueSummary>,
    /// Holdout validation of the purchase model (none without orders).
    pub evaluation: Option<ValueEvalReport>,
}

/// What the demo did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// CDNOW, the real data set.
    pub cdnow: ProjectReport,
    /// The generated shop with every table.
    pub shop: ProjectReport,
    /// What the simulator wrote.
    pub shop_summary: SimSummary,
    /// The static HTML report of the whole demo.
    pub report_html: PathBuf,
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::Io {
            path: dir.into(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| EngineError::Io {
        path: path.into(),
        source,
    })
}

/// Run the demo: ingest CDNOW into `DIR/cdnow`, generate a shop and ingest all of its tables into
/// `DIR/shop`, and write as-of features for both. `stage` is told what is happening, for progress.
pub fn run_demo(opts: &DemoOptions, stage: &mut dyn FnMut(&str, u64)) -> Result<DemoReport> {
    // Real data first.
    let cdnow_dir = opts.dir.join("cdnow");
    let cdnow_file = cdnow_dir.join("data/CDNOW_sample.txt");
    write(&cdnow_file, CDNOW_SAMPLE)?;
    let store = Store::init(&cdnow_dir)?;
    stage("ingest CDNOW orders", 0);
    let map = CDNOW_MAPPING
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let r = store.ingest(
        &cdnow_file,
        &IngestOptions {
            table: "orders".into(),
            map,
            ..Default::default()
        },
        &mut |n| stage("ingest CDNOW orders", n),
    )?;
    let features_file = cdnow_dir.join("features-1997-09-30.csv");
    let as_of = parse_date("1997-09-30")?;
    let feature_rows = store.copy_to(&store.features_sql(as_of)?, &features_file)?;
    stage("score CDNOW customers", 0);
    let value = score_value(&store, &ValueOptions::default())?;
    stage("validate BG/NBD on CDNOW (weeks 40-78)", 0);
    let evaluation = evaluate_value(
        &store,
        &ValueEvalOptions {
            as_of,
            horizon: Horizon::Weeks(39),
            model: PurchaseModelKind::BgNbd,
            max_frequency: 7,
        },
        chrono::Utc::now().naive_utc(),
    )?;
    let cdnow = ProjectReport {
        dir: cdnow_dir,
        ingests: vec![r],
        status: store.status()?,
        features_file,
        feature_rows,
        value: Some(value),
        evaluation: Some(evaluation),
    };
    drop(store);

    // A generated shop with every table.
    let shop_dir = opts.dir.join("shop");
    let data = shop_dir.join("data");
    let params = SimParams {
        customers: opts.shop_customers,
        seed: opts.seed,
        ..SimParams::default()
    };
    stage("generate shop", 0);
    let shop_summary = tenure_sim::generate(&params, &data, &mut |n| stage("generate shop", n))?;
    let store = Store::init(&shop_dir)?;
    let mut ingests = Vec::new();
    for table in [
        "customers",
        "products",
        "orders",
        "order_items",
        "events",
        "reviews",
        "tickets",
    ] {
        let label = format!("ingest {table}");
        stage(&label, 0);
        ingests.push(store.ingest(
            &data.join(format!("{table}.csv")),
            &IngestOptions {
                table: table.into(),
                ..Default::default()
            },
            &mut |n| stage(&label, n),
        )?);
    }
    let as_of = store.last_order_date()?.unwrap_or(params.end);
    let features_file = shop_dir.join(format!("features-{as_of}.parquet"));
    let feature_rows = store.copy_to(&store.features_sql(as_of)?, &features_file)?;
    let (value, evaluation) = if store.count("orders")? > 0 {
        stage("score shop customers", 0);
        let value = score_value(&store, &ValueOptions::default())?;
        stage("validate BG/NBD on the shop (last 90 days held out)", 0);
        let calibration_end = as_of
            .checked_sub_days(chrono::Days::new(90))
            .ok_or_else(|| EngineError::Data("the shop's period is too short".into()))?;
        let evaluation = evaluate_value(
            &store,
            &ValueEvalOptions {
                as_of: calibration_end,
                horizon: Horizon::Days(90),
                model: PurchaseModelKind::BgNbd,
                max_frequency: 7,
            },
            chrono::Utc::now().naive_utc(),
        )?;
        (Some(value), Some(evaluation))
    } else {
        (None, None)
    };
    let shop = ProjectReport {
        dir: shop_dir,
        ingests,
        status: store.status()?,
        features_file,
        feature_rows,
        value,
        evaluation,
    };
    let report_html = opts.dir.join("report.html");
    let report = DemoReport {
        cdnow,
        shop,
        shop_summary,
        report_html,
    };
    write(&report.report_html, render_demo_html(&report).as_bytes())?;
    Ok(report)
}

/// The demo's static report: one page per run with each project's ingest accounting, value summary
/// and RFM groups, linking to the model reports.
pub fn render_demo_html(r: &DemoReport) -> String {
    use std::fmt::Write as _;
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tenure demo</title>\
         <style>body{font-family:sans-serif;max-width:860px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         th{background:#f4f4f4}td:first-child{text-align:left}</style></head><body><h1>tenure demo</h1>",
    );
    for (name, p) in [
        ("CDNOW (real data, 1/10 sample)", &r.cdnow),
        ("Generated shop", &r.shop),
    ] {
        let (Some(v), Some(e)) = (&p.value, &p.evaluation) else {
            continue;
        };
        let _ = write!(
            h,
            "<h2>{}</h2><p>Project <code>{}</code>. {} customers scored as of {}: expected purchases in the next 90 days {:.0}; CLV over 12 months {:.0}.</p>",
            escape(name),
            escape(&p.dir.display().to_string()),
            v.customers,
            v.as_of,
            v.expected_purchases_90d,
            v.clv_total
        );
        h.push_str("<table><tr><th>file / table</th><th>read</th><th>accepted</th><th>duplicate</th><th>conflicting</th><th>rejected</th></tr>");
        for i in &p.ingests {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&i.table),
                i.read,
                i.accepted,
                i.duplicate,
                i.conflicting,
                i.rejected
            );
        }
        h.push_str("</table><table><tr><th>RFM group</th><th>customers</th><th>spend</th><th>CLV</th></tr>");
        for (g, s) in &v.groups {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td></tr>",
                escape(g),
                s.customers,
                s.spend,
                s.clv
            );
        }
        let rel = |o: Option<f64>| {
            o.map(|v| format!("{:+.1}%", 100.0 * v))
                .unwrap_or_else(|| "n/a".into())
        };
        let link = e
            .report_html
            .strip_prefix(r.report_html.parent().unwrap_or(Path::new("")))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| e.report_html.display().to_string());
        let _ = write!(
            h,
            "</table><p>Holdout validation ({} to {}): per-customer correlation {}, aggregate error {}, \
             cumulative repeat purchases at the end {}. <a href=\"{}\">Model report</a>.</p>",
            e.options.as_of,
            e.holdout_end,
            e.holdout.correlation.map(|c| format!("{c:.3}")).unwrap_or_else(|| "n/a".into()),
            rel(e.holdout.relative_error),
            rel(e.cumulative.relative_error),
            escape(&link)
        );
    }
    h.push_str("</body></html>");
    h
}
