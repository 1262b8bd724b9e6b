//! Copies across backends: the source is read on its backend and streamed as the destination's
//! UploadPart or PutObject, whole attempts repeated on a transient failure.

use super::bodiless;
use super::relay::{self, Broke};
use super::{failed, head_source, read_small_body};
use crate::config::Backend;
use crate::error::{ApiError, Code};
use crate::metrics;
use crate::model::Op;
use crate::outbound::Outbound;
use crate::request::CrossCopy;
use crate::request::{self, Forward};
use crate::response::respond_error;
use crate::response::{self, BackendAnswer, Context};
use crate::response::{KeepAlive, Reply};
use crate::upstream::Answer;
use crate::upstream::{Failure, Retry, Upstream};
use crate::xml;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

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
            .retain(|(k, _)| k != "content-length" && k != "content-type");
        crate::response::result_etag_headers(client, &mut out.headers, &result.etag);
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
    crate::response::keep_alive(session, keep, client, &resource, rid, false, work).await
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
    let mut retry = Retry::new(dest);
    loop {
        let e = match copy_once(up, source, dest, cp, out, (first, len), rid).await {
            Ok(a) => return Ok((len, a, version)),
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Again(e)) => e,
        };
        if !retry.again(true).await {
            return Err(e);
        }
        metrics::copy_across_retry();
        tracing::info!(request_id = %rid, attempt = retry.made(), code = %e.code, "copying again");
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
        return bodiless(up, dest, out)
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
