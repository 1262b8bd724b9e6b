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
fn a_held_head_leaves_with_the_first_bytes_in_one_write_and_bytes_stay_in_order() {
    let (mut held, mut wire) = (HeldHead::default(), socket(usize::MAX));
    held.hold(HEAD);
    write_all(&mut held, &mut wire, b"hello");
    assert_eq!(wire.calls, vec![[HEAD, b"hello"].concat()]);
    assert!(held.is_empty());
    // A partial socket write: the same bytes, in order, whatever the split.
    let (mut held, mut wire) = (HeldHead::default(), socket(7));
    held.hold(HEAD);
    write_all(&mut held, &mut wire, b"hello");
    assert_eq!(wire.calls.concat(), [HEAD, b"hello"].concat());
}

#[test]
fn a_drain_sends_what_is_held_and_frees_it() {
    let (mut held, mut wire) = (HeldHead::default(), socket(10));
    held.hold(HEAD);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(
        held.poll_drain(&mut wire, &mut cx),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(wire.calls.concat(), HEAD);
    assert!(held.is_empty() && held.bytes.capacity() == 0);
}

#[test]
fn bytes_read_ahead_are_served_in_order_and_freed_once_taken() {
    let mut ahead = ReadAhead::default();
    let mut small = [0u8; 4];
    let mut buf = ReadBuf::new(&mut small);
    assert!(ReadAhead::wants(&buf) && !ahead.serve(&mut buf));
    ahead.keep(b"abcdefghij", &mut buf);
    assert_eq!(buf.filled(), b"abcd");
    let mut rest = [0u8; 16];
    let mut buf = ReadBuf::new(&mut rest);
    assert!(ahead.serve(&mut buf));
    assert_eq!(buf.filled(), b"efghij");
    assert!(ahead.is_empty() && ahead.bytes.capacity() == 0);
    let mut big = vec![0u8; READ_AHEAD];
    assert!(!ReadAhead::wants(&ReadBuf::new(&mut big)));
}
