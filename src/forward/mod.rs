//! What happens to a planned request between the client and the backend: a small exchange
//! (bodies buffered with a cap, the answer translated whole), a download (the answer streams),
//! or an upload (the request body streams, verified as it goes). All backend traffic goes through
//! `upstream`; all answers come from `response::translate` or `respond_error`.
//!
//! Integrity: once a 2xx header has gone to the client, a failure returns `Err` and the
//! connection is cut (pingora then writes nothing more): a Content-Length answer ends short, a
//! chunked one without its last chunk. A client that hangs up while the backend is working drops
//! the backend connection at once.

use crate::body::BodyCheck;
use crate::outbound::Outbound;

mod across;
pub mod buckets;
mod complete;
mod download;
pub mod post;
mod relay;
mod staged;
mod upload;
use crate::config::{Backend, Config};
use crate::error::{ApiError, Code};
use crate::metrics;
use crate::request::{self, Forward, Op};
use crate::response::{
    self, error_document, respond_error, BackendAnswer, Context, KeepAlive, Origin, Reply,
};
use crate::sign;
use crate::upstream::{Failure, Upstream};
use bytes::{Bytes, BytesMut};
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

/// Largest request body buffered for a small operation (a 10000-part Complete fits).
const MAX_SMALL_REQUEST: usize = 2 << 20;

/// The future of one forwarded request.
pub type Work<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;

/// One planned request, end to end. Each path's future is boxed on its own: a future is as
/// large as its largest path, and one holding them all would be copied whole when it moves.
pub fn forward<'a>(
    up: &'a Upstream,
    session: &'a mut Session,
    cfg: &'a Config,
    f: Box<Forward>,
    request_id: &'a str,
    head: bool,
) -> Work<'a> {
    let backend = &cfg.backends[f.backend];
    let keep = KeepAlive {
        // A result whose ETag the client's SDK reads from a header cannot be kept alive.
        delay: cfg
            .copy_keepalive
            .filter(|_| f.op.may_fail_with_200() && !head && !f.client.vocab().result_etag_header),
        interval: cfg.copy_keepalive_interval,
        error_document: f.raises_200_error,
    };
    if f.staging.is_some() {
        return match f.op {
            Op::Complete => Box::pin(staged::complete(up, session, backend, *f, request_id, keep)),
            Op::ListParts => Box::pin(staged::list_parts(up, session, backend, *f, request_id)),
            Op::Abort => Box::pin(staged::abort(up, session, backend, *f, request_id)),
            _ => Box::pin(staged_part(up, session, cfg, f, request_id, head, keep)),
        };
    }
    dispatch(up, session, cfg, f, request_id, head, keep)
}

/// A part of a staged upload: its upload must exist before the part is taken.
async fn staged_part(
    up: &Upstream,
    session: &mut Session,
    cfg: &Config,
    f: Box<Forward>,
    request_id: &str,
    head: bool,
    keep: KeepAlive,
) -> Result<()> {
    let backend = &cfg.backends[f.backend];
    if let Some(st) = &f.staging {
        // (the body is unread: no watch for a hang-up here; the exchange has deadlines)
        if let Err(e) = staged::upload_exists(up, backend, st, request_id).await {
            return respond_error(session, f.client, &e, &f.resource, request_id, false).await;
        }
    }
    dispatch(up, session, cfg, f, request_id, head, keep).await
}

fn dispatch<'a>(
    up: &'a Upstream,
    session: &'a mut Session,
    cfg: &'a Config,
    f: Box<Forward>,
    request_id: &'a str,
    head: bool,
    keep: KeepAlive,
) -> Work<'a> {
    let backend = &cfg.backends[f.backend];
    if let Some(cross) = &f.cross {
        let source = &cfg.backends[cross.source_backend];
        return Box::pin(across::copy_across(
            up, session, source, backend, *f, request_id, keep,
        ));
    }
    match f.op {
        Op::PutObject | Op::UploadPart => {
            Box::pin(upload::upload(up, session, backend, *f, request_id))
        }
        Op::GetObject if !head => {
            Box::pin(download::download(up, session, backend, *f, request_id))
        }
        _ => Box::pin(small(up, session, backend, f, request_id, head, keep)),
    }
}

/// A client body whose chunked framing does not parse: `400` in the client's dialect, and the
/// connection closes after it (nothing that follows on it can be trusted to start a request).
/// Any other read failure (a client gone) stays an error of the connection.
pub(crate) fn framing_error(session: &mut Session, e: Box<Error>) -> Result<ApiError> {
    if matches!(e.etype().as_str(), "InvalidChunk" | "InvalidTrailerEnd") {
        session.set_keepalive(None);
        return Ok(ApiError::new(
            Code::IncompleteBody,
            "The request body's chunked framing is malformed.",
        ));
    }
    Err(e)
}

