//! A fixed-rate HTTP load generator for `scripts/bench_serve.sh`: `GET /v1/customers/{id}` over
//! many ids at a constant request rate, with latencies measured from each request's *scheduled*
//! send time (as wrk2 does), so a slow answer that delays the next request is charged to the
//! server rather than hidden (coordinated omission). Loopback only, bounded by `--seconds`.
//!
//! `C` keep-alive connections each own every C-th slot of the schedule (slot k is due at
//! k / rate seconds); a connection that falls behind sends at once and the wait counts as latency.
//! Errors are non-200 answers, broken connections, and answers that are not complete.
//!
//! ```text
//! cargo run -p tenure-server --example load -- --addr 127.0.0.1:8080 --key KEY \
//!     --rate 2000 --seconds 60 --connections 50
//! ```
//! Prints one JSON object: requests, errors, achieved rate, p50/p90/p99/p99.9/max in ms.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    addr: SocketAddr,
    key: String,
    rate: f64,
    seconds: f64,
    connections: usize,
    ids: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        key: String::new(),
        rate: 2000.0,
        seconds: 60.0,
        connections: 50,
        ids: 5000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {v}: {e}");
        match flag.as_str() {
            "--addr" => a.addr = v.parse().map_err(|e| bad(&e))?,
            "--key" => a.key = v,
            "--rate" => a.rate = v.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = v.parse().map_err(|e| bad(&e))?,
            "--connections" => a.connections = v.parse().map_err(|e| bad(&e))?,
            "--ids" => a.ids = v.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !a.addr.ip().is_loopback() {
        return Err(
            "--addr must be a loopback address: this tool never loads a remote host".into(),
        );
    }
    let rate_ok = a.rate.is_finite() && a.rate > 0.0;
    let seconds_ok = a.seconds > 0.0 && a.seconds <= 600.0;
    if a.key.is_empty() || !rate_ok || !seconds_ok {
        return Err("give --key, a --rate > 0 and --seconds in (0, 600]".into());
    }
    a.connections = a.connections.clamp(1, 1000);
    Ok(a)
}

/// A keep-alive connection; `get` answers (status, body) or an I/O error.
struct Conn {
    addr: SocketAddr,
    r: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn get(&mut self, target: &str, key: &str) -> std::io::Result<(u16, Vec<u8>)> {
        if self.r.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            self.r = Some(BufReader::new(s));
        }
        let r = self
            .r
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no connection"))?;
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\r\n",
            self.addr
        );
        r.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        r.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut len = None;
        let mut close = false;
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed mid-answer"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("connection")
                    && v.trim().eq_ignore_ascii_case("close")
                {
                    close = true;
                }
            }
        }
        let len = len.ok_or_else(|| std::io::Error::other("answer without content-length"))?;
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        if close {
            self.r = None;
        }
        Ok((status, body))
    }
}

fn customer_ids(a: &Args) -> Result<Vec<String>, String> {
    let mut c = Conn {
        addr: a.addr,
        r: None,
    };
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < a.ids {
        let mut target = "/v1/customers?limit=1000".to_string();
        if let Some(cur) = &cursor {
            target.push_str(&format!("&cursor={}", enc(cur)));
        }
        let (status, body) = c
            .get(&target, &a.key)
            .map_err(|e| format!("list customers: {e}"))?;
        if status != 200 {
            return Err(format!(
                "list customers: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        for item in v["items"].as_array().into_iter().flatten() {
            if let Some(id) = item["customer_id"].as_str() {
                ids.push(id.to_string());
            }
        }
        cursor = v["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    ids.truncate(a.ids);
    if ids.is_empty() {
        return Err("the server lists no customers: score the project first".into());
    }
    Ok(ids)
}

fn enc(s: &str) -> String {
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

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let ids = match customer_ids(&a) {
        Ok(ids) => Arc::new(ids),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    };
    let total = (a.rate * a.seconds).round() as u64;
    let interval = 1.0 / a.rate;
    let start = Instant::now() + Duration::from_millis(200);
    let c = a.connections as u64;
    let workers: Vec<_> = (0..c)
        .map(|j| {
            let (ids, key, addr) = (Arc::clone(&ids), a.key.clone(), a.addr);
            std::thread::spawn(move || {
                let mut conn = Conn { addr, r: None };
                let mut lat_us: Vec<u32> = Vec::new();
                let mut errors = 0u64;
                let mut first_error: Option<String> = None;
                let mut k = j;
                while k < total {
                    let due = start + Duration::from_secs_f64(k as f64 * interval);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let id = &ids[(k as usize * 7919) % ids.len()];
                    let outcome = conn.get(&format!("/v1/customers/{}", enc(id)), &key);
                    let done = Instant::now();
                    match outcome {
                        Ok((200, _)) => {}
                        Ok((status, body)) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!("{status} {}", String::from_utf8_lossy(&body))
                            });
                        }
                        Err(e) => {
                            errors += 1;
                            conn.r = None;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                    lat_us.push(
                        done.saturating_duration_since(due)
                            .as_micros()
                            .min(u32::MAX as u128) as u32,
                    );
                    k += c;
                }
                (lat_us, errors, first_error)
            })
        })
        .collect();
    let mut lat: Vec<u32> = Vec::with_capacity(total as usize);
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        match w.join() {
            Ok((l, e, f)) => {
                lat.extend(l);
                errors += e;
                if first_error.is_none() {
                    first_error = f;
                }
            }
            Err(_) => {
                eprintln!("load: a worker thread panicked");
                std::process::exit(1);
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let q = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let out = serde_json::json!({
        "target": format!("GET /v1/customers/{{id}} over {} ids", ids.len()),
        "rate_asked": a.rate,
        "seconds": a.seconds,
        "connections": a.connections,
        "requests": lat.len(),
        "errors": errors,
        "first_error": first_error,
        "achieved_rate": (lat.len() as f64 / elapsed * 10.0).round() / 10.0,
        "p50_ms": q(0.50),
        "p90_ms": q(0.90),
        "p99_ms": q(0.99),
        "p999_ms": q(0.999),
        "max_ms": lat.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0),
    });
    println!("{out}");
}
