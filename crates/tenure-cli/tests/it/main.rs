//! End-to-end tests of the `tenure` binary: real files, real process, real exit codes.

mod kill9;
mod value;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn tenure(project: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenure"))
        .arg("--project")
        .arg(project)
        .args(args)
        .output()
        .expect("the tenure binary runs")
}

/// `--map` flags of the headerless, whitespace-separated CDNOW files.
const CDNOW_MAP: [&str; 6] = [
    "--map",
    "customer_id=column2",
    "--map",
    "ordered_at=column3",
    "--map",
    "amount=column5",
];

/// `ingest FILE --table orders` with the CDNOW mapping and `--json`.
fn ingest_cdnow_args(file: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "ingest",
        file.to_str().expect("utf8 path"),
        "--table",
        "orders",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(CDNOW_MAP.iter().map(|s| s.to_string()));
    a.push("--json".into());
    a
}

fn fixture(name: &str) -> PathBuf {
    // Found at run time (cargo sets CARGO_MANIFEST_DIR for test runs): a compile-time path would
    // point into whichever checkout first built this binary, since clones share a target directory.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../../tests/fixtures")
        .join(name)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn cdnow_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    assert!(tenure(p, &["init"]).status.success());
    let cdnow = fixture("cdnow/CDNOW_sample.txt");
    let args = ingest_cdnow_args(&cdnow);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = json(&tenure(p, &args));
    assert_eq!(r["read"], 6919);
    assert_eq!(r["accepted"], 6919);
    let again = json(&tenure(p, &args));
    assert_eq!(again["duplicate"], 6919);
    assert_eq!(again["accepted"], 0);

    let status = json(&tenure(p, &["status", "--json"]));
    assert_eq!(status["tables"][2]["table"], "orders");
    assert_eq!(status["tables"][2]["rows"], 6919);
    assert_eq!(status["tables"][2]["customers"], 2357);

    let out = p.join("f.csv");
    let o = tenure(
        p,
        &[
            "features",
            "--as-of",
            "1997-09-30",
            "--out",
            out.to_str().expect("utf8"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).expect("features file");
    assert_eq!(text.lines().count(), 2358);
    assert!(text.lines().next().expect("header").starts_with("customer_id,first_order_at,last_order_at,orders,purchase_days,x,t_x_days,T_days,t_x_weeks,T_weeks,monetary_mean,spend_total"));

    let q = json(&tenure(
        p,
        &[
            "sql",
            "SELECT count(DISTINCT customer_id) AS n FROM orders",
            "--json",
        ],
    ));
    assert_eq!(q[0]["n"], 2357);
    let bad = tenure(p, &["sql", "DELETE FROM orders"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("read-only"));

    let runs = json(&tenure(
        p,
        &[
            "sql",
            "SELECT read, accepted + duplicate + conflicting + rejected AS total FROM ingest_runs",
            "--json",
        ],
    ));
    for run in runs.as_array().expect("array") {
        assert_eq!(run["read"], run["total"]);
    }
}

#[test]
fn exit_codes_and_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let o = tenure(p, &["status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("tenure init"));
    assert_eq!(tenure(p, &["no-such-command"]).status.code(), Some(2));
    assert!(tenure(p, &["init"]).status.success());
    let f = p.join("o.csv");
    std::fs::write(
        &f,
        "order_id,customer_id,ordered_at,amount\nA,c,2024-01-01,1\nB,c,someday,2\n",
    )
    .expect("write");
    let o = tenure(
        p,
        &["ingest", f.to_str().expect("utf8"), "--table", "orders"],
    );
    assert_eq!(o.status.code(), Some(3), "refused rows give exit code 3");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("read 2 = accepted 1 + duplicate 0 + conflicting 0 + rejected 1"),
        "{stdout}"
    );
    let o = tenure(p, &["features", "--as-of", "2024-13-01"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("YYYY-MM-DD"));
}

/// kill -9 in the middle of a large ingest leaves the store exactly as it was; a re-run completes.
#[test]
fn kill_during_ingest_loses_nothing_and_rerun_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    assert!(tenure(p, &["init"]).status.success());
    // A first, small run so "as before" is not simply "empty".
    let small = p.join("small.csv");
    std::fs::write(
        &small,
        "order_id,customer_id,ordered_at,amount\nS1,c1,2020-01-01,5\n",
    )
    .expect("write");
    assert!(tenure(
        p,
        &["ingest", small.to_str().expect("utf8"), "--table", "orders"]
    )
    .status
    .success());

    let big = p.join("big.csv");
    let rows = 1_500_000u64;
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        writeln!(w, "order_id,customer_id,ordered_at,amount").expect("write");
        for i in 0..rows {
            writeln!(
                w,
                "O{i},C{},2021-{:02}-{:02}T10:00:00,{}.{:02}",
                i % 50_000,
                1 + i % 12,
                1 + i % 28,
                i % 500,
                i % 100
            )
            .expect("write");
        }
    }
    let count = |p: &Path| -> i64 {
        let o = tenure(p, &["sql", "SELECT count(*) AS n FROM orders", "--json"]);
        json(&o)[0]["n"].as_i64().expect("count")
    };
    assert_eq!(count(p), 1);
    let mut killed_mid_run = 0;
    for delay_ms in [150u64, 400, 900, 1600, 2500] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tenure"))
            .arg("--project")
            .arg(p)
            .args([
                "ingest",
                big.to_str().expect("utf8"),
                "--table",
                "orders",
                "--json",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL");
            killed_mid_run += 1;
        }
        let _ = child.wait();
        let n = count(p);
        if n == 1 + rows as i64 {
            break; // this run finished before the kill: it committed whole
        }
        assert_eq!(
            n, 1,
            "a killed ingest left {n} rows: the run must be one transaction"
        );
    }
    assert!(
        killed_mid_run > 0,
        "no kill landed during the ingest; make the file bigger"
    );
    let start = Instant::now();
    let r = json(&tenure(
        p,
        &[
            "ingest",
            big.to_str().expect("utf8"),
            "--table",
            "orders",
            "--json",
        ],
    ));
    assert!(
        r["accepted"].as_u64().expect("n") + r["duplicate"].as_u64().expect("n") == rows,
        "{r}"
    );
    assert_eq!(count(p), 1 + rows as i64);
    eprintln!("re-run of {rows} rows took {:?}", start.elapsed());
}