/// Read a small request body whole, verified against what the client signed.
pub(crate) async fn read_small_body(
    session: &mut Session,
    f: &Forward,
) -> Result<std::result::Result<Bytes, ApiError>> {
    let mut body = BytesMut::new();
    // A request that says it has no body (most small ones) costs no read and no deadline.
    if !session.is_body_empty() {
        loop {
            let chunk = match session.read_request_body().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return framing_error(session, e).map(Err),
            };
            if body.len() + chunk.len() > MAX_SMALL_REQUEST {
                return Ok(Err(ApiError::new(
                    Code::MaxMessageLengthExceeded,
                    "Your request was too big.",
                )));
            }
            body.extend_from_slice(&chunk);
        }
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
    mut f: Box<Forward>,
    rid: &str,
    head: bool,
    keep: KeepAlive,
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
        // The client's checksum holds for the body it sent, before any rewriting.
        if let Err(e) = request::verify_small_body(&f, &body) {
            return respond_error(session, f.client, &e, &f.resource, rid, head).await;
        }
        let body = request::rewrite_small_body(&mut f, body, backend.checksums);
        let body = match crate::documents::for_backend(&mut f, backend, body) {
            Ok(b) => b,
            Err(e) => return respond_error(session, f.client, &e, &f.resource, rid, head).await,
        };
        request::require_md5(&mut f, backend.dialect, &body);
        if !body.is_empty() || matches!(f.out.method.as_str(), "PUT" | "POST") {
            f.out.set_header("content-length", body.len().to_string());
        } else {
            f.out.headers.retain(|(k, _)| k != "content-length");
        }
        body
    };
    let (client, op, resource) = (f.client, f.op, f.resource.clone());
    let work = std::pin::pin!(async {
        if op == Op::Complete {
            complete::check_part_sizes(up, backend, &f, &body).await?;
        }
        if let Some(cp) = f.precheck.take() {
            head_source(up, backend, &cp, rid).await?;
        }
        let hash = sign::sha256_hex(&body);
        let expected = (op == Op::Complete)
            .then(|| request::multipart_etag(&body))
            .flatten();
        let mut a = up
            .exchange(
                backend,
                &mut f.out,
                body,
                &Outbound::signer(backend, Some(&hash)),
            )
            .await
            .map_err(|e| failed(backend, rid, &e))?;
        if let Some(etag) = expected {
            a = complete::lost_answer(up, backend, &f, &etag, a).await;
        }
        let x = Context {
            op,
            backend: backend.dialect,
            client,
            request_id: rid,
            resource: &resource,
        };
        let mut out = response::translate(
            &x,
            BackendAnswer {
                status: a.status,
                headers: a.headers,
                body: (!head).then_some(&a.body[..]),
            },
        );
        if out.status < 300 {
            if let Err(e) = crate::documents::for_client(&f, backend.dialect, &mut out.body) {
                out.status = e.status;
                out.body = Some(error_document(client, &e, &resource, rid, Origin::Proxy));
                response::for_rendered_body(&mut out.headers, out.status);
            }
        }
        if out.failed_200 {
            metrics::failed_200(client);
            tracing::warn!(request_id = %rid, status = out.status, "backend answered 200 without a result");
        }
        Ok(Reply {
            status: out.status,
            headers: out.headers,
            body: out.body,
        })
    });
    response::keep_alive(session, keep, client, &resource, rid, head, work).await
}

/// Log a failed exchange and say what the client sees.
pub(crate) fn failed(backend: &Backend, rid: &str, e: &Failure) -> ApiError {
    tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend exchange failed");
    client_error(e)
}

/// A request without a body, signed for `backend` before each attempt, its answer buffered.
pub(crate) async fn bodiless(
    up: &Upstream,
    backend: &Backend,
    out: &mut Outbound,
) -> std::result::Result<crate::upstream::Answer, Failure> {
    up.exchange(backend, out, Bytes::new(), &Outbound::bodiless(backend))
        .await
}

/// What a client sees of a failed backend exchange: every one is a 5xx, which every SDK retries.
pub(crate) fn client_error(f: &Failure) -> ApiError {
    match f {
        Failure::Unreachable(_) => ApiError::unavailable("The backend could not be reached"),
        Failure::Unresolved(_) => ApiError::unavailable("The backend's host name does not resolve"),
        Failure::Timeout(_) => {
            ApiError::new(Code::GatewayTimeout, "The backend did not answer in time")
        }
        Failure::Broken(_) => ApiError::internal("The backend's answer was cut short or malformed"),
        Failure::Busy(_) => ApiError::new(
            Code::SlowDown,
            "The gateway holds as many large answers as it may; try again",
        ),
    }
}

/// HEAD a copy's source on `backend` and decide its four conditions here (for a backend that
/// cannot express them, or a source on another backend). The answer tells the source's size.
pub(crate) async fn head_source(
    up: &Upstream,
    backend: &Backend,
    cp: &crate::model::CopyPart,
    rid: &str,
) -> std::result::Result<crate::upstream::Answer, ApiError> {
    let mut out = request::source_head(cp, backend);
    let a = bodiless(up, backend, &mut out)
        .await
        .map_err(|e| failed(backend, rid, &e))?;
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
    cp.conditions.evaluate(etag, modified)?;
    Ok(a)
}

#[cfg(test)]
mod tests;
