//! A large download's body goes from the backend's socket to the client's through a pipe with
//! splice(2): the bytes never enter this process. Copied, each MiB cost 32 system calls and two
//! passes through user memory; spliced, 17 calls and 6-20 % less CPU (bench/RESULTS.md).
//!
//! Only plain TCP on both sides (TLS needs the bytes), only a body of known length, only once
//! nothing of it is buffered in this process. The client side's connection wrapper (`guard`)
//! moves the bytes when pingora writes the body: pingora keeps counting the body it believes it
//! wrote, so its framing and keep-alive stay whole. The backend connection is not reused after
//! (pingora's reader did not see its body).

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The pipe's size asked for (the kernel's default is 64 KiB): 1 MiB took a fifth fewer calls per
/// MiB than 256 KiB for the same CPU, and four times the pipe memory against the per-user limit.
const PIPE: usize = 256 << 10;

/// A pipe smaller than this (the kernel gives 2 pages once a user's pipes pass
/// `pipe-user-pages-soft`) would cost more calls than copying: the body is copied instead.
const PIPE_MIN: usize = 64 << 10;

/// A body smaller than this is not worth the set-up (two descriptors registered, a pipe).
pub const MIN_BODY: u64 = 1 << 20;

/// The socket under a connection, when it is plain TCP (or a Unix socket): a TLS connection's
/// bytes must pass through the process.
pub fn plain_socket(stream: &pingora::protocols::Stream) -> Option<RawFd> {
    let l4 = (**stream).as_any();
    l4.downcast_ref::<pingora::protocols::l4::stream::Stream>()
        .map(AsRawFd::as_raw_fd)
}

/// Moves `left` bytes from one socket to another.
pub struct Splicer {
    from: AsyncFd<OwnedFd>,
    to: AsyncFd<OwnedFd>,
    pipe_out: OwnedFd,
    pipe_in: OwnedFd,
    /// In the pipe, not yet at the client.
    in_pipe: usize,
    /// Still to take from the backend.
    left: u64,
    /// The backend's idle deadline, running while this waits for it.
    idle: Duration,
    waiting: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
}

impl std::fmt::Debug for Splicer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Splicer")
            .field("in_pipe", &self.in_pipe)
            .field("left", &self.left)
            .finish()
    }
}

/// Each side's own descriptor, registered beside the connection's (an epoll entry per
/// descriptor; both see the socket's readiness).
fn registered(fd: RawFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: `fd` is a connection's open socket; the duplicate is this splicer's own (it keeps
    // the socket open until dropped, whenever the connection goes).
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` was just returned open and is owned by nobody else; the OwnedFd keeps it
    // open, on the same socket, as long as the AsyncFd lives.
    let fd = unsafe { OwnedFd::from_raw_fd(dup) };
    // SAFETY: as above (tokio's condition for registering a descriptor).
    Ok(unsafe { AsyncFd::register_with_interest(fd, interest) }?)
}

impl Splicer {
    /// `left` bytes from socket `from` (a backend's) to socket `to` (a client's).
    pub fn new(from: RawFd, to: RawFd, left: u64, idle: Duration) -> io::Result<Self> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 returns.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both were just returned open by pipe2 and are owned by nobody else.
        let (pipe_out, pipe_in) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETPIPE_SZ and F_GETPIPE_SZ on a pipe this owns. (A refused size leaves
        // the pipe as it was: its size is what counts.)
        let size = unsafe {
            libc::fcntl(pipe_in.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE as libc::c_int);
            libc::fcntl(pipe_in.as_raw_fd(), libc::F_GETPIPE_SZ)
        };
        if size < PIPE_MIN as libc::c_int {
            return Err(io::Error::other("the pipe is too small to be worth it"));
        }
        Ok(Splicer {
            from: registered(from, Interest::READABLE)?,
            // Readable too: a hang-up shows as the end of its reading side.
            to: registered(to, Interest::WRITABLE | Interest::READABLE)?,
            pipe_out,
            pipe_in,
            in_pipe: 0,
            left,
            idle,
            waiting: None,
        })
    }

    /// Every byte reached the client.
    pub fn done(&self) -> bool {
        self.left == 0 && self.in_pipe == 0
    }

    /// Move up to `want` bytes to the client; how many reached it. Never takes more from the
    /// backend than `want` covers, so a caller that asks for the body's length in pieces ends
    /// with an empty pipe.
    pub fn poll_move(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        if want == 0 {
            return Poll::Ready(Ok(0));
        }
        loop {
            if self.in_pipe > 0 {
                let mut ready = ready!(self.to.poll_write_ready(cx))?;
                let n = self.in_pipe.min(want);
                let out = self.pipe_out.as_raw_fd();
                match ready.try_io(|to| splice(out, to.as_raw_fd(), n)) {
                    Ok(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(Ok(n)) => {
                        self.in_pipe -= n;
                        return Poll::Ready(Ok(n));
                    }
                    Ok(Err(e)) => return Poll::Ready(Err(e)),
                    Err(_would_block) => continue,
                }
            }
            let n = (want as u64).min(self.left).min(PIPE as u64) as usize;
            if n == 0 {
                return Poll::Ready(Ok(0));
            }
            let mut ready = match self.from.poll_read_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending if self.client_gone(cx) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the client hung up",
                    )))
                }
                Poll::Pending => return self.poll_idle(cx),
            };
            let into = self.pipe_in.as_raw_fd();
            match ready.try_io(|from| splice(from.as_raw_fd(), into, n)) {
                Ok(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
                Ok(Ok(got)) => {
                    self.waiting = None;
                    self.in_pipe += got;
                    self.left -= got as u64;
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Whether the client hung up (its socket read-closed), noticed while the backend is silent.
    /// Bytes it sent meanwhile (a next request) stay in its socket for pingora: this descriptor's
    /// readiness is its own.
    fn client_gone(&self, cx: &mut Context<'_>) -> bool {
        loop {
            match self.to.poll_read_ready(cx) {
                Poll::Pending => return false,
                Poll::Ready(Err(_)) => return true,
                Poll::Ready(Ok(mut ready)) => {
                    if ready.ready().is_read_closed() {
                        return true;
                    }
                    ready.clear_ready();
                }
            }
        }
    }

    /// Waiting for the backend: an error once it was silent for its idle deadline.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let idle = self.idle;
        let wait = self
            .waiting
            .get_or_insert_with(|| Box::pin(pingora_timeout::fast_timeout::fast_sleep(idle)));
        match wait.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the backend's answer stalled",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One splice(2) of up to `n` bytes, not waiting (the sockets are non-blocking; the pipe is
/// told so); a signal's interruption is tried again.
fn splice(from: RawFd, to: RawFd, n: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    loop {
        // SAFETY: both descriptors are open for the duration of the call; no offsets are
        // passed (sockets and pipes have none).
        let r = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                n,
                flags,
            )
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests;
