//! `tenure demo`: the whole pipeline on bundled and generated data, end to end.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tenure_sim::{SimParams, SimSummary};
use tenure_store::{parse_date, IngestOptions, IngestReport, Status, Store};

use crate::error::{EngineError, Result};

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
    let cdnow = ProjectReport {
        dir: cdnow_dir,
        ingests: vec![r],
        status: store.status()?,
        features_file,
        feature_rows,
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
    let shop = ProjectReport {
        dir: shop_dir,
        ingests,
        status: store.status()?,
        features_file,
        feature_rows,
    };
    Ok(DemoReport {
        cdnow,
        shop,
        shop_summary,
    })
}
