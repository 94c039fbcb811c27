//! Store-less value scoring (`score value --orders FILE`) agrees with the project path.

use std::collections::HashMap;

use tenure_engine::store::{
    arrow::array::{Array, Float64Array, StringArray},
    parse_date, IngestOptions, OrdersFileOptions, TimeZone,
};
use tenure_engine::{score_orders_file, score_value, ValueOptions, CDNOW_MAPPING, CDNOW_SAMPLE};

use crate::cdnow_project;

/// Per customer: (rfm_group, p_alive, expected_purchases_90d, clv) from a scores CSV.
fn read_csv(path: &std::path::Path) -> HashMap<String, (String, f64, f64, f64)> {
    let mut r = csv::Reader::from_path(path).expect("scores csv");
    let h = r.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect(n);
    let (id, g, p, e, c) = (
        col("customer_id"),
        col("rfm_group"),
        col("p_alive"),
        col("expected_purchases_90d"),
        col("clv"),
    );
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            (
                rec[id].to_string(),
                (rec[g].to_string(), num(&rec[p]), num(&rec[e]), num(&rec[c])),
            )
        })
        .collect()
}

#[test]
fn scores_from_the_file_equal_the_project_scores() {
    let (dir, store) = cdnow_project();
    let as_of = parse_date("1997-09-30").expect("date");
    let opts = ValueOptions {
        as_of: Some(as_of),
        interval_resamples: Some(0),
        ..Default::default()
    };
    let project = score_value(&store, &opts).expect("project scores");
    let batches = store
        .query_arrow(&format!(
            "SELECT customer_id, rfm_group, p_alive, expected_purchases_90d, clv FROM customer_scores WHERE run_id = '{}'",
            project.run_id
        ))
        .expect("query");
    let mut stored = HashMap::new();
    for b in &batches {
        let s = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("text")
                .clone()
        };
        let f = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("number")
                .clone()
        };
        let (ids, groups, p, e, c) = (s(0), s(1), f(2), f(3), f(4));
        for i in 0..b.num_rows() {
            let v = |a: &Float64Array| if a.is_null(i) { f64::NAN } else { a.value(i) };
            stored.insert(
                ids.value(i).to_string(),
                (groups.value(i).to_string(), v(&p), v(&e), v(&c)),
            );
        }
    }

    let sample = dir.path().join("CDNOW_sample.txt");
    std::fs::write(&sample, CDNOW_SAMPLE).expect("write sample");
    let out = dir.path().join("scores.csv");
    let file_opts = OrdersFileOptions {
        input: IngestOptions {
            table: "orders".into(),
            map: CDNOW_MAPPING
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ..Default::default()
        },
        time_zone: TimeZone::parse("UTC").expect("zone"),
        date_format: None,
        rejects: dir.path().join("rejects.csv"),
    };
    let file = score_orders_file(&sample, &file_opts, &opts, &out, &[]).expect("file scores");
    assert_eq!(file.input.read, 6_919);
    assert!(file.input.balanced());
    assert_eq!(file.customers, 2_357);
    assert_eq!(file.as_of, as_of);
    for (a, b) in file.bg_nbd.iter().zip(project.bg_nbd) {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs(),
            "{:?} vs {:?}",
            file.bg_nbd,
            project.bg_nbd
        );
    }
    let scored = read_csv(&out);
    assert_eq!(scored.len(), stored.len());
    let close =
        |a: f64, b: f64| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + b.abs());
    for (id, (g, p, e, c)) in &stored {
        let (fg, fp, fe, fc) = scored.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(fg, g, "{id}");
        assert!(
            close(*fp, *p) && close(*fe, *e) && close(*fc, *c),
            "{id}: file ({fp}, {fe}, {fc}) vs project ({p}, {e}, {c})"
        );
    }

    // `--columns`: only the named columns (customer id first), the same values, and the skipped
    // work leaves no RFM groups behind.
    let some = dir.path().join("some.csv");
    let names: Vec<String> = ["clv", "p_alive", "expected_purchases_90d"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let part = score_orders_file(&sample, &file_opts, &opts, &some, &names).expect("some columns");
    assert!(part.groups.is_empty(), "RFM was not asked for");
    let mut r = csv::Reader::from_path(&some).expect("scores csv");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        ["customer_id", "clv", "p_alive", "expected_purchases_90d"]
    );
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.expect("row");
        let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
        let (_, p, e, c) = stored.get(&rec[0]).expect("known customer");
        assert!(
            close(num(&rec[1]), *c) && close(num(&rec[2]), *p) && close(num(&rec[3]), *e),
            "{}: {:?}",
            &rec[0],
            rec
        );
        rows += 1;
    }
    assert_eq!(rows, stored.len());
    let unknown = vec!["p_alive".to_string(), "churn".to_string()];
    let err =
        score_orders_file(&sample, &file_opts, &opts, &some, &unknown).expect_err("unknown column");
    assert!(err.to_string().contains("`churn`"), "{err}");
}
