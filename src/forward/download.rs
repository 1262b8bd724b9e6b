//! Downloads: the backend's answer streams to the client, one piece in flight; a backend that
//! breaks off after the 2xx header cuts the client connection.

use super::{failed, read_small_body};
use crate::config::Backend;
use crate::model::RESULT_CAP;
use crate::outbound::Outbound;
use crate::request::Forward;
use crate::response::{
    self, client_gone, hung_up, respond, respond_error, response_header, BackendAnswer, Context,
};
use crate::upstream::{Failure, Upstream};
use bytes::Bytes;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

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
        let read = tokio::select! {
            biased;
            r = x.read_to_end(RESULT_CAP) => r,
            _ = client_gone(session) => return Err(hung_up()),
        };
        let buf = match read {
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
    session
        .write_response_header(Box::new(response_header(status, headers)?))
        .await?;
    if no_body {
        x.release();
        return Ok(());
    }
    let mut pending = match read_or_hang_up(session, &mut x, backend, rid).await? {
        Some(c) => c,
        None => {
            session.write_response_body(Bytes::new(), true).await?;
            x.release();
            return Ok(());
        }
    };
    loop {
        // Write this piece while the next is read; once the write is done, a client that hangs
        // up while the backend is silent is noticed at once.
        let mut next = None;
        let mut read = std::pin::pin!(x.read());
        {
            let write = session.write_response_body(pending, false);
            tokio::pin!(write);
            loop {
                tokio::select! {
                    r = &mut read, if next.is_none() => next = Some(r),
                    w = &mut write => { w?; break; }
                }
            }
        }
        if next.is_none() {
            // The write finished first: the read goes on, raced with a hang-up.
            next = Some(tokio::select! {
                biased;
                r = &mut read => r,
                _ = client_gone(session) => return Err(hung_up()),
            });
        }
        match next.unwrap_or(Ok(None)) {
            Ok(Some(c)) => pending = c,
            Ok(None) => break,
            Err(e) => return Err(cut(backend, rid, &e)),
        }
    }
    session.write_response_body(Bytes::new(), true).await?;
    x.release();
    Ok(())
}

async fn read_or_hang_up(
    session: &mut Session,
    x: &mut crate::upstream::Exchange<'_>,
    backend: &Backend,
    rid: &str,
) -> Result<Option<Bytes>> {
    tokio::select! {
        biased;
        r = x.read() => r.map_err(|e| cut(backend, rid, &e)),
        _ = client_gone(session) => Err(hung_up()),
    }
}

/// A backend failure after the client's 2xx header: the client connection is cut.
fn cut(backend: &Backend, rid: &str, e: &Failure) -> Box<Error> {
    tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend answer broke off; cutting the client connection");
    Error::explain(ErrorType::ReadError, "backend answer broke off").into_up()
}
