//! POST Object: a browser's form upload. The fields are read (capped) up to the file part, the
//! signed policy verified in the client's dialect, then the file streams to the backend as a
//! PutObject in the backend's dialect; its length is the form's less what precedes the file and
//! the closing boundary, which is held back and checked before the backend gets the last byte.

use super::failed;
use crate::config::{Action, Config};
use crate::error::{ApiError, Code};
use crate::model::{Op, RESULT_CAP};
use crate::outbound::Outbound;
use crate::request::form::{self, Form};
use crate::request::PostForm;
use crate::response::{self, respond, respond_error, BackendAnswer, Context};
use crate::upstream::Upstream;
use bytes::BytesMut;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

/// Answer headers the form's fields may set on the stored object.
const OBJECT_FIELDS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
];

pub async fn post_object(
    up: &Upstream,
    session: &mut Session,
    cfg: &Config,
    p: &PostForm,
    rid: &str,
) -> Result<()> {
    let mut buf = BytesMut::new();
    let (form, start) = loop {
        match form::read_fields(&buf, &p.boundary) {
            Ok(Some(found)) => break found,
            Ok(None) if buf.len() > form::FIELDS_CAP => {
                let e = ApiError::relayed(
                    400,
                    "MalformedPOSTRequest",
                    "The form's fields exceed 64 KiB",
                );
                return refuse_in(session, p, e, rid).await;
            }
            Ok(None) => {}
            Err(e) => return refuse_in(session, p, e, rid).await,
        }
        match session.read_request_body().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            Ok(None) => {
                let e = ApiError::relayed(
                    400,
                    "MalformedPOSTRequest",
                    "The form ended before its file",
                );
                return refuse_in(session, p, e, rid).await;
            }
            Err(e) => {
                let e = super::framing_error(session, e)?;
                return refuse_in(session, p, e, rid).await;
            }
        }
    };
    let (client, out, file_len) = match prepare(cfg, p, &form, start) {
        Ok(x) => x,
        Err((client, e)) => {
            let p = PostForm {
                client,
                ..p.clone()
            };
            return refuse_in(session, &p, e, rid).await;
        }
    };
    let backend = &cfg.backends[out.1];
    let mut out = out.0;
    let suffix = format!("\r\n--{}--\r\n", p.boundary);
    let mut x = match up
        .start(backend, &mut out, &Outbound::signer(backend, None))
        .await
    {
        Ok(x) => x,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, client, &e, &p.resource, rid, false).await;
        }
    };
    // The file's bytes, less the closing boundary held back until it is seen whole.
    let mut held = buf.split_off(start);
    let mut sent = 0u64;
    let delimiter = &suffix.as_bytes()[..suffix.len() - 4];
    loop {
        // A part boundary before the closing one: a field after the file. Refused, not stored.
        if memchr::memmem::find(&held, delimiter).is_some_and(|i| i + suffix.len() < held.len()) {
            break;
        }
        if held.len() > suffix.len() {
            let send = held.split_to(held.len() - suffix.len()).freeze();
            sent += send.len() as u64;
            if sent > file_len {
                break;
            }
            if let Err(e) = x.write(send).await {
                let e = failed(backend, rid, &e);
                return respond_error(session, client, &e, &p.resource, rid, false).await;
            }
        }
        match session.read_request_body().await {
            Ok(Some(c)) => held.extend_from_slice(&c),
            Ok(None) => break,
            Err(e) => {
                drop(x);
                let e = super::framing_error(session, e)?;
                return respond_error(session, client, &e, &p.resource, rid, false).await;
            }
        }
    }
    if sent != file_len || held[..] != *suffix.as_bytes() {
        // The backend's upload stays short: nothing is stored.
        drop(x);
        let e = ApiError::relayed(
            400,
            "MalformedPOSTRequest",
            "The file is not followed by the form's closing boundary (fields after the file are not taken)",
        );
        let p = PostForm {
            client,
            ..p.clone()
        };
        return refuse_in(session, &p, e, rid).await;
    }
    let answered = async {
        x.finish().await?;
        x.read_to_end(RESULT_CAP).await
    };
    let body = match answered.await {
        Ok(b) => b,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, client, &e, &p.resource, rid, false).await;
        }
    };
    let (status, headers) = (x.status, std::mem::take(&mut x.headers));
    x.release();
    let key = form::object_key(&form).unwrap_or_default();
    let resource = format!("/{}/{key}", p.bucket);
    let translated = response::translate(
        &Context {
            op: Op::PutObject,
            backend: backend.dialect,
            client,
            request_id: rid,
            resource: &resource,
        },
        BackendAnswer {
            status,
            headers,
            body: Some(&body),
        },
    );
    if translated.status >= 300 {
        return respond(
            session,
            translated.status,
            translated.headers,
            translated.body,
            false,
        )
        .await;
    }
    let etag = translated
        .headers
        .iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (status, mut headers, body) = success(&form, &p.bucket, &key, &etag, &p.host);
    headers.extend(translated.headers.into_iter().filter(|(k, _)| k == "etag"));
    response::finish(client, &mut headers, rid);
    respond(session, status, headers, body, false).await
}

/// A refused form: whatever is left of its body is not read, so the connection closes after.
async fn refuse_in(session: &mut Session, p: &PostForm, e: ApiError, rid: &str) -> Result<()> {
    session.set_keepalive(None);
    respond_error(session, p.client, &e, &p.resource, rid, false).await
}

