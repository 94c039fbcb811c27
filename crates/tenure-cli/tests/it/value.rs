//! `score value`, `eval value` and `bench value` through the binary, including the hostile inputs of
//! issue 3: all one-time buyers, one customer, huge x, T = t_x, zero spend. Each gives a clear
//! message or a result, never a panic and never a NaN in the output.

use std::fmt::Write as _;
use std::path::Path;

use super::{fixture, ingest_cdnow_args, json, tenure, CDNOW_MAP};

/// A project holding `rows` (customer, YYYY-MM-DD, amount) as its orders.
fn project_with(dir: &Path, rows: &[(String, String, f64)]) {
    let mut csv = String::from("customer_id,ordered_at,amount\n");
    for (c, d, a) in rows {
        let _ = writeln!(csv, "{c},{d},{a}");
    }
    let file = dir.join("orders.csv");
    std::fs::write(&file, csv).expect("write orders");
    assert!(tenure(dir, &["init"]).status.success());
    let out = tenure(
        dir,
        &[
            "ingest",
            file.to_str().expect("utf8"),
            "--table",
            "orders",
            "--json",
        ],
    );
    assert_eq!(json(&out)["rejected"], 0);
}

fn day(offset: i64) -> String {
    (chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("date") + chrono::Duration::days(offset))
        .to_string()
}

/// No stored score is NaN or infinite (DuckDB's isfinite is false for NULL-free NaN/inf only).
fn assert_scores_finite(dir: &Path) {
    let out = tenure(
        dir,
        &[
            "sql",
            "SELECT count(*) AS bad FROM customer_scores WHERE NOT (isfinite(coalesce(p_alive, 0)) AND isfinite(coalesce(expected_purchases_90d, 0)) AND isfinite(coalesce(clv, 0)) AND isfinite(coalesce(clv_low, 0)) AND isfinite(coalesce(clv_high, 0)) AND isfinite(coalesce(expected_avg_spend, 0)))",
            "--json",
        ],
    );
    let v = json(&out);
    assert_eq!(v[0]["bad"], 0, "{v}");
}

fn score(dir: &Path) -> std::process::Output {
    tenure(
        dir,
        &["score", "value", "--interval-resamples", "20", "--json"],
    )
}

#[test]
fn all_one_time_buyers_get_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<_> = (0..300)
        .map(|i| (format!("c{i}"), day(i % 200), 10.0))
        .collect();
    project_with(dir.path(), &rows);
    let out = score(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repeat purchase"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn one_customer_gives_warnings_and_finite_scores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<_> = (0..10)
        .map(|k| ("c1".to_string(), day(7 * k), 20.0))
        .collect();
    project_with(dir.path(), &rows);
    let v = json(&score(dir.path()));
    assert_eq!(v["customers"], 1);
    assert!(!v["bg_nbd_diagnostics"]["warnings"]
        .as_array()
        .expect("warnings")
        .is_empty());
    assert_scores_finite(dir.path());
}

#[test]
fn huge_frequency_equal_recency_and_zero_spend_score_without_nan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rows = Vec::new();
    // One customer buying every day for four years: x = 1460.
    rows.extend((0..1461).map(|k| ("heavy".to_string(), day(k), 5.0)));
    // Customers whose last purchase is on the as-of day (t_x = T).
    rows.extend((0..100).flat_map(|i| {
        [
            (format!("edge{i}"), day(1000 + i), 12.0),
            (format!("edge{i}"), day(1460), 12.0),
        ]
    }));
    // Customers who only ever spent zero.
    rows.extend(
        (0..100).flat_map(|i| (0..3).map(move |k| (format!("free{i}"), day(100 * k + i), 0.0))),
    );
    rows.extend((0..300).map(|i| (format!("once{i}"), day(i * 4), 30.0)));
    project_with(dir.path(), &rows);
    let v = json(&score(dir.path()));
    assert_eq!(v["customers"], 501);
    assert!(v["clv_total"].as_f64().expect("clv").is_finite());
    assert_scores_finite(dir.path());
    let heavy = json(&tenure(
        dir.path(),
        &[
            "sql",
            "SELECT p_alive, expected_purchases_90d FROM customer_scores WHERE customer_id = 'heavy'",
            "--json",
        ],
    ));
    let e90 = heavy[0]["expected_purchases_90d"].as_f64().expect("e90");
    assert!(
        e90 > 50.0 && e90 < 100.0,
        "a daily buyer expects ~90: {e90}"
    );
}

