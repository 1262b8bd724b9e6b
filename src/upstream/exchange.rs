//! One exchange on a backend connection: the request body out, the answer in (with the one
//! capped read), the connection back to the pool only when both went whole; and the relay of one
//! exchange's answer into another's request.

use super::budget::{Lease, FREE};
use super::{header_pairs, Failure, Upstream, HOP_HEADERS};
use crate::access;
use crate::config::Peer;
use crate::model::RESULT_CAP;
use crate::wire::Headers;
use bytes::Bytes;
use pingora::protocols::http::v1::client::HttpSession;
use std::sync::Arc;
use std::time::Instant;

/// Why relaying one exchange's answer into another's request stopped.
#[derive(Debug)]
pub enum RelayError {
    Read(Failure),
    Write(Failure),
    /// The answer ran past the length expected.
    TooLong,
}

/// Relay `src`'s answer body into `dst`'s request body, one piece in flight (the next piece is
/// read while the last is written, so the slower side sets the pace). Returns the bytes relayed;
/// stops past `limit`.
pub async fn relay(
    src: &mut Exchange<'_>,
    dst: &mut Exchange<'_>,
    limit: u64,
) -> Result<u64, RelayError> {
    let mut sent = 0u64;
    let mut pending: Option<Bytes> = None;
    loop {
        let write = async {
            match pending.take() {
                Some(b) => dst.write(b).await,
                None => Ok(()),
            }
        };
        let (read, written) = tokio::join!(src.read(), write);
        written.map_err(RelayError::Write)?;
        match read.map_err(RelayError::Read)? {
            Some(b) => {
                sent += b.len() as u64;
                if sent > limit {
                    return Err(RelayError::TooLong);
                }
                pending = Some(b);
            }
            None => return Ok(sent),
        }
    }
}

/// An open exchange: the request header is sent; the body (if any) streams through `write`, the
/// answer through `read`.
pub struct Exchange<'a> {
    pub(super) up: &'a Upstream,
    pub(super) session: HttpSession,
    /// The backend's peer and its pool key.
    pub(super) peer: Arc<Peer>,
    /// The request went out whole (its body ended): without it, the connection is never reused,
    /// or the next request on it would become the rest of this body.
    pub(super) sent_whole: bool,
    /// A body was sent. Only a success proves the backend read all of it: after an error answer
    /// (one sent early, while the body was still coming, say) what is left of it may still wait
    /// in the connection, so it is not reused.
    pub(super) sent_body: bool,
    /// The head waits to leave with the first body write: that write failing is the head failing.
    pub(super) head_with_body: bool,
    pub status: u16,
    pub headers: Headers,
    /// When the request went out, and the header naming the backend's request id (access log).
    pub(super) sent: Instant,
    pub(super) request_id_header: &'static str,
}

impl<'a> Exchange<'a> {
    /// Send a piece of the request body (the idle deadline bounds each write).
    pub async fn write(&mut self, data: Bytes) -> Result<(), Failure> {
        self.sent_body |= !data.is_empty();
        let stage = match std::mem::take(&mut self.head_with_body) {
            true => "head",
            false => "write",
        };
        self.session
            .write_body(&data)
            .await
            .map(drop)
            .map_err(|e| Failure::from_pingora(&e, stage))
    }

    /// End the request body and read the answer's status and headers.
    pub async fn finish(&mut self) -> Result<(), Failure> {
        self.session
            .finish_body()
            .await
            .map_err(|e| Failure::from_pingora(&e, "write"))?;
        self.sent_whole = true;
        self.read_header().await
    }

    /// Read the answer's status and headers (also after a failed write: a backend may refuse
    /// a body early and say why).
    pub async fn read_header(&mut self) -> Result<(), Failure> {
        self.session
            .read_response()
            .await
            .map_err(|e| Failure::from_pingora(&e, "status"))?;
        let resp = self
            .session
            .resp_header()
            .ok_or_else(|| Failure::Unreachable("no response header".into()))?;
        self.status = resp.status.as_u16();
        // Headers no answer passes on are not copied.
        self.headers = header_pairs(&resp.headers, HOP_HEADERS);
        let id = resp
            .headers
            .get(self.request_id_header)
            .and_then(|v| v.to_str().ok());
        access::note_upstream(self.sent.elapsed(), id);
        Ok(())
    }

