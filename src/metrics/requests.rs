//! Per-request series: answers, durations and bytes by dialect, operation and backend, their
//! label lookups cached per thread.

use pingora_prometheus::prometheus::{
    self, register_histogram_vec, register_int_counter_vec, HistogramVec, IntCounterVec,
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
