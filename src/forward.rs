//! What happens to a planned request between the client and the backend: a small exchange
//! (bodies buffered with a cap, the answer translated whole), a download (the answer streams),
//! or an upload (the request body streams, verified as it goes). All backend traffic goes through
//! `upstream`; all answers come from `response::translate` or `respond_error`.
//!
//! Integrity: once a 2xx header has gone to the client, a failure returns `Err` and the
//! connection is cut (pingora then writes nothing more): a Content-Length answer ends short, a
//! chunked one without its last chunk. A client that hangs up while the backend is working drops
//! the backend connection at once.

use crate::auth::Payload;
use crate::body::BodyCheck;
use crate::config::{Backend, Config};
use crate::dialect::Dialect;
use crate::error::{ApiError, Code};
use crate::metrics;
use crate::request::{self, Forward, Op};
use crate::response::{self, BackendAnswer, Exchange};
use crate::sign::{self, sigv4::EMPTY_SHA256};
use crate::upstream::{Failure, Upstream, MAX_SMALL_ANSWER};
use crate::xml;
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// Largest request body buffered for a small operation (a 10000-part Complete fits).
const MAX_SMALL_REQUEST: usize = 2 << 20;

fn response_header(status: u16, headers: &[(String, String)]) -> Result<ResponseHeader> {
    let mut h = ResponseHeader::build(status, Some(headers.len() + 2))?;
    for (k, v) in headers {
        // A value that is not a valid header value is dropped rather than failing the answer.
        let _ = h.append_header(response::wire_case(k), v.as_str());
    }
    Ok(h)
}

