//! The request phases on pingora's HTTP server: a head is read, answered in `request_filter`
//! (planned by `request`, carried by `forward` through the one backend client in `upstream`),
//! a failure answered in `fail_to_proxy`, and the access line written in `logging`.
//!
//! pingora's proxy layer is not used: every answer is the gateway's own, so its upstream
//! phases, cache and modules would only cost a per-request state of about 14 KiB, moved
//! whole on every request.

use crate::access::{self, Record};
use crate::config::Config;
use crate::dialect::wire::Headers;
use crate::error::{ApiError, Code};
use crate::forward;
use crate::request::{self, Inbound, Plan};
use crate::response;
use crate::response::{respond, respond_error};
use crate::upstream::{header_pairs, Upstream};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;
use pingora::server::ShutdownWatch;
use std::sync::Arc;

pub struct Gateway {
    pub config: Arc<ArcSwap<Config>>,
    upstream: Upstream,
}

impl Gateway {
    pub fn new(config: Arc<ArcSwap<Config>>) -> Self {
        let answer_memory = config.load().answer_memory;
        Gateway {
            config,
            upstream: Upstream::new(answer_memory),
        }
    }
}

#[derive(Default)]
pub struct Ctx {
    record: Record,
    head: bool,
}

/// 16 upper-case hex digits (as OBS and COS request ids look).
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let n = rand::random::<u64>();
    let mut s = String::with_capacity(16);
    for i in (0..16).rev() {
        s.push(HEX[(n >> (i * 4)) as usize & 15] as char);
    }
    s
}

/// The request view, borrowed from pingora's parsed head. Header values that are not UTF-8
/// (rare) are read from `lossy`, a copy with U+FFFD in their place.
fn inbound<'a>(req: &'a RequestHeader, lossy: &'a mut Headers) -> Inbound<'a> {
    // Sized once (collecting through `Option` would grow the vector as it goes).
    let mut borrowed = Vec::with_capacity(req.headers.len());
    for (k, v) in &req.headers {
        match std::str::from_utf8(v.as_bytes()) {
            Ok(v) => borrowed.push((k.as_str(), v)),
            Err(_) => break,
        }
    }
    let all = borrowed.len() == req.headers.len();
    let headers = Some(borrowed).filter(|_| all).unwrap_or_else(|| {
        *lossy = header_pairs(&req.headers, &[]);
        crate::auth::borrowed(lossy)
    });
    Inbound::new(
        req.method.as_str(),
        req.uri.path(),
        req.uri.query().unwrap_or(""),
        headers,
    )
}

#[async_trait]
impl HttpServerApp for Gateway {
    /// One request on a connection: its head, its answer, its access line; the stream back
    /// for the next request when the answer ended cleanly.
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: Session,
        _shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match session.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                // A head that does not parse gets a bare 400 (no dialect can be told yet).
                if e.etype() == &ErrorType::InvalidHTTPHeader {
                    let _ = session.respond_error(400).await;
                }
                return None;
            }
        }
        let mut ctx = Ctx::default();
        let failed = match self.request_filter(&mut session, &mut ctx).await {
            Ok(()) => None,
            Err(e) => {
                self.fail_to_proxy(&mut session, &e, &ctx).await;
                Some(e)
            }
        };
        self.logging(&session, failed.as_deref(), &ctx);
        if failed.is_some() {
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&session);
        let reusable = session.finish().await.ok().flatten()?;
        Some(ReusedHttpStream::from_reusable_stream(reusable, settings))
    }
}

