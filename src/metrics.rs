//! Prometheus metrics, and the listener for them and the health checks.

use crate::dialect::Dialect;
use async_trait::async_trait;
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::apps::ServerApp;
use pingora::protocols::http::ServerSession;
use pingora_prometheus::prometheus::{
    self, register_histogram, register_histogram_vec, register_int_counter,
    register_int_counter_vec, Encoder, Histogram, HistogramVec, IntCounter, IntCounterVec,
    TextEncoder,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_responses_total",
        "Answers sent, by client dialect and status",
        &["dialect", "status"]
    )
    .expect("metric registers once")
});
static ANSWERS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_requests_total",
        "Requests answered, by client dialect, operation, backend and status (0: cut before an answer)",
        &["dialect", "operation", "backend", "status"]
    )
    .expect("metric registers once")
});
/// Seconds: from a small answer to a slow copy.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "dialect_proxy_request_duration_seconds",
        "Time from a request's head to the end of its answer, by client dialect and operation",
        &["dialect", "operation"],
        LATENCY_BUCKETS.to_vec()
    )
    .expect("metric registers once")
});
static UPSTREAM_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "dialect_proxy_upstream_duration_seconds",
        "Time a request waited for its backend's answers to begin, by backend",
        &["backend"],
        LATENCY_BUCKETS.to_vec()
    )
    .expect("metric registers once")
});
static BYTES_IN: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_received_bytes_total",
        "Request body bytes read from clients, by client dialect",
        &["dialect"]
    )
    .expect("metric registers once")
});
static BYTES_OUT: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_sent_bytes_total",
        "Answer body bytes sent to clients, by client dialect",
        &["dialect"]
    )
    .expect("metric registers once")
});
static VERIFICATION: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_verification_failures_total",
        "Requests refused by signature verification, by client dialect and reason (the error code)",
        &["dialect", "reason"]
    )
    .expect("metric registers once")
});
static RELOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_config_reloads_total",
        "Configuration reloads, by result (ok: swapped in; failed: refused, the running one kept)",
        &["result"]
    )
    .expect("metric registers once")
});
static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_refused_total",
        "Requests the proxy refused itself, by code",
        &["dialect", "code"]
    )
    .expect("metric registers once")
});
static FAILED_200: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_backend_200_errors_total",
        "Backend 200 answers that carried an error or no ETag",
        &["dialect"]
    )
    .expect("metric registers once")
});

static UPSTREAM_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_upstream_errors_total",
        "Backend exchanges that failed (after retries), by backend and kind",
        &["backend", "kind"]
    )
    .expect("metric registers once")
});
static UPSTREAM_RETRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_upstream_retries_total",
        "Backend requests sent again after a failure that proved the backend did not act",
        &["backend"]
    )
    .expect("metric registers once")
});

static COPY_ACROSS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_copy_across_total",
        "Copies (Upload Part - Copy, CopyObject) whose source lives on another backend, by result",
        &["result"]
    )
    .expect("metric registers once")
});
static COPY_ACROSS_BYTES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "dialect_proxy_copy_across_bytes_total",
        "Bytes copied across backends (stored parts and objects only)"
    )
    .expect("metric registers once")
});
static COPY_ACROSS_RETRIES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "dialect_proxy_copy_across_retries_total",
        "Copies across backends sent again after a transient failure"
    )
    .expect("metric registers once")
});
static COPY_ACROSS_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "dialect_proxy_copy_across_seconds",
        "Duration of copies across backends",
        vec![0.05, 0.25, 1.0, 5.0, 30.0, 120.0, 600.0]
    )
    .expect("metric registers once")
});

static CONNECTIONS_OPEN: LazyLock<pingora_prometheus::prometheus::IntGauge> = LazyLock::new(|| {
    pingora_prometheus::prometheus::register_int_gauge!(
        "dialect_proxy_open_connections",
        "Client connections open now"
    )
    .expect("metric registers once")
});
static CONNECTIONS_MAX: LazyLock<pingora_prometheus::prometheus::IntGauge> = LazyLock::new(|| {
    pingora_prometheus::prometheus::register_int_gauge!(
        "dialect_proxy_max_connections",
        "Client connections allowed open at once (server.max_connections)"
    )
    .expect("metric registers once")
});
static CONNECTIONS_REFUSED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "dialect_proxy_connections_refused_total",
        "Client connections closed at once because max_connections were open"
    )
    .expect("metric registers once")
});
static HEAD_TIMEOUTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "dialect_proxy_header_timeouts_total",
        "Client connections cut because a request head did not arrive within client_header_timeout"
    )
    .expect("metric registers once")
});

