//! The record of one request: filled where its facts become known, written once at its end as
//! the access log line and the request metrics. What the backend exchanges add (time waiting for
//! answers, the backend's request id, the error code sent) is noted through a task-local, so the
//! code that talks to backends needs no extra parameters; outside a request it is a no-op.

use crate::dialect::Dialect;
use crate::metrics;
use std::cell::Cell;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How access lines are written (`[server] access_log`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    Off,
    #[default]
    Text,
    Json,
}

/// What the exchanges of one request noted.
#[derive(Default)]
pub struct Facts(Mutex<Noted>);

#[derive(Default)]
struct Noted {
    upstream: Duration,
    backend_request_id: Option<String>,
    code: Option<String>,
}

tokio::task_local! {
    static FACTS: Arc<Facts>;
}

/// `fut` with `facts` as the current request's.
pub fn within<F: std::future::Future>(
    facts: Arc<Facts>,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    FACTS.scope(facts, fut)
}

fn note(f: impl FnOnce(&mut Noted)) {
    let _ = FACTS.try_with(|facts| f(&mut facts.0.lock().unwrap_or_else(|e| e.into_inner())));
}

/// A backend answered its head after `waited`; `request_id` is its own id for the exchange.
pub fn note_upstream(waited: Duration, request_id: Option<&str>) {
    note(|n| {
        n.upstream += waited;
        if let Some(id) = request_id {
            n.backend_request_id = Some(id.to_string());
        }
    });
}

/// The error code the client was sent (the last one wins: a kept-alive answer's failure).
pub fn note_error(code: &str) {
    note(|n| n.code = Some(code.to_string()));
}

/// One request as the access log and the metrics see it.
pub struct Record {
    pub started: Instant,
    pub request_id: String,
    pub client: Option<Dialect>,
    pub access_key: Option<String>,
    pub method: String,
    pub op: &'static str,
    /// The client-visible resource, `/bucket/key`.
    pub resource: String,
    pub backend: Option<String>,
    /// Refused by signature verification (the code says why).
    pub verification_failed: bool,
    /// Refused by the key's grant: the action it was not granted.
    pub denied: Option<&'static str>,
    pub facts: Arc<Facts>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            started: Instant::now(),
            request_id: String::new(),
            client: None,
            access_key: None,
            method: String::new(),
            op: "-",
            resource: String::new(),
            backend: None,
            verification_failed: false,
            denied: None,
            facts: Arc::default(),
        }
    }
}

/// How a request ended, from the client connection.
pub struct Outcome<'a> {
    /// The status sent (0: none, the connection was cut before an answer).
    pub status: u16,
    pub bytes_in: usize,
    pub bytes_out: usize,
    /// What went wrong below HTTP, if anything (an answer that had started was cut).
    pub failure: Option<&'a str>,
    pub remote: Option<SocketAddr>,
}

/// Write the access line and count the request.
pub fn finish(r: &Record, o: &Outcome, format: Format, keys: bool) {
    let total = r.started.elapsed();
    let noted = std::mem::take(&mut *r.facts.0.lock().unwrap_or_else(|e| e.into_inner()));
    let dialect = r.client.map(Dialect::name).unwrap_or("-");
    let backend = r.backend.as_deref().unwrap_or("-");
    metrics::request_done(metrics::Done {
        dialect,
        op: r.op,
        backend,
        status: o.status,
        seconds: total.as_secs_f64(),
        upstream_seconds: (!noted.upstream.is_zero()).then_some(noted.upstream.as_secs_f64()),
        bytes_in: o.bytes_in as u64,
        bytes_out: o.bytes_out as u64,
    });
    if r.verification_failed {
        metrics::verification_failed(dialect, noted.code.as_deref().unwrap_or("-"));
    }
    if let Some(action) = r.denied {
        metrics::denied(dialect, action);
    }
    if format == Format::Off {
        return;
    }
    let (bucket, key) = split_resource(&r.resource);
    let mut time = [0u8; 24];
    let line = Line {
        time: timestamp(SystemTime::now(), &mut time),
        request_id: &r.request_id,
        remote: o.remote,
        dialect,
        access_key: r.access_key.as_deref().unwrap_or("-"),
        method: &r.method,
        operation: r.op,
        bucket: if bucket.is_empty() { "-" } else { bucket },
        key: keys.then_some(key),
        key_len: key.len(),
        backend,
        status: o.status,
        error_code: noted.code.as_deref().unwrap_or("-"),
        failure: o.failure,
        total_us: micros(total),
        upstream_us: micros(noted.upstream),
        bytes_in: o.bytes_in,
        bytes_out: o.bytes_out,
        backend_request_id: noted.backend_request_id.as_deref().unwrap_or("-"),
    };
    let mut text = match format {
        Format::Json => serde_json::to_string(&line).unwrap_or_default(),
        _ => line.text(),
    };
    text.push('\n');
    // One write per line, so that lines from concurrent requests never interleave.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Whole microseconds: milliseconds are logged with three decimals at most.
fn micros(d: Duration) -> u64 {
    (d.as_secs_f64() * 1e6).round() as u64
}

/// `now` as RFC 3339 UTC with milliseconds (`2026-11-28T00:43:15.123Z`), written into `out`.
/// The part up to the seconds is formatted once a second per thread.
fn timestamp(now: SystemTime, out: &mut [u8; 24]) -> &str {
    thread_local!(static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) });
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut head) = SECOND.get();
    if cached != secs {
        let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs));
        head.copy_from_slice(&text.to_string().as_bytes()[..19]);
        SECOND.set((secs, head));
    }
    let ms = since.subsec_millis();
    out[..19].copy_from_slice(&head);
    out[19] = b'.';
    out[20] = b'0' + (ms / 100) as u8;
    out[21] = b'0' + (ms / 10 % 10) as u8;
    out[22] = b'0' + (ms % 10) as u8;
    out[23] = b'Z';
    std::str::from_utf8(out).unwrap_or("-")
}