    /// Whether the answer has no (more) body.
    pub fn done(&mut self) -> bool {
        self.session.is_body_done()
    }

    /// The next piece of the answer's body; `None` at its proper end. A connection that ends
    /// short of the stated length or the last chunk is an error.
    pub async fn read(&mut self) -> Result<Option<Bytes>, Failure> {
        self.session
            .read_body_bytes()
            .await
            .map_err(|e| Failure::from_pingora(&e, "read"))
    }

    /// The next piece of the answer's body, borrowed from the connection's read buffer (a download
    /// writes it on without a copy); as `read` otherwise.
    pub async fn read_ref(&mut self) -> Result<Option<&[u8]>, Failure> {
        self.session
            .read_body_ref()
            .await
            .map_err(|e| Failure::from_pingora(&e, "read"))
    }

    /// The rest of the answer's body, whole, up to `cap` bytes (an error answer: `RESULT_CAP`).
    /// Longer is an error, never a truncation; a stated length over the cap is refused before a
    /// byte is read. Memory follows what arrived: pieces are joined once, at the end.
    pub async fn read_to_end(&mut self, cap: usize) -> Result<Bytes, Failure> {
        let cap = if self.status >= 300 {
            cap.min(RESULT_CAP)
        } else {
            cap
        };
        let over = |n: usize| Failure::Broken(format!("backend answer of {n} bytes is over {cap}"));
        let stated = self.headers.iter().find(|(k, _)| &**k == "content-length");
        if let Some(n) = stated.and_then(|(_, v)| v.trim().parse::<usize>().ok()) {
            if n > cap {
                return Err(over(n));
            }
        }
        let (mut first, mut rest, mut total) = (Bytes::new(), Vec::new(), 0usize);
        // Taken only past FREE: most answers never touch the shared count.
        let mut lease: Option<Lease> = None;
        while let Some(c) = self.read().await? {
            total += c.len();
            if total > cap {
                return Err(over(total));
            }
            if total > FREE
                && !lease
                    .get_or_insert_with(|| Lease::new(&self.up.budget))
                    .grow_to(total)
            {
                return Err(Failure::Busy(format!(
                    "a buffered answer of {total} bytes is past the memory for answers"
                )));
            }
            if first.is_empty() {
                first = c;
            } else {
                rest.push(c);
            }
        }
        if rest.is_empty() {
            // Most answers arrive in one piece: kept as it came, not copied.
            return Ok(Lease::attach_to(lease, first));
        }
        let mut all = bytes::BytesMut::with_capacity(total);
        all.extend_from_slice(&first);
        for c in rest {
            all.extend_from_slice(&c);
        }
        Ok(Lease::attach_to(lease, all.freeze()))
    }

    /// The backend's socket, for a splice of the rest of the body: only a plain TCP connection
    /// with nothing of the body buffered in this process (pingora's reader returned what it
    /// held with the head on the first read). The connection is not reused afterwards.
    pub fn splice_fd(&self) -> Option<std::os::fd::RawFd> {
        let c = (**self.session.stream())
            .as_any()
            .downcast_ref::<super::conn::Conn>()?;
        c.splice_fd()
    }

    /// Return the connection to the pool (only after the request was sent whole and the answer
    /// read to its end; otherwise it is closed). Not async: putting a connection back never waits, and a close that would
    /// wait is finished by dropping the socket. (An awaited release would make every future
    /// holding an exchange 2.5 KiB larger, copied each time such a future moves.)
    pub fn release(self) {
        let Exchange {
            up,
            mut session,
            peer,
            sent_whole,
            sent_body,
            status,
            ..
        } = self;
        if !sent_whole || (sent_body && !(200..300).contains(&status)) {
            return;
        }
        session.respect_keepalive();
        let reuse = std::pin::pin!(session.reuse());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // Ready at once for a connection to keep; a closing one finishes by being dropped.
        if let std::task::Poll::Ready(Some(stream)) = std::future::Future::poll(reuse, &mut cx) {
            up.pool.put(peer.1, stream);
        }
    }
}
