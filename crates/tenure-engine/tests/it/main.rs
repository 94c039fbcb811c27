//! The demo pipeline end to end on bundled CDNOW and a small generated shop.

use tenure_engine::store::{parse_date, Store};
use tenure_engine::{run_demo, score_value, DemoOptions, ValueOptions};

#[test]
fn demo_runs_and_accounts_for_every_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run_demo(
        &DemoOptions {
            dir: dir.path().to_path_buf(),
            shop_customers: 300,
            seed: 7,
        },
        &mut |_, _| {},
    )
    .expect("demo runs");
    assert_eq!(report.cdnow.ingests[0].read, 6_919);
    assert_eq!(report.cdnow.feature_rows, 2_357);
    for r in report.cdnow.ingests.iter().chain(&report.shop.ingests) {
        assert!(r.balanced(), "{r:?}");
        assert_eq!(r.rejected, 0, "the simulator writes only valid rows: {r:?}");
    }
    let orders = report
        .shop
        .ingests
        .iter()
        .find(|r| r.table == "orders")
        .expect("orders ingested");
    assert_eq!(orders.accepted, report.shop_summary.orders);
    assert!(
        report
            .shop
            .status
            .capabilities_off
            .iter()
            .all(|c| c.contains("exposures")),
        "{:?}",
        report.shop.status.capabilities_off
    );
    assert!(report.shop.feature_rows >= 300);
}

/// Value scoring through the store on CDNOW reproduces the paper's BG/NBD fit (days = weeks × 7).
#[test]
fn score_value_on_cdnow_matches_the_paper_and_writes_scores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run_demo(
        &DemoOptions {
            dir: dir.path().to_path_buf(),
            shop_customers: 0,
            seed: 1,
        },
        &mut |_, _| {},
    )
    .expect("demo runs");
    let store = Store::open(&report.cdnow.dir).expect("open");
    let s = score_value(
        &store,
        &ValueOptions {
            as_of: Some(parse_date("1997-09-30").expect("date")),
            ..Default::default()
        },
    )
    .expect("scores");
    let [r, alpha, a, b] = s.bg_nbd;
    // Fader, Hardie & Lee (2005): r 0.2426, alpha 4.4136 (weeks), a 0.7929, b 2.4259.
    assert!((r - 0.2426).abs() < 5e-4, "r {r}");
    assert!((alpha / 7.0 - 4.4136).abs() < 5e-3, "alpha {alpha}");
    assert!(
        (a - 0.7929).abs() < 5e-4 && (b - 2.4259).abs() < 5e-3,
        "a {a} b {b}"
    );
    assert_eq!(s.customers, 2_357);
    assert_eq!(store.count("customer_scores").expect("count"), 2_357);
    let groups: u64 = s.groups.values().map(|g| g.customers).sum();
    assert_eq!(groups, 2_357);
    assert!(s.clv_total.is_finite() && s.clv_total > 0.0);
}
