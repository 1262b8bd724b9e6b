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
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

/// How long a connection may stay idle before it is closed.
pub const IDLE: Duration = Duration::from_secs(60);
/// How often idle connections are checked for age and for a close by the backend.
const SWEEP: Duration = Duration::from_secs(15);
/// Idle connections kept per backend; past that, the longest idle one is closed.
const PER_PEER: usize = 128;

struct Idle {
    stream: Stream,
    since: Instant,
}

/// Idle connections by pool key (pingora's `reuse_hash` of the backend's peer), newest last.
#[derive(Default)]
pub struct Pool {
    idle: Arc<Mutex<HashMap<u64, Vec<Idle>>>>,
    sweeper: std::sync::OnceLock<()>,
}

impl Pool {
    /// The most recently used open connection for `key`, if any.
    pub fn take(&self, key: u64) -> Option<Stream> {
        loop {
            let mut idle = {
                let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
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
            let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Drop the connections idle past `IDLE` or closed by the backend.
    fn sweep(idle: &Mutex<HashMap<u64, Vec<Idle>>>) {
        let mut gone = Vec::new();
        {
            let mut map = idle.lock().unwrap_or_else(|e| e.into_inner());
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

    /// One sweeping task per pool, started with the first connection kept (inside the runtime).
    fn start_sweeper(&self) {
        self.sweeper.get_or_init(|| {
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let idle: Weak<_> = Arc::downgrade(&self.idle);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(SWEEP);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(idle) = idle.upgrade() else {
                        return;
                    };
                    Pool::sweep(&idle);
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
            let map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            map.values().map(Vec::len).sum()
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
            Pool::sweep(&pool.idle);
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
