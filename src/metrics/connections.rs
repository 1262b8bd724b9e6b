//! Client connections: open now and their peak, the cap, refusals and head timeouts.

use pingora_prometheus::prometheus::{register_int_counter, IntCounter};
use std::sync::LazyLock;

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
