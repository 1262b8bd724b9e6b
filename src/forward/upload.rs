//! Uploads: the request body streams to the backend as it arrives, verified on the way; an
//! empty payload is proven before the backend hears of it.

use super::failed;
use crate::auth::Payload;
use crate::body::BodyCheck;
use crate::config::Backend;
use crate::error::ApiError;
use crate::model::RESULT_CAP;
use crate::outbound::Outbound;
use crate::request::Forward;
use crate::response::{self, BackendAnswer, Context};
use crate::response::{client_gone, hung_up, respond, respond_error};
use crate::sign::sigv4::EMPTY_SHA256;
use crate::upstream::Upstream;
use bytes::{Bytes, BytesMut};
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;

/// A body up to this length is gathered and sent whole once proven: one write (with the head)
/// instead of one per piece, and the backend never sees a byte of it unproven.
const GATHERED: u64 = 64 << 10;

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
    let mut x = match up
        .start(
            backend,
            &mut f.out,
            &Outbound::signer(backend, payload.as_deref()),
        )
        .await
    {
        Ok(x) => x,
        Err(e) => {
            let e = failed(backend, rid, &e);
            return respond_error(session, f.client, &e, &f.resource, rid, false).await;
        }
    };
    let mut pending: Option<Bytes> = None;
    let gather = f
        .out
        .header("content-length")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n <= GATHERED);
    let mut gathered = BytesMut::new();
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
            Ok(data) if gather => pending = join(&mut gathered, data, done),
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

/// Gather `data` into `acc`; the whole body once `done` (without a copy when it came in one piece).
fn join(acc: &mut BytesMut, data: Option<Bytes>, done: bool) -> Option<Bytes> {
    match data {
        Some(d) if done && acc.is_empty() => return Some(d),
        Some(d) => acc.extend_from_slice(&d),
        None => {}
    }
    (done && !acc.is_empty()).then(|| acc.split().freeze())
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
