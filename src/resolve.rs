//! Backend host names, resolved when connections are made rather than when the configuration
//! loads: a pod may start before its DNS answers, and endpoints behind load balancers change
//! address. One answer is kept per backend for its `dns_ttl`. A failed lookup keeps the last good
//! address (stale beats none) and is tried again after a second; without any good address, the
//! backend's requests fail (503) while the proxy serves the others.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a failed lookup stands before the next try.
const RETRY_FAILED: Duration = Duration::from_secs(1);

struct Entry<T> {
    /// The last good address and what was built for it (connection options, pool key).
    good: Option<(SocketAddr, Arc<T>)>,
    /// Why the last lookup failed, while no address was ever had.
    failed: Option<String>,
    until: Instant,
}

pub struct Dns<T> {
    entry: Mutex<Option<Entry<T>>>,
}

impl<T> Default for Dns<T> {
    fn default() -> Self {
        Dns {
            entry: Mutex::new(None),
        }
    }
}

impl<T> std::fmt::Debug for Dns<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T> Dns<T> {
    /// What `build` made for the current address of `target` (`host:port`), looked up again
    /// once `ttl` has passed; `deadline` bounds the lookup. One address changing keeps nothing
    /// of the old one (its pooled connections go unused and are swept).
    pub async fn get(
        &self,
        target: &str,
        ttl: Duration,
        deadline: Duration,
        build: impl FnOnce(SocketAddr) -> T,
    ) -> Result<Arc<T>, String> {
        if let Some(e) = lock(&self.entry)
            .as_ref()
            .filter(|e| e.until > Instant::now())
        {
            return match (&e.good, &e.failed) {
                (Some((_, t)), _) => Ok(t.clone()),
                (None, why) => Err(why.clone().unwrap_or_default()),
            };
        }
        let found = match tokio::time::timeout(deadline, tokio::net::lookup_host(target)).await {
            Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| "no address".to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer in {deadline:?}")),
        };
        let now = Instant::now();
        let mut slot = lock(&self.entry);
        let old = slot.take().and_then(|e| e.good);
        let (entry, out) = match (found, old) {
            (Ok(a), Some((was, t))) if was == a => {
                let out = Ok(t.clone());
                (Entry::ready(a, t, now + ttl), out)
            }
            (Ok(a), _) => {
                let t = Arc::new(build(a));
                (Entry::ready(a, t.clone(), now + ttl), Ok(t))
            }
            (Err(_), Some((was, t))) => {
                let out = Ok(t.clone());
                (Entry::ready(was, t, now + RETRY_FAILED), out)
            }
            (Err(e), None) => {
                let why = format!("cannot resolve '{target}': {e}");
                let entry = Entry {
                    good: None,
                    failed: Some(why.clone()),
                    until: now + RETRY_FAILED,
                };
                (entry, Err(why))
            }
        };
        *slot = Some(entry);
        out
    }
}

impl<T> Entry<T> {
    fn ready(a: SocketAddr, t: Arc<T>, until: Instant) -> Self {
        Entry {
            good: Some((a, t)),
            failed: None,
            until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready<T: Copy>(l: Result<Arc<T>, String>) -> T {
        *l.unwrap()
    }

    #[tokio::test]
    async fn names_are_looked_up_when_needed_and_again_after_the_ttl() {
        let d = Duration::from_secs(5);
        let dns: Dns<u16> = Dns::default();
        let long = Duration::from_secs(3600);
        assert_eq!(
            ready(dns.get("127.0.0.1:80", long, d, |a| a.port()).await),
            80
        );
        // Inside the TTL, the kept answer (the build is not called again).
        let b = dns.get("127.0.0.1:81", long, d, |_| panic!("looked up"));
        assert_eq!(ready(b.await), 80);
        // Past it (a TTL of zero has always passed), the new address.
        let dns: Dns<u16> = Dns::default();
        assert_eq!(
            ready(
                dns.get("127.0.0.1:80", Duration::ZERO, d, |a| a.port())
                    .await
            ),
            80
        );
        let c = dns.get("127.0.0.1:81", Duration::ZERO, d, |a| a.port());
        assert_eq!(ready(c.await), 81);
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_fails_until_it_does_and_stale_beats_none() {
        let dns: Dns<u16> = Dns::default();
        let (ttl, d) = (Duration::ZERO, Duration::from_secs(5));
        let why = dns.get("does-not-resolve.invalid:443", ttl, d, |a| a.port());
        assert!(why.await.unwrap_err().contains("cannot resolve"));
        // Within a second, the failure stands without another lookup.
        let again = dns.get("127.0.0.1:80", ttl, d, |a| a.port());
        assert!(again.await.is_err());
        // A good address, then a failing lookup: the last good address is kept.
        let dns: Dns<u16> = Dns::default();
        assert_eq!(
            ready(dns.get("127.0.0.1:80", ttl, d, |a| a.port()).await),
            80
        );
        let kept = dns.get("does-not-resolve.invalid:443", ttl, d, |a| a.port());
        assert_eq!(ready(kept.await), 80);
    }
}
