//! The shared fixture (a scored CDNOW project served on 127.0.0.1:0) and a small HTTP/1.1 client
//! over a raw `TcpStream`, so the tests need no HTTP client crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tenure_engine::store::{IngestOptions, Store};
use tenure_server::{AppState, LogSink, Scope, ServeOptions};

/// A served, scored CDNOW project with one key per scope.
pub struct Fixture {
    pub addr: SocketAddr,
    pub read: String,
    pub write: String,
    pub admin: String,
    pub revoked: String,
    pub state: AppState,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub customers: i64,
    _dir: tempfile::TempDir,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| build().expect("build the test fixture"))
}

fn build() -> Result<Fixture, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("cdnow.txt");
    std::fs::write(&data, tenure_engine::CDNOW_SAMPLE)?;
    let people = dir.path().join("customers.csv");
    std::fs::write(
        &people,
        "customer_id,email,phone,country,city\n0001,alice.smith@example.com,+1 555 123 4567,US,Springfield\n0002,bob@example.org,,DE,Berlin\n",
    )?;
    let project = dir.path().join("project");
    let store = Store::init(&project)?;
    store.ingest(
        &data,
        &IngestOptions {
            table: "orders".into(),
            map: tenure_engine::CDNOW_MAPPING
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ..Default::default()
        },
        &mut |_| {},
    )?;
    store.ingest(
        &people,
        &IngestOptions {
            table: "customers".into(),
            ..Default::default()
        },
        &mut |_| {},
    )?;
    let scored = tenure_engine::score_value(
        &store,
        &tenure_engine::ValueOptions {
            interval_resamples: Some(0),
            ..Default::default()
        },
    )?;
    let now = chrono::Utc::now().naive_utc();
    let key = |s: Scope| tenure_server::create_key(&store, s, Some("test"), now).map(|k| k.token);
    let (read, write, admin) = (key(Scope::Read)?, key(Scope::Write)?, key(Scope::Admin)?);
    let gone = tenure_server::create_key(&store, Scope::Admin, None, now)?;
    tenure_server::revoke_key(&store, &gone.key_id)?;
    let logs = Arc::new(Mutex::new(Vec::new()));
    let state = AppState::from_store(
        store,
        ServeOptions {
            workers: 3,
            timeout: Duration::from_secs(20),
            log: LogSink::Memory(logs.clone()),
            ..Default::default()
        },
    )?;
    let addr = spawn(state.clone())?;
    Ok(Fixture {
        addr,
        read,
        write,
        admin,
        revoked: gone.token,
        state,
        logs,
        customers: scored.customers as i64,
        _dir: dir,
    })
}

/// Serves `state` on a fresh loopback port from a background runtime, for the rest of the test
/// binary's life; returns the address.
pub fn spawn(state: AppState) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tenure_server::serve(listener, state, std::future::pending())
                .await
                .expect("serve");
        });
    });
    Ok(addr)
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Percent-encode everything but unreserved characters.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One HTTP/1.1 request to the shared fixture on a fresh connection (`Connection: close`).
pub fn send(
    method: &str,
    target: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> Resp {
    send_to(fixture().addr, method, target, key, content_type, body)
}

/// One HTTP/1.1 request to `addr` on a fresh connection (`Connection: close`).
pub fn send_to(
    addr: SocketAddr,
    method: &str,
    target: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    send_headers(addr, method, target, &headers, body)
}

/// One HTTP/1.1 request to `addr` with any headers (cookies, forms), on a fresh connection.
pub fn send_headers(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = &body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write head");
    // The body goes from another thread: a server that answers early (413) must not deadlock us.
    let writer = body.map(|b| {
        let mut w = s.try_clone().expect("clone stream");
        std::thread::spawn(move || {
            let _ = w.write_all(&b);
        })
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the whole answer arrived (the server closed with unread body).
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("read {method} {target}: {e}"),
        }
    }
    if let Some(w) = writer {
        let _ = w.join();
    }
    parse(&raw)
}

fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..p]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[p + 2..p + 2 + size]);
            rest = &rest[p + 2 + size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub fn get(target: &str, key: Option<&str>) -> Resp {
    send("GET", target, key, None, None)
}

pub fn post_json(target: &str, key: Option<&str>, body: &str) -> Resp {
    send(
        "POST",
        target,
        key,
        Some("application/json"),
        Some(body.as_bytes().to_vec()),
    )
}
