//! Uploads whose parts are staged (see `request::staging`): Complete builds the real upload from
//! the staged parts, ListParts shows them, Abort removes them with the upload.

use super::bodiless;
use super::relay::{self, Broke};
use super::{failed, read_small_body};
use crate::config::Backend;
use crate::error::ApiError;
use crate::outbound::Outbound;
use crate::request::staging::{self, StagedPart, Staging};
use crate::request::Forward;
use crate::response::respond_error;
use crate::response::{self, BackendAnswer, Context};
use crate::response::{KeepAlive, Reply};
use crate::sign;
use crate::upstream::{Answer, Upstream};
use crate::xml;
use bytes::Bytes;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

/// Complete: check the client's list against its staged parts, turn runs of them into the real
/// upload's parts (a run of one by a copy inside the backend, longer runs streamed through), then
/// complete the real upload and remove the staged objects.
pub(super) async fn complete(
    up: &Upstream,
    session: &mut Session,
    backend: &Backend,
    mut f: Forward,
    rid: &str,
    keep: KeepAlive,
) -> Result<()> {
    let body = match read_small_body(session, &f).await? {
        Ok(b) => crate::request::rewrite_small_body(&mut f, b, false),
        Err(e) => return respond_error(session, f.client, &e, &f.resource, rid, false).await,
    };
    let Some(st) = f.staging.clone() else {
        return Err(Error::explain(ErrorType::InternalError, "not staged"));
    };
    let work = std::pin::pin!(async {
        let staged = list_staged(up, backend, &st, rid).await?;
        if staged.is_empty() {
            // Nothing staged (an SSE-C upload): the client's parts are the upload's own.
            super::complete::check_part_sizes(up, backend, &f, &body).await?;
            let mut out = f.out.clone();
            out.set_header("content-length", body.len().to_string());
            let hash = sign::sha256_hex(&body);
            let a = up
                .exchange(
                    backend,
                    &mut out,
                    body.clone(),
                    &Outbound::signer(backend, Some(&hash)),
                )
                .await
                .map_err(|e| failed(backend, rid, &e))?;
            return Ok(translated(&f, backend, rid, &a));
        }
        let chosen = staging::chosen_parts(&body, &staged, st.client_min)?;
        let mut parts = Vec::new();
        for (i, run) in staging::runs(&chosen, st.backend_min)
            .into_iter()
            .enumerate()
        {
            let n = i as u32 + 1;
            let run = &chosen[run];
            // A run of one big part is copied inside the backend (which refuses small sources).
            let etag = match run {
                [one] if one.size >= st.backend_min => {
                    copy_staged(up, backend, &st, n, one.number, rid).await?
                }
                _ => merge_staged(up, backend, &st, n, run, rid).await?,
            };
            parts.push((n, etag));
        }
        let mut out = st.upload_request(backend, "POST");
        let doc = Bytes::from(staging::complete_body(&parts));
        out.set_header("content-length", doc.len().to_string());
        out.set_header("content-type", "application/xml".into());
        let hash = sign::sha256_hex(&doc);
        let a = up
            .exchange(
                backend,
                &mut out,
                doc,
                &Outbound::signer(backend, Some(&hash)),
            )
            .await
            .map_err(|e| failed(backend, rid, &e))?;
        let reply = translated(&f, backend, rid, &a);
        if reply.status < 300 {
            remove_staged(up, backend, &st, &staged, rid).await;
        }
        Ok(reply)
    });
    crate::response::keep_alive(session, keep, f.client, &f.resource, rid, false, work).await
}

