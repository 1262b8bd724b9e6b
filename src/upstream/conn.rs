//! A backend connection that sends a request's head with its body's first bytes. pingora writes
//! and flushes a request head on its own, so a request with a body cost a send (and a wake-up of
//! the backend) for its head alone. Armed for a request with a body, the connection keeps the head
//! through the flush that follows it and sends it with the first body write, in one vectored
//! write. A read, a shutdown or any later flush sends it first: nothing ever waits on bytes held
//! here.
//!
//! It also reads ahead (`held::READ_AHEAD`): a 4 KiB object's answer took two reads of the socket
//! (and went to the client in two writes).

use crate::held::{HeldHead, ReadAhead, HEAD_CAP};
use async_trait::async_trait;
use pingora::protocols::{Peek, Stream};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug)]
pub struct Conn {
    inner: Stream,
    /// The next write is a request head to hold (set through a shared reference: pingora's
    /// session lends its connection only so).
    armed: AtomicBool,
    /// The flush pingora makes right after the head is not one to send it.
    skip_flush: bool,
    held: HeldHead,
    ahead: ReadAhead,
}

impl Conn {
    pub fn new(inner: Stream) -> Self {
        Conn {
            inner,
            armed: AtomicBool::new(false),
            skip_flush: false,
            held: HeldHead::default(),
            ahead: ReadAhead::default(),
        }
    }

    /// Hold the next request head for the body's first bytes (only a request with a body).
    pub fn arm(&self) {
        self.armed.store(true, Ordering::Relaxed);
    }

    /// The socket, when plain TCP and nothing of it is kept here: a splice may then read it
    /// directly.
    pub fn splice_fd(&self) -> Option<std::os::fd::RawFd> {
        if !self.ahead.is_empty() || !self.held.is_empty() {
            return None;
        }
        crate::splice::plain_socket(&self.inner)
    }

    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.skip_flush = false;
        if self.held.is_empty() {
            return Poll::Ready(Ok(()));
        }
        ready!(self.held.poll_drain(&mut self.inner, cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // An answer is awaited only after the request went out.
        ready!(self.poll_send_held(cx))?;
        let this = &mut *self;
        let inner = &mut this.inner;
        this.ahead
            .poll_read(cx, buf, |cx, b| Pin::new(&mut *inner).poll_read(cx, b))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if std::mem::take(this.armed.get_mut())
            && data.len() <= HEAD_CAP
            && data.ends_with(b"\r\n\r\n")
        {
            this.held.hold(data);
            this.skip_flush = true;
            return Poll::Ready(Ok(data.len()));
        }
        this.skip_flush = false;
        this.held.poll_write(&mut this.inner, cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if std::mem::take(&mut self.skip_flush) {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_send_held(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_held(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_send_held(cx))?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

crate::delegate_connection!(Conn);

/// No peeking (pingora's default): a peek at the socket would skip what was read ahead.
#[async_trait]
impl Peek for Conn {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A socket that records each write call (a vectored one as one call) and reads from `inner`.
    #[derive(Debug)]
    struct Recorder {
        inner: Stream,
        calls: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls.lock().unwrap().push(b.to_vec());
            Poll::Ready(Ok(b.len()))
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = all.len();
            self.calls.lock().unwrap().push(all);
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    crate::delegate_connection!(Recorder);

    #[async_trait]
    impl Peek for Recorder {}

    fn conn() -> (Conn, Arc<Mutex<Vec<Vec<u8>>>>, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(1024);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rec = Recorder {
            inner: Box::new(ours),
            calls: calls.clone(),
        };
        (Conn::new(Box::new(rec)), calls, theirs)
    }

    const HEAD: &[u8] = b"PUT /b/k HTTP/1.1\r\nContent-Length: 5\r\n\r\n";

    #[tokio::test]
    async fn an_armed_head_leaves_with_the_first_body_bytes() {
        let (mut c, calls, _peer) = conn();
        c.arm();
        // As pingora sends a head: written whole, then flushed.
        c.write_all(HEAD).await.unwrap();
        c.flush().await.unwrap();
        assert!(calls.lock().unwrap().is_empty());
        c.write_all(b"hello").await.unwrap();
        c.flush().await.unwrap();
        assert_eq!(*calls.lock().unwrap(), vec![[HEAD, b"hello"].concat()]);
        // The next request on the connection, not armed (no body): its head goes at once.
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(calls.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn short_reads_take_what_arrived_and_keep_the_rest_in_order() {
        let (mut c, _, mut peer) = conn();
        let answer: Vec<u8> = (0..900u32).map(|i| i as u8).collect();
        peer.write_all(&answer).await.unwrap();
        let mut first = [0u8; 100];
        c.read_exact(&mut first).await.unwrap();
        assert_eq!(
            c.ahead.len(),
            800,
            "one read of the socket took all that had arrived"
        );
        let mut rest = vec![0u8; 800];
        c.read_exact(&mut rest).await.unwrap();
        assert_eq!([&first[..], &rest].concat(), answer);
        assert!(c.ahead.is_empty());
    }

    #[tokio::test]
    async fn a_held_head_goes_before_a_read_or_a_second_flush() {
        let (mut c, calls, mut peer) = conn();
        c.arm();
        c.write_all(HEAD).await.unwrap();
        c.flush().await.unwrap();
        peer.write_all(b"HTTP/1.1 400 Bad Request\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(*calls.lock().unwrap(), vec![HEAD.to_vec()]);

        let (mut c, calls, _peer) = conn();
        c.arm();
        c.write_all(HEAD).await.unwrap();
        c.flush().await.unwrap();
        c.flush().await.unwrap();
        assert_eq!(*calls.lock().unwrap(), vec![HEAD.to_vec()]);
    }
}
