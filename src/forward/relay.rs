//! The one GET→PUT relay, for a copy across backends and for the merge of staged parts: source
//! ranges are read one after another and streamed as one upload, one piece in flight, each checked
//! for the length it must have; the upload's answer is read whole (capped). A source that answers
//! otherwise, breaks off or sends another length leaves the upload short: nothing is stored.

use crate::config::Backend;
use crate::model::RESULT_CAP;
use crate::outbound::Outbound;
use crate::upstream::{self, Answer, Exchange, Failure, RelayError, Upstream};
use bytes::Bytes;

/// One range to read: a GET on `backend` that must bring `len` bytes.
pub(super) struct Source<'a> {
    pub backend: &'a Backend,
    pub get: Outbound,
    pub len: u64,
}

/// Why a relay stopped.
pub(super) enum Broke<'a> {
    /// A backend failed on the wire (source or destination: the backend says which).
    Wire(&'a Backend, Failure),
    /// A source answered something else than its bytes: (status, body).
    Refused(u16, Bytes),
    /// A source sent another length than asked.
    Length,
}

async fn open<'a>(up: &'a Upstream, s: &mut Source<'a>) -> Result<Exchange<'a>, Broke<'a>> {
    let mut x = up
        .open(s.backend, &mut s.get, &Outbound::bodiless(s.backend))
        .await
        .map_err(|e| Broke::Wire(s.backend, e))?;
    if !matches!(x.status, 200 | 206) {
        let body = x.read_to_end(RESULT_CAP).await.unwrap_or_default();
        return Err(Broke::Refused(x.status, body));
    }
    Ok(x)
}

/// Relay `sources` into `put` on `dest` (its Content-Length set here, their sum); the
/// destination's answer, whatever its status.
pub(super) async fn relay<'a>(
    up: &'a Upstream,
    dest: &'a Backend,
    put: &mut Outbound,
    mut sources: Vec<Source<'a>>,
) -> Result<Answer, Broke<'a>> {
    let total: u64 = sources.iter().map(|s| s.len).sum();
    put.set_header("content-length", total.to_string());
    let mut dst: Option<Exchange<'a>> = None;
    for s in sources.iter_mut() {
        // The first source is open before the upload starts: a source that cannot be read
        // costs the destination nothing.
        let mut src = open(up, s).await?;
        if dst.is_none() {
            dst = Some(
                up.start(dest, put, &Outbound::signer(dest, None))
                    .await
                    .map_err(|e| Broke::Wire(dest, e))?,
            );
        }
        let Some(d) = dst.as_mut() else {
            unreachable!("started above")
        };
        match upstream::relay(&mut src, d, s.len).await {
            Ok(n) if n == s.len => {}
            Ok(_) | Err(RelayError::TooLong) => return Err(Broke::Length),
            Err(RelayError::Read(e)) => return Err(Broke::Wire(s.backend, e)),
            Err(RelayError::Write(e)) => return Err(Broke::Wire(dest, e)),
        }
        src.release();
    }
    let mut d = match dst {
        Some(d) => d,
        None => up
            .start(dest, put, &Outbound::bodiless(dest))
            .await
            .map_err(|e| Broke::Wire(dest, e))?,
    };
    d.finish().await.map_err(|e| Broke::Wire(dest, e))?;
    let body = d
        .read_to_end(RESULT_CAP)
        .await
        .map_err(|e| Broke::Wire(dest, e))?;
    let (status, headers) = (d.status, std::mem::take(&mut d.headers));
    d.release();
    Ok(Answer {
        status,
        headers,
        body,
    })
}
