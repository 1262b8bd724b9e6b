//! A short answer leaves in one write. pingora writes an answer's head and then its body; the
//! listener's write buffer (`DEFAULT_L4_WRITE_BUFFER_SIZE`, 1460 bytes) joins them only when both
//! fit, so a 4 KiB object cost a system call and a segment for its head alone. A head that
//! announces a body of up to 64 KiB, too long to join in that buffer, is held here and goes out
//! with the body's first bytes in one vectored write. Anything else (a long or unknown length, an
//! informational answer, an answer the buffer joins) passes as it comes; a flush or shutdown
//! sends what is held.

use pingora::listeners::DEFAULT_L4_WRITE_BUFFER_SIZE;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

/// Bodies up to this length follow their head at once (they came whole from the backend or are
/// the proxy's own documents); a longer body may wait on a backend, and its head must not.
const SHORT_BODY: u64 = 64 << 10;
/// No head longer than this is held.
const HEAD_CAP: usize = 8 << 10;

/// The head held back, if any.
#[derive(Debug, Default)]
pub(super) struct HeldHead {
    bytes: Vec<u8>,
}

/// The Content-Length an answer head announces, as pingora writes it (title case; a head
/// written otherwise is simply not held). A head is searched once, without a UTF-8 pass.
fn announced_length(head: &[u8]) -> Option<u64> {
    static NAME: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\nContent-Length: "));
    let at = NAME.find(head)? + NAME.needle().len();
    let digits = &head[at..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    if end == 0 || end > 19 || digits[end] != b'\r' {
        return None;
    }
    Some(
        digits[..end]
            .iter()
            .fold(0, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

impl HeldHead {
    /// Hold `data` if it is a whole answer head (the first write of an answer) that announces a
    /// body of up to `SHORT_BODY` bytes which the listener's buffer cannot join to it.
    pub fn take(&mut self, first_of_answer: bool, data: &[u8]) -> bool {
        let head = first_of_answer
            && self.bytes.is_empty()
            && data.len() > 9
            && data.len() <= HEAD_CAP
            && data.starts_with(b"HTTP/1.")
            && !super::scan::informational(data)
            && data.ends_with(b"\r\n\r\n");
        // The length is looked for only in a head, the cheap tests first.
        let hold = head
            && announced_length(data).is_some_and(|n| {
                n <= SHORT_BODY && data.len() as u64 + n > DEFAULT_L4_WRITE_BUFFER_SIZE as u64
            });
        if hold {
            self.bytes.extend_from_slice(data);
        }
        hold
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
            // Freed, not kept: an idle connection holds no memory for the next answer.
            self.bytes = Vec::new();
            if past > 0 {
                return Poll::Ready(Ok(past));
            }
        }
        Pin::new(inner).poll_write(cx, data)
    }

    /// Send what is held (before a flush, a shutdown or a vectored write).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// Records each write call; takes at most `per_call` bytes of each.
    struct Wire {
        calls: Vec<Vec<u8>>,
        per_call: usize,
    }

    fn socket(per_call: usize) -> Wire {
        Wire {
            calls: vec![],
            per_call,
        }
    }

    impl AsyncWrite for Wire {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = b.len().min(self.per_call);
            self.calls.push(b[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = all.len().min(self.per_call);
            self.calls.push(all[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nETag: \"x\"\r\n\r\n";

    /// Writes `data` whole through `held`, as write_all does; returns the bytes on the wire.
    fn write_all(held: &mut HeldHead, wire: &mut Wire, mut data: &[u8]) {
        let mut cx = Context::from_waker(Waker::noop());
        while !data.is_empty() {
            let Poll::Ready(Ok(n)) = held.poll_write(wire, &mut cx, data) else {
                panic!("a ready wire")
            };
            data = &data[n..];
        }
    }

    #[test]
    fn a_short_answer_leaves_in_one_write_and_bytes_stay_in_order() {
        let (mut held, mut wire) = (HeldHead::default(), socket(usize::MAX));
        assert!(held.take(true, HEAD));
        write_all(&mut held, &mut wire, b"hello");
        assert_eq!(wire.calls, vec![[HEAD, b"hello"].concat()]);
        // A partial socket write: the same bytes, in order, whatever the split.
        let (mut held, mut wire) = (HeldHead::default(), socket(7));
        assert!(held.take(true, HEAD));
        write_all(&mut held, &mut wire, b"hello");
        assert_eq!(wire.calls.concat(), [HEAD, b"hello"].concat());
    }

    #[test]
    fn only_heads_of_short_bodies_are_held_and_a_flush_sends_them() {
        let mut held = HeldHead::default();
        let long = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
        let other_case = b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n";
        let odd = b"HTTP/1.1 200 OK\r\nContent-Length: 40x6\r\n\r\n";
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let empty = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        let cont = b"HTTP/1.1 100 Continue\r\nContent-Length: 4096\r\n\r\n";
        // Head and body fit the listener's own write buffer, which joins them.
        let joined = b"HTTP/1.1 200 OK\r\nContent-Length: 150\r\n\r\n";
        for head in [&long[..], other_case, odd, chunked, empty, cont, joined] {
            assert!(!held.take(true, head), "{}", String::from_utf8_lossy(head));
        }
        assert!(!held.take(false, HEAD), "a body piece is never held");
        assert!(held.take(true, HEAD));
        let mut wire = socket(10);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            held.poll_drain(&mut wire, &mut cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(wire.calls.concat(), HEAD);
        assert!(held.bytes.is_empty());
    }
}
