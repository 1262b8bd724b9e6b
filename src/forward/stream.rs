//! Streamed bodies: downloads (the answer streams to the client) and uploads (the request body
//! streams to the backend, verified on the way).

use super::{
    client_gone, failed, hung_up, read_small_body, respond, respond_error, response_header,
};
use crate::auth::Payload;
use crate::body::BodyCheck;
use crate::config::Backend;
use crate::metrics;
use crate::request::Forward;
use crate::response::{self, BackendAnswer, Exchange};
use crate::sign::sigv4::EMPTY_SHA256;
use crate::upstream::{Failure, Upstream, MAX_SMALL_ANSWER};
use bytes::Bytes;
use pingora::prelude::*;
use pingora::proxy::Session;

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
    let opened = tokio::select! {
        x = up.open(backend, &mut f.out, Some(EMPTY_SHA256)) => x,
        _ = client_gone(session) => return Err(hung_up()),
    };
    let mut x = match opened {
        Ok(x) => x,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    };
    let ex = Exchange {
        op: f.op,
        backend: backend.dialect,
        client: f.client,
        request_id: rid,
        resource: &f.resource,
    };
    let status = x.status;
    if status >= 300 && status != 304 {
        let mut buf = Vec::new();
        let read = async {
            while let Some(chunk) = x.read().await? {
                if buf.len() + chunk.len() <= MAX_SMALL_ANSWER {
                    buf.extend_from_slice(&chunk);
                }
            }
            Ok::<_, Failure>(())
        };
        let read = tokio::select! {
            r = read => r,
            _ = client_gone(session) => return Err(hung_up()),
        };
        if let Err(e) = read {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
        let headers = x.headers.clone();
        x.release().await;
        let out = response::translate(
            &ex,
            &BackendAnswer {
                status,
                headers: &headers,
                body: Some(&buf),
            },
        );
        metrics::request(f.client, out.status);
        return respond(session, out.status, out.headers, out.body, false).await;
    }
    let out = response::translate(
        &ex,
        &BackendAnswer {
            status,
            headers: &x.headers,
            body: None,
        },
    );
    metrics::request(f.client, status);
    let no_body = status == 304 || x.done();
    let mut headers = out.headers;
    if !no_body && !headers.iter().any(|(k, _)| k == "content-length") {
        // Without a length the client must get chunks, or a cut would look like the end.
        headers.push(("transfer-encoding".into(), "chunked".into()));
    }
    session
        .write_response_header(Box::new(response_header(status, &headers)?), no_body)
        .await?;
    if no_body {
        x.release().await;
        return Ok(());
    }
    let mut pending = match read_or_hang_up(session, &mut x, backend, rid).await? {
        Some(c) => c,
        None => {
            session.write_response_body(None, true).await?;
            x.release().await;
            return Ok(());
        }
    };
    loop {
        // Write this piece while the next is read; once the write is done, a client that hangs
        // up while the backend is silent is noticed at once.
        let mut next = None;
        let mut read = std::pin::pin!(x.read());
        {
            let write = session.write_response_body(Some(pending), false);
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
    session.write_response_body(None, true).await?;
    x.release().await;
    Ok(())
}

async fn read_or_hang_up(
    session: &mut Session,
    x: &mut crate::upstream::Exchange<'_>,
    backend: &Backend,
    rid: &str,
) -> Result<Option<Bytes>> {
    tokio::select! {
        r = x.read() => r.map_err(|e| cut(backend, rid, &e)),
        _ = client_gone(session) => Err(hung_up()),
    }
}

/// A backend failure after the client's 2xx header: the client connection is cut.
fn cut(backend: &Backend, rid: &str, e: &Failure) -> Box<Error> {
    tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend answer broke off; cutting the client connection");
    Error::explain(ErrorType::ReadError, "backend answer broke off").into_up()
}

/// An upload: the request body streams to the backend as it arrives, one piece in flight,
/// verified on the way (the last byte is held back until the proof is complete).
pub(super) async fn upload(
    up: &Upstream,
    session: &mut Session,
    backend: &Backend,
    mut f: Forward,
    rid: &str,
) -> Result<()> {
    let mut check = match BodyCheck::new(&f.payload) {
        Ok(c) => c,
        Err(e) => return respond_error(session, f.client, &e, &f.resource, rid, false).await,
    };
    let length_known = f.out.header("content-length").is_some();
    let payload = match &f.payload {
        Payload::Sha256(h) => Some(h.clone()),
        _ if f.out.header("content-length") == Some("0") => Some(EMPTY_SHA256.to_string()),
        _ => None,
    };
    if !length_known {
        // Unknown length: the backend gets the body chunked (SigV4 signs it UNSIGNED-PAYLOAD).
        f.out.set_header("transfer-encoding", "chunked".into());
    }
    let mut x = match up.start(backend, &mut f.out, payload.as_deref()).await {
        Ok(x) => x,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    };
    let mut pending: Option<Bytes> = None;
    let mut done = false;
    let mut backend_failed = None;
    while !done {
        let write = async {
            match pending.take() {
                Some(b) if !b.is_empty() => x.write(b).await,
                _ => Ok(()),
            }
        };
        let (read, written) = tokio::join!(session.read_request_body(), write);
        if let Err(e) = written {
            backend_failed = Some(e);
            break;
        }
        // A client that breaks off mid-body: the backend connection is dropped unfinished.
        let chunk = read?;
        done = chunk.is_none() || session.is_body_done();
        match check.push(chunk, done) {
            Ok(data) => pending = data,
            Err(e) => {
                tracing::info!(request_id = %rid, code = %e.code, "request body refused");
                drop(x);
                return respond_error(session, f.client, &e, &f.resource, rid, false).await;
            }
        }
    }
    if backend_failed.is_none() {
        if let Some(b) = pending.take().filter(|b| !b.is_empty()) {
            backend_failed = x.write(b).await.err();
        }
    }
    let mut body = Vec::new();
    let answer = async {
        match backend_failed {
            // The backend may have refused the body early and said why.
            Some(e) => x.read_header().await.map_err(|_| e)?,
            None => x.finish().await?,
        }
        while let Some(c) = x.read().await? {
            if body.len() + c.len() > MAX_SMALL_ANSWER {
                return Err(Failure::Broken("backend answer is too large".into()));
            }
            body.extend_from_slice(&c);
        }
        Ok(())
    };
    // Once the whole body is read, a client that hangs up releases the backend at once.
    let answered = if session.is_body_done() {
        tokio::select! {
            a = answer => a,
            _ = client_gone(session) => return Err(hung_up()),
        }
    } else {
        answer.await
    };
    if let Err(e) = answered {
        let e = failed(backend, rid, &e);
        return respond_error(session, f.client, &e, &f.resource, rid, false).await;
    }
    let (status, headers) = (x.status, std::mem::take(&mut x.headers));
    x.release().await;
    let out = response::translate(
        &Exchange {
            op: f.op,
            backend: backend.dialect,
            client: f.client,
            request_id: rid,
            resource: &f.resource,
        },
        &BackendAnswer {
            status,
            headers: &headers,
            body: Some(&body),
        },
    );
    metrics::request(f.client, out.status);
    respond(session, out.status, out.headers, out.body, false).await
}
