//! A customer's profile gathers the language engine's outputs: narrative and review sentiment.

use tenure_engine::store::{ReviewAnalysisRow, Store};
use tenure_engine::{customer_profile, run_demo, write_narratives, DemoOptions, PiiMode};

#[test]
fn profile_shows_narrative_and_review_sentiment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run_demo(
        &DemoOptions {
            dir: dir.path().to_path_buf(),
            shop_customers: 200,
            seed: 3,
        },
        &mut |_, _| {},
    )
    .expect("demo runs");
    let store = Store::open(&report.shop.dir).expect("open");
    let reviews = store.review_texts().expect("reviews");
    let first = reviews.first().expect("the shop has reviews");
    let customer = first.customer_id.clone();

    // Nothing analysed or narrated yet: both empty, not an error.
    let p = customer_profile(&store, &customer, PiiMode::Masked)
        .expect("profile")
        .expect("known customer");
    assert!(p.sentiment.is_none() && p.narrative.is_none());

    // Every review of the shop analysed as negative with probability 0.8.
    let rows: Vec<ReviewAnalysisRow> = reviews
        .iter()
        .map(|r| ReviewAnalysisRow {
            review_id: r.review_id.clone(),
            label: "negative".into(),
            probability: 0.8,
        })
        .collect();
    let now = chrono::Utc::now().naive_utc();
    store
        .replace_review_analysis("test-head", now, &rows)
        .expect("analysis stored");
    write_narratives(&store, None, now).expect("narratives");

    let p = customer_profile(&store, &customer, PiiMode::Masked)
        .expect("profile")
        .expect("known customer");
    let s = p.sentiment.expect("sentiment of the analysed reviews");
    assert_eq!(s["model"], "test-head");
    assert!(s["reviews"].as_i64().expect("count") >= 1);
    assert!((s["satisfaction"].as_f64().expect("mean") - 0.2).abs() < 1e-9);
    assert_eq!(s["negative_share"].as_f64(), Some(1.0));
    assert_eq!(s["last_label"], "negative");
    let n = p.narrative.expect("narrative written");
    assert!(!n.is_empty());
}
