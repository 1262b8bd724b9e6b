//! Streamed bodies: downloads (the answer streams to the client) and uploads (the request body
//! streams to the backend, verified on the way).

use super::keepalive::{self, KeepAlive, Reply};
use super::relay::{self, Broke};
use super::{
    client_gone, failed, head_source, hung_up, read_small_body, respond, respond_error,
    response_header,
};
use crate::auth::Payload;
use crate::body::BodyCheck;
use crate::config::Backend;
use crate::error::{ApiError, Code};
use crate::metrics;
use crate::model::Op;
use crate::model::RESULT_CAP;
use crate::outbound::Outbound;
use crate::request::CrossCopy;
use crate::request::{self, Forward};
use crate::response::{self, BackendAnswer, Context};
use crate::sign::sigv4::EMPTY_SHA256;
use crate::upstream::Answer;
use crate::upstream::{self, Failure, Upstream};
use crate::xml;
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
    let opened = tokio::select! {
        biased;
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
        Ok(c) => c.with_header(f.body_checksum.as_ref()),
        Err(e) => return respond_error(session, f.client, &e, &f.resource, rid, false).await,
    };
    let length_known = f.out.header("content-length").is_some();
    let mut payload = match &f.payload {
        Payload::Sha256(h) => Some(h.clone()),
        _ if f.out.header("content-length") == Some("0") => Some(EMPTY_SHA256.to_string()),
        _ => None,
    };
    // A trailer checksum goes on to a backend that keeps checksums, framed again.
    if backend.checksums {
        if let Some(headers) = check.reframe_trailer() {
            for (k, v) in headers {
                let v = match f.out.header(k).filter(|_| k == "content-encoding") {
                    Some(other) => format!("{v},{other}"),
                    None => v,
                };
                f.out.set_header(k, v);
            }
            payload = Some(crate::dialect::reframe::PAYLOAD.to_string());
        }
    }
    if !length_known {
        // Unknown length: the backend gets the body chunked (SigV4 signs it UNSIGNED-PAYLOAD).
        f.out.set_header("transfer-encoding", "chunked".into());
    }
    // An empty payload has no last byte to hold back: it is proven before the backend hears of it.
    let proven_empty = f.out.header("content-length") == Some("0") && !check.passes_through();
    if proven_empty {
        if let Err(e) = prove_empty(session, &mut check).await? {
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    }
    let mut x = match up.start(backend, &mut f.out, payload.as_deref()).await {
        Ok(x) => x,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    };
    let mut pending: Option<Bytes> = None;
    let mut done = proven_empty;
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
        let chunk = match read {
            Ok(c) => c,
            Err(e) => {
                // The backend's request stays short: nothing is stored.
                drop(x);
                let e = super::framing_error(session, e)?;
                return respond_error(session, f.client, &e, &f.resource, rid, false).await;
            }
        };
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
    let answer = async {
        match backend_failed {
            // The backend may have refused the body early and said why.
            Some(e) => x.read_header().await.map_err(|_| e)?,
            None => x.finish().await?,
        }
        x.read_to_end(RESULT_CAP).await
    };
    // Once the whole body is read, a client that hangs up releases the backend at once.
    let answered = if session.is_body_done() {
        tokio::select! {
            biased;
            a = answer => a,
            _ = client_gone(session) => return Err(hung_up()),
        }
    } else {
        answer.await
    };
    let body = match answered {
        Ok(b) => b,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    };
    let (status, headers) = (x.status, std::mem::take(&mut x.headers));
    x.release();
    let mut out = response::translate(
        &Context {
            op: f.op,
            backend: backend.dialect,
            client: f.client,
            request_id: rid,
            resource: &f.resource,
        },
        BackendAnswer {
            status,
            headers,
            body: Some(&body),
        },
    );
    check.answer_with_proof(out.status, f.client, &mut out.headers);
    respond(session, out.status, out.headers, out.body, false).await
}

/// Read and prove a body whose payload is empty (its framing and checksums only).
async fn prove_empty(
    session: &mut Session,
    check: &mut BodyCheck,
) -> Result<std::result::Result<(), ApiError>> {
    let mut seen = 0;
    loop {
        let chunk = match session.read_request_body().await {
            Ok(c) => c,
            Err(e) => return super::framing_error(session, e).map(Err),
        };
        let done = chunk.is_none() || session.is_body_done();
        seen += chunk.as_ref().map_or(0, Bytes::len);
        if seen > super::MAX_SMALL_REQUEST {
            return Ok(Err(ApiError::new(
                crate::error::Code::IncompleteBody,
                "The body is longer than its declared length.",
            )));
        }
        if let Err(e) = check.push(chunk, done) {
            return Ok(Err(e));
        }
        if done {
            return Ok(Ok(()));
        }
    }
}

