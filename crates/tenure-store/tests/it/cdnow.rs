//! CDNOW sample (Fader, Hardie & Lee 2005): ingest accounting and the paper's (x, t_x, T) summary.

use tenure_store::{parse_date, Horizon, IngestOptions, Store};

use crate::{col_f64, col_i64, col_str, fixture};

pub fn cdnow_options() -> IngestOptions {
    IngestOptions {
        table: "orders".into(),
        map: vec![
            ("customer_id".into(), "column2".into()),
            ("ordered_at".into(), "column3".into()),
            ("amount".into(), "column5".into()),
        ],
        ..Default::default()
    }
}

fn ingest_cdnow(dir: &std::path::Path) -> Store {
    let store = Store::init(dir).expect("init");
    let r = store
        .ingest(
            &fixture("cdnow/CDNOW_sample.txt"),
            &cdnow_options(),
            &mut |_| {},
        )
        .expect("ingest CDNOW");
    assert_eq!(r.read, 6_919);
    assert!(r.balanced());
    assert_eq!(
        r.accepted, 6_919,
        "identical purchases in one file stay separate rows: {r:?}"
    );
    assert_eq!(r.rejected, 0);
    assert!(!r.header);
    assert_eq!(r.delimiter.as_deref(), Some("whitespace"));
    store
}

#[test]
fn cdnow_summary_matches_the_paper_for_every_customer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ingest_cdnow(dir.path());
    let f = store
        .customer_features(parse_date("1997-09-30").expect("date"))
        .expect("features");
    let ids = col_str(&f, "customer_id");
    assert_eq!(ids.len(), 2_357);
    let x = col_i64(&f, "x");
    let tx = col_f64(&f, "t_x_weeks");
    let t = col_f64(&f, "T_weeks");
    let text =
        std::fs::read_to_string(fixture("cdnow/cdnow_customers_summary.csv")).expect("summary");
    let mut checked = 0;
    for (i, line) in text.lines().skip(1).enumerate() {
        let v: Vec<&str> = line.split(',').collect();
        let id: u32 = v[0].parse().expect("id");
        assert_eq!(
            ids[i]
                .as_deref()
                .map(|s| s.parse::<u32>().expect("numeric id")),
            Some(id)
        );
        assert_eq!(
            x[i],
            Some(v[1].parse::<i64>().expect("x")),
            "x of customer {id}"
        );
        let want_tx: f64 = v[2].parse().expect("t_x");
        let want_t: f64 = v[3].parse().expect("T");
        assert!(
            (tx[i].expect("t_x") - want_tx).abs() < 0.005 + 1e-9,
            "t_x of {id}: {:?} vs {want_tx}",
            tx[i]
        );
        assert!(
            (t[i].expect("T") - want_t).abs() < 0.005 + 1e-9,
            "T of {id}: {:?} vs {want_t}",
            t[i]
        );
        checked += 1;
    }
    assert_eq!(checked, 2_357);
    // zbar of the Gamma-Gamma file is the mean spend per repeat purchase day.
    let zbar_file = std::fs::read_to_string(fixture(
        "cdnow/cdnow_customers_summary_with_transactions.csv",
    ))
    .expect("file");
    let mm = col_f64(&f, "monetary_mean");
    for (i, line) in zbar_file.lines().skip(1).enumerate().take(200) {
        let v: Vec<&str> = line.split(',').collect();
        let zbar: f64 = v[4].parse().expect("zbar");
        match mm[i] {
            Some(m) => assert!((m - zbar).abs() < 0.006, "zbar of row {i}: {m} vs {zbar}"),
            None => assert_eq!(zbar, 0.0),
        }
    }
}