/// The most connections open since the last `take_connection_drop`.
static CONNECTIONS_PEAK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// How far open connections fell from their peak since the last call; the peak restarts from now.
pub fn take_connection_drop() -> i64 {
    let now = CONNECTIONS_OPEN.get();
    let peak = CONNECTIONS_PEAK.swap(now, std::sync::atomic::Ordering::Relaxed);
    peak - now
}

/// Counts an open client connection while it lives.
pub struct OpenConnection;
impl OpenConnection {
    pub fn new() -> Self {
        CONNECTIONS_OPEN.inc();
        CONNECTIONS_PEAK.fetch_max(CONNECTIONS_OPEN.get(), std::sync::atomic::Ordering::Relaxed);
        OpenConnection
    }
}
impl Default for OpenConnection {
    fn default() -> Self {
        Self::new()
    }
}
impl Drop for OpenConnection {
    fn drop(&mut self) {
        CONNECTIONS_OPEN.dec();
    }
}
pub fn open_connections() -> i64 {
    CONNECTIONS_OPEN.get()
}
/// The cap on open connections, exported so that alerts compare open connections with it.
pub fn max_connections(n: usize) {
    CONNECTIONS_MAX.set(i64::try_from(n).unwrap_or(i64::MAX));
}
pub fn connection_refused() {
    CONNECTIONS_REFUSED.inc();
}
pub fn head_timeout() {
    HEAD_TIMEOUTS.inc();
}

static KEEPALIVE: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "dialect_proxy_keepalive_answers_total",
        "Slow copies and Completes answered 200 early and kept alive with whitespace"
    )
    .expect("metric registers once")
});
pub fn keepalive_started() {
    KEEPALIVE.inc();
}

/// A copy across backends ended: `stored` with `bytes` in the destination, or not.
pub fn copy_across(stored: bool, bytes: u64, seconds: f64) {
    COPY_ACROSS
        .with_label_values(&[if stored { "stored" } else { "failed" }])
        .inc();
    if stored {
        COPY_ACROSS_BYTES.inc_by(bytes);
    }
    COPY_ACROSS_SECONDS.observe(seconds);
}
pub fn copy_across_retry() {
    COPY_ACROSS_RETRIES.inc();
}

pub fn upstream_error(backend: &str, kind: &str) {
    UPSTREAM_ERRORS.with_label_values(&[backend, kind]).inc();
}
pub fn upstream_retry(backend: &str) {
    UPSTREAM_RETRIES.with_label_values(&[backend]).inc();
}

pub fn error(d: Dialect, code: &str) {
    ERRORS.with_label_values(&[d.name(), code]).inc();
}
pub fn failed_200(d: Dialect) {
    FAILED_200.with_label_values(&[d.name()]).inc();
}

/// How one request ended, for the request metrics.
pub struct Done<'a> {
    pub dialect: &'a str,
    pub op: &'a str,
    pub backend: &'a str,
    pub status: u16,
    pub seconds: f64,
    pub upstream_seconds: Option<f64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One label combination's series, looked up once per thread (a lookup hashes every label).
/// The optional ones are made at their first sample, as before: a series appears in `/metrics`
/// only once it has one.
struct Series {
    dialect: String,
    op: String,
    backend: String,
    status: u16,
    answers: prometheus::IntCounter,
    responses: prometheus::IntCounter,
    duration: prometheus::Histogram,
    upstream: Option<prometheus::Histogram>,
    bytes_in: Option<prometheus::IntCounter>,
    bytes_out: Option<prometheus::IntCounter>,
}

/// Combinations kept per thread; past this, lookups go to the registry each time.
const SERIES_CACHED: usize = 64;

