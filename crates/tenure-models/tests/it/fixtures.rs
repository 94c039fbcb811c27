//! Small readers for the CDNOW fixtures (MIT, from lifetimes 0.11.3; see tests/fixtures/cdnow).

use tenure_models::BtydData;

/// The CDNOW summary as lifetimes ships it.
pub const SUMMARY: &str = "cdnow_customers_summary.csv";
/// The CDNOW summary with each customer's transactions.
pub const WITH_TRANSACTIONS: &str = "cdnow_customers_summary_with_transactions.csv";
/// The raw CDNOW 1/10 sample.
pub const RAW: &str = "CDNOW_sample.txt";

/// A file of `tests/fixtures/cdnow`, found from the crate's folder at run time (cargo sets
/// `CARGO_MANIFEST_DIR` for test runs): a path fixed at compile time would point into whichever
/// checkout first built this binary, since clones share one target directory.
pub fn cdnow(name: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../../tests/fixtures/cdnow")
        .join(name)
}

/// Numeric columns of a CSV with a header row.
pub fn read_csv(name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(cdnow(name)).expect("fixture is readable");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f64>().expect("numeric cell"))
                .collect()
        })
        .collect()
}

/// cdnow_customers_summary.csv as (x, t_x, T) in weeks.
pub fn summary() -> BtydData {
    let rows = read_csv(SUMMARY);
    BtydData::new(
        rows.iter().map(|r| r[1]).collect(),
        rows.iter().map(|r| r[2]).collect(),
        rows.iter().map(|r| r[3]).collect(),
    )
    .expect("valid fixture")
}
