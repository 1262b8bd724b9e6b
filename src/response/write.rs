//! Writing to the client: an answer's head, a whole answer, and the one function that renders an
//! error in the client's dialect (its metric, access-log code and log line noted there once).

use crate::access;
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::metrics;
use crate::sign;
use crate::wire::Headers;
use crate::xml;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

/// Who decided that a request failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Origin {
    /// The proxy itself (verification, planning, a backend it could not reach, a result it
    /// could not prove): counted in `dialect_proxy_refused_total`.
    Proxy,
    /// The backend, whose error document (or error status) is relayed in the client's shape.
    Backend,
}

/// The one place an error becomes a document in the client's dialect. The access line gets its
/// code; an error of the proxy's own is counted and logged (a canonical request in its detail
/// only redacted, at debug).
pub fn error_document(
    client: Dialect,
    err: &ApiError,
    resource: &str,
    request_id: &str,
    origin: Origin,
) -> Vec<u8> {
    access::note_error(err.code.as_str());
    if origin == Origin::Proxy {
        metrics::error(client, err.code.as_str());
        if let Some(d) = &err.detail {
            let canonical = sign::redact(d);
            tracing::debug!(request_id, code = %err.code, %canonical, "request refused");
        } else {
            tracing::info!(request_id, code = %err.code, status = err.status, "request refused");
        }
    }
    xml::render_error(client, err, resource, request_id).into_bytes()
}

tokio::task_local! {
    /// Headers every answer of the current request carries (CORS), set by the request's scope.
    static EXTRA: Option<Headers>;
}

/// `fut` with `extra` added to each answer header it writes (replacing any the backend sent under
/// the same `access-control-` names).
pub fn with_headers<F: std::future::Future>(
    extra: Option<Headers>,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    EXTRA.scope(extra, fut)
}

/// The answer's head, taking the header pairs over (their strings become the header bytes).
pub fn response_header(status: u16, mut headers: Headers) -> Result<ResponseHeader> {
    let _ = EXTRA.try_with(|extra| {
        if let Some(extra) = extra {
            headers.retain(|(k, _)| !k.starts_with("access-control-") && k != "vary");
            headers.extend(extra.iter().cloned());
        }
    });
    if headers.iter().any(|(k, _)| super::needs_case_map(k)) {
        let mut h = ResponseHeader::build(status, Some(headers.len() + 2))?;
        for (k, v) in headers {
            // A value that is not a valid header value is dropped rather than failing the answer.
            let Ok(value) = http::HeaderValue::from_maybe_shared(Bytes::from(v)) else {
                continue;
            };
            let _ = h.append_header(Bytes::from(super::wire_case(k.into_owned())), value);
        }
        return Ok(h);
    }
    // Every name is written as the clouds spell it without a case map (pingora titles the
    // standard ones): filled as plain parts, each name parsed once and no second map kept.
    let mut parts = http::response::Parts::from(ResponseHeader::build_no_case(
        status,
        Some(headers.len() + 2),
    )?);
    for (k, v) in headers {
        let (Ok(name), Ok(value)) = (
            crate::upstream::header_name(&k),
            http::HeaderValue::from_maybe_shared(Bytes::from(v)),
        ) else {
            continue;
        };
        parts.headers.append(name, value);
    }
    Ok(ResponseHeader::from(parts))
}

/// Write a whole answer. A HEAD answer carries the length but no body.
pub async fn respond(
    session: &mut Session,
    status: u16,
    mut headers: Headers,
    body: Option<Vec<u8>>,
    head: bool,
) -> Result<()> {
    let body = body.unwrap_or_default();
    if !headers.iter().any(|(k, _)| k == "content-length") {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    let end = head || body.is_empty();
    session
        .write_response_header(Box::new(response_header(status, headers)?))
        .await?;
    if !end {
        session.write_response_body(Bytes::from(body), true).await?;
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
    let body = error_document(client, err, resource, request_id, Origin::Proxy);
    let mut headers = vec![("content-type".into(), "application/xml".to_string())];
    super::finish(client, &mut headers, request_id);
    respond(session, err.status, headers, Some(body), head).await
}

/// Resolves when the client hangs up (or sends bytes it should not) while it waits for an answer.
/// Only for requests whose body has been read. Raced in a `biased` select after the work, so that
/// an outcome that is ready wins: a client holding a whole answer may already send its next request.
pub async fn client_gone(session: &mut Session) {
    if session.read_body_or_idle(true).await.is_err() {
        return;
    }
    std::future::pending::<()>().await
}

pub fn hung_up() -> Box<Error> {
    Error::explain(ErrorType::ConnectionClosed, "the client hung up").into_down()
}