#[test]
fn reingest_changes_nothing_and_features_never_read_past_as_of() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ingest_cdnow(dir.path());
    let again = store
        .ingest(
            &fixture("cdnow/CDNOW_sample.txt"),
            &cdnow_options(),
            &mut |_| {},
        )
        .expect("second ingest");
    assert_eq!(
        (
            again.accepted,
            again.duplicate,
            again.conflicting,
            again.rejected
        ),
        (0, 6_919, 0, 0)
    );
    assert_eq!(store.count("orders").expect("count"), 6_919);

    let as_of = parse_date("1997-09-30").expect("date");
    let before = store.customer_features(as_of).expect("features");
    let before_h = store
        .calibration_holdout(as_of, Horizon::parse("39w").expect("h"))
        .expect("holdout");
    // Rows after as_of — including one at 00:00 the next day and a new customer — change nothing.
    let late = dir.path().join("late.csv");
    std::fs::write(
        &late,
        "order_id,customer_id,ordered_at,amount\nL1,0001,1997-10-01T00:00:00,99\nL2,9999,1997-12-01,5\nL3,0002,1999-01-01,1\n",
    )
    .expect("write");
    let r = store
        .ingest(
            &late,
            &IngestOptions {
                table: "orders".into(),
                ..Default::default()
            },
            &mut |_| {},
        )
        .expect("late ingest");
    assert_eq!(r.accepted, 3);
    let after = store.customer_features(as_of).expect("features");
    let whole = |b: &[tenure_store::arrow::record_batch::RecordBatch]| {
        tenure_store::arrow::compute::concat_batches(&b[0].schema(), b).expect("same schema")
    };
    let (b, a) = (whole(&before), whole(&after));
    assert_eq!(b.schema(), a.schema());
    for (i, f) in b.schema().fields().iter().enumerate() {
        if f.data_type() == &tenure_store::arrow::datatypes::DataType::Float64 {
            // Sums of doubles may differ in the last bit between runs (parallel aggregation order).
            let x = col_f64(&before, f.name());
            let y = col_f64(&after, f.name());
            for (p, q) in x.iter().zip(&y) {
                match (p, q) {
                    (Some(p), Some(q)) => assert!(
                        (p - q).abs() <= 1e-9 * p.abs().max(1.0),
                        "{}: {p} vs {q}",
                        f.name()
                    ),
                    _ => assert_eq!(p, q, "{}", f.name()),
                }
            }
        } else {
            assert_eq!(
                b.column(i),
                a.column(i),
                "column {} read a row from after the as-of date",
                f.name()
            );
        }
    }
    // The holdout labels do see the new rows in (as_of, as_of + 39w].
    let after_h = store
        .calibration_holdout(as_of, Horizon::parse("39w").expect("h"))
        .expect("holdout");
    let orders_before: i64 = col_i64(&before_h, "holdout_orders").iter().flatten().sum();
    let orders_after: i64 = col_i64(&after_h, "holdout_orders").iter().flatten().sum();
    assert_eq!(
        orders_after,
        orders_before + 1,
        "L1 is in the holdout, L3 is past it, L2 is a new customer"
    );
    // Actual holdout repeat purchases (weeks 40-78) from the raw transactions.
    let rep: i64 = col_i64(&before_h, "holdout_purchase_days")
        .iter()
        .flatten()
        .sum();
    assert!(rep > 1_000, "holdout repeat purchases {rep}");
}

#[test]
fn export_and_read_only_sql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ingest_cdnow(dir.path());
    let out = dir.path().join("orders.parquet");
    assert_eq!(store.export_table("orders", &out).expect("export"), 6_919);
    let b = store
        .query_read_only("SELECT count(*) AS n FROM orders")
        .expect("query");
    assert_eq!(col_i64(&b, "n"), vec![Some(6_919)]);
    assert!(store.query_read_only("DELETE FROM orders").is_err());
    // The exported Parquet file ingests back into a fresh project as all-accepted.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let s2 = Store::init(dir2.path()).expect("init");
    let r = s2
        .ingest(
            &out,
            &IngestOptions {
                table: "orders".into(),
                ..Default::default()
            },
            &mut |_| {},
        )
        .expect("parquet ingest");
    assert_eq!((r.read, r.accepted), (6_919, 6_919), "{r:?}");
}

/// One customer's features equal their row of everyone's features, and an unknown or
/// hostile id gives no row.
#[test]
fn one_customers_features_equal_their_row_of_everyones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ingest_cdnow(dir.path());
    let as_of = parse_date("1997-09-30").expect("date");
    let all = store.customer_features(as_of).expect("features");
    let ids: Vec<String> = col_str(&all, "customer_id").into_iter().flatten().collect();
    let last = ids[ids.len() - 1].clone();
    for id in ["0001", "0004", "1033", last.as_str()] {
        let i = ids.iter().position(|x| x == id).expect("known customer");
        let one = store
            .query_arrow(&store.customer_features_sql(as_of, id).expect("sql"))
            .expect("one customer's features");
        assert_eq!(col_str(&one, "customer_id"), vec![Some(id.to_string())]);
        for c in [
            "x",
            "t_x_days",
            "T_days",
            "monetary_mean",
            "spend_total",
            "recency_days",
        ] {
            let (a, b) = (col_f64(&one, c)[0], col_f64(&all, c)[i]);
            assert_eq!(a, b, "{id} {c}");
        }
        assert_eq!(col_i64(&one, "orders")[0], col_i64(&all, "orders")[i]);
    }
    for id in ["nobody", "x' OR '1'='1"] {
        let none = store
            .query_arrow(&store.customer_features_sql(as_of, id).expect("sql"))
            .expect("query");
        assert_eq!(none.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    }
}
