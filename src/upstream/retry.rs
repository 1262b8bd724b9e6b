//! The one retry policy. Every caller that may send a request again (a buffered exchange, a
//! download's opening, a copy across backends sent whole again) asks `Retry::again` after each
//! attempt; the wait, the count and the deadline are decided here and nowhere else.

use super::Failure;
use crate::config::Backend;
use crate::metrics;
use std::time::{Duration, Instant};

/// The retries left to one request on one backend, within its total deadline.
pub struct Retry<'a> {
    backend: &'a Backend,
    /// Retries made so far.
    n: u32,
    deadline: Instant,
}

impl<'a> Retry<'a> {
    pub fn new(backend: &'a Backend) -> Self {
        Retry {
            backend,
            n: 0,
            deadline: Instant::now() + backend.timeouts.total,
        }
    }

    /// Whether an attempt that ended so proves the backend did not act: no status line, or `503`.
    pub fn unacted(result: Result<u16, &Failure>) -> bool {
        matches!(
            result,
            Err(Failure::Unreachable(_) | Failure::Unresolved(_)) | Ok(503)
        )
    }

    /// After an attempt that may be sent again (`retry`): wait the backoff and answer `true`;
    /// `false` at once when it may not, the backend's retries are spent or the wait would pass
    /// the deadline.
    pub async fn again(&mut self, retry: bool) -> bool {
        let Some(wait) = self.wait(retry) else {
            return false;
        };
        metrics::upstream_retry(&self.backend.name);
        tracing::debug!(backend = %self.backend.name, attempt = self.n, "sending again");
        tokio::time::sleep(wait).await;
        true
    }

    /// Retries made so far.
    pub fn made(&self) -> u32 {
        self.n
    }

    fn wait(&mut self, retry: bool) -> Option<Duration> {
        if !retry || self.n >= self.backend.timeouts.retries {
            return None;
        }
        self.n += 1;
        let wait = backoff(self.backend, self.n);
        (Instant::now() + wait < self.deadline).then_some(wait)
    }
}

/// The wait before retry `n` (1-based): `backoff * 2^(n-1)`, capped, with full jitter.
fn backoff(b: &Backend, n: u32) -> Duration {
    let t = &b.timeouts;
    let cap = t
        .backoff
        .saturating_mul(1u32 << (n - 1).min(16))
        .min(t.backoff_max);
    cap.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}