impl Gateway {
    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<()> {
        let cfg = self.config.load_full();
        session.set_read_timeout(Some(cfg.client_timeout));
        session.set_write_timeout(Some(cfg.client_timeout));
        // Kept off where the head turned it off: `Connection: close`, HTTP/1.0 without keep-alive,
        // or both Content-Length and Transfer-Encoding (RFC 9112 §6.1: close after answering).
        if crate::metrics::is_draining() || session.get_keepalive().is_none() {
            // The answer says `Connection: close`, so that the client does not send another
            // request on a connection about to close.
            session.set_keepalive(None);
        } else {
            session.set_keepalive(Some(cfg.client_keepalive.as_secs().max(1)));
        }
        let rec = &mut ctx.record;
        rec.request_id = new_request_id();
        let mut lossy = Vec::new();
        let (planned, expects_continue, cors) = {
            let inb = inbound(session.req_header(), &mut lossy);
            ctx.head = inb.method == "HEAD";
            rec.method.clear();
            rec.method.push_str(inb.method);
            let expects_continue = inb
                .header("expect")
                .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
            // Every answer to an allowed cross-origin request carries its CORS headers.
            let cors = request::cors::answer_headers(&cfg, &inb);
            (
                request::plan(&cfg, &inb, crate::dates::unix_now()),
                expects_continue,
                cors,
            )
        };
        match planned {
            Err(r) => {
                rec.client = Some(r.client);
                if let Some(op) = r.op {
                    rec.op = op.name();
                }
                rec.resource = r.resource;
                rec.verification_failed = r.verification;
                if let Some((action, key)) = r.denied.map(|d| *d) {
                    rec.access_key = Some(key);
                    rec.denied = Some(action);
                }
                let facts = rec.facts.clone();
                let answer = respond_error(
                    session,
                    r.client,
                    &r.error,
                    &rec.resource,
                    &rec.request_id,
                    ctx.head,
                );
                access::within(facts, response::with_headers(cors.clone(), answer)).await?;
            }
            Ok(Plan::Local(client, status, mut headers)) => {
                rec.client = Some(client);
                response::finish(client, &mut headers, &rec.request_id);
                response::with_headers(cors.clone(), respond(session, status, headers, None, true))
                    .await?;
            }
            Ok(Plan::PostObject(p)) => {
                rec.client = Some(p.client);
                rec.op = "PostObject";
                rec.resource.clone_from(&p.resource);
                if expects_continue {
                    session.write_continue_response().await?;
                }
                let work =
                    forward::post::post_object(&self.upstream, session, &cfg, &p, &rec.request_id);
                access::within(
                    rec.facts.clone(),
                    response::with_headers(cors.clone(), work),
                )
                .await?;
            }
            Ok(Plan::ListBuckets(client, access_key)) => {
                rec.client = Some(client);
                rec.access_key.clone_from(&access_key);
                rec.op = "ListBuckets";
                rec.resource = "/".into();
                let work = forward::buckets::list(
                    &self.upstream,
                    session,
                    &cfg,
                    client,
                    access_key.as_deref(),
                    &rec.request_id,
                    ctx.head,
                );
                access::within(
                    rec.facts.clone(),
                    response::with_headers(cors.clone(), work),
                )
                .await?;
            }
            Ok(Plan::Forward(f)) => {
                rec.client = Some(f.client);
                rec.access_key.clone_from(&f.access_key);
                rec.op = f.op.name();
                rec.resource.clone_from(&f.resource);
                rec.backend = Some(cfg.backends[f.backend].name.clone());
                // The request is authenticated and routed: let a waiting client send its body.
                if expects_continue {
                    session.write_continue_response().await?;
                }
                // Boxed inside: this state stays small, so pingora's per-request moves of it are cheap.
                let work =
                    forward::forward(&self.upstream, session, &cfg, f, &rec.request_id, ctx.head);
                access::within(rec.facts.clone(), response::with_headers(cors, work)).await?;
            }
        }
        Ok(())
    }

    /// A request that failed before its answer started gets an error in its dialect; one whose
    /// answer started is cut with nothing more written, so a short body is never a success.
    /// Either way the connection is not reused.
    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &Ctx) {
        let rec = &ctx.record;
        if session.response_written().is_some() {
            tracing::warn!(request_id = %rec.request_id, error = %e, "answer cut");
            return;
        }
        let err = match e.esource() {
            ErrorSource::Downstream => {
                ApiError::new(Code::IncompleteBody, "The request body could not be read")
            }
            ErrorSource::Upstream => ApiError::unavailable("The backend could not be reached"),
            _ => ApiError::internal("The gateway could not complete the request"),
        };
        tracing::info!(request_id = %rec.request_id, error = %e, "request failed");
        let client = rec.client.unwrap_or_default();
        let answer = respond_error(
            session,
            client,
            &err,
            &rec.resource,
            &rec.request_id,
            ctx.head,
        );
        let _ = access::within(rec.facts.clone(), answer).await;
    }

    /// The access line and the request metrics, once per request, however it ended.
    fn logging(&self, session: &Session, e: Option<&Error>, ctx: &Ctx) {
        let cfg = self.config.load();
        let status = session.response_written().map_or(0, |h| h.status.as_u16());
        let outcome = access::Outcome {
            status,
            bytes_in: session.body_bytes_read(),
            bytes_out: session.body_bytes_sent(),
            failure: e.map(|e| e.etype().as_str()),
            remote: session.client_addr().and_then(|a| a.as_inet()).copied(),
        };
        access::finish(&ctx.record, &outcome, cfg.access_log, cfg.access_log_keys);
    }
}

#[cfg(test)]
mod tests {
    use super::{inbound, new_request_id};
    use pingora::http::RequestHeader;

    #[test]
    fn the_request_view_borrows_the_head_and_reads_odd_bytes_lossily() {
        let mut req = RequestHeader::build("PUT", b"/b/k?partNumber=1&uploadId=u", None).unwrap();
        req.insert_header("x-obs-meta-a", "plain").unwrap();
        let mut lossy = Vec::new();
        let inb = inbound(&req, &mut lossy);
        assert_eq!(
            (inb.method, inb.raw_path, inb.raw_query),
            ("PUT", "/b/k", "partNumber=1&uploadId=u")
        );
        assert_eq!(inb.header("x-obs-meta-a"), Some("plain"));
        drop(inb);
        assert!(lossy.is_empty(), "nothing copied for a UTF-8 head");
        let value = http::HeaderValue::from_bytes(b"caf\xe9").unwrap();
        req.insert_header("x-obs-meta-b", value).unwrap();
        let inb = inbound(&req, &mut lossy);
        assert_eq!(inb.header("x-obs-meta-b"), Some("caf\u{fffd}"));
        assert_eq!(inb.header("x-obs-meta-a"), Some("plain"));
    }

    #[test]
    fn request_ids_are_16_upper_case_hex_digits() {
        let id = new_request_id();
        assert_eq!(id.len(), 16);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    }
}
