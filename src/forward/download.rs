//! Downloads: the backend's answer streams to the client, one piece in flight (or socket to
//! socket, `crate::splice`); a backend that breaks off after the 2xx header cuts the client
//! connection.

use super::{failed, read_small_body};
use crate::config::Backend;
use crate::model::RESULT_CAP;
use crate::outbound::Outbound;
use crate::request::Forward;
use crate::response::{
    self, client_gone, hung_up, respond, respond_error, response_header, BackendAnswer, Context,
};
use crate::upstream::{Exchange, Failure, Upstream};
use bytes::Bytes;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

/// A body up to this length is read whole before the head goes to the client (the length up to
/// which the client side joins a head to its body, `guard::held`).
const SHORT_ANSWER: u64 = 64 << 10;

/// A download: the answer streams to the client with one piece in flight (a slow client slows
/// the backend read). An error answer is read whole and re-rendered.
pub(super) async fn download(
    up: &Upstream,
    session: &mut Session,
    backend: &Backend,
    mut f: Forward,
    rid: &str,
) -> Result<()> {
    if let Err(e) = read_small_body(session, &f).await? {
        return respond_error(session, f.client, &e, &f.resource, rid, false).await;
    }
    f.out.headers.retain(|(k, _)| k != "content-length");
    let sign = Outbound::bodiless(backend);
    let opened = tokio::select! {
        biased;
        x = up.open(backend, &mut f.out, &sign) => x,
        _ = client_gone(session) => return Err(hung_up()),
    };
    let mut x = match opened {
        Ok(x) => x,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    };
    let ex = Context {
        op: f.op,
        backend: backend.dialect,
        client: f.client,
        request_id: rid,
        resource: &f.resource,
    };
    let status = x.status;
    if status >= 300 && status != 304 {
        let buf = match read_whole(&mut x, session, RESULT_CAP).await? {
            Ok(b) => b,
            Err(e) => {
                let e = failed(backend, rid, &e);
                return respond_error(session, f.client, &e, &f.resource, rid, false).await;
            }
        };
        let headers = std::mem::take(&mut x.headers);
        x.release();
        let out = response::translate(
            &ex,
            BackendAnswer {
                status,
                headers,
                body: Some(&buf),
            },
        );
        return respond(session, out.status, out.headers, out.body, false).await;
    }
    // Only a body framed by its length may move socket to socket (chunked framing is pingora's to
    // undo, whatever length a backend also states).
    let framed_by_length = !x.headers.iter().any(|(k, _)| k == "transfer-encoding");
    let out = response::translate(
        &ex,
        BackendAnswer {
            status,
            headers: std::mem::take(&mut x.headers),
            body: None,
        },
    );
    let no_body = status == 304 || x.done();
    let mut headers = out.headers;
    if !no_body && !headers.iter().any(|(k, _)| k == "content-length") {
        // Without a length the client must get chunks, or a cut would look like the end.
        headers.push(("transfer-encoding".into(), "chunked".into()));
    }
    // A short body is read whole first: it leaves with the head in one write, and a backend that
    // breaks off in it is answered as an error instead of a cut after a 2xx head.
    // What the body owes, when its length is known.
    let mut left = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let short = !no_body && left.is_some_and(|n| n <= SHORT_ANSWER);
    if short {
        let body = match read_whole(&mut x, session, SHORT_ANSWER as usize).await? {
            Ok(b) => b,
            Err(e) => {
                let e = failed(backend, rid, &e);
                return respond_error(session, f.client, &e, &f.resource, rid, false).await;
            }
        };
        x.release();
        session
            .write_response_header(Box::new(response_header(status, headers)?))
            .await?;
        return session.write_response_body(body, true).await;
    }
    session
        .write_response_header(Box::new(response_header(status, headers)?))
        .await?;
    if no_body {
        x.release();
        return Ok(());
    }
    loop {
        // Each piece goes from the backend connection's buffer to the client as it lies (no copy,
        // no allocation); the sockets' own buffers keep both sides moving meanwhile. A client that
        // hangs up while the backend is silent is noticed at once.
        let piece = tokio::select! {
            biased;
            r = x.read_ref() => r.map_err(|e| cut(backend, rid, &e))?,
            _ = client_gone(session) => return Err(hung_up()),
        };
        match piece {
            // An empty piece to a chunked answer would be its last chunk.
            Some([]) => {}
            Some(p) => {
                write_piece(session, p).await?;
                left = left.map(|n| n.saturating_sub(p.len() as u64));
            }
            None => break,
        }
        if let Some(n) = left.filter(|n| framed_by_length && *n >= crate::splice::MIN_BODY) {
            if splice(&x, session, n, backend) {
                // The backend connection goes with `x`: its reader did not see the body.
                return spliced(session, n).await;
            }
        }
    }
    session.write_response_body(Bytes::new(), true).await?;
    x.release();
    Ok(())
}

/// Hand the rest of the body (`left` bytes) to a splicer on the client's connection, when both
/// sides are plain TCP and nothing of the body is buffered here.
fn splice(x: &Exchange<'_>, session: &Session, left: u64, backend: &Backend) -> bool {
    let Some(from) = x.splice_fd() else {
        return false;
    };
    let Some(client) = session
        .stream()
        .and_then(|s| (**s).as_any().downcast_ref::<crate::guard::HeadDeadline>())
    else {
        return false;
    };
    let Some(to) = client.raw_fd() else {
        return false;
    };
    match crate::splice::Splicer::new(from, to, left, backend.timeouts.idle) {
        Ok(s) => {
            client.splice(s);
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "no splice; the body is copied");
            false
        }
    }
}

/// The body's last `left` bytes, moved by the splicer: pingora is told of them as written
/// (placeholders the splicer never sends), so its framing and keep-alive stay whole.
async fn spliced(session: &mut Session, body: u64) -> Result<()> {
    static PLACEHOLDER: [u8; 1 << 20] = [0; 1 << 20];
    let mut left = body;
    while left > 0 {
        let n = left.min(PLACEHOLDER.len() as u64) as usize;
        write_piece(session, &PLACEHOLDER[..n]).await?;
        left -= n as u64;
    }
    crate::metrics::spliced(body);
    session.write_response_body(Bytes::new(), true).await
}

/// The rest of the answer, whole (up to `cap`); a client that hangs up meanwhile ends the wait.
async fn read_whole(
    x: &mut Exchange<'_>,
    session: &mut Session,
    cap: usize,
) -> Result<std::result::Result<Bytes, Failure>> {
    tokio::select! {
        biased;
        r = x.read_to_end(cap) => Ok(r),
        _ = client_gone(session) => Err(hung_up()),
    }
}

/// One piece of a download's body to the client: an HTTP/1 session takes it borrowed.
async fn write_piece(session: &mut Session, piece: &[u8]) -> Result<()> {
    match session {
        Session::H1(s) => s.write_body(piece).await.map(drop),
        other => {
            other
                .write_response_body(Bytes::copy_from_slice(piece), false)
                .await
        }
    }
}

/// A backend failure after the client's 2xx header: the client connection is cut.
fn cut(backend: &Backend, rid: &str, e: &Failure) -> Box<Error> {
    tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend answer broke off; cutting the client connection");
    Error::explain(ErrorType::ReadError, "backend answer broke off").into_up()
}