/// ListParts: the real upload must exist; the parts shown are the client's staged ones.
pub(super) async fn list_parts(
    up: &Upstream,
    session: &mut Session,
    backend: &Backend,
    f: Forward,
    rid: &str,
) -> Result<()> {
    if let Err(e) = read_small_body(session, &f).await? {
        return respond_error(session, f.client, &e, &f.resource, rid, false).await;
    }
    let Some(st) = f.staging.clone() else {
        return Err(Error::explain(ErrorType::InternalError, "not staged"));
    };
    let work = std::pin::pin!(async {
        let mut out = st.upload_request(backend, "GET");
        out.query.push(("max-parts".into(), Some("1".into())));
        let a = bodiless(up, backend, &mut out)
            .await
            .map_err(|e| failed(backend, rid, &e))?;
        if a.status >= 300 {
            return Ok(translated(&f, backend, rid, &a));
        }
        let staged = list_staged(up, backend, &st, rid).await?;
        if staged.is_empty() {
            // Nothing staged (an SSE-C upload): the upload's own parts are the client's.
            let mut out = f.out.clone();
            out.headers.retain(|(k, _)| k != "content-length");
            let a = bodiless(up, backend, &mut out)
                .await
                .map_err(|e| failed(backend, rid, &e))?;
            return Ok(translated(&f, backend, rid, &a));
        }
        let mut headers = vec![("content-type".into(), "application/xml".to_string())];
        response::finish(f.client, &mut headers, rid);
        Ok(Reply {
            status: 200,
            headers,
            body: Some({
                let mut doc = staging::render_list_parts(f.client, &st, &staged);
                crate::response::shape_for_sdk(f.client, &mut doc);
                doc
            }),
        })
    });
    let off = KeepAlive {
        delay: None,
        ..Default::default()
    };
    crate::response::keep_alive(session, off, f.client, &f.resource, rid, false, work).await
}

/// Abort: the real upload first, then its staged parts (also when the upload is gone already).
pub(super) async fn abort(
    up: &Upstream,
    session: &mut Session,
    backend: &Backend,
    mut f: Forward,
    rid: &str,
) -> Result<()> {
    if let Err(e) = read_small_body(session, &f).await? {
        return respond_error(session, f.client, &e, &f.resource, rid, false).await;
    }
    let Some(st) = f.staging.clone() else {
        return Err(Error::explain(ErrorType::InternalError, "not staged"));
    };
    f.out.headers.retain(|(k, _)| k != "content-length");
    let mut out = std::mem::take(&mut f.out);
    let work = std::pin::pin!(async {
        let a = bodiless(up, backend, &mut out)
            .await
            .map_err(|e| failed(backend, rid, &e))?;
        if a.status < 300 || a.status == 404 {
            let staged = list_staged(up, backend, &st, rid).await?;
            remove_staged(up, backend, &st, &staged, rid).await;
        }
        Ok(translated(&f, backend, rid, &a))
    });
    let off = KeepAlive {
        delay: None,
        ..Default::default()
    };
    crate::response::keep_alive(session, off, f.client, &f.resource, rid, false, work).await
}

/// A staged part belongs to an upload the backend knows (else its `NoSuchUpload`): checked before
/// the part is stored, so that no staging object is left for an upload that does not exist.
pub(super) async fn upload_exists(
    up: &Upstream,
    backend: &Backend,
    st: &Staging,
    rid: &str,
) -> std::result::Result<(), ApiError> {
    let mut out = st.upload_request(backend, "GET");
    out.query.push(("max-parts".into(), Some("1".into())));
    let a = bodiless(up, backend, &mut out)
        .await
        .map_err(|e| failed(backend, rid, &e))?;
    if a.status >= 300 {
        return Err(refused(&a, "The specified upload does not exist"));
    }
    Ok(())
}

/// The backend's answer to the client's request, in the client's terms.
fn translated(f: &Forward, backend: &Backend, rid: &str, a: &Answer) -> Reply {
    let out = response::translate(
        &Context {
            op: f.op,
            backend: backend.dialect,
            client: f.client,
            request_id: rid,
            resource: &f.resource,
        },
        BackendAnswer {
            status: a.status,
            headers: a.headers.clone(),
            body: Some(&a.body),
        },
    );
    Reply {
        status: out.status,
        headers: out.headers,
        body: out.body,
    }
}

/// An error answer of the backend to one of the proxy's own requests.
fn refused(a: &Answer, what: &str) -> ApiError {
    let code = xml::parse_error(&a.body)
        .map(|e| e.code)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| response::code_for_status(a.status).as_str().to_string());
    ApiError::relayed(a.status, &code, what)
}

/// Every staged part of the upload, in part-number order.
async fn list_staged(
    up: &Upstream,
    backend: &Backend,
    st: &Staging,
    rid: &str,
) -> std::result::Result<Vec<StagedPart>, ApiError> {
    let mut all = Vec::new();
    let mut marker = String::new();
    loop {
        let mut out = st.list(backend, &marker);
        let a = bodiless(up, backend, &mut out)
            .await
            .map_err(|e| failed(backend, rid, &e))?;
        if a.status >= 300 {
            return Err(refused(&a, "The staged parts could not be listed"));
        }
        let (page, next) = staging::staged_page(st, &a.body)?;
        for mut p in page {
            if p.etag.is_empty() {
                p.etag = staged_etag(up, backend, st, p.number, rid).await?;
            }
            all.push(p);
        }
        match next {
            Some(m) if m > marker => marker = m,
            _ => break,
        }
    }
    all.sort_by_key(|p| p.number);
    Ok(all)
}

