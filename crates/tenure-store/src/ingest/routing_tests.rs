//! Tests of the ingest routing: rows appended directly, staged, dropped as stored duplicates or
//! recovered, checked against a naive model of the accounting rules on many random files.

use std::collections::BTreeMap;
use std::path::Path;

use super::{IngestOptions, IngestReport, OnConflict};
use crate::store::Store;

fn orders(policy: OnConflict) -> IngestOptions {
    IngestOptions {
        table: "orders".into(),
        on_conflict: policy,
        ..Default::default()
    }
}

fn ingest(store: &Store, dir: &Path, name: &str, body: &str, opts: &IngestOptions) -> IngestReport {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write the input");
    let r = store
        .ingest(&path, opts, &mut |_| {})
        .expect("ingest completes");
    assert!(r.balanced(), "{r:?}");
    r
}

fn counts(r: &IngestReport) -> (u64, u64, u64, u64) {
    (r.accepted, r.duplicate, r.conflicting, r.rejected)
}

/// order_id → (customer_id, amount) as stored.
fn stored(store: &Store) -> BTreeMap<String, (String, f64)> {
    let mut stmt = store
        .conn
        .prepare("SELECT order_id, customer_id, amount FROM orders")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })
        .expect("query");
    let mut out = BTreeMap::new();
    for row in rows {
        let (k, c, a) = row.expect("row");
        assert!(
            out.insert(k.clone(), (c, a)).is_none(),
            "key {k} stored twice"
        );
    }
    out
}

fn rejects_lines(r: &IngestReport) -> Vec<u64> {
    let Some(f) = &r.rejects_file else {
        return Vec::new();
    };
    let mut rdr = csv::Reader::from_path(f).expect("rejects file is CSV");
    let mut lines: Vec<u64> = rdr
        .records()
        .map(|rec| rec.expect("record")[0].parse().expect("line"))
        .collect();
    lines.sort_unstable();
    lines
}

#[test]
fn first_load_with_repeats_and_conflicts_in_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::init(dir.path()).expect("init");
    let body = "order_id,customer_id,ordered_at,amount\n\
                A1,c1,2024-01-02,10\n\
                A2,c2,2024-01-02,20\n\
                A1,c1,2024-01-02,10\n\
                A3,c3,2024-01-02,30\n\
                A2,c2,2024-01-02,21\n\
                A2,c2,2024-01-02,22\n";
    let r = ingest(
        &store,
        dir.path(),
        "a.csv",
        body,
        &orders(OnConflict::Reject),
    );
    assert_eq!(counts(&r), (3, 1, 2, 0), "{r:?}");
    assert_eq!(rejects_lines(&r), vec![6, 7]);
    let s = stored(&store);
    assert_eq!(s.len(), 3);
    assert_eq!(s["A2"].1, 20.0, "the first row of a key wins under reject");

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::init(dir.path()).expect("init");
    let r = ingest(
        &store,
        dir.path(),
        "a.csv",
        body,
        &orders(OnConflict::Replace),
    );
    assert_eq!(counts(&r), (3, 1, 2, 0), "{r:?}");
    assert_eq!(rejects_lines(&r), vec![3, 6]);
    let s = stored(&store);
    assert_eq!(s.len(), 3);
    assert_eq!(s["A2"].1, 22.0, "the last row of a key wins under replace");
    // Re-ingesting the same file changes nothing.
    let again = ingest(
        &store,
        dir.path(),
        "a.csv",
        body,
        &orders(OnConflict::Replace),
    );
    assert_eq!(again.accepted, 0, "{again:?}");
    assert_eq!(stored(&store), s);
}

#[test]
fn mixed_file_against_stored_keys_with_recovery_of_dropped_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::init(dir.path()).expect("init");
    let first =
        "order_id,customer_id,ordered_at,amount\nA1,c1,2024-01-02,10\nA2,c2,2024-01-02,20\n";
    ingest(
        &store,
        dir.path(),
        "a.csv",
        first,
        &orders(OnConflict::Reject),
    );
    // A1 as stored, then A1 changed (its first row was dropped as a duplicate and must come back);
    // A2 changed; A3 new twice.
    let body = "order_id,customer_id,ordered_at,amount\n\
                A1,c1,2024-01-02,10\n\
                A3,c3,2024-01-02,30\n\
                A1,c1,2024-01-02,11\n\
                A2,c2,2024-01-02,25\n\
                A3,c3,2024-01-02,30\n";
    let r = ingest(
        &store,
        dir.path(),
        "b.csv",
        body,
        &orders(OnConflict::Reject),
    );
    assert_eq!(counts(&r), (1, 2, 2, 0), "{r:?}");
    assert_eq!(rejects_lines(&r), vec![4, 5]);
    let s = stored(&store);
    assert_eq!((s["A1"].1, s["A2"].1, s["A3"].1), (10.0, 20.0, 30.0));

    let r = ingest(
        &store,
        dir.path(),
        "b.csv",
        body,
        &orders(OnConflict::Replace),
    );
    // A1: line 4 wins and replaces the stored row, line 2 is superseded; A2 replaced; A3 twice stored.
    assert_eq!(counts(&r), (0, 2, 3, 0), "{r:?}");
    assert_eq!(rejects_lines(&r), vec![2]);
    let s = stored(&store);
    assert_eq!((s["A1"].1, s["A2"].1, s["A3"].1), (11.0, 25.0, 30.0));
}

