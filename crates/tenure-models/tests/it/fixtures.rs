//! Small readers for the CDNOW fixtures (MIT, from lifetimes 0.11.3; see tests/fixtures/cdnow).

use tenure_models::BtydData;

pub const SUMMARY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/cdnow/cdnow_customers_summary.csv"
);
pub const WITH_TRANSACTIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv"
);
pub const RAW: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/cdnow/CDNOW_sample.txt"
);

/// Numeric columns of a CSV with a header row.
pub fn read_csv(path: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).expect("fixture is readable");
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
