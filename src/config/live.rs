//! Backend keys that expire: where they come from, and the current ones, swapped in whole by the
//! refresher (the `credentials` module) while requests sign with whichever set they loaded.

use super::file::{ContainerEntry, WebIdentityEntry};
use super::Backend;
use crate::sign::Secret;
use arc_swap::ArcSwapOption;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// One set of keys and when it expires (Unix seconds).
pub struct Keys {
    pub access_key: String,
    pub secret: Secret,
    pub session_token: Option<Secret>,
    pub expires: i64,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("access_key", &self.access_key)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    WebIdentity(WebIdentityEntry),
    Container(ContainerEntry),
}

/// Keys that are fetched and refreshed while the process runs.
pub struct Live {
    pub source: KeySource,
    /// The STS or credentials endpoint, as a backend of its own (transport, deadlines).
    pub endpoint: Backend,
    /// The endpoint's path and query (`/` for STS).
    pub path: String,
    keys: ArcSwapOption<Keys>,
    /// When the next fetch is due (Unix seconds; 0: now).
    due: AtomicI64,
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("source", &self.source)
            .field("keys", &self.keys.load())
            .finish_non_exhaustive()
    }
}

impl Live {
    pub fn new(source: KeySource, endpoint: Backend, path: String) -> Arc<Live> {
        Arc::new(Live {
            source,
            endpoint,
            path,
            keys: ArcSwapOption::empty(),
            due: AtomicI64::new(0),
        })
    }

    /// The keys to sign with now: none before the first fetch or once they have expired.
    pub fn current(&self, now: i64) -> Option<Arc<Keys>> {
        self.keys.load_full().filter(|k| k.expires > now)
    }

    pub fn ready(&self, now: i64) -> bool {
        self.keys.load().as_ref().is_some_and(|k| k.expires > now)
    }

    pub fn due(&self, now: i64) -> bool {
        self.due.load(Ordering::Relaxed) <= now
    }

    /// New keys, fetched at `now`: the next fetch halfway through their remaining life, at most
    /// five minutes before they expire.
    pub fn store(&self, keys: Keys, now: i64) {
        let life = (keys.expires - now).max(0);
        let next = keys.expires - (life / 2).min(300);
        self.due.store(next, Ordering::Relaxed);
        self.keys.store(Some(Arc::new(keys)));
    }

    /// A fetch failed: try again after `wait` seconds.
    pub fn retry_in(&self, now: i64, wait: i64) {
        self.due.store(now + wait, Ordering::Relaxed);
    }
}