/// Write a whole answer. A HEAD answer carries the length but no body.
pub async fn respond(
    session: &mut Session,
    status: u16,
    mut headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    head: bool,
) -> Result<()> {
    let body = body.unwrap_or_default();
    if !headers.iter().any(|(k, _)| k == "content-length") {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    let end = head || body.is_empty();
    session
        .write_response_header(Box::new(response_header(status, &headers)?), end)
        .await?;
    if !end {
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
    }
    Ok(())
}

/// The proxy's own error answer, in the client's dialect, with its request id in header and body.
pub async fn respond_error(
    session: &mut Session,
    client: Dialect,
    err: &ApiError,
    resource: &str,
    request_id: &str,
    head: bool,
) -> Result<()> {
    metrics::error(client, err.code.as_str());
    metrics::request(client, err.status);
    if let Some(d) = &err.detail {
        let canonical = sign::redact(d);
        tracing::debug!(request_id, code = %err.code, %canonical, "request refused");
    } else {
        tracing::info!(request_id, code = %err.code, status = err.status, "request refused");
    }
    let body = xml::render_error(client, err, resource, request_id).into_bytes();
    let mut headers = vec![("content-type".to_string(), "application/xml".to_string())];
    response::finish(client, &mut headers, request_id);
    respond(session, err.status, headers, Some(body), head).await
}

/// Resolves when the client hangs up (or sends bytes it should not) while it waits for an answer.
/// Only for requests whose body has been read.
async fn client_gone(session: &mut Session) {
    if session
        .as_downstream_mut()
        .read_body_or_idle(true)
        .await
        .is_err()
    {
        return;
    }
    std::future::pending::<()>().await
}

fn hung_up() -> Box<Error> {
    Error::explain(ErrorType::ConnectionClosed, "the client hung up").into_down()
}

/// One planned request, end to end.
pub async fn forward(
    up: &Upstream,
    session: &mut Session,
    cfg: &Config,
    f: Forward,
    request_id: &str,
    head: bool,
) -> Result<()> {
    let backend = &cfg.backends[f.backend];
    match f.op {
        Op::PutObject | Op::UploadPart => upload(up, session, backend, f, request_id).await,
        Op::GetObject if !head => download(up, session, backend, f, request_id).await,
        _ => small(up, session, backend, f, request_id, head).await,
    }
}

/// Read a small request body whole, verified against what the client signed.
async fn read_small_body(
    session: &mut Session,
    f: &Forward,
) -> Result<std::result::Result<Bytes, ApiError>> {
    let mut body = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > MAX_SMALL_REQUEST {
            return Ok(Err(ApiError::new(
                Code::MaxMessageLengthExceeded,
                "Your request was too big.",
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    Ok(BodyCheck::new(&f.payload)
        .and_then(|mut c| c.push(Some(body), true))
        .map(Option::unwrap_or_default))
}

async fn small(
    up: &Upstream,
    session: &mut Session,
    backend: &Backend,
    mut f: Forward,
    rid: &str,
    head: bool,
) -> Result<()> {
    let body = match read_small_body(session, &f).await? {
        Ok(b) => b,
        Err(e) => return respond_error(session, f.client, &e, &f.resource, rid, head).await,
    };
    let body = if matches!(f.out.method.as_str(), "GET" | "HEAD") {
        // A body on a GET or HEAD means nothing to the backend: read and dropped.
        f.out.headers.retain(|(k, _)| k != "content-length");
        Bytes::new()
    } else {
        let body = request::rewrite_small_body(&mut f, body);
        if !body.is_empty() || matches!(f.out.method.as_str(), "PUT" | "POST") {
            f.out.set_header("content-length", body.len().to_string());
        } else {
            f.out.headers.retain(|(k, _)| k != "content-length");
        }
        body
    };
    let work = async {
        if f.op == Op::Complete {
            check_part_sizes(up, backend, &f, &body).await?;
        }
        if let Some(cp) = f.precheck.take() {
            check_conditions(up, backend, &cp).await?;
        }
        let hash = sign::sha256_hex(&body);
        up.exchange(backend, &mut f.out, body, Some(&hash))
            .await
            .map_err(|e| failed(backend, rid, &e))
    };
    let answer = tokio::select! {
        a = work => a,
        _ = client_gone(session) => return Err(hung_up()),
    };
    let a = match answer {
        Ok(a) => a,
        Err(e) => return respond_error(session, f.client, &e, &f.resource, rid, head).await,
    };
    let x = Exchange {
        op: f.op,
        backend: backend.dialect,
        client: f.client,
        request_id: rid,
        resource: &f.resource,
    };
    let out = response::translate(
        &x,
        &BackendAnswer {
            status: a.status,
            headers: &a.headers,
            body: (!head).then_some(a.body.as_slice()),
        },
    );
    if out.failed_200 {
        metrics::failed_200(f.client);
        tracing::warn!(request_id = %rid, status = out.status, "backend answered 200 without a result");
    }
    metrics::request(f.client, out.status);
    respond(session, out.status, out.headers, out.body, head).await
}

/// Log a failed exchange and say what the client sees.
fn failed(backend: &Backend, rid: &str, e: &Failure) -> ApiError {
    tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend exchange failed");
    e.api_error()
}

/// A download: the answer streams to the client with one piece in flight (a slow client slows
/// the backend read). An error answer is read whole and re-rendered.
async fn download(
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
async fn upload(
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

/// Parts below the backend dialect's minimum are refused at Complete, as the backend would.
async fn check_part_sizes(
    up: &Upstream,
    backend: &Backend,
    f: &Forward,
    body: &[u8],
) -> std::result::Result<(), ApiError> {
    let mut sizes = Vec::new();
    let mut marker = 0u32;
    loop {
        let mut out = request::list_parts_request(f, marker);
        let a = up
            .exchange(backend, &mut out, Bytes::new(), Some(EMPTY_SHA256))
            .await
            .map_err(|e| e.api_error())?;
        if a.status >= 300 {
            // Let the Complete itself report NoSuchUpload and the like.
            return Ok(());
        }
        let page = xml::list_parts_page(&a.body);
        sizes.extend(page.parts);
        match page.next_marker {
            Some(n) if n > marker => marker = n,
            _ => break,
        }
    }
    request::too_small(body, &sizes, request::min_part_size(backend.dialect))
}

/// Copy conditions the backend cannot express: HEAD the source and decide here.
async fn check_conditions(
    up: &Upstream,
    backend: &Backend,
    cp: &crate::model::CopyPart,
) -> std::result::Result<(), ApiError> {
    let mut out = request::source_head(cp, backend);
    let a = up
        .exchange(backend, &mut out, Bytes::new(), Some(EMPTY_SHA256))
        .await
        .map_err(|e| e.api_error())?;
    if a.status >= 300 {
        return Err(ApiError::relayed(
            a.status,
            response::code_for_status(a.status).as_str(),
            "The copy source could not be read",
        ));
    }
    let etag = a.header("etag").unwrap_or("");
    let modified = a
        .header("last-modified")
        .and_then(crate::dates::parse_date)
        .unwrap_or(0);
    cp.conditions.evaluate(etag, modified)
}
