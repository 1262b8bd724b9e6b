//! Prometheus metrics, and the listener for them and the health checks.
//!
//! Here: the counters of refusals, backend errors and retries, copies across backends, keep-alive
//! answers, verification failures and reloads. `requests` holds the per-request series,
//! `connections` the client connection gauges, `health` the listener and readiness state.

mod connections;
mod health;
mod requests;

pub use connections::{
    connection_refused, head_timeout, max_connections, open_connections, take_connection_drop,
    OpenConnection,
};
pub use health::{draining, is_draining, listeners_bound, serve_health};
pub use requests::{request_done, Done};

use crate::dialect::Dialect;
use pingora_prometheus::prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, Histogram, IntCounter,
    IntCounterVec,
};
use std::sync::LazyLock;

static VERIFICATION: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_verification_failures_total",
        "Requests refused by signature verification, by client dialect and reason (the error code)",
        &["dialect", "reason"]
    )
    .expect("metric registers once")
});
static DENIED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "dialect_proxy_denied_total",
        "Requests refused because the client's key is not granted the action, by dialect and action",
        &["dialect", "action"]
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

static SPLICED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "dialect_proxy_spliced_bytes_total",
        "Download body bytes moved from the backend's socket to the client's without entering the process"
    )
    .expect("metric registers once")
});
pub fn spliced(bytes: u64) {
    SPLICED.inc_by(bytes);
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

pub fn denied(dialect: &str, action: &str) {
    DENIED.with_label_values(&[dialect, action]).inc();
}

pub fn verification_failed(dialect: &str, reason: &str) {
    VERIFICATION.with_label_values(&[dialect, reason]).inc();
}

pub fn reload(ok: bool) {
    RELOADS
        .with_label_values(&[if ok { "ok" } else { "failed" }])
        .inc();
}
