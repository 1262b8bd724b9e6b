//! A head held back to leave with its body's first bytes in one vectored write, on either side of
//! the proxy: an answer's head to a client (`guard`), a request's head to a backend
//! (`upstream::conn`). Who holds what is decided there; the bytes keep their order here.
//! Also bytes read ahead of what was asked (both sides), and the delegation every connection
//! wrapper needs for pingora's connection traits.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncWrite, ReadBuf};

/// A read asking less than this takes this much from the socket: pingora reads a head 4 KiB at a
/// time, so a request or answer of 4-16 KiB otherwise took two reads.
pub const READ_AHEAD: usize = 16 << 10;

/// Bytes read from a socket and not yet asked for, served before the socket; freed once taken
/// (nothing is kept between requests).
#[derive(Debug, Default)]
pub struct ReadAhead {
    bytes: Vec<u8>,
}

impl ReadAhead {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether a read of this size should read ahead.
    fn wants(buf: &ReadBuf<'_>) -> bool {
        buf.remaining() < READ_AHEAD
    }

    /// A read through this: what is kept first; a short read takes `READ_AHEAD` from `socket`
    /// (into a buffer on the stack of this poll, uninitialised: the socket fills what it returns).
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        mut socket: impl FnMut(&mut Context<'_>, &mut ReadBuf<'_>) -> Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        if self.serve(buf) {
            return Poll::Ready(Ok(()));
        }
        if !Self::wants(buf) {
            return socket(cx, buf);
        }
        let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); READ_AHEAD];
        let mut got = ReadBuf::uninit(&mut chunk);
        ready!(socket(cx, &mut got))?;
        self.keep(got.filled(), buf);
        Poll::Ready(Ok(()))
    }

    /// Fill `buf` from what is kept; `false` when nothing is.
    fn serve(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.bytes.is_empty() {
            return false;
        }
        let n = self.bytes.len().min(buf.remaining());
        buf.put_slice(&self.bytes[..n]);
        if n == self.bytes.len() {
            self.bytes = Vec::new();
        } else {
            self.bytes.drain(..n);
        }
        true
    }

    /// `got` was read from the socket: what fits goes to `buf`, the rest is kept.
    fn keep(&mut self, got: &[u8], buf: &mut ReadBuf<'_>) {
        let n = got.len().min(buf.remaining());
        buf.put_slice(&got[..n]);
        self.bytes.extend_from_slice(&got[n..]);
    }

    /// Keep `got` whole (a wait for the next request read it; see `guard`'s `try_peek`).
    pub fn extend(&mut self, got: &[u8]) {
        self.bytes.extend_from_slice(got);
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn first(&self, n: usize) -> &[u8] {
        &self.bytes[..n.min(self.bytes.len())]
    }
}

/// No head longer than this is held.
pub const HEAD_CAP: usize = 8 << 10;

/// The head held back, if any.
#[derive(Debug, Default)]
pub struct HeldHead {
    bytes: Vec<u8>,
}

impl HeldHead {
    pub fn hold(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Write `data` after what is held, in one vectored write where the socket takes both.
    pub fn poll_write<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        while !self.bytes.is_empty() {
            let bufs = [io::IoSlice::new(&self.bytes), io::IoSlice::new(data)];
            let n = ready!(Pin::new(&mut *inner).poll_write_vectored(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n < self.bytes.len() {
                self.bytes.drain(..n);
                continue;
            }
            let past = n - self.bytes.len();
            // Freed, not kept: an idle connection holds no memory for the next head.
            self.bytes = Vec::new();
            if past > 0 {
                return Poll::Ready(Ok(past));
            }
        }
        Pin::new(inner).poll_write(cx, data)
    }

    /// Send what is held (before a flush, a shutdown, a read or a vectored write).
    pub fn poll_drain<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.bytes.is_empty() {
            let n = ready!(Pin::new(&mut *inner).poll_write(cx, &self.bytes))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.bytes.drain(..n);
        }
        self.bytes = Vec::new();
        Poll::Ready(Ok(()))
    }
}

/// pingora's connection traits for a wrapper whose connection is its field `inner` (a
/// `pingora::protocols::Stream`): all but reading, writing and `Peek`, which each wrapper owns.
#[macro_export]
macro_rules! delegate_connection {
    ($t:ty) => {
        #[async_trait::async_trait]
        impl pingora::protocols::Shutdown for $t {
            async fn shutdown(&mut self) {
                pingora::protocols::Shutdown::shutdown(&mut *self.inner).await
            }
        }
        impl pingora::protocols::UniqueID for $t {
            fn id(&self) -> pingora::protocols::UniqueIDType {
                self.inner.id()
            }
        }
        impl pingora::protocols::Ssl for $t {
            fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
                self.inner.get_ssl()
            }
            fn get_ssl_digest(&self) -> Option<std::sync::Arc<pingora::protocols::tls::SslDigest>> {
                self.inner.get_ssl_digest()
            }
            fn selected_alpn_proto(&self) -> Option<pingora::protocols::ALPN> {
                self.inner.selected_alpn_proto()
            }
        }
        impl pingora::protocols::GetTimingDigest for $t {
            fn get_timing_digest(&self) -> Vec<Option<pingora::protocols::TimingDigest>> {
                self.inner.get_timing_digest()
            }
            fn get_read_pending_time(&self) -> std::time::Duration {
                self.inner.get_read_pending_time()
            }
            fn get_write_pending_time(&self) -> std::time::Duration {
                self.inner.get_write_pending_time()
            }
        }
        impl pingora::protocols::GetProxyDigest for $t {
            fn get_proxy_digest(
                &self,
            ) -> Option<std::sync::Arc<pingora::protocols::raw_connect::ProxyDigest>> {
                self.inner.get_proxy_digest()
            }
            fn set_proxy_digest(&mut self, d: pingora::protocols::raw_connect::ProxyDigest) {
                self.inner.set_proxy_digest(d)
            }
        }
        impl pingora::protocols::GetSocketDigest for $t {
            fn get_socket_digest(
                &self,
            ) -> Option<std::sync::Arc<pingora::protocols::SocketDigest>> {
                self.inner.get_socket_digest()
            }
            fn set_socket_digest(&mut self, d: pingora::protocols::SocketDigest) {
                self.inner.set_socket_digest(d)
            }
        }
    };
}

#[cfg(test)]
mod tests;
