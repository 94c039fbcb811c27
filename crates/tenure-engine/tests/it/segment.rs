//! `segment cluster` on a small generated shop: every customer clustered, names distinct, one
//! customer re-assigned from the saved model exactly as the batch did.

use std::collections::{BTreeMap, HashSet};

use tenure_engine::store::Store;
use tenure_engine::{
    assign_customer, load_cluster_model, run_demo, score_value, segment_clusters, ClusterOptions,
    DemoOptions, ValueOptions,
};

#[test]
fn clusters_a_generated_shop_and_assigns_one_customer_like_the_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run_demo(
        &DemoOptions {
            dir: dir.path().to_path_buf(),
            shop_customers: 500,
            seed: 11,
        },
        &mut |_, _| {},
    )
    .expect("demo runs");
    let store = Store::open(&report.shop.dir).expect("open");
    score_value(
        &store,
        &ValueOptions {
            interval_resamples: Some(0),
            ..Default::default()
        },
    )
    .expect("value scores");
    let now = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
        .and_then(|d| d.and_hms_opt(3, 4, 5))
        .expect("time");
    let s = segment_clusters(&store, &ClusterOptions::default(), now).expect("clusters");

    assert!((3..=8).contains(&s.k), "k {}", s.k);
    assert_eq!(s.k_scores.len(), 6);
    assert!(
        s.silhouette.is_finite() && s.silhouette > 0.0,
        "{}",
        s.silhouette
    );
    assert!(s.k_scores.iter().all(|k| k.silhouette.is_finite()));
    assert!(s.scores_run_id.is_some(), "value scores are features");
    assert!(
        s.features.iter().any(|f| f == "p_alive"),
        "{:?}",
        s.features
    );
    assert!(s.has_text);
    assert!(
        (0..4).all(|j| s.features.iter().any(|f| *f == format!("emb_mean_{j}"))),
        "reduced text embeddings are clustered on: {:?}",
        s.features
    );
    let names: HashSet<&str> = s.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), s.k, "distinct names: {names:?}");
    assert!(s
        .clusters
        .iter()
        .all(|c| !c.name.is_empty() && !c.name_zh.is_empty()));
    assert!(s.clusters.iter().any(|c| !c.top_words.is_empty()));
    assert_eq!(
        s.clusters.iter().map(|c| c.size).sum::<usize>(),
        s.customers
    );

    // Every customer known on the day has exactly one row.
    let customers = store.count("customers").expect("count") as usize;
    assert!(s.customers >= customers.min(500));
    assert_eq!(
        store.count("customer_clusters").expect("count") as usize,
        s.customers
    );
    let b = store
        .query_arrow(
            "SELECT count(DISTINCT customer_id) AS n, count(*) FILTER (WHERE cluster_name = '') AS unnamed FROM customer_clusters",
        )
        .expect("query");
    let row = tenure_engine::store::arrow::util::pretty::pretty_format_batches(&b)
        .expect("format")
        .to_string();
    assert!(row.contains(&format!("| {} ", s.customers)), "{row}");

    // The registry holds the model, and one customer lands where the batch put them.
    let model = load_cluster_model(&store, None).expect("saved model");
    assert_eq!(model.model_id, s.model_id);
    let sample = store
        .query_arrow(
            "SELECT customer_id, cluster, distance FROM customer_clusters ORDER BY customer_id",
        )
        .expect("query");
    let mut batch: BTreeMap<String, (i32, f64)> = BTreeMap::new();
    for b in &sample {
        use tenure_engine::store::arrow::array::{Array, Float64Array, Int32Array, StringArray};
        let id = b
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text");
        let cl = b
            .column(1)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("int");
        let d = b
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("float");
        for i in 0..id.len() {
            batch.insert(id.value(i).to_string(), (cl.value(i), d.value(i)));
        }
    }
    for (id, (cluster, distance)) in batch.iter().step_by(37) {
        let a = assign_customer(&store, &model, id, None).expect("assigns");
        assert_eq!(a.cluster as i32, *cluster, "customer {id}");
        assert!((a.distance - distance).abs() < 1e-9, "customer {id}");
    }
    assert!(assign_customer(&store, &model, "no-such-customer", None).is_err());
}
