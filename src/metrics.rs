//! Prometheus counters and the metrics/health listener.

use crate::dialect::Dialect;
use async_trait::async_trait;
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::protocols::http::ServerSession;
use pingora_prometheus::prometheus::{
    self, register_histogram, register_int_counter, register_int_counter_vec, Encoder, Histogram,
    IntCounter, IntCounterVec, TextEncoder,
};
use std::sync::LazyLock;

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_responses_total",
        "Answers sent, by client dialect and status",
        &["dialect", "status"]
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

pub fn request(d: Dialect, status: u16) {
    REQUESTS
        .with_label_values(&[d.name(), &status.to_string()])
        .inc();
}
pub fn error(d: Dialect, code: &str) {
    ERRORS.with_label_values(&[d.name(), code]).inc();
}
pub fn failed_200(d: Dialect) {
    FAILED_200.with_label_values(&[d.name()]).inc();
}

pub struct MetricsApp;

#[async_trait]
impl ServeHttp for MetricsApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let (status, ctype, body) = match path.as_str() {
            "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
            "/metrics" => {
                let enc = TextEncoder::new();
                let mut buf = Vec::new();
                let _ = enc.encode(&prometheus::gather(), &mut buf);
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

pub fn server() -> HttpServer<MetricsApp> {
    HttpServer::new_app(MetricsApp)
}