thread_local! {
    static SERIES: std::cell::RefCell<Vec<Series>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Series {
    fn new(d: &Done) -> Series {
        let status = itoa::Buffer::new().format(d.status).to_string();
        Series {
            dialect: d.dialect.to_string(),
            op: d.op.to_string(),
            backend: d.backend.to_string(),
            status: d.status,
            answers: ANSWERS.with_label_values(&[d.dialect, d.op, d.backend, &status]),
            responses: REQUESTS.with_label_values(&[d.dialect, &status]),
            duration: DURATION.with_label_values(&[d.dialect, d.op]),
            upstream: None,
            bytes_in: None,
            bytes_out: None,
        }
    }

    fn is(&self, d: &Done) -> bool {
        self.status == d.status
            && self.op == d.op
            && self.dialect == d.dialect
            && self.backend == d.backend
    }

    fn record(&mut self, d: &Done) {
        self.answers.inc();
        self.responses.inc();
        self.duration.observe(d.seconds);
        if let Some(u) = d.upstream_seconds {
            self.upstream
                .get_or_insert_with(|| UPSTREAM_DURATION.with_label_values(&[d.backend]))
                .observe(u);
        }
        if d.bytes_in > 0 {
            self.bytes_in
                .get_or_insert_with(|| BYTES_IN.with_label_values(&[d.dialect]))
                .inc_by(d.bytes_in);
        }
        if d.bytes_out > 0 {
            self.bytes_out
                .get_or_insert_with(|| BYTES_OUT.with_label_values(&[d.dialect]))
                .inc_by(d.bytes_out);
        }
    }
}

pub fn request_done(d: Done) {
    SERIES.with_borrow_mut(|cache| match cache.iter_mut().find(|s| s.is(&d)) {
        Some(s) => s.record(&d),
        None => {
            let mut s = Series::new(&d);
            s.record(&d);
            if cache.len() < SERIES_CACHED {
                cache.push(s);
            }
        }
    });
}

pub fn verification_failed(dialect: &str, reason: &str) {
    VERIFICATION.with_label_values(&[dialect, reason]).inc();
}

pub fn reload(ok: bool) {
    RELOADS
        .with_label_values(&[if ok { "ok" } else { "failed" }])
        .inc();
}

/// Readiness: the configuration is loaded (it is before anything serves), the listeners accept,
/// and the process is not draining.
static BOUND: AtomicBool = AtomicBool::new(false);
static DRAINING: AtomicBool = AtomicBool::new(false);

pub fn listeners_bound() {
    BOUND.store(true, Ordering::Relaxed);
}
/// From now on `/readyz` answers 503 (shutdown or upgrade under way).
pub fn draining() {
    DRAINING.store(true, Ordering::Relaxed);
}
pub fn is_draining() -> bool {
    DRAINING.load(Ordering::Relaxed)
}

struct HealthApp;

#[async_trait]
impl ServeHttp for HealthApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let (status, ctype, body) = match session.req_header().uri.path() {
            "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
            "/readyz" if is_draining() => (503, "text/plain", b"draining\n".to_vec()),
            "/readyz" if !BOUND.load(Ordering::Relaxed) => {
                (503, "text/plain", b"starting\n".to_vec())
            }
            "/readyz" => (200, "text/plain", b"ready\n".to_vec()),
            "/metrics" => {
                let mut buf = Vec::new();
                let _ = TextEncoder::new().encode(&prometheus::gather(), &mut buf);
                (200, "text/plain; version=0.0.4", buf)
            }
            _ => (404, "text/plain", b"not found\n".to_vec()),
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, ctype)
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body)
            .unwrap_or_default()
    }
}

/// Serve `/metrics`, `/healthz` and `/readyz` on `addr` from a thread of its own, outside
/// pingora's services: it keeps answering (`/readyz` 503) while the proxy drains, until exit.
/// The socket may be shared (SO_REUSEPORT) with the process taking over in an upgrade.
pub fn serve_health(addr: &str) -> std::io::Result<()> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or_else(|| std::io::Error::other("address resolves to nothing"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(async {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen(128)
    })?;
    std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            rt.block_on(async move {
                let app = std::sync::Arc::new(HttpServer::new_app(HealthApp));
                // Never fires: this listener lives as long as the process.
                let (_keep, never) = tokio::sync::watch::channel(false);
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (app, never) = (app.clone(), never.clone());
                    tokio::spawn(async move {
                        let stream = pingora::protocols::l4::stream::Stream::from(tcp);
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            app.process_new(Box::new(stream), &never),
                        )
                        .await;
                    });
                }
            })
        })?;
    Ok(())
}
