//! The client side of every connection, below HTTP: a deadline for each request head (pingora
//! bounds each read, so a head sent a byte at a time would never end), and a cap on open
//! connections. The deadline starts with the first byte of a head and ends at its blank line; it
//! starts again with the first byte read after an answer was written (the next request on a
//! kept-alive connection). Idle waits between requests are `client_keepalive`'s business.

use crate::held::{HeldHead, ReadAhead, READ_AHEAD};
use crate::metrics;
use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Peek, Stream};
use pingora::server::ShutdownWatch;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod held;
mod scan;
use scan::{HeadScan, Seen};

/// Gives memory freed by closed connections back to the system: the allocator keeps freed pages
/// for reuse, so RSS stayed near its high-water mark after a burst of connections closed.
/// Checked every few seconds; collects once the open connections fell well below their last peak.
pub fn return_memory_after_bursts() {
    std::thread::Builder::new()
        .name("memory-trim".into())
        .spawn(|| loop {
            std::thread::sleep(Duration::from_secs(5));
            if metrics::take_connection_drop() >= 64 {
                // SAFETY: mi_collect only releases memory that is free.
                unsafe {
                    libmimalloc_sys::mi_collect(true);
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::warn!(error = %e, "no memory-trim thread"));
}

/// Wraps a pingora app: every connection gets a head deadline and holds one of `max` permits.
pub struct Guarded<A> {
    inner: Arc<A>,
    head_timeout: Duration,
    connections: Arc<Semaphore>,
    /// How long a connection may idle between requests (read at each wait: reloadable).
    keepalive: Box<dyn Fn() -> Duration + Send + Sync>,
}

impl<A> Guarded<A> {
    pub fn new(
        inner: A,
        head_timeout: Duration,
        max_connections: usize,
        keepalive: Box<dyn Fn() -> Duration + Send + Sync>,
    ) -> Self {
        metrics::max_connections(max_connections);
        Guarded {
            inner: Arc::new(inner),
            head_timeout,
            connections: Arc::new(Semaphore::new(max_connections)),
            keepalive,
        }
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    /// HTTP/1.1 only (the listeners offer no h2). Reuse is handled here rather than by pingora's
    /// generic loop, so that between requests a connection waits for its next byte holding only
    /// this small state, not the app's per-request state and buffers (about 20 KiB).
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            // Over the cap: closed at once, before a byte is read.
            metrics::connection_refused();
            return None;
        };
        let _open = metrics::OpenConnection::new();
        let mut stream: Stream = Box::new(HeadDeadline::new(stream, self.head_timeout, permit));
        let mut settings = None;
        loop {
            let mut session = ServerSession::new_http1(stream);
            session.set_keepalive(Some(60));
            if let Some(s) = settings {
                HttpPersistentSettings::apply_to_session(s, &mut session);
            }
            let reused = self.inner.process_new_http(session, shutdown).await?;
            let (s, p) = reused.consume();
            (stream, settings) = (s, p);
            if *shutdown.borrow() {
                return None;
            }
            // A stream that cannot peek (TLS) goes straight back: the session's own keep-alive
            // wait applies then.
            let mut first = [0u8; 1];
            let mut stop = shutdown.clone();
            tokio::select! {
                r = pingora_timeout::fast_timeout::fast_timeout((self.keepalive)(), stream.try_peek(&mut first)) => {
                    if !matches!(r, Ok(Ok(_))) {
                        return None;
                    }
                }
                _ = stop.changed() => return None,
            }
        }
    }

    async fn cleanup(&self) {
        self.inner.http_cleanup().await
    }
}

/// Who writes a body: pingora (off), a splicer, or nobody after a splice failed (nothing
/// pingora writes then may reach the client: its bytes are placeholders).
#[derive(Debug)]
enum Splicing {
    Off,
    Moving(Box<crate::splice::Splicer>),
    Failed,
}

/// A connection whose request heads must arrive whole within a deadline.
pub struct HeadDeadline {
    inner: Stream,
    limit: Duration,
    scan: HeadScan,
    deadline: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
    /// What the wait for the next request read (served before the socket; see `try_peek`).
    peeked: ReadAhead,
    /// An answer head waiting for its body's first bytes.
    held: HeldHead,
    /// A download body moving socket to socket: pingora's body writes are carried out by it
    /// (set through a shared reference: pingora's session lends its connection only so).
    splice: std::sync::Mutex<Splicing>,
    _permit: OwnedSemaphorePermit,
}

impl HeadDeadline {
    fn new(inner: Stream, limit: Duration, permit: OwnedSemaphorePermit) -> Self {
        HeadDeadline {
            inner,
            limit,
            scan: HeadScan::new(),
            deadline: None,
            peeked: ReadAhead::default(),
            held: HeldHead::default(),
            splice: std::sync::Mutex::new(Splicing::Off),
            _permit: permit,
        }
    }

    /// The client's socket, when the connection is plain TCP (a splice's destination).
    pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        crate::splice::plain_socket(&self.inner)
    }

    /// The next body writes, as many bytes as `s` is to move, are made by `s`.
    pub fn splice(&self, s: crate::splice::Splicer) {
        *self.splice.lock().unwrap_or_else(|e| e.into_inner()) = Splicing::Moving(Box::new(s));
    }

    /// A body write carried out by the splicer: what pingora buffered goes first.
    fn poll_splice(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        ready!(self.held.poll_drain(&mut self.inner, cx))?;
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        let slot = self.splice.get_mut().unwrap_or_else(|e| e.into_inner());
        let Splicing::Moving(s) = slot else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the spliced body broke off",
            )));
        };
        let moved = s.poll_move(cx, want);
        match &moved {
            Poll::Ready(Err(_)) => *slot = Splicing::Failed,
            _ if s.done() => *slot = Splicing::Off,
            _ => {}
        }
        moved
    }
}

