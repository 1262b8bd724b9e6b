//! From the backend's answer to the client's: headers into the client's namespace,
//! error documents into the client's shape, result documents into its namespace.

use crate::dialect::wire::Headers;
use crate::dialect::{translate_header, Dialect};
use crate::error::{ApiError, Code};
use crate::model::Op;
use crate::xml;

mod keepalive;
mod write;
pub use keepalive::{answer as keep_alive, KeepAlive, Reply};
pub use write::{
    client_gone, error_document, hung_up, respond, respond_error, response_header, with_headers,
    Origin,
};

/// Response headers that are the transport's business, or replaced by the proxy.
use crate::upstream::HOP_HEADERS as DROP;

/// The header that carries the backend's own request id beside the proxy's.
pub const BACKEND_REQUEST_ID: &str = "x-dialect-proxy-backend-request-id";

/// Translate backend response headers. The client's request-id headers always carry the proxy's
/// id (the one in error bodies and logs); the backend's id moves to `BACKEND_REQUEST_ID`.
pub fn headers(from: Dialect, to: Dialect, input: Headers, request_id: &str) -> Headers {
    // Room for what `finish` adds (request ids, Server) and a content type.
    let mut out = Vec::with_capacity(input.len() + 4);
    for (k, v) in input {
        if DROP.contains(&&*k) {
            continue;
        }
        if let Some(suffix) = from.neutral_suffix(&k) {
            if suffix == "request-id" {
                out.push((BACKEND_REQUEST_ID.into(), v));
                continue;
            }
            if suffix == "id-2" {
                continue;
            }
            if let Some((k, v)) = translate_header(from, to, &k, &v) {
                out.push((k.into(), v));
            }
        } else if !Dialect::is_vendor_header(&k) {
            out.push((k, v));
        }
    }
    finish(to, &mut out, request_id);
    out
}

/// Add the request-id and server headers a client of `to` looks for, if missing.
pub fn finish(to: Dialect, out: &mut Headers, request_id: &str) {
    let v = to.vocab();
    if !out.iter().any(|(k, _)| k == v.request_id) {
        out.push((v.request_id.into(), request_id.to_string()));
    }
    if let Some(id2) = v.id2 {
        if !out.iter().any(|(k, _)| k == id2) {
            out.push((id2.into(), request_id.to_string()));
        }
    }
    out.push(("server".into(), v.server.to_string()));
}

/// Headers for an answer whose body the proxy re-rendered: the length is recomputed by whoever
/// writes the body, and an error document carries no result headers.
pub fn for_rendered_body(headers: &mut Headers, status: u16) {
    headers.retain(|(k, _)| k != "content-length");
    if status >= 300 {
        headers.retain(|(k, _)| k != "content-type" && k != "etag");
        headers.push(("content-type".into(), "application/xml".into()));
    }
}

/// The client's answer to a backend answer.
pub struct ClientAnswer {
    pub status: u16,
    pub headers: Headers,
    /// The re-rendered body; `None` when the backend's body streams through unchanged.
    pub body: Option<Vec<u8>>,
    /// A backend 200 that was no success (error inside, no parsable result).
    pub failed_200: bool,
}

/// What a backend answer said, for `translate`.
pub struct BackendAnswer<'a> {
    pub status: u16,
    /// Taken over: the client's answer keeps what passes unchanged.
    pub headers: Headers,
    /// The whole body when it was buffered; `None` when it streams through (2xx/304 downloads,
    /// answers to HEAD).
    pub body: Option<&'a [u8]>,
}

/// Where a request came from and went, for `translate`.
pub struct Context<'a> {
    pub op: Op,
    pub backend: Dialect,
    pub client: Dialect,
    pub request_id: &'a str,
    pub resource: &'a str,
}

/// The one place a backend answer becomes the client's answer: headers into the client's
/// namespace and request id, buffered bodies re-rendered (errors into the client's shape, results
/// into its namespace, a 200 that proves no success into an error).
pub fn translate(x: &Context, a: BackendAnswer) -> ClientAnswer {
    let mut headers = headers(x.backend, x.client, a.headers, x.request_id);
    let Some(raw) = a.body else {
        return ClientAnswer {
            status: a.status,
            headers,
            body: None,
            failed_200: false,
        };
    };
    let mut out = body(x.op, a.status, x.client, raw, x.request_id, x.resource);
    if x.backend != x.client && out.status < 300 && !x.op.small_result() {
        // Storage classes inside listings and part lists, in the client's cloud's names.
        let class = |_: &str, v: &str| {
            let neutral = x.backend.neutral_value("storage-class", v);
            let wire = x.client.wire_value("storage-class", neutral);
            (wire != v).then(|| wire.to_string())
        };
        if let Some(b) = xml::map_texts(&out.body, &["StorageClass"], class) {
            out.body = b;
        }
    }
    for_rendered_body(&mut headers, out.status);
    if out.status < 300 {
        shape_for_sdk(x.client, &mut out.body);
    }
    if out.status < 300 && x.op.may_fail_with_200() && x.client.vocab().result_etag_header {
        let etag = match x.op {
            Op::Complete => xml::complete_etag(&out.body),
            _ => xml::copy_result(&out.body).map(|r| r.etag),
        };
        if let Some(etag) = etag {
            result_etag_headers(x.client, &mut headers, &etag);
        }
    }
    ClientAnswer {
        status: out.status,
        headers,
        body: Some(out.body),
        failed_200: out.failed_200,
    }
}