/// A copy whose source lives on another backend (Upload Part - Copy, or CopyObject up to 5 GiB):
/// HEAD the source (conditions, size, metadata), GET the range there and stream it as the
/// destination's UploadPart or PutObject, one piece in flight. Success only with the destination's
/// ETag; a source that breaks off leaves the destination's request short, so nothing is stored.
pub(super) async fn copy_across(
    up: &Upstream,
    session: &mut Session,
    source: &Backend,
    dest: &Backend,
    mut f: Forward,
    rid: &str,
    keep: KeepAlive,
) -> Result<()> {
    if let Err(e) = read_small_body(session, &f).await? {
        return respond_error(session, f.client, &e, &f.resource, rid, false).await;
    }
    let Some(cross) = f.cross.take() else {
        return Err(Error::explain(
            ErrorType::InternalError,
            "not a copy across backends",
        ));
    };
    let (client, op, resource) = (f.client, f.op, f.resource.clone());
    let work = std::pin::pin!(async {
        let started = std::time::Instant::now();
        let copied = copy_work(up, source, dest, &cross, op, &mut f.out, rid).await;
        let seconds = started.elapsed().as_secs_f64();
        let (len, mut answer, source_version) = match copied {
            Ok(c) => c,
            Err(e) => {
                metrics::copy_across(false, 0, seconds);
                return Err(e);
            }
        };
        let etag = answer
            .header("etag")
            .map(|v| v.trim().trim_matches('"').to_string())
            .filter(|e| !e.is_empty());
        let x = Context {
            op: if op == Op::CopyObject {
                Op::PutObject
            } else {
                Op::UploadPart
            },
            backend: dest.dialect,
            client,
            request_id: rid,
            resource: &resource,
        };
        let mut out = response::translate(
            &x,
            BackendAnswer {
                status: answer.status,
                headers: std::mem::take(&mut answer.headers),
                body: Some(&std::mem::take(&mut answer.body)),
            },
        );
        if answer.status >= 300 {
            metrics::copy_across(false, 0, seconds);
            return Ok(Reply {
                status: out.status,
                headers: out.headers,
                body: out.body,
            });
        }
        // The destination's answer becomes a copy result; without its ETag, no success.
        let Some(etag) = etag else {
            metrics::copy_across(false, 0, seconds);
            metrics::failed_200(client);
            return Err(ApiError::internal(
                "The destination answered without an ETag; the copy did not happen",
            ));
        };
        let result = xml::CopyResult {
            etag,
            last_modified: Some(xml::timestamp_now()),
        };
        out.headers
            .retain(|(k, _)| k != "etag" && k != "content-length" && k != "content-type");
        out.headers
            .push(("content-type".into(), "application/xml".into()));
        if let (Some(v), Some(name)) =
            (source_version, client.header_name("copy-source-version-id"))
        {
            out.headers.push((name.into(), v));
        }
        metrics::copy_across(true, len, seconds);
        Ok(Reply {
            status: out.status,
            headers: out.headers,
            body: Some(
                xml::render_copy_result(client, op == Op::UploadPartCopy, &result).into_bytes(),
            ),
        })
    });
    keepalive::answer(session, keep, client, &resource, rid, false, work).await
}

/// Largest object a CopyObject copies (the single-PUT limit of every dialect).
const MAX_COPY_OBJECT: u64 = 5 << 30;

