//! Idle backend connections, kept for reuse.
//!
//! pingora's own pool spawns a task per returned connection to watch it while it is idle, and
//! every reuse wakes and ends that task: a task, a timer and two locks per request, about a
//! twentieth of a small request's whole cost. Here an idle connection is not watched. It is
//! checked when taken: a connection the backend closed, or that holds bytes nobody asked for,
//! is dropped and the next one tried. A sweep every `SWEEP` drops connections idle longer
//! than `IDLE` and those the backend closed meanwhile, so none lingers half-closed. (The same
//! design as hyper's client pool: a check at checkout and an idle interval.)

use pingora::protocols::Stream;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

/// How long a connection may stay idle before it is closed.
pub const IDLE: Duration = Duration::from_secs(60);
/// How often idle connections are checked for age and for a close by the backend.
const SWEEP: Duration = Duration::from_secs(15);
/// Idle connections kept per backend in one shard; past that, the longest idle one is closed.
const PER_PEER: usize = 128;
/// Shards of the pool, one per thread as threads first use it (round robin past that).
const SHARDS: usize = 8;

struct Idle {
    stream: Stream,
    since: Instant,
}

/// Idle connections by pool key (pingora's `reuse_hash` of the backend's peer), newest last.
type Shard = Mutex<HashMap<u64, Vec<Idle>>>;

/// Each thread keeps and takes connections in its own shard, so no thread waits for another's
/// lock: on a busy machine, a thread preempted while holding a shared lock would stall every
/// request of every other thread until it ran again. A thread whose shard has none for a key
/// tries the other shards, but only those not locked at that moment.
pub struct Pool {
    shards: Arc<[Shard]>,
    sweeper: std::sync::OnceLock<()>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            sweeper: std::sync::OnceLock::new(),
        }
    }
}

/// This thread's shard.
fn home() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
    HOME.with(|h| *h)
}

/// The shard's lock, waited for.
fn lock(shard: &Shard) -> MutexGuard<'_, HashMap<u64, Vec<Idle>>> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shard's lock: waited for if `wait`, else only if free now.
fn lock_if(shard: &Shard, wait: bool) -> Option<MutexGuard<'_, HashMap<u64, Vec<Idle>>>> {
    if wait {
        return Some(lock(shard));
    }
    match shard.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Pool {
    /// The most recently used open connection for `key`, if any: this thread's first.
    pub fn take(&self, key: u64) -> Option<Stream> {
        let home = home();
        (0..SHARDS).find_map(|i| Self::take_from(&self.shards[(home + i) % SHARDS], key, i == 0))
    }

    fn take_from(shard: &Shard, key: u64, wait: bool) -> Option<Stream> {
        loop {
            let mut idle = {
                let mut map = lock_if(shard, wait)?;
                let list = map.get_mut(&key)?;
                let newest = list.pop()?;
                if newest.since.elapsed() >= IDLE {
                    // Older ones are older still: all go (closed outside the lock).
                    let stale = std::mem::take(list);
                    drop(map);
                    drop((newest, stale));
                    return None;
                }
                newest
            };
            if still_open(&mut idle.stream) {
                return Some(idle.stream);
            }
        }
    }

    /// Keep `stream` (a connection whose last answer was read to its end) for reuse.
    pub fn put(&self, key: u64, mut stream: Stream) {
        if !still_open(&mut stream) {
            return;
        }
        self.start_sweeper();
        let evicted = {
            let mut map = lock(&self.shards[home()]);
            let list = map.entry(key).or_default();
            let evicted = (list.len() >= PER_PEER).then(|| list.remove(0));
            list.push(Idle {
                stream,
                since: Instant::now(),
            });
            evicted
        };
        drop(evicted);
    }

    /// Drop the connections idle past `IDLE` or closed by the backend, one shard at a time.
    fn sweep(shards: &[Shard]) {
        for shard in shards {
            let mut gone = Vec::new();
            {
                let mut map = lock(shard);
                for list in map.values_mut() {
                    let mut i = 0;
                    while i < list.len() {
                        let c = &mut list[i];
                        if c.since.elapsed() >= IDLE || !still_open(&mut c.stream) {
                            gone.push(list.remove(i));
                        } else {
                            i += 1;
                        }
                    }
                }
                map.retain(|_, list| !list.is_empty());
            }
            drop(gone);
        }
    }

    /// One sweeping task per pool, started with the first connection kept (inside the runtime).
    fn start_sweeper(&self) {
        self.sweeper.get_or_init(|| {
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let shards: Weak<[Shard]> = Arc::downgrade(&self.shards);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(SWEEP);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(shards) = shards.upgrade() else {
                        return;
                    };
                    Pool::sweep(&shards);
                }
            });
        });
    }
}