#[test]
fn zero_spend_everywhere_still_scores_purchases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<_> = (0..200)
        .flat_map(|i| (0..(1 + i % 4)).map(move |k| (format!("c{i}"), day(30 * k + i % 7), 0.0)))
        .collect();
    project_with(dir.path(), &rows);
    let v = json(&score(dir.path()));
    assert!(v["gamma_gamma"].is_null());
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("spend model not fitted"), "{warnings}");
    let counts = json(&tenure(
        dir.path(),
        &[
            "sql",
            "SELECT count(p_alive) AS scored, count(clv) AS with_clv FROM customer_scores",
            "--json",
        ],
    ));
    assert_eq!(counts[0]["scored"], 200);
    assert_eq!(counts[0]["with_clv"], 0);
    assert_scores_finite(dir.path());
}

#[test]
fn eval_value_writes_the_report_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    assert!(tenure(p, &["init"]).status.success());
    let cdnow = fixture("cdnow/CDNOW_sample.txt");
    let args = ingest_cdnow_args(&cdnow);
    let ingest = tenure(p, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ingest.status.success());
    let v = json(&tenure(
        p,
        &[
            "eval",
            "value",
            "--as-of",
            "1997-09-30",
            "--horizon",
            "39w",
            "--json",
        ],
    ));
    assert!(v["holdout"]["correlation"].as_f64().expect("corr") >= 0.62);
    assert!(
        v["cumulative"]["relative_error"]
            .as_f64()
            .expect("rel")
            .abs()
            < 0.05
    );
    let html = v["report_html"].as_str().expect("path");
    assert!(std::fs::read_to_string(html)
        .expect("report")
        .contains("<svg"));
    let bad = tenure(
        p,
        &["eval", "value", "--as-of", "1997-09-30", "--horizon", "39q"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("horizon"));
}

#[test]
fn bench_value_runs_small() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = json(&tenure(
        dir.path(),
        &["bench", "value", "--customers", "20000", "--json"],
    ));
    assert_eq!(v["report"]["customers"], 20000);
    let r = v["report"]["bg_nbd"][0].as_f64().expect("r");
    assert!((r - 0.25).abs() < 0.05, "recovers r: {r}");
}

/// `score value --orders FILE --out CSV` scores a file without a project: every row accounted for,
/// refused rows in the rejects file (exit 3), one scores row per customer, no database written.
#[test]
fn score_value_from_a_file_without_a_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = fixture("cdnow/CDNOW_sample.txt");
    let mut text = std::fs::read_to_string(&sample).expect("sample");
    text.push_str("   9999 1997XX01   1   10.00\n   9998 19970101   1   ten\n");
    let file = dir.path().join("orders.txt");
    std::fs::write(&file, text).expect("write");
    let out_csv = dir.path().join("out/scores.csv");
    let out = tenure(
        dir.path(),
        &[
            &["score", "value", "--orders", file.to_str().expect("utf8")][..],
            &CDNOW_MAP,
            &[
                "--as-of",
                "1997-09-30",
                "--interval-resamples",
                "0",
                "--out",
                out_csv.to_str().expect("utf8"),
                "--json",
            ][..],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(3), "refused rows give exit code 3");
    let v = json(&out);
    let input = &v["input"];
    assert_eq!(input["read"], 6_921);
    assert_eq!(input["accepted"], 6_919);
    assert_eq!(input["rejected"], 2);
    assert_eq!(v["customers"], 2_357);
    let rejects = std::fs::read_to_string(input["rejects_file"].as_str().expect("rejects file"))
        .expect("rejects");
    assert!(
        rejects.contains("1997XX01") && rejects.contains("ten"),
        "{rejects}"
    );
    let scores = std::fs::read_to_string(&out_csv).expect("scores");
    assert_eq!(
        scores.lines().count(),
        2_358,
        "header + one row per customer"
    );
    assert!(!scores.contains("NaN") && !scores.contains("inf"));
    assert!(
        !dir.path().join("tenure.duckdb").exists(),
        "no project is created"
    );

    // Flags that describe a file are refused without one; a missing --out is explained.
    let out = tenure(dir.path(), &["score", "value", "--map", "amount=x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--orders"));
    let out = tenure(
        dir.path(),
        &["score", "value", "--orders", file.to_str().expect("utf8")],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}
