//! The durability bar: `kill -9` of `tenure serve` while batches of orders are being
//! POSTed loses no acknowledged write. Two rounds: serve, post batches in a loop, SIGKILL the
//! server mid-stream, restart it (the store recovers from its write-ahead log); then, with the
//! server gone, every order of every acknowledged batch is in the store, each batch is all there or
//! not there at all, and the run records add up to the rows stored.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{fixture, ingest_cdnow_args, json, tenure};

const BATCH: usize = 20;

fn serve(project: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .arg("--project")
        .arg(project)
        .args(["--json", "serve", "--addr", "127.0.0.1:0", "--workers", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenure serve starts");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("read the listening line");
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("serve printed {line:?}: {e}"));
    let addr: SocketAddr = v["listening"]
        .as_str()
        .and_then(|u| u.strip_prefix("http://"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {v}"));
    (child, addr)
}

/// One POST on a fresh connection; `None` when the connection fails or the answer is cut off
/// (the server died): such a batch is not acknowledged.
fn post(addr: SocketAddr, key: &str, path: &str, body: &str) -> Option<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let body = &raw[end + 4..];
    // A complete JSON answer only: a cut-off body is no acknowledgement.
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some((status, v))
}

fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    String::from_utf8_lossy(&raw)
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// Post batches until `stop`; returns the order ids of every acknowledged batch and the ids of
/// every batch sent.
fn post_loop(
    addr: SocketAddr,
    key: &str,
    round: usize,
    customers: &[String],
    stop: &AtomicBool,
    acked: &Mutex<Vec<Vec<String>>>,
    sent: &Mutex<Vec<Vec<String>>>,
) {
    let mut b = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let ids: Vec<String> = (0..BATCH).map(|i| format!("k9-{round}-{b}-{i}")).collect();
        let rows: Vec<serde_json::Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                serde_json::json!({
                    "order_id": id,
                    "customer_id": customers[(b * BATCH + i) % customers.len()],
                    "ordered_at": format!("1998-06-{:02} 1{}:00:00", 1 + (b + i) % 28, i % 10),
                    "amount": 10.0 + i as f64,
                })
            })
            .collect();
        sent.lock().expect("sent").push(ids.clone());
        let body = serde_json::Value::Array(rows).to_string();
        match post(addr, key, "/v1/orders", &body) {
            Some((200, v)) => {
                assert_eq!(v["committed"], true, "{v}");
                assert_eq!(v["ingest"]["accepted"], BATCH as u64, "{v}");
                acked.lock().expect("acked").push(ids);
            }
            Some((status, v)) => panic!("batch {b} answered {status}: {v}"),
            None => break, // the server is gone
        }
        b += 1;
    }
}

#[test]
fn kill_9_during_posted_orders_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    assert!(tenure(p, &["init"]).status.success());
    let cdnow = fixture("cdnow/CDNOW_sample.txt");
    let ingest = ingest_cdnow_args(&cdnow);
    let ingest: Vec<&str> = ingest.iter().map(String::as_str).collect();
    assert_eq!(json(&tenure(p, &ingest))["accepted"], 6919);
    // Scored, so that every write also re-scores its customers live (the full write path).
    assert!(tenure(p, &["score", "value", "--json"]).status.success());
    let key = json(&tenure(
        p,
        &["keys", "create", "--scope", "write", "--json"],
    ))["token"]
        .as_str()
        .expect("token")
        .to_string();
    let customers: Vec<String> = (1..=50).map(|i| format!("{i:05}")).collect();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    for round in 0..2 {
        let (mut child, addr) = serve(p);
        assert_eq!(
            get(addr, "/readyz"),
            Some(200),
            "round {round}: the server is ready"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let poster = {
            let (key, customers, stop, acked, sent) = (
                key.clone(),
                customers.clone(),
                Arc::clone(&stop),
                Arc::clone(&acked),
                Arc::clone(&sent),
            );
            std::thread::spawn(move || {
                post_loop(addr, &key, round, &customers, &stop, &acked, &sent)
            })
        };
        // Let some batches through, then kill -9 at a moment unrelated to the batch boundaries.
        let before = acked.lock().expect("acked").len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().expect("acked").len() < before + 8 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(7 + 13 * round as u64));
        child.kill().expect("SIGKILL the server"); // Child::kill is SIGKILL on Unix
        let _ = child.wait();
        stop.store(true, Ordering::SeqCst);
        poster.join().expect("poster thread");
        assert!(
            acked.lock().expect("acked").len() >= before + 8,
            "round {round}: too few batches acknowledged before the kill"
        );
    }

    // The server is dead; the store is ours. Every acknowledged order is there.
    let store = tenure_engine::store::Store::open(p).expect("the store opens after kill -9");
    let stored: std::collections::HashSet<String> = tenure_engine::rows_json(
        &store
            .query_arrow("SELECT order_id FROM orders WHERE order_id LIKE 'k9-%'")
            .expect("query"),
    )
    .expect("rows")
    .into_iter()
    .filter_map(|r| r["order_id"].as_str().map(str::to_string))
    .collect();
    let acked = acked.lock().expect("acked").clone();
    let sent = sent.lock().expect("sent").clone();
    let acked_rows: usize = acked.iter().map(Vec::len).sum();
    for batch in &acked {
        for id in batch {
            assert!(stored.contains(id), "acknowledged order {id} was lost");
        }
    }
    // Each batch is all there or not at all (one transaction); unacknowledged ones (cut off by the
    // kill) may have committed or not.
    let mut complete = 0;
    for batch in &sent {
        let n = batch.iter().filter(|id| stored.contains(*id)).count();
        assert!(
            n == 0 || n == BATCH,
            "a batch is half stored: {n} of {BATCH}"
        );
        complete += usize::from(n == BATCH);
    }
    assert_eq!(stored.len(), complete * BATCH);
    eprintln!(
        "kill9: {} batches sent, {} acknowledged, {} stored ({} rows)",
        sent.len(),
        acked.len(),
        complete,
        stored.len()
    );
    assert!(stored.len() >= acked_rows && stored.len() <= acked_rows + 2 * BATCH);
    // The run records account for exactly the rows stored.
    let runs = tenure_engine::rows_json(
        &store
            .query_arrow("SELECT CAST(sum(accepted) AS BIGINT) AS accepted, CAST(sum(read) AS BIGINT) AS read, CAST(sum(rejected) AS BIGINT) AS rejected FROM ingest_runs WHERE source = 'api:POST /v1/orders'")
            .expect("runs"),
    )
    .expect("rows");
    assert_eq!(runs[0]["accepted"].as_i64(), Some(stored.len() as i64));
    assert_eq!(runs[0]["read"].as_i64(), Some(stored.len() as i64));
    assert_eq!(runs[0]["rejected"].as_i64(), Some(0));
    assert_eq!(
        store.count("orders").expect("count"),
        6919 + stored.len() as i64
    );
}