/// The copy itself: the source's HEAD decides conditions, range and metadata; then whole attempts
/// until one stands. Gives the length copied, the destination's answer and the source's version.
async fn copy_work(
    up: &Upstream,
    source: &Backend,
    dest: &Backend,
    cross: &CrossCopy,
    op: Op,
    out: &mut Outbound,
    rid: &str,
) -> std::result::Result<(u64, Answer, Option<String>), ApiError> {
    let cp = &cross.copy;
    let head = head_source(up, source, cp, rid).await?;
    let size: u64 = head
        .header("content-length")
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| ApiError::internal("The copy source has no length"))?;
    let (first, len) = match cp.range {
        Some(r) if r.last >= size => {
            return Err(ApiError::new(
                Code::InvalidRange,
                "The requested range is not satisfiable",
            ))
        }
        Some(r) => (r.first, r.last - r.first + 1),
        None if op == Op::CopyObject && size > MAX_COPY_OBJECT => {
            return Err(ApiError::new(
                Code::InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
            ))
        }
        None if size == 0 && op == Op::UploadPartCopy => {
            return Err(ApiError::new(
                Code::InvalidRange,
                "The copy source is empty",
            ))
        }
        None => (0, size),
    };
    if cross.copy_metadata {
        out.headers.extend(request::source_metadata(
            source.dialect,
            dest.dialect,
            &head.headers,
        ));
    }
    // A whole single-part source tells its MD5: the destination then checks the relayed bytes.
    if let Some(md5) = request::whole_object_md5(source.dialect, cp, &head.headers) {
        out.set_header("content-md5", md5);
    }
    let version = source
        .dialect
        .header_name("version-id")
        .and_then(|n| head.header(&n).map(str::to_string));
    // An UploadPart or PutObject of the same name is idempotent: the whole copy is sent again on a
    // transient failure of either side, inside the destination's retry budget.
    let deadline = std::time::Instant::now() + dest.timeouts.total;
    let mut n = 0u32;
    loop {
        let e = match copy_once(up, source, dest, cp, out, (first, len), rid).await {
            Ok(a) => return Ok((len, a, version)),
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Again(e)) => e,
        };
        let Some(wait) = upstream::again(dest, &mut n, deadline, true) else {
            return Err(e);
        };
        metrics::copy_across_retry();
        tracing::info!(request_id = %rid, attempt = n, code = %e.code, "copying again");
        tokio::time::sleep(wait).await;
    }
}

/// Why one attempt at a part copied across backends failed.
enum Attempt {
    /// Transient (connection, timeout, cut, 5xx): the whole part may be sent again.
    Again(ApiError),
    /// The answer stands (4xx and the like).
    Final(ApiError),
}

fn transient(backend: &Backend, rid: &str, e: &Failure) -> Attempt {
    Attempt::Again(failed(backend, rid, e))
}

/// An error answer of either side: 5xx may be tried again, anything else stands.
fn answered(status: u16, body: &[u8], message: &str) -> Attempt {
    let code = xml::parse_error(body)
        .map(|e| e.code)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| response::code_for_status(status).as_str().to_string());
    let e = ApiError::relayed(status, &code, message);
    if status >= 500 {
        Attempt::Again(e)
    } else {
        Attempt::Final(e)
    }
}

/// One attempt: GET the range on the source and stream it as the destination's UploadPart.
/// A source that breaks off or sends too little leaves the UploadPart short: no part is stored.
async fn copy_once(
    up: &Upstream,
    source: &Backend,
    dest: &Backend,
    cp: &crate::model::CopyPart,
    out: &mut Outbound,
    (first, len): (u64, u64),
    rid: &str,
) -> std::result::Result<Answer, Attempt> {
    if len == 0 {
        // An empty object: nothing to read.
        out.set_header("content-length", "0".into());
        return up
            .exchange(dest, out, Bytes::new(), Some(EMPTY_SHA256))
            .await
            .map_err(|e| transient(dest, rid, &e))
            .and_then(|a| match a.status {
                500.. => Err(answered(
                    a.status,
                    &a.body,
                    "The destination did not store the copy",
                )),
                _ => Ok(a),
            });
    }
    let get = request::source_get(cp, source, first, first + len - 1);
    let src = relay::Source {
        backend: source,
        get,
        len,
    };
    let a = match relay::relay(up, dest, out, vec![src]).await {
        Ok(a) => a,
        Err(Broke::Wire(b, e)) => return Err(transient(b, rid, &e)),
        Err(Broke::Refused(status, body)) => {
            return Err(answered(status, &body, "The copy source could not be read"))
        }
        Err(Broke::Length) => {
            return Err(Attempt::Again(ApiError::internal(
                "The copy source sent another length than asked",
            )))
        }
    };
    if a.status >= 500 {
        return Err(answered(
            a.status,
            &a.body,
            "The destination did not store the copy",
        ));
    }
    Ok(a)
}