impl std::fmt::Debug for HeadDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadDeadline")
            .field("inner", &self.inner)
            .field("scan", &self.scan)
            .finish()
    }
}

impl HeadDeadline {
    /// Read from the socket, minding the head's deadline and where heads begin and end.
    fn poll_socket(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(d) = self.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                metrics::head_timeout();
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request head did not arrive in time",
                )));
            }
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            match self.scan.read(&buf.filled()[before..]) {
                Seen::HeadEnds => self.deadline = None,
                Seen::HeadBegins if self.deadline.is_none() => {
                    // pingora's coarse timer: a tokio timer per head would wake the runtime's
                    // driver (a syscall) every request.
                    let mut d: Pin<Box<dyn Future<Output = ()> + Send + Sync>> =
                        Box::pin(pingora_timeout::fast_timeout::fast_sleep(self.limit));
                    // Polled once, so that this task wakes when it passes.
                    let _ = d.as_mut().poll(cx);
                    self.deadline = Some(d);
                }
                _ => {}
            }
        }
        r
    }
}

impl AsyncRead for HeadDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // What was read ahead was scanned when read. (Taken out for the read: the socket's
        // read borrows the rest of the connection.)
        let mut ahead = std::mem::take(&mut self.peeked);
        let r = ahead.poll_read(cx, buf, |cx, b| self.poll_socket(cx, b));
        self.peeked = ahead;
        r
    }
}

impl AsyncWrite for HeadDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !matches!(this.splice.get_mut().as_deref(), Ok(Splicing::Off)) {
            return this.poll_splice(cx, data.len());
        }
        let first = this.scan.answer_starts();
        this.scan.wrote(data);
        if this.held.is_empty() && held::holds(first, data) {
            this.held.hold(data);
            return Poll::Ready(Ok(data.len()));
        }
        this.held.poll_write(&mut this.inner, cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.held.poll_drain(&mut this.inner, cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.held.poll_drain(&mut this.inner, cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !matches!(this.splice.get_mut().as_deref(), Ok(Splicing::Off)) {
            // Placeholders too: only their length counts.
            let want = bufs.iter().find(|b| !b.is_empty()).map_or(0, |b| b.len());
            return this.poll_splice(cx, want);
        }
        ready!(this.held.poll_drain(&mut this.inner, cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            this.scan.wrote(first);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

crate::delegate_connection!(HeadDeadline);

/// Waits for the next request's first bytes and reads what has arrived (up to 16 KiB) in one go:
/// a one-byte peek would cost a second read of the socket for every request.
#[async_trait]
impl Peek for HeadDeadline {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        if self.peeked.len() < buf.len() {
            // The buffer lives on the stack of each poll, not in this future: an idle
            // connection waiting here holds no buffer. Left uninitialised: zeroing it cost
            // more than the read.
            let n = std::future::poll_fn(|cx| {
                let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); READ_AHEAD];
                let mut rb = ReadBuf::uninit(&mut chunk);
                let r = self.poll_socket(cx, &mut rb);
                let n = rb.filled().len();
                if let Poll::Ready(Ok(())) = r {
                    self.peeked.extend(rb.filled());
                }
                r.map_ok(|()| n)
            })
            .await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let n = buf.len().min(self.peeked.len());
        buf[..n].copy_from_slice(self.peeked.first(n));
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