type Prepared = (crate::dialect::Dialect, (Outbound, usize), u64);

/// Verify the form and build the backend's PutObject: (client dialect, (request, backend), file length).
fn prepare(
    cfg: &Config,
    p: &PostForm,
    form: &Form,
    start: usize,
) -> std::result::Result<Prepared, (crate::dialect::Dialect, ApiError)> {
    let now = crate::dates::unix_now();
    let signed = form::verify(form, &|ak| cfg.clients.get(ak).map(|c| &c.secret), now)
        .map_err(|e| (p.client, e))?;
    let client = signed.client;
    let err = |e: ApiError| (client, e);
    let entry = cfg.clients.get(&signed.access_key);
    if let Some(want) = entry.and_then(|c| c.session_token.as_ref()) {
        let given = form
            .fields
            .iter()
            .find(|(k, _)| k.ends_with("security-token"))
            .map(|(_, v)| v.as_str());
        if !given.is_some_and(|g| crate::sign::same_signature(g, want.expose())) {
            return Err(err(ApiError::access_denied(
                "This access key requires a session token with each request",
            )));
        }
    }
    let put = Action::named("PutObject").expect("in the table");
    if entry.is_some_and(|c| !c.grant.allows(Some(&p.bucket), put)) {
        return Err(err(ApiError::access_denied(format!(
            "This access key is not granted PutObject (write) on bucket {}",
            p.bucket
        ))));
    }
    let range = signed
        .policy
        .check(form, &p.bucket, signed.every_field)
        .map_err(err)?;
    let key = form::object_key(form).map_err(err)?;
    let suffix = p.boundary.len() as u64 + 8;
    let file_len = p
        .length
        .and_then(|l| l.checked_sub(start as u64 + suffix))
        .ok_or_else(|| {
            err(ApiError::new(
                Code::MissingContentLength,
                "A form upload needs its Content-Length",
            ))
        })?;
    if let Some((min, max)) = range {
        if file_len < min {
            return Err(err(ApiError::new(
                Code::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size",
            )));
        }
        if file_len > max {
            return Err(err(ApiError::new(
                Code::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size",
            )));
        }
    }
    if file_len > 5 << 30 {
        return Err(err(ApiError::new(
            Code::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size (5 GiB)",
        )));
    }
    let routed = cfg
        .route(&p.bucket)
        .ok_or_else(|| err(ApiError::no_such_bucket(&p.bucket)))?;
    let backend = routed.backend;
    if backend.starting() || !backend.keys_ready(now) {
        return Err(err(ApiError::unavailable("The backend is not ready")));
    }
    let mut out = Outbound {
        method: "PUT".into(),
        answer_cap: Some(RESULT_CAP),
        ..Default::default()
    };
    let encoded = crate::sign::uri_encode_path(&key);
    out.address(backend, Some(&routed.bucket), Some(&encoded));
    out.headers
        .push(("content-length".into(), file_len.to_string()));
    let content_type = form
        .get("content-type")
        .map(str::to_string)
        .or(form.file_type.clone());
    if let Some(ct) = content_type {
        out.headers.push(("content-type".into(), ct));
    }
    for (k, v) in &form.fields {
        if OBJECT_FIELDS.contains(&k.as_str()) {
            out.headers.push((k.clone().into(), v.clone()));
        } else if object_field(client, k) {
            if let Some((name, value)) =
                crate::dialect::translate_header(client, backend.dialect, k, v)
            {
                out.headers.push((name.into(), value));
            }
        }
    }
    Ok((client, (out, routed.backend_index), file_len))
}

/// The answer a successful form upload gets: a redirect, a `PostResponse` (201), an empty 200,
/// or S3's default 204.
fn success(
    form: &Form,
    bucket: &str,
    key: &str,
    etag: &str,
    host: &str,
) -> (u16, crate::dialect::wire::Headers, Option<Vec<u8>>) {
    let enc = crate::encoding::uri_encode;
    let location = format!(
        "http://{host}/{bucket}/{}",
        crate::sign::uri_encode_path(key)
    );
    let mut headers = vec![("location".into(), location.clone())];
    if let Some(to) = form
        .get("success_action_redirect")
        .or(form.get("redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    {
        let sep = if to.contains('?') { '&' } else { '?' };
        let url = format!(
            "{to}{sep}bucket={}&key={}&etag={}",
            enc(bucket),
            enc(key),
            enc(etag)
        );
        let headers = vec![
            ("location".into(), url),
            ("content-length".into(), "0".into()),
        ];
        return (303, headers, None);
    }
    match form.get("success_action_status") {
        Some("201") => {
            let x = crate::xml::escape;
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                x(&location),
                x(bucket),
                x(key),
                x(etag)
            );
            headers.push(("content-type".into(), "application/xml".into()));
            (201, headers, Some(doc.into_bytes()))
        }
        Some("200") => (200, headers, None),
        _ => (204, headers, None),
    }
}

/// A vendor field that becomes a header of the stored object (metadata, class, ACL, encryption,
/// tags), not one of the form's signing fields.
fn object_field(client: crate::dialect::Dialect, k: &str) -> bool {
    k.strip_prefix(client.vocab().prefix).is_some_and(|s| {
        s.starts_with("meta-")
            || matches!(
                s,
                "storage-class"
                    | "acl"
                    | "object-acl"
                    | "server-side-encryption"
                    | "tagging"
                    | "website-redirect-location"
            )
    })
}