/// Whether an idle connection can carry a request: a read that would wait says so. One that
/// returns bytes (nothing was asked), the end of the stream or an error says it cannot.
fn still_open(stream: &mut Stream) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(Waker::noop());
    let read = std::pin::pin!(std::future::poll_fn(|cx| {
        std::pin::Pin::new(&mut *stream).poll_read(cx, &mut buf)
    }));
    matches!(read.poll(&mut cx), Poll::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    impl Pool {
        /// Idle connections held now (all backends).
        fn len(&self) -> usize {
            let shards = self.shards.iter();
            shards
                .map(|s| lock(s).values().map(Vec::len).sum::<usize>())
                .sum()
        }

        fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    async fn pair() -> (Stream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(tokio::net::TcpStream::connect(addr), async {
            listener.accept().await.unwrap().0
        });
        let stream: Stream = Box::new(pingora::protocols::l4::stream::Stream::from(
            client.unwrap(),
        ));
        (stream, server)
    }

    #[tokio::test]
    async fn a_kept_connection_is_taken_once_and_only_for_its_key() {
        let pool = Pool::default();
        let (a, _server) = pair().await;
        pool.put(7, a);
        assert_eq!(pool.len(), 1);
        assert!(pool.take(8).is_none());
        assert!(pool.take(7).is_some());
        assert!(pool.take(7).is_none());
        assert!(pool.is_empty());
    }

    #[tokio::test]
    async fn connections_the_backend_closed_or_wrote_to_are_not_reused() {
        let pool = Pool::default();
        let (a, server_a) = pair().await;
        let (b, mut server_b) = pair().await;
        let (c, _server_c) = pair().await;
        pool.put(1, c);
        pool.put(1, a);
        pool.put(1, b);
        assert_eq!(pool.len(), 3);
        drop(server_a);
        server_b.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        server_b.flush().await.unwrap();
        // Wait (with a deadline) until both are seen from this side, then take: b and a are
        // skipped, c is the one left.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            Pool::sweep(&pool.shards);
            if pool.len() == 1 || Instant::now() > deadline {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.len(), 1);
        assert!(pool.take(1).is_some());
        assert!(pool.take(1).is_none());
    }

    #[tokio::test]
    async fn a_connection_kept_in_another_threads_shard_is_taken_unless_that_shard_is_locked() {
        let pool = Pool::default();
        let (a, _server) = pair().await;
        let other = &pool.shards[(home() + 3) % SHARDS];
        lock(other).insert(
            9,
            vec![Idle {
                stream: a,
                since: Instant::now(),
            }],
        );
        {
            // Held by its thread: not waited for.
            let _held = lock(other);
            assert!(pool.take(9).is_none());
        }
        assert!(pool.take(9).is_some());
        assert!(pool.is_empty());
    }

    #[tokio::test]
    async fn a_full_pool_closes_its_longest_idle_connection() {
        let pool = Pool::default();
        let mut servers = Vec::new();
        for _ in 0..PER_PEER + 1 {
            let (s, server) = pair().await;
            servers.push(server);
            pool.put(3, s);
        }
        assert_eq!(pool.len(), PER_PEER);
    }
}
