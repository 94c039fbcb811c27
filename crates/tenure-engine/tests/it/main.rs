//! The demo pipeline end to end on bundled CDNOW and a small generated shop.

use tenure_engine::{run_demo, DemoOptions};

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
