//! An open-loop load generator for latency at a fixed rate (wrk measures saturation only):
//! requests are due at fixed intervals, spread over keep-alive connections, and each latency
//! is measured from when the request was due, so a stalled server cannot hide its queue
//! (no coordinated omission).
//!
//! Usage: loadgen ADDR RATE SECONDS CONNECTIONS REQUEST_FILE
//! REQUEST_FILE holds one whole HTTP/1.1 request (head and body), sent as is every time.
//! Prints: `sent=N errors=E p50_us=.. p99_us=.. max_us=..`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Read one answer: status line, headers, then Content-Length bytes of body (none after a HEAD,
/// whose Content-Length describes the object: the reason wrk cannot measure a HEAD).
fn read_answer(r: &mut BufReader<TcpStream>, head: bool) -> std::io::Result<u16> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    if head {
        return Ok(status);
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    Ok(status)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: loadgen ADDR RATE SECONDS CONNECTIONS REQUEST_FILE");
        std::process::exit(2);
    }
    let addr = a[1].clone();
    let rate: f64 = a[2].parse().expect("RATE");
    let seconds: f64 = a[3].parse().expect("SECONDS");
    let conns: usize = a[4].parse().expect("CONNECTIONS");
    let request = Arc::new(std::fs::read(&a[5]).expect("REQUEST_FILE"));
    let head = request.starts_with(b"HEAD ");
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(100);
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(Mutex::new(0usize));
    // Connection c sends requests c, c + conns, c + 2 conns, ...: each keeps the schedule of its
    // share; a request due while the connection is still busy waits (and that wait is counted).
    let workers: Vec<_> = (0..conns)
        .map(|c| {
            let (addr, request) = (addr.clone(), request.clone());
            let (latencies, errors) = (latencies.clone(), errors.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).expect("connect");
                stream.set_nodelay(true).ok();
                // A server that stalls counts as an error rather than hanging the run.
                stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
                stream.set_write_timeout(Some(Duration::from_secs(10))).ok();
                let mut w = stream.try_clone().expect("clone");
                let mut r = BufReader::new(stream);
                let mut mine = Vec::new();
                let mut i = c;
                while i < total {
                    let due = start + interval * i as u32;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let ok = w.write_all(&request).is_ok()
                        && matches!(read_answer(&mut r, head), Ok(s) if s < 300);
                    if ok {
                        mine.push(due.elapsed().as_micros() as u64);
                    } else {
                        *errors.lock().unwrap() += 1;
                        break;
                    }
                    i += conns;
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "sent={} errors={} p50_us={} p99_us={} max_us={}",
        l.len(),
        errors.lock().unwrap(),
        pct(0.50),
        pct(0.99),
        l.last().copied().unwrap_or(0)
    );
}
