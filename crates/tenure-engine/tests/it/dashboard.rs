//! The dashboard's figures on CDNOW: consistent with each other, with the store's raw rows, and
//! with what is known about the sample (2,357 customers whose first purchases all fall in the
//! first quarter of 1997).

use tenure_engine::{
    cohorts, customer_detail, model_report, models, overview, rfm_grid, risk_distribution,
    rows_json, search_customers, sentiment_trend, RiskSource,
};

#[test]
fn dashboard_figures_on_cdnow_agree_with_the_data() {
    let (_dir, store) = crate::cdnow_project();
    let raw = rows_json(
        &store
            .query_arrow("SELECT count(*) AS n, sum(amount) AS s FROM orders")
            .expect("raw orders"),
    )
    .expect("rows");
    let (n_orders, revenue) = (
        raw[0]["n"].as_i64().expect("n"),
        raw[0]["s"].as_f64().expect("s"),
    );

    let o = overview(&store).expect("overview");
    assert_eq!(o.customers, 2357);
    assert_eq!(o.orders, n_orders);
    assert!(
        (o.revenue - revenue).abs() < 1e-6 * revenue,
        "{} vs {revenue}",
        o.revenue
    );
    let a = &o.activity;
    assert_eq!(a.active + a.at_risk + a.lost + a.unknown, o.customers);
    assert!(a.active > 0 && a.lost > 0);
    let binned: i64 = o.clv_histogram.iter().map(|b| b.count).sum();
    assert_eq!(binned, o.customers, "every customer has a CLV on CDNOW");
    assert!(
        o.clv_histogram.last().is_some_and(|b| b.open),
        "the tail is clipped"
    );

    let g = rfm_grid(&store).expect("rfm");
    assert_eq!(g.groups.len(), 11);
    let sizes: i64 = g.groups.iter().filter_map(|s| s.customers).sum();
    assert_eq!(sizes, o.customers);
    let cells: i64 = g.cells.iter().map(|c| c.customers).sum();
    assert_eq!(cells, o.customers, "no prospects in CDNOW");
    let clv: f64 = g.groups.iter().filter_map(|s| s.clv).sum();
    assert!((clv - o.clv_total).abs() < 1e-6 * o.clv_total);

    let c = cohorts(&store).expect("cohorts");
    let names: Vec<&str> = c.rows.iter().map(|r| r.cohort.as_str()).collect();
    assert_eq!(names, ["1997-01", "1997-02", "1997-03"]);
    assert_eq!(c.rows.iter().map(|r| r.customers).sum::<i64>(), 2357);
    // Scored as of the last order day, 1998-06-30: months 0 … 17 after January 1997.
    assert_eq!(c.months, 18);
    for r in &c.rows {
        assert_eq!(r.retention.len(), 18);
        assert_eq!(r.retention[0], Some(1.0), "{}", r.cohort);
        assert!(r
            .retention
            .iter()
            .flatten()
            .all(|v| (0.0..=1.0).contains(v)));
    }
    assert_eq!(
        c.rows[2].retention[17], None,
        "March's cohort has 16 months to June 1998"
    );

    assert_eq!(sentiment_trend(&store).expect("sentiment").reviews, 0);

    let r = risk_distribution(&store).expect("risk");
    assert_eq!(r.source, RiskSource::PAlive);
    assert_eq!(r.customers, 2357);
    assert_eq!(r.histogram.iter().map(|b| b.count).sum::<i64>(), 2357);
    assert!(r.by_group.iter().all(|g| g.customers > 0));

    let reg = models(&store).expect("registry");
    let bg = reg
        .iter()
        .find(|m| m.kind == "bg_nbd")
        .expect("the demo registers BG/NBD");
    let rep = model_report(&store, &bg.model_id)
        .expect("report")
        .expect("known id");
    let t = rep.tracking.expect("a tracking curve");
    assert_eq!(t.weeks.len(), t.actual.len());
    assert_eq!(t.weeks.len(), t.predicted.len());
    assert!(rep.has_html && rep.classifier.is_none());
    assert!(model_report(&store, "nope").expect("lookup").is_none());

    let found = search_customers(&store, "0001").expect("search");
    assert_eq!(
        found.items[0]["customer_id"], "0001",
        "an exact match first"
    );
    let some = search_customers(&store, "000").expect("search");
    assert!(
        some.items.len() >= 9,
        "ids containing 000: 0001 … 0009, 1000, 2000"
    );
    assert!(some.items.iter().all(|i| i["customer_id"]
        .as_str()
        .is_some_and(|id| id.contains("000"))));
    assert!(search_customers(&store, &"x".repeat(201)).is_err());
    let top = search_customers(&store, "").expect("top");
    assert_eq!(top.items.len(), tenure_engine::SEARCH_LIMIT);
    let d = customer_detail(&store, "0001")
        .expect("detail")
        .expect("known");
    assert_eq!(
        d.monthly.iter().map(|m| m.orders).sum::<i64>(),
        d.profile
            .features
            .as_ref()
            .and_then(|f| f["orders"].as_i64())
            .expect("orders")
    );
    assert!(customer_detail(&store, "<nobody>")
        .expect("lookup")
        .is_none());
}