/// Microseconds as milliseconds, as `f64`'s `Display` writes them (`1.5`, `0.001`, `12`).
fn push_ms(s: &mut String, us: u64) {
    s.push_str(itoa::Buffer::new().format(us / 1000));
    let frac = us % 1000;
    if frac != 0 {
        let digits = [
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let mut n = 4;
        while digits[n - 1] == b'0' {
            n -= 1;
        }
        s.push_str(std::str::from_utf8(&digits[..n]).unwrap_or(""));
    }
}

/// An address as `SocketAddr`'s `Display` writes it; IPv4 without the formatter.
fn push_addr(s: &mut String, a: &SocketAddr) {
    use std::fmt::Write as _;
    match a {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(itoa::Buffer::new().format(*octet));
            }
            s.push(':');
            s.push_str(itoa::Buffer::new().format(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(s, "{a}");
        }
    }
}

fn as_ms<S: serde::Serializer>(us: &u64, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_f64(*us as f64 / 1e3)
}

fn remote_or_dash<S: serde::Serializer>(a: &Option<SocketAddr>, ser: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => ser.collect_str(a),
        None => ser.serialize_str("-"),
    }
}

/// `/bucket/key` -> (bucket, key); either may be empty.
fn split_resource(resource: &str) -> (&str, &str) {
    let r = resource.strip_prefix('/').unwrap_or(resource);
    r.split_once('/').unwrap_or((r, ""))
}

#[derive(serde::Serialize)]
struct Line<'a> {
    time: &'a str,
    request_id: &'a str,
    #[serde(serialize_with = "remote_or_dash")]
    remote: Option<SocketAddr>,
    dialect: &'a str,
    access_key: &'a str,
    method: &'a str,
    operation: &'a str,
    bucket: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    key_len: usize,
    backend: &'a str,
    status: u16,
    error_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a str>,
    #[serde(rename = "total_ms", serialize_with = "as_ms")]
    total_us: u64,
    #[serde(rename = "upstream_ms", serialize_with = "as_ms")]
    upstream_us: u64,
    bytes_in: usize,
    bytes_out: usize,
    backend_request_id: &'a str,
}

/// ` name=value`, the value quoted and escaped when it holds anything but plain characters.
fn put(s: &mut String, name: &str, value: &str) {
    use std::fmt::Write as _;
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'=' && b != b'\\');
    s.push(' ');
    s.push_str(name);
    s.push('=');
    if plain {
        s.push_str(value);
    } else {
        let _ = write!(s, "{value:?}");
    }
}

/// ` name=value` for values this proxy writes itself (times, numbers, names of its own): plain.
fn raw(s: &mut String, name: &str, value: &str) {
    s.push(' ');
    s.push_str(name);
    s.push('=');
    s.push_str(value);
}

impl Line<'_> {
    /// logfmt: `name=value`, values quoted and escaped when they hold anything but plain characters.
    fn text(&self) -> String {
        let mut s = String::with_capacity(320);
        s.push_str("time=");
        s.push_str(self.time);
        put(&mut s, "request_id", self.request_id);
        match &self.remote {
            Some(a) => {
                s.push_str(" remote=");
                push_addr(&mut s, a);
            }
            None => raw(&mut s, "remote", "-"),
        }
        raw(&mut s, "dialect", self.dialect);
        put(&mut s, "access_key", self.access_key);
        put(&mut s, "method", self.method);
        raw(&mut s, "operation", self.operation);
        put(&mut s, "bucket", self.bucket);
        if let Some(k) = self.key {
            put(&mut s, "key", k);
        }
        raw(&mut s, "key_len", itoa::Buffer::new().format(self.key_len));
        put(&mut s, "backend", self.backend);
        raw(&mut s, "status", itoa::Buffer::new().format(self.status));
        raw(&mut s, "error_code", self.error_code);
        if let Some(c) = self.failure {
            put(&mut s, "failure", c);
        }
        s.push_str(" total_ms=");
        push_ms(&mut s, self.total_us);
        s.push_str(" upstream_ms=");
        push_ms(&mut s, self.upstream_us);
        raw(
            &mut s,
            "bytes_in",
            itoa::Buffer::new().format(self.bytes_in),
        );
        raw(
            &mut s,
            "bytes_out",
            itoa::Buffer::new().format(self.bytes_out),
        );
        put(&mut s, "backend_request_id", self.backend_request_id);
        s
    }
}

#[cfg(test)]
mod tests;