/// The ETag of a staged part whose listing left it out.
async fn staged_etag(
    up: &Upstream,
    backend: &Backend,
    st: &Staging,
    n: u32,
    rid: &str,
) -> std::result::Result<String, ApiError> {
    let mut out = Outbound {
        method: "HEAD".into(),
        ..Default::default()
    };
    st.address(&mut out, backend, n);
    let a = bodiless(up, backend, &mut out)
        .await
        .map_err(|e| failed(backend, rid, &e))?;
    if a.status >= 300 {
        return Err(refused(&a, "A staged part could not be read"));
    }
    Ok(a.header("etag")
        .unwrap_or_default()
        .trim()
        .trim_matches('"')
        .to_string())
}

/// Staged part `staged` becomes the real upload's part `n` by a copy inside the backend.
async fn copy_staged(
    up: &Upstream,
    backend: &Backend,
    st: &Staging,
    n: u32,
    staged: u32,
    rid: &str,
) -> std::result::Result<String, ApiError> {
    let mut out = st.copy_into(backend, n, staged);
    let a = bodiless(up, backend, &mut out)
        .await
        .map_err(|e| failed(backend, rid, &e))?;
    if a.status >= 300 {
        return Err(refused(
            &a,
            "A staged part could not be copied into the upload",
        ));
    }
    xml::copy_result(&a.body)
        .map(|r| r.etag)
        .ok_or_else(|| ApiError::internal("The backend did not copy a staged part"))
}

/// Staged parts `run` become the real upload's part `n`: read one after another and streamed as
/// one UploadPart, one piece in flight. A staged object of another length than listed, or one that
/// breaks off, leaves the UploadPart short: nothing is stored.
async fn merge_staged(
    up: &Upstream,
    backend: &Backend,
    st: &Staging,
    n: u32,
    run: &[StagedPart],
    rid: &str,
) -> std::result::Result<String, ApiError> {
    let mut out = st.upload_request(backend, "PUT");
    out.query.push(("partNumber".into(), Some(n.to_string())));
    let sources = run
        .iter()
        .map(|p| {
            let mut get = Outbound {
                method: "GET".into(),
                ..Default::default()
            };
            st.address(&mut get, backend, p.number);
            relay::Source {
                backend,
                get,
                len: p.size,
            }
        })
        .collect();
    let a = match relay::relay(up, backend, &mut out, sources).await {
        Ok(a) => a,
        Err(Broke::Wire(b, e)) => return Err(failed(b, rid, &e)),
        Err(Broke::Refused(status, body)) => {
            let a = Answer {
                status,
                headers: Vec::new(),
                body,
            };
            return Err(refused(&a, "A staged part could not be read"));
        }
        Err(Broke::Length) => {
            return Err(ApiError::internal(
                "A staged part changed while it was merged",
            ))
        }
    };
    if a.status >= 300 {
        return Err(refused(&a, "Staged parts could not be merged into a part"));
    }
    a.header("etag")
        .map(|e| e.trim().trim_matches('"').to_string())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::internal("The backend stored a merged part without an ETag"))
}

/// Delete the staged objects (after a Complete or an Abort). A failure is logged: the objects stay
/// under the staging prefix, where a lifecycle rule expires them.
async fn remove_staged(
    up: &Upstream,
    backend: &Backend,
    st: &Staging,
    staged: &[StagedPart],
    rid: &str,
) {
    for p in staged {
        let mut out = Outbound {
            method: "DELETE".into(),
            ..Default::default()
        };
        st.address(&mut out, backend, p.number);
        match bodiless(up, backend, &mut out).await {
            Ok(a) if a.status < 300 || a.status == 404 => {}
            Ok(a) => {
                tracing::warn!(request_id = %rid, status = a.status, part = p.number, "a staged part could not be removed")
            }
            Err(e) => {
                tracing::warn!(request_id = %rid, error = %e, part = p.number, "a staged part could not be removed")
            }
        }
    }
}