/// A document for `client` with its dates as its SDKs parse them, and the elements they require
/// in listing entries.
pub fn shape_for_sdk(client: Dialect, body: &mut Vec<u8>) {
    let v = client.vocab();
    if v.whole_second_dates {
        if let Some(b) = xml::whole_second_dates(body) {
            *body = b;
        }
    }
    for (entry, name, value) in v.entry_defaults {
        if let Some(b) = xml::add_missing(body, entry, name, value) {
            *body = b;
        }
    }
}

/// A copy or Complete result's headers for `client`: the ETag also in the `ETag` header where its
/// SDKs read it there, else none (the document holds it).
pub fn result_etag_headers(client: Dialect, headers: &mut Headers, etag: &str) {
    headers.retain(|(k, _)| k != "etag");
    if client.vocab().result_etag_header {
        let bare = etag.trim().trim_matches('"');
        headers.push(("etag".into(), format!("\"{bare}\"")));
    }
}

/// What to send for a buffered backend answer: (status, body, counted as a failed 200).
pub struct Body {
    pub status: u16,
    pub body: Vec<u8>,
    pub failed_200: bool,
    /// The error code of an error document.
    pub code: Option<Code>,
}

/// Translate a complete backend body.
pub fn body(
    op: Op,
    status: u16,
    to: Dialect,
    body: &[u8],
    request_id: &str,
    resource: &str,
) -> Body {
    if let Some(e) = xml::parse_error(body) {
        let failed_200 = status < 300;
        let code = if e.code.is_empty() {
            Code::InternalError
        } else {
            Code::parse(&e.code)
        };
        let err = if failed_200 {
            ApiError::new(code, e.message)
        } else {
            ApiError::relayed(status, code.as_str(), e.message)
        };
        let status = err.status;
        // The client's own resource: the backend's names its own bucket (a route may rename it)
        // or the proxy's side requests.
        return Body {
            status,
            body: error_document(to, &err, resource, request_id, Origin::Backend),
            failed_200,
            code: Some(err.code),
        };
    }
    if status >= 300 {
        // An error answer that is not an S3 error document: keep the status, give the client a document it can parse.
        // An empty or non-XML error body still becomes a document the client's SDK can parse.
        let message = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
        let err = ApiError::relayed(status, code_for_status(status).as_str(), message);
        return Body {
            status,
            body: error_document(to, &err, resource, request_id, Origin::Backend),
            failed_200: false,
            code: Some(err.code),
        };
    }
    if op == Op::UploadPartCopy || op == Op::CopyObject {
        if let Some(mut r) = xml::copy_result(body) {
            // Clients parse LastModified; a backend that omits it gets the time of the answer.
            if r.last_modified.is_none() {
                r.last_modified = Some(xml::timestamp_now());
            }
            return Body {
                status,
                body: xml::render_copy_result(to, op == Op::UploadPartCopy, &r).into_bytes(),
                failed_200: false,
                code: None,
            };
        }
    }
    // Copy results were handled above; what is left of these operations proves no success.
    if op.may_fail_with_200() && !(op == Op::Complete && xml::complete_etag(body).is_some()) {
        let err = ApiError::internal(if op == Op::Complete {
            "The backend answered 200 without a complete result holding an ETag; the upload may not be complete"
        } else {
            "The backend answered 200 without an ETag; the copy did not happen"
        });
        return Body {
            status: 500,
            body: error_document(to, &err, resource, request_id, Origin::Backend),
            failed_200: true,
            code: Some(err.code),
        };
    }
    if op.xml_result() && !xml::whole_document(body) {
        let err = ApiError::internal("The backend's result document is empty or cut short");
        return Body {
            status: 500,
            body: error_document(to, &err, resource, request_id, Origin::Backend),
            failed_200: true,
            code: Some(err.code),
        };
    }
    match xml::rewrite_namespace(body, to) {
        Some(b) => Body {
            status,
            body: b,
            failed_200: false,
            code: None,
        },
        None => Body {
            status,
            body: body.to_vec(),
            failed_200: false,
            code: None,
        },
    }
}

/// Whether `lower` needs pingora's case map to go out as `wire_case` spells it: vendor headers
/// stay lower-case, and pingora titles a few standard names by itself.
pub fn needs_case_map(lower: &str) -> bool {
    const TITLED_BY_PINGORA: &[&str] = &[
        "accept-ranges",
        "age",
        "cache-control",
        "connection",
        "content-type",
        "content-encoding",
        "content-length",
        "date",
        "transfer-encoding",
        "host",
        "server",
        "set-cookie",
    ];
    !lower.starts_with("x-") && !TITLED_BY_PINGORA.contains(&lower)
}

/// The spelling clouds use on the wire: some SDKs read headers from a case-sensitive dict
/// (cos-python-sdk looks up `ETag`). Vendor headers stay lower-case, as the clouds send them.
pub fn wire_case(lower: String) -> Vec<u8> {
    let mut name = lower.into_bytes();
    if name.starts_with(b"x-") {
        return name;
    }
    if name == b"etag" {
        return b"ETag".to_vec();
    }
    let mut upper = true;
    for c in name.iter_mut() {
        if upper {
            c.make_ascii_uppercase();
        }
        upper = *c == b'-';
    }
    name
}

pub fn code_for_status(status: u16) -> Code {
    match status {
        400 => Code::InvalidRequest,
        403 => Code::AccessDenied,
        404 => Code::NoSuchKey,
        405 => Code::MethodNotAllowed,
        409 => Code::Conflict,
        411 => Code::MissingContentLength,
        412 => Code::PreconditionFailed,
        416 => Code::InvalidRange,
        501 => Code::NotImplemented,
        503 => Code::ServiceUnavailable,
        _ => Code::InternalError,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_write;