#[test]
fn synthesised_keys_match_across_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::init(dir.path()).expect("init");
    let body =
        "customer_id,ordered_at,amount\nc1,2024-01-02,10\nc1,2024-01-02,10\nc2,2024-01-03,5\n";
    let opts = orders(OnConflict::Reject);
    assert_eq!(
        counts(&ingest(&store, dir.path(), "a.csv", body, &opts)),
        (3, 0, 0, 0)
    );
    assert_eq!(
        counts(&ingest(&store, dir.path(), "a.csv", body, &opts)),
        (0, 3, 0, 0)
    );
    // One more identical purchase in a longer export: only the third occurrence is new.
    let longer = format!("{body}c1,2024-01-02,10\n");
    assert_eq!(
        counts(&ingest(&store, dir.path(), "b.csv", &longer, &opts)),
        (1, 3, 0, 0)
    );

    // A composite key with its line number missing: numbered per order, in file order.
    let items =
        "order_id,product_id,quantity,unit_price\nO1,p1,1,2\nO1,p2,1,3\nO2,p1,1,2\nO1,p1,1,2\n";
    let io = IngestOptions {
        table: "order_items".into(),
        ..Default::default()
    };
    assert_eq!(
        counts(&ingest(&store, dir.path(), "i.csv", items, &io)),
        (4, 0, 0, 0)
    );
    assert_eq!(
        counts(&ingest(&store, dir.path(), "i.csv", items, &io)),
        (0, 4, 0, 0)
    );
    let lines: Vec<(String, i64)> = {
        let mut stmt = store
            .conn
            .prepare("SELECT order_id, line FROM order_items ORDER BY order_id, line")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    };
    assert_eq!(
        lines,
        vec![
            ("O1".into(), 1),
            ("O1".into(), 2),
            ("O1".into(), 3),
            ("O2".into(), 1)
        ]
    );
}

/// A tiny deterministic generator (xorshift), so the random files are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The accounting rules, naively: group the file's rows by key, pick the winner (first row under
/// reject, last under replace), compare the others with the winner and the winner with the store.
fn model(
    stored: &mut BTreeMap<String, (String, f64)>,
    rows: &[(String, String, f64)],
    policy: OnConflict,
) -> ((u64, u64, u64), u64) {
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_key.entry(r.0.as_str()).or_default().push(i);
    }
    let (mut acc, mut dup, mut conf, mut kept_out) = (0, 0, 0, 0);
    for (key, idx) in by_key {
        let w = match policy {
            OnConflict::Reject => idx[0],
            OnConflict::Replace => idx[idx.len() - 1],
        };
        let content = |i: usize| (rows[i].1.clone(), rows[i].2);
        for &i in &idx {
            if i != w {
                if content(i) == content(w) {
                    dup += 1;
                } else {
                    conf += 1;
                    kept_out += 1;
                }
            }
        }
        match stored.get(key) {
            None => {
                acc += 1;
                stored.insert(key.to_string(), content(w));
            }
            Some(s) if *s == content(w) => dup += 1,
            Some(_) => {
                conf += 1;
                if policy == OnConflict::Replace {
                    stored.insert(key.to_string(), content(w));
                } else {
                    kept_out += 1;
                }
            }
        }
    }
    ((acc, dup, conf), kept_out)
}

#[test]
fn random_files_follow_the_accounting_rules() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..24 {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::init(dir.path()).expect("init");
        let mut expected: BTreeMap<String, (String, f64)> = BTreeMap::new();
        let keys = 2 + rng.below(6);
        for run in 0..3 {
            let policy = if rng.below(2) == 0 {
                OnConflict::Reject
            } else {
                OnConflict::Replace
            };
            let n = 1 + rng.below(12);
            let rows: Vec<(String, String, f64)> = (0..n)
                .map(|_| {
                    (
                        format!("K{}", rng.below(keys)),
                        format!("c{}", rng.below(2)),
                        (1 + rng.below(2)) as f64,
                    )
                })
                .collect();
            let mut body = String::from("order_id,customer_id,ordered_at,amount\n");
            for r in &rows {
                body.push_str(&format!("{},{},2024-01-02,{}\n", r.0, r.1, r.2));
            }
            let (want, kept_out) = model(&mut expected, &rows, policy);
            let r = ingest(&store, dir.path(), "r.csv", &body, &orders(policy));
            assert_eq!(
                (r.accepted, r.duplicate, r.conflicting),
                want,
                "case {case} run {run} ({policy:?}):\n{body}{r:#?}"
            );
            assert_eq!(stored(&store), expected, "case {case} run {run}:\n{body}");
            assert_eq!(
                rejects_lines(&r).len() as u64,
                kept_out,
                "case {case} run {run}"
            );
        }
    }
}
